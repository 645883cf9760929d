"""Real BPMN files from modelers: the OMG MIWG test suite and bpmn-moddle's parser fixtures.

Every MIWG file either loads (Petri net through pm4py's converter) with the
steps and lanes of the Reference model of the same test case, or is refused
with a ModelError. Where a tool's export itself differs from the Reference
(the tool dropped a pool, renamed a task, double-encoded UTF-8), the file is
listed below with the reason, and the test checks that cxmine read exactly
what the file contains (an independent scan of the XML), so nothing is
dropped silently. Broken files get a ModelError, never another exception.

The corpus lives outside the repository, in ../shared/data; without it the
tests are skipped, or fail when CI=true (see corpus.py).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from engine.errors import ModelError
from engine.model import load_sop
from engine.model.bpmn import BPMN_NS, clean_text, convert_to_petri, read_bpmn

import corpus

DATA = corpus.SHARED_DATA
MIWG = DATA / "bpmn-miwg"
MODDLE = DATA / "bpmn-moddle-fixtures" / "test" / "fixtures" / "bpmn"

MIWG_FILES = sorted(MIWG.rglob("*.bpmn")) if MIWG.is_dir() else []
MODDLE_ERRORS = sorted(p for p in (MODDLE / "error").iterdir()) if (MODDLE / "error").is_dir() else []
MODDLE_OTHERS = sorted(p for p in MODDLE.rglob("*") if p.is_file() and "error" not in p.parts) \
    if MODDLE.is_dir() else []

OTHER_FILES = sorted(p for p in DATA.rglob("*.bpmn") if "bpmn-miwg" not in p.parts
                     and "bpmn-moddle-fixtures" not in p.parts) if DATA.is_dir() else []

needs_miwg = corpus.needs("bpmn-miwg")
needs_moddle = corpus.needs("bpmn-moddle-fixtures/test/fixtures/bpmn")

DROPPED = "the export lacks steps or pools of the Reference model"
SPLIT = "the tool writes one file per pool, so each file holds only part of the Reference"
RENAMED = "the tool changed task names (spelling or wording)"
MOJIBAKE = "the tool double-encoded UTF-8 in 'Rechnung klären'"

# Files whose content differs from their Reference model; cxmine must read them as they are.
EXPORT_DIFFERS = {
    "Camunda Eclipse Plugin 3.0.0/A.4.0-export.bpmn": DROPPED + " (second pool and its lanes)",
    "Camunda Eclipse Plugin 3.0.0/B.1.0-export.bpmn": DROPPED + " (called processes)",
    "Camunda Eclipse Plugin 3.0.0/B.2.0-export.bpmn": DROPPED + " (sub-process contents, called process)",
    "SAP Signavio Process Manager 19.9.0/B.1.0-export.bpmn": DROPPED + " (called processes)",
    "SAP Signavio Process Manager 19.9.0/B.1.0-roundtrip.bpmn": DROPPED + " (called process)",
    "SAP Signavio Process Manager 19.9.0/B.2.0-export.bpmn": DROPPED + " and renamed sub-processes",
    "SAP Signavio Process Manager 19.9.0/B.2.0-roundtrip.bpmn": DROPPED + " (Task 34)",
    "SAP Signavio Process Manager 19.9.0/C.3.0-export.bpmn": RENAMED,
    "SAP Signavio Process Manager 19.9.0/C.4.0-export.1.bpmn": SPLIT,
    "SAP Signavio Process Manager 19.9.0/C.4.0-export.2.bpmn": SPLIT,
    "SAP Signavio Process Manager 19.9.0/C.4.0-export.3.bpmn": SPLIT,
    "SAP Signavio Process Manager 19.9.0/C.4.0-export.4.bpmn": SPLIT,
    "SAP Signavio Process Manager 19.9.0/C.4.0-roundtrip.1.bpmn": SPLIT,
    "SAP Signavio Process Manager 19.9.0/C.4.0-roundtrip.2.bpmn": SPLIT,
    "SAP Signavio Process Manager 19.9.0/C.4.0-roundtrip.3.bpmn": SPLIT,
    "SAP Signavio Process Manager 19.9.0/C.4.0-roundtrip.4.bpmn": SPLIT,
    "SAP Signavio Process Manager 19.9.0/C.5.0-export.1.bpmn": SPLIT + "; and " + RENAMED,
    "SAP Signavio Process Manager 19.9.0/C.5.0-export.2.bpmn": SPLIT + "; and " + RENAMED,
    "SAP Signavio Process Manager 19.9.0/C.5.0-roundtrip.1.bpmn": SPLIT,
    "SAP Signavio Process Manager 19.9.0/C.5.0-roundtrip.2.bpmn": SPLIT,
    "Visual Paradigm 11.1/C.1.0-roundtrip.bpmn": RENAMED + " (literal \\u00e4, file name as task name)",
    "Yaoqiang BPMN Editor 4.0/B.2.0-export.bpmn": DROPPED + " (Task 34)",
    "bpmn.io (Camunda Modeler) 18.6.1/A.4.1-export.bpmn": "the tool renamed lane 'Lane 2' to 'Lane 4'",
    "bpmn.io (Camunda Modeler) 18.6.1/B.1.0-export.bpmn": DROPPED + " (called process)",
    "bpmn.io (Camunda Modeler) 18.6.1/B.2.0-export.bpmn": DROPPED + " (Task 34) and " + RENAMED,
    "bpmn.io (Camunda Modeler) 18.6.1/C.1.0-export.bpmn": MOJIBAKE,
    "bpmn.io (Camunda Modeler) 18.6.1/C.1.0-roundtrip.bpmn": MOJIBAKE,
    "bpmn.io (Camunda Modeler) 18.6.1/C.1.1-export.bpmn": MOJIBAKE,
    "bpmn.io (Camunda Modeler) 18.6.1/C.1.1-roundtrip.bpmn": MOJIBAKE,
    "bpmn.io (Camunda Modeler) 18.6.1/C.2.0-export.bpmn": DROPPED + " (Checkout)",
    "bpmn.io (Camunda Modeler) 18.6.1/C.4.0-export.bpmn": DROPPED + " (pools IT, Payroll, Facilities)",
    "bpmn.io (Camunda Modeler) 18.6.1/C.5.0-export.bpmn": DROPPED + " and " + RENAMED,
}
# Files refused with a ModelError, and what the message must name.
REFUSED = {
    "Camunda Eclipse Plugin 3.0.0/A.4.1-export.bpmn": "no process with steps",  # the export is empty
}

ACTIVITY_TAGS = {"task", "userTask", "serviceTask", "manualTask", "scriptTask", "businessRuleTask", "sendTask",
                 "receiveTask", "callActivity", "subProcess", "transaction", "adHocSubProcess"}


def norm(name: str) -> str:
    """Compare names as a reader would: case and punctuation do not matter, letters do."""
    return re.sub(r"[\W_]+", " ", name.casefold()).strip()


def scan_xml(path: Path) -> tuple[Counter, set]:
    """Independent twin of the reader: every named activity outside event sub-processes, every lane."""
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    q = "{" + BPMN_NS + "}"
    steps: Counter = Counter()
    for el in root.iter():
        if not isinstance(el.tag, str) or not el.tag.startswith(q) or el.tag[len(q):] not in ACTIVITY_TAGS:
            continue
        chain = [el, *el.iterancestors()]
        if any(a.get("triggeredByEvent") == "true" for a in chain):
            continue
        if clean_text(el.get("name")):
            steps[clean_text(el.get("name"))] += 1
    lanes = {clean_text(lane.get("name")) for lane in root.iter(q + "lane") if clean_text(lane.get("name"))}
    return steps, lanes


def signature(model) -> tuple[Counter, set]:
    steps = Counter(t.name for t in model.tasks if t.name) + Counter(model.sub_processes)
    return steps, set(model.lanes)


def normalised(sig: tuple[Counter, set]) -> tuple[Counter, set]:
    return Counter(norm(s) for s in sig[0].elements()), {norm(lane) for lane in sig[1]}


def reference_of(path: Path) -> Path:
    case = re.match(r"[A-C]\.\d+\.\d+", path.name).group(0)
    return MIWG / "Reference" / f"{case}.bpmn"


def rel(path: Path) -> str:
    return path.relative_to(MIWG).as_posix()


_REFERENCES: dict[Path, tuple] = {}


def reference_signature(path: Path) -> tuple[Counter, set]:
    ref = reference_of(path)
    if ref not in _REFERENCES:
        _REFERENCES[ref] = normalised(signature(read_bpmn(ref)))
    return _REFERENCES[ref]


@needs_miwg
@pytest.mark.parametrize("path", MIWG_FILES, ids=[p.relative_to(MIWG).as_posix() for p in MIWG_FILES]
                         if MIWG_FILES else None)
def test_miwg_file_loads_like_its_reference(path: Path) -> None:
    name = rel(path)
    if name in REFUSED:
        with pytest.raises(ModelError, match=REFUSED[name]):
            load_sop(path)
        return
    model = read_bpmn(path)
    net, im, fm = convert_to_petri(model)
    assert len(net.transitions) > 0 and sum(im.values()) == 1 and sum(fm.values()) == 1
    labels = Counter(t.label for t in net.transitions if t.label)
    assert labels == Counter(t.name for t in model.tasks if t.name), "every named task is one visible transition"
    sig = signature(model)
    assert sig == scan_xml(path), "the reader must return exactly the steps and lanes the file contains"
    if name in EXPORT_DIFFERS:
        assert normalised(sig) != reference_signature(path), f"{name} now matches its Reference: unlist it"
    else:
        assert normalised(sig) == reference_signature(path)


@needs_miwg
def test_miwg_load_rate() -> None:
    loaded = matched = 0
    for path in MIWG_FILES:
        try:
            model = read_bpmn(path)
            convert_to_petri(model)
        except ModelError:
            continue
        loaded += 1
        matched += normalised(signature(model)) == reference_signature(path)
    rate = loaded / len(MIWG_FILES)
    print(f"\nMIWG: {loaded}/{len(MIWG_FILES)} files load ({rate:.1%}); "
          f"{matched} match their Reference model's steps and lanes, "
          f"{len(EXPORT_DIFFERS)} differ because the file itself differs")
    assert len(MIWG_FILES) == 169
    assert rate >= 0.95
    assert loaded - matched == len(EXPORT_DIFFERS)


@needs_miwg
def test_pm4py_importer_is_weaker_on_the_same_files() -> None:
    """The reason cxmine reads the XML itself: pm4py's importer fails on part of the suite."""
    import pm4py

    failures = 0
    for path in MIWG_FILES:
        try:
            pm4py.read_bpmn(str(path))
        except Exception:  # pm4py raises AttributeError and others on these files
            failures += 1
    assert failures > 0


