"""``conform --sop DIR --engine dask``: an SOP library on Dask gives the single-machine result.

The oracle is ``check_library`` on the whole log: each SOP's conformance (fitness, deviations with their
example contacts, segments, worst variants), the contacts no SOP or several SOPs apply to with their
first examples in log order, and every CSV file (contacts.csv in log order), the text and the JSON of
the command.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from dask_sample import client, sample_log, sample_parts  # noqa: E402,F401  (fixtures)
from engine.analyses.conformance import EVENT_ATTRIBUTES  # noqa: E402
from engine.analyses.library import applies_to_attributes, check_library  # noqa: E402
from engine.distributed.analyses import distributed_library  # noqa: E402
from engine.errors import AnalysisError  # noqa: E402
from engine.log.select import encode_where  # noqa: E402
from engine.model import load_sop_library  # noqa: E402
from engine.report.conformance import contact_frame  # noqa: E402
from engine.report.outputs import to_json  # noqa: E402
from sample import run_cxmine  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / "models"
#: a library with overlaps and gaps: password_reset's web contacts are ambiguous (billing_dispute takes every
#: web contact), order_delivery applies to no contact, omnichannel_escalation is left out (unmatched)
RULES = {"lost_card": 'intent = "lost_card"', "billing_dispute": 'channel = "web"',
         "password_reset": 'intent = ["password_reset"]', "order_delivery": 'intent = "no_such_intent"'}


@pytest.fixture(scope="module")
def odd_library(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("library")
    for name, rule in RULES.items():
        shutil.copy(MODELS / f"{name}.bpmn", folder / f"{name}.bpmn")
        side = (MODELS / f"{name}.toml").read_text(encoding="utf-8")
        (folder / f"{name}.toml").write_text(side[:side.index("[applies_to]")] + f"[applies_to]\n{rule}\n",
                                            encoding="utf-8")
    return folder


def _single(log, sops, by, where, examples, worst=10):
    enc = encode_where(log, where, by=by, with_case_ids=True, case_attributes=applies_to_attributes(sops),
                       attributes=EVENT_ATTRIBUTES + tuple(a for a in by if a not in EVENT_ATTRIBUTES + ("week",)))
    return check_library(enc, sops, by=by, examples=examples, worst=worst), enc


@pytest.mark.parametrize("library,by,where", [
    ("models", ("week",), None),
    ("odd", ("team", "intent"), None),
    ("odd", (), {"intent": {"password_reset", "order_delivery", "lost_card"}}),
], ids=["models-week", "odd-team-intent", "odd-where"])
def test_library_identical_on_dask(sample_parts, client, odd_library, library, by, where):
    single, folder = sample_parts
    sops = load_sop_library([MODELS if library == "models" else odd_library])
    lib, enc = _single(single, sops, by, where, examples=3, worst=4)
    d_lib, rows = distributed_library(folder, sops, by=by, where=where, examples=3, worst=4, per_contact=True,
                                      client=client)
    assert to_json(lib.as_dict()) == to_json(d_lib.as_dict())
    for r, d in zip(lib.results, d_lib.results):
        assert r.steps == d.steps and r.segment_deviations == d.segment_deviations
        assert [v.example for v in r.variant_fits] == [v.example for v in d.variant_fits]
    # the contacts add up, and the odd library exercises every kind of contact
    assert sum(r.contacts for r in d_lib.results) + d_lib.unmatched + d_lib.ambiguous == d_lib.contacts
    if library == "odd":
        assert d_lib.unmatched > 0 and d_lib.ambiguous > 0 and len(d_lib.ambiguous_examples) == 3
        stems = [Path(p).stem for p in d_lib.paths]
        assert d_lib.results[stems.index("order_delivery")].contacts == 0
    # per SOP, contacts.csv's rows in log order
    from engine.analyses.library import assign_sops
    from engine.log.select import select_cases
    which = assign_sops(enc, sops)
    for i, (r, frame) in enumerate(zip(lib.results, rows)):
        sub = select_cases(enc, which == i)
        from engine.analyses.conformance import check_conformance
        expected = contact_frame(check_conformance(sub, sops[i], examples=0))
        assert expected.to_csv(index=False) == frame.to_csv(index=False), sops[i].name


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("library", ["models", "odd"])
def test_cli_library_on_dask_prints_and_writes_what_local_does(sample_parts, client, odd_library, tmp_path,
                                                              library):
    single, folder = sample_parts
    lib = MODELS if library == "models" else odd_library
    args = ["conform", "--sop", lib, "--by", "week", "--examples", 2, "--worst", 3, "--top", 8, "-q"]
    dask = ["--engine", "dask", "--scheduler", client.scheduler.address]
    local = run_cxmine(*args, single, "--csv", tmp_path / "local")
    on_dask = run_cxmine(*args, folder, "--csv", tmp_path / "dask", *dask)
    assert local.exit_code == 0 and on_dask.exit_code == 0, on_dask.output
    assert local.stdout == on_dask.stdout and "SOP library" in local.stdout
    files = _tree(tmp_path / "local")
    assert "sops.csv" in files and any(name.endswith("contacts.csv") for name in files)
    assert files == _tree(tmp_path / "dask")
    local = run_cxmine(*args, single, "--json", "--where", "channel=voice,chat")
    on_dask = run_cxmine(*args, folder, "--json", "--where", "channel=voice,chat", *dask)
    assert local.exit_code == 0 and on_dask.exit_code == 0, on_dask.output
    assert local.stdout == on_dask.stdout


def test_library_attribute_not_in_the_log_is_reported(sample_parts, client, tmp_path):
    single, folder = sample_parts
    shutil.copy(MODELS / "lost_card.bpmn", tmp_path / "lost_card.bpmn")
    side = (MODELS / "lost_card.toml").read_text(encoding="utf-8")
    (tmp_path / "lost_card.toml").write_text(side[:side.index("[applies_to]")] + '[applies_to]\nflavour = "x"\n',
                                             encoding="utf-8")
    with pytest.raises(AnalysisError, match="applies to contacts by 'flavour', which is not in the log"):
        distributed_library(folder, load_sop_library([tmp_path]), client=client)
    args = ["conform", "--sop", tmp_path, "--sop", MODELS / "billing_dispute.bpmn", "-q"]
    local = run_cxmine(*args, single)
    on_dask = run_cxmine(*args, folder, "--engine", "dask", "--scheduler", client.scheduler.address)
    assert local.exit_code == on_dask.exit_code == 1
    assert local.output == on_dask.output and "flavour" in local.output


def test_library_selection_without_contacts_is_reported(sample_parts, client):
    single, folder = sample_parts
    args = ["conform", "--sop", MODELS, "--where", "intent=no_such_intent", "-q"]
    local = run_cxmine(*args, single)
    on_dask = run_cxmine(*args, folder, "--engine", "dask", "--scheduler", client.scheduler.address)
    assert local.exit_code == on_dask.exit_code == 1
    assert local.output == on_dask.output


def test_cli_one_sop_worst_variants_on_dask(sample_parts, client):
    """--worst reaches the Dask conformance of one SOP as it does the library's."""
    single, folder = sample_parts
    args = ["conform", "--sop", MODELS / "lost_card.bpmn", "--where", "intent=lost_card", "--worst", 2, "--json",
            "-q"]
    local = run_cxmine(*args, single)
    on_dask = run_cxmine(*args, folder, "--engine", "dask", "--scheduler", client.scheduler.address)
    assert local.exit_code == 0 and on_dask.exit_code == 0, on_dask.output
    assert local.stdout == on_dask.stdout and local.stdout.count('"rank"') == 2
