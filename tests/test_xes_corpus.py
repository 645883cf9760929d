"""Every XES file of pm4py's test corpus, file by file, against pm4py's own reading.

Oracle: ``pm4py.read_xes`` with its default backend, which is r4pm (Rust) when
r4pm is installed, as here. For the deliberately broken files of
``xes_importer_tests/`` the oracle is pm4py's Python ``iterparse`` reader,
because the r4pm backend aborts the whole process on some of them
(attributeEventSwapped, extensionEventSwapped, traceEventSwapped).

A valid file must give: as many records (events) as pm4py has rows; accepted
events = pm4py's rows with a readable timestamp and an activity; the same
cases; and, event by event, the same (case, activity, time). Broken files must
be refused with an InputError naming the file, or read with every record
accounted for; never a traceback.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engine.errors import InputError
from engine.ingest.xes import read_xes
from engine.log.store import write_log
from engine.log.xes import write_xes

import corpus

warnings.filterwarnings("ignore")

CORPUS = corpus.SHARED_DATA / "pm4py-tests"
LOCAL = Path(__file__).parent / "data" / "xes"
BROKEN = "xes_importer_tests"
BIG = {"16_bpic2019_1t_per_variant.xes.gz", "17_bpic2012_1t_per_variant.xes.gz"}


def corpus_files() -> list[Path]:
    if not CORPUS.exists():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.name.endswith((".xes", ".xes.gz")))


def ids(p: Path) -> str:
    return str(p.relative_to(CORPUS))


VALID = [p for p in corpus_files() if BROKEN not in p.parts]
INVALID = [p for p in corpus_files() if BROKEN in p.parts]
if not VALID and os.environ.get("CI") == "true":
    pytest.fail(f"The shared XES corpus is missing: no .xes file under {CORPUS}. Put the pm4py test logs "
                "there (see ../shared/data/README) so that the corpus tests check something", pytrace=False)
needs_corpus = pytest.mark.skipif(not VALID, reason=f"{CORPUS} is not present")


def pm4py_read(path: Path, variant: str | None = None) -> pd.DataFrame:
    import pm4py
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return pm4py.read_xes(str(path), variant=variant)


def oracle_events(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """pm4py's rows that cxmine must accept: with a readable timestamp and an activity."""
    total = len(df)
    if "time:timestamp" not in df or "concept:name" not in df:
        return pd.DataFrame({"case": [], "activity": [], "us": []}), total
    ts = df["time:timestamp"]
    if not pd.api.types.is_datetime64_any_dtype(ts):
        ts = pd.to_datetime(ts, errors="coerce", utc=True, format="mixed")
    elif ts.dt.tz is None:
        ts = ts.dt.tz_localize("UTC")
    keep = ts.notna() & df["concept:name"].notna()
    out = pd.DataFrame({
        "case": df["case:concept:name"].astype(str) if "case:concept:name" in df else "",
        "activity": df["concept:name"].astype(str),
        "us": ts.astype("datetime64[us, UTC]").astype("int64"),
    })[keep]
    return out, total


def cx_events(table: pa.Table) -> pd.DataFrame:
    return pd.DataFrame({
        "case": pc.cast(table.column("case_id"), pa.string()).to_pylist(),
        "activity": pc.cast(table.column("activity"), pa.string()).to_pylist(),
        "us": [v // 1000 for v in table.column("timestamp").cast(pa.int64()).to_pylist()],
    })


def same_events(ours: pd.DataFrame, theirs: pd.DataFrame, with_case: bool) -> None:
    cols = ["case", "activity", "us"] if with_case else ["activity", "us"]
    a = sorted(map(tuple, ours[cols].itertuples(index=False)))
    b = sorted(map(tuple, theirs[cols].itertuples(index=False)))
    assert a == b


@corpus.needs("pm4py-tests")
@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.name in BIG else p for p in VALID],
                         ids=ids)