@needs_miwg
def test_same_net_as_pm4py_where_nothing_needs_rewriting() -> None:
    """Where pm4py's importer reads a file and cxmine rewrites nothing, both give the same Petri net."""
    import pm4py

    compared = 0
    for path in MIWG_FILES:
        try:
            model = read_bpmn(path)
        except ModelError:
            continue
        if model.warnings:
            continue
        try:
            theirs, _, _ = pm4py.convert_to_petri_net(pm4py.read_bpmn(str(path)))
        except Exception:  # pm4py's importer fails on part of the suite
            continue
        ours, _, _ = convert_to_petri(model)
        assert (len(ours.places), len(ours.transitions), len(ours.arcs)) == \
            (len(theirs.places), len(theirs.transitions), len(theirs.arcs)), rel(path)
        assert Counter(t.label for t in ours.transitions if t.label) == \
            Counter(clean_text(t.label) for t in theirs.transitions if t.label), rel(path)
        compared += 1
    assert compared >= 25


@needs_moddle
@pytest.mark.parametrize("path", MODDLE_ERRORS, ids=[p.name for p in MODDLE_ERRORS] if MODDLE_ERRORS else None)
def test_broken_files_get_a_model_error(path: Path) -> None:
    with pytest.raises(ModelError) as info:
        load_sop(path)
    err = info.value
    assert err.path == str(path)
    assert err.hint, "every refusal says how to fix it"