def test_valid_file_matches_pm4py(path):
    res = read_xes(path)
    df = pm4py_read(path)
    want, total = oracle_events(df)
    assert res.records_read == total
    assert res.records_read == res.records_accepted + len(res.rejects)
    assert res.table.num_rows == res.records_accepted == len(want)
    with_case = "case:concept:name" in df
    if with_case:
        assert len(set(pc.cast(res.table.column("case_id"), pa.string()).to_pylist())) == want["case"].nunique()
    same_events(cx_events(res.table), want, with_case)


@corpus.needs("pm4py-tests")
@pytest.mark.parametrize("path", INVALID, ids=ids)
def test_broken_file_is_refused_or_accounted(path):
    try:
        res = read_xes(path)
    except InputError as exc:
        assert str(path) in str(exc)
        return
    assert res.records_read == res.records_accepted + len(res.rejects)
    assert all(r.reason and r.line for r in res.rejects)
    try:
        df = pm4py_read(path, variant="iterparse")
    except Exception:
        return  # pm4py refuses it; cxmine read it with every record accounted for
    want, _ = oracle_events(df)
    assert res.table.num_rows <= len(want) or len(want) == 0


ROUND_TRIP = ["tests/input_data/running-example.xes", "tests/compressed_input_data/11_tickets.xes.gz",
              "tests/compressed_input_data/02_teleclaims.xes.gz",
              "tests/compressed_input_data/13_SEPSIS_1t_per_variant.xes.gz", "tests/input_data/interval_event_log.xes",
              "tests/input_data/fairness/hospital_log_high.xes.gz"]


def round_trip_paths() -> list[Path]:
    """Each file from the corpus, else its copy in tests/data/xes, else its corpus path (reported missing)."""
    paths = []
    for rel in ROUND_TRIP:
        shared, local = CORPUS / rel, LOCAL / Path(rel).name
        paths.append(local if not shared.exists() and local.exists() else shared)
    return paths


@pytest.mark.parametrize("path", round_trip_paths(), ids=lambda p: p.name)
def test_xes_to_cxmine_to_xes_reads_like_the_original(path, tmp_path):
    """XES -> cxmine log -> XES: pm4py reads the copy as it reads the original (events, cases, times, attributes)."""
    res = read_xes(corpus.require(path))
    log = write_log(res.table, tmp_path / "log.parquet")
    write_xes(log, tmp_path / "copy.xes.gz")
    a = pm4py_read(path)
    b = pm4py_read(tmp_path / "copy.xes.gz")
    want, _ = oracle_events(a)
    got, _ = oracle_events(b)
    same_events(got, want, True)
    for col in a.columns:
        if col in ("case:concept:name", "concept:name", "time:timestamp"):
            continue
        assert col in b.columns, col
        x = a[col]
        y = b[col]
        if pd.api.types.is_datetime64_any_dtype(x):
            assert sorted(x.dropna().astype("datetime64[us, UTC]").astype("int64")) == \
                sorted(y.dropna().astype("datetime64[us, UTC]").astype("int64")), col
        else:
            assert sorted(x.dropna().astype(str)) == sorted(y.dropna().astype(str)), col


def test_local_copies_read(tmp_path):
    """The copies in tests/data/xes behave as their originals do (works without the shared corpus)."""
    ok = read_xes(LOCAL / "running-example.xes")
    assert ok.records_read == 42 and ok.table.num_rows == 42
    tickets = read_xes(LOCAL / "11_tickets.xes.gz")
    assert tickets.table.num_rows == 43 and any("read as UTC" in w for w in tickets.warnings)
    no_time = read_xes(LOCAL / "xes_20.xes")
    assert no_time.records_read == 1 and no_time.rejects[0].reason == "event has no readable time:timestamp"
    with pytest.raises(InputError, match="nested where it is not allowed") as err:
        read_xes(LOCAL / "traceOutOfPlace.xes")
    assert err.value.line == 29
    mixed = read_xes(LOCAL / "eventIncorrectType.xes")
    assert mixed.records_read == 4 and len(mixed.rejects) == 4
    # a truncated copy of a real .xes.gz
    data = gzip.compress((LOCAL / "running-example.xes").read_bytes())
    (tmp_path / "cut.xes.gz").write_bytes(data[:-200])
    with pytest.raises(InputError, match="truncated"):
        read_xes(tmp_path / "cut.xes.gz")