@needs_moddle
def test_specific_broken_files_name_the_problem() -> None:
    cases = {"duplicate-ids.bpmn": "Duplicate id 'test'", "not-bpmn.bpmn": "Not a BPMN 2.0 file",
             "binary.png": "Not well-formed XML", "no-xml.txt": "Not well-formed XML",
             "xmlns-redeclaration.bpmn": "xmlns redefined", "invalid-attributes.bpmn": "Not well-formed XML",
             "bad-encoding.bpmn": "no process"}
    for name, text in cases.items():
        with pytest.raises(ModelError, match=re.escape(text)):
            load_sop(MODDLE / "error" / name)


@needs_moddle
@pytest.mark.parametrize("path", MODDLE_OTHERS, ids=[p.relative_to(MODDLE).as_posix() for p in MODDLE_OTHERS]
                         if MODDLE_OTHERS else None)
def test_other_fixtures_load_or_are_refused_cleanly(path: Path) -> None:
    try:
        sop = load_sop(path)
    except ModelError as err:
        assert err.render()
        return
    assert sop.tasks and sum(sop.initial_marking.values()) == 1


@corpus.needs("camunda-examples", "pm4py-tests")
@pytest.mark.parametrize("path", OTHER_FILES, ids=[p.relative_to(DATA).as_posix() for p in OTHER_FILES]
                         if OTHER_FILES else None)
def test_other_real_bpmn_files_load(path: Path) -> None:
    """Camunda examples and pm4py's test models (Signavio exports) all load."""
    sop = load_sop(path)
    assert Counter(t.label for t in sop.net.transitions if t.label) == Counter(t.name for t in sop.tasks if t.name)
    assert signature(sop.model) == scan_xml(path)
