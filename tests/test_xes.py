"""XES reader and writer: hand-made files, bad input, block boundaries, round trips through pm4py."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.ingest.xes as xes_reader
from engine.errors import InputError
from engine.ingest.xes import read_xes
from engine.log.store import read_log, write_log
from engine.log.xes import write_xes

warnings.filterwarnings("ignore")

SMALL = """<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment with <trace> inside -->
<log xes.version="1849.2016" xes.features="nested-attributes">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <global scope="event"><string key="concept:name" value="__INVALID__"/></global>
  <classifier name="Activity" keys="concept:name"/>
  <string key="concept:name" value="small"/>
  <trace>
    <string key="concept:name" value="c&amp;1"/>
    <int key="priority" value="3"/>
    <event>
      <string key="concept:name" value="IVR &lt;menu&gt;"/>
      <date key="time:timestamp" value="2024-03-01T10:00:00.123456+01:00"/>
      <string key="org:resource" value='agent "7"'/>
      <string key="lifecycle:transition" value="start"/>
      <int key="wait" value="-12"/>
      <float key="score" value="0.25"/>
      <boolean key="vip" value="true"/>
      <id key="ref" value="a-1"/>
      <date key="end_timestamp" value="2024-03-01T09:01:00Z"/>
      <list key="tags">
        <values>
          <string key="tag" value="x"/>
          <int key="n" value="2"/>
        </values>
      </list>
      <string key="note" value="line&#10;two &#x20AC;"><string key="meta" value="ignored"/></string>
    </event>
    <event>
      <string key="concept:name" value="Agent answer"/>
      <date key="time:timestamp" value="2024-03-01T09:05:00.5Z"/>
      <string key="lifecycle:transition" value="complete"/>
      <boolean key="vip" value="false"/>
      <container key="ctx"><string key="k" value="v"/></container>
    </event>
  </trace>
  <trace>
    <event>
      <string key="concept:name" value="Queue"/>
      <date key="time:timestamp" value="2024-03-02T00:00:00-05:30"/>
    </event>
  </trace>
</log>
"""


def write(tmp_path: Path, text: str | bytes, name: str = "log.xes") -> Path:
    p = tmp_path / name
    data = text.encode("utf-8") if isinstance(text, str) else text
    if name.endswith(".gz"):
        data = gzip.compress(data)
    p.write_bytes(data)
    return p


def ns(s: str) -> int:
    return int(datetime.fromisoformat(s).timestamp() * 1_000_000) * 1000


def test_small_file_every_type(tmp_path):
    res = read_xes(write(tmp_path, SMALL))
    t = res.table
    assert res.records_read == 3 and not res.rejects
    rows = t.to_pylist()
    assert [r["case_id"] for r in rows] == ["c&1", "c&1", "trace-2"]
    assert [r["activity"] for r in rows] == ["IVR <menu>", "Agent answer", "Queue"]
    ts = t.column("timestamp").cast(pa.int64()).to_pylist()
    assert ts == [ns("2024-03-01T09:00:00.123456+00:00"), ns("2024-03-01T09:05:00.500000+00:00"),
                  ns("2024-03-02T05:30:00+00:00")]
    assert rows[0]["resource"] == 'agent "7"'
    assert [r["lifecycle"] for r in rows] == ["start", "complete", None]
    assert t.schema.field("wait").type == pa.int64() and rows[0]["wait"] == -12
    assert t.schema.field("score").type == pa.float64() and rows[0]["score"] == 0.25
    assert t.schema.field("vip").type == pa.bool_() and [r["vip"] for r in rows] == [True, False, None]
    assert rows[0]["ref"] == "a-1"
    assert pa.types.is_timestamp(t.schema.field("end_timestamp").type)
    assert t.column("end_timestamp").cast(pa.int64())[0].as_py() == ns("2024-03-01T09:01:00+00:00")
    assert json.loads(rows[0]["tags"]) == [{"tag": "x"}, {"n": 2}]
    assert json.loads(rows[1]["ctx"]) == {"k": "v"}
    assert rows[0]["note"] == "line\ntwo \u20ac"
    assert rows[0]["case:priority"] == 3 and rows[2]["case:priority"] is None
    assert "meta" not in t.column_names
    assert any("trace-<position>" in w for w in res.warnings)


def test_gz_is_the_same_as_plain(tmp_path):
    a = read_xes(write(tmp_path, SMALL)).table
    b = read_xes(write(tmp_path, SMALL, "log.xes.gz")).table
    assert a.equals(b)


@pytest.mark.parametrize("block", [7, 64, 333, 1000])
def test_block_boundaries_do_not_matter(tmp_path, monkeypatch, block):
    whole = read_xes(write(tmp_path, SMALL)).table
    monkeypatch.setattr(xes_reader, "BLOCK", block)
    monkeypatch.setattr(xes_reader, "READ", block)
    for name in ("a.xes", "a.xes.gz"):
        assert read_xes(write(tmp_path, SMALL, name)).table.to_pylist() == whole.to_pylist()


def test_rejects_with_reason_and_line(tmp_path):
    text = """<log>
<trace><string key="concept:name" value="A"/>
 <event><string key="concept:name" value="ok"/><date key="time:timestamp" value="2024-01-01T00:00:00Z"/></event>
 <event><string key="concept:name" value="no time"/></event>
 <event><string key="concept:name" value="bad time"/><date key="time:timestamp" value="yesterday"/></event>
 <event><date key="time:timestamp" value="2024-01-01T00:00:00Z"/></event>
</trace>
<event><string key="concept:name" value="stray"/><date key="time:timestamp" value="2024-01-01T00:00:00Z"/></event>
<trace><string key="concept:name" value="empty"/></trace>
</log>"""
    res = read_xes(write(tmp_path, text))
    assert res.records_read == 5
    assert res.table.num_rows == 1 == res.records_accepted
    got = {(r.line, r.reason) for r in res.rejects}
    assert got == {(4, "event has no readable time:timestamp"), (5, "event has no readable time:timestamp"),
                   (6, "event has no concept:name (activity)"), (8, "event outside any <trace>")}
    assert all(r.record.startswith("<event>") and r.source.endswith("log.xes") for r in res.rejects)
    assert any("not an ISO 8601" in w for w in res.warnings)
    assert any("without events" in w for w in res.warnings)


@pytest.mark.parametrize("text, needle, line", [
    ('<?xml version="1.0"?>\n<!DOCTYPE log [<!ENTITY x SYSTEM "http://example.com/x">]>\n<log>&x;</log>',
     "DOCTYPE", 2),
    ("<log>\n<trace>\n<event>\n</trace>\n</log>", "does not match", 4),
    ("<html><body/></html>", "not an XES file", 1),
    ("just text, no markup", "not an XES file", 1),
    ("<log>\n<trace>\n<event>\n", "truncated", 4),
    ("<log>\n<trace>\n<event>\n<string key=\"a\" value=\"x", "truncated", 4),
    ("<log><trace><event><string key=\"a\" value=\"&bogus;\"/></event></trace></log>", "Unknown entity", 1),
    ("<log></log>\n<log></log>", "after the closing", 2),
    ("<log>\n<trace><trace></trace></trace></log>", "nested where it is not allowed", 2),
    ("<log>\n<trace a=b></trace></log>", "Malformed tag", 2),
])
def test_broken_xml_is_refused_with_line(tmp_path, text, needle, line):
    p = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_xes(p)
    assert needle in str(err.value)
    assert err.value.path == str(p)
    assert err.value.line == line


def test_entities_are_never_expanded_or_fetched(tmp_path):
    billion = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
               '<log><trace><event><string key="concept:name" value="&lol2;"/></event></trace></log>')
    with pytest.raises(InputError, match="DOCTYPE"):
        read_xes(write(tmp_path, billion))


def test_bad_utf8_names_the_line(tmp_path):
    data = SMALL.encode().replace(b"Agent answer", b"Agent \xff answer")
    with pytest.raises(InputError) as err:
        read_xes(write(tmp_path, data))
    assert "UTF-8" in str(err.value) and err.value.line == SMALL.splitlines().index(
        '      <string key="concept:name" value="Agent answer"/>') + 1


def test_declared_latin1_is_read(tmp_path):
    text = SMALL.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace("Queue", "Fila \u00e9")
    res = read_xes(write(tmp_path, text.encode("latin-1")))
    assert res.table.column("activity").to_pylist()[-1] == "Fila \u00e9"


def test_truncated_gz_and_corrupt_gz(tmp_path):
    big = SMALL * 1  # small file: cut inside the deflate stream
    data = gzip.compress(big.encode())
    (tmp_path / "cut.xes.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        read_xes(tmp_path / "cut.xes.gz")
    bad = bytearray(data)
    bad[20:40] = b"\x00" * 20
    (tmp_path / "bad.xes.gz").write_bytes(bytes(bad))
    with pytest.raises(InputError, match="gzip|truncated|UTF-8|XES|Malformed"):
        read_xes(tmp_path / "bad.xes.gz")


def test_binary_file_is_not_xml(tmp_path):
    p = tmp_path / "x.xes"
    p.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError):
        read_xes(p)


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match="No <log>"):
        read_xes(write(tmp_path, ""))


def test_customer_ids_are_pseudonymised(tmp_path):
    text = SMALL.replace('<id key="ref" value="a-1"/>', '<string key="customer_id" value="+44 20 7946 0000"/>')
    t = read_xes(write(tmp_path, text)).table
    values = [v for v in t.column("customer_id").to_pylist() if v is not None]
    assert values and all(v.startswith("cus_") and len(v) == 36 for v in values)
    assert b"7946" not in json.dumps(t.to_pylist(), default=str).encode()


# --------------------------------------------------------------------------- writer

def sample_table(n_cases: int = 5, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    rows = []
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    for c in range(n_cases):
        for e in range(int(rng.integers(1, 6))):
            rows.append({
                "case_id": f"case <{c}> & \"{c}\"",
                "activity": ["IVR menu", "Queue", "Agent answer", "Wrap-up"][int(rng.integers(0, 4))],
                "timestamp": t0 + timedelta(minutes=c * 60 + e * 3, microseconds=int(rng.integers(0, 10**6))),
                "resource": None if e == 0 else f"agent-{int(rng.integers(0, 9))}",
                "channel": "voice",
                "wait_s": int(rng.integers(-5, 500)),
                "score": float(rng.normal()),
                "vip": bool(rng.integers(0, 2)),
                "end_timestamp": t0 + timedelta(minutes=c * 60 + e * 3 + 1),
                "case:segment": f"seg{c % 2}",
            })
    return pa.Table.from_pylist(rows)


def us(series) -> list[int]:
    """Microseconds since the epoch of a pandas datetime column, whatever its unit."""
    return [int(v) for v in series.astype("datetime64[us, UTC]").astype("int64")]


def pm4py_read(path: Path):
    import pm4py
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return pm4py.read_xes(str(path))


def test_write_then_pm4py_reads_the_same_log(tmp_path):
    log = write_log(sample_table(), tmp_path / "log.parquet")
    n = write_xes(log, tmp_path / "out.xes")
    stored = read_log(log).to_pandas()
    df = pm4py_read(tmp_path / "out.xes")
    assert n == len(stored) == len(df)
    assert list(df["case:concept:name"]) == list(stored["case_id"].astype(str))
    assert list(df["concept:name"]) == list(stored["activity"].astype(str))
    assert us(df["time:timestamp"]) == us(stored["timestamp"])
    assert df["org:resource"].isna().sum() == stored["resource"].isna().sum()
    assert list(df["wait_s"]) == list(stored["wait_s"])
    assert np.allclose(df["score"].to_numpy(float), stored["score"].to_numpy(float), rtol=0, atol=0)
    assert list(df["vip"].astype(bool)) == list(stored["vip"])
    assert list(df["case:segment"]) == list(stored["case:segment"].astype(str))
    assert us(df["end_timestamp"]) == us(stored["end_timestamp"])


def test_write_gz_and_read_back_with_cxmine(tmp_path):
    log = write_log(sample_table(8, seed=3), tmp_path / "log.parquet")
    write_xes(log, tmp_path / "out.xes.gz")
    with gzip.open(tmp_path / "out.xes.gz") as fh:
        assert fh.read(5) == b"<?xml"
    back = read_xes(tmp_path / "out.xes.gz").table
    stored = read_log(log)
    for col in ("case_id", "activity", "resource", "channel", "case:segment"):
        assert pc.cast(back.column(col), pa.string()).to_pylist() == \
            pc.cast(stored.column(col), pa.string()).to_pylist(), col
    for col in ("timestamp", "end_timestamp"):
        assert back.column(col).cast(pa.int64()).to_pylist() == \
            [v // 1000 * 1000 for v in stored.column(col).cast(pa.int64()).to_pylist()]
    assert back.column("wait_s").to_pylist() == stored.column("wait_s").to_pylist()
    assert back.column("score").to_pylist() == stored.column("score").to_pylist()
    assert back.column("vip").to_pylist() == stored.column("vip").to_pylist()


def test_writer_batches_split_cases(tmp_path, monkeypatch):
    import engine.log.xes as xes_writer
    log = write_log(sample_table(30, seed=5), tmp_path / "log.parquet")
    write_xes(log, tmp_path / "whole.xes")
    monkeypatch.setattr(xes_writer, "BATCH_ROWS", 3)
    write_xes(log, tmp_path / "split.xes")
    assert (tmp_path / "whole.xes").read_bytes() == (tmp_path / "split.xes").read_bytes()


def test_writer_is_atomic(tmp_path, monkeypatch):
    import engine.log.xes as xes_writer
    log = write_log(sample_table(), tmp_path / "log.parquet")

    def boom(*a, **k):
        raise RuntimeError("interrupted")
    monkeypatch.setattr(xes_writer, "_lines", boom)
    with pytest.raises(RuntimeError):
        write_xes(log, tmp_path / "out.xes")
    assert not (tmp_path / "out.xes").exists()
    assert not list(tmp_path.glob(".out.xes*"))


def test_writer_refuses_what_is_not_a_log(tmp_path):
    with pytest.raises(InputError, match="not found"):
        write_xes(tmp_path / "missing.parquet", tmp_path / "o.xes")
    (tmp_path / "x.parquet").write_text("no")
    with pytest.raises(InputError, match="Parquet"):
        write_xes(tmp_path / "x.parquet", tmp_path / "o.xes")


# --------------------------------------------------------------------------- random logs

odd_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   min_size=1, max_size=12)


@st.composite
def random_logs(draw):
    n_cases = draw(st.integers(1, 6))
    n_attrs = draw(st.integers(0, 8))
    attr_kinds = [draw(st.sampled_from(["str", "int", "float", "bool", "date"])) for _ in range(n_attrs)]
    rows = []
    t0 = datetime(2023, 1, 1, tzinfo=timezone.utc)
    names = draw(st.lists(odd_text, min_size=n_cases, max_size=n_cases, unique=True))
    for c, name in enumerate(names):
        for e in range(draw(st.integers(1, 4))):
            row = {"case_id": name, "activity": draw(odd_text),
                   "timestamp": t0 + timedelta(seconds=draw(st.integers(0, 10**8)),
                                               microseconds=draw(st.integers(0, 999999)))}
            for i, kind in enumerate(attr_kinds):
                key = f"attr {i} <{kind}>"
                if draw(st.booleans()):
                    row[key] = None
                elif kind == "str":
                    row[key] = draw(odd_text)
                elif kind == "int":
                    row[key] = draw(st.integers(-10**15, 10**15))
                elif kind == "float":
                    row[key] = draw(st.floats(allow_nan=False, allow_infinity=False, width=64))
                elif kind == "bool":
                    row[key] = draw(st.booleans())
                else:
                    row[key] = t0 + timedelta(microseconds=draw(st.integers(0, 10**15)))
            rows.append(row)
    types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
             "date": pa.timestamp("us", tz="UTC")}
    schema = pa.schema([("case_id", pa.string()), ("activity", pa.string()), ("timestamp", pa.timestamp("us", tz="UTC"))]
                       + [(f"attr {i} <{k}>", types[k]) for i, k in enumerate(attr_kinds)])
    return pa.Table.from_pylist(rows, schema=schema)


def xml_safe(s):
    """What survives XML 1.0: forbidden control characters become U+FFFD."""
    if s is None or not isinstance(s, str):
        return s
    return "".join("\ufffd" if (ord(ch) < 32 and ch not in "\t\n\r") or ch in "\ufffe\uffff" else ch for ch in s)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(table=random_logs())
def test_random_logs_round_trip(tmp_path_factory, table):
    tmp = tmp_path_factory.mktemp("rt")
    log = write_log(table, tmp / "log.parquet")
    stored = read_log(log)
    write_xes(log, tmp / "out.xes")
    back = read_xes(tmp / "out.xes").table
    assert back.num_rows == stored.num_rows
    for name in stored.column_names:
        if name == "case_index":
            continue
        want = stored.column(name)
        if pa.types.is_dictionary(want.type) or pa.types.is_string(want.type):
            want_v = [xml_safe(v) for v in pc.cast(want, pa.string()).to_pylist()]
        elif pa.types.is_timestamp(want.type):
            want_v = [None if v is None else v // 1000 * 1000 for v in want.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_pylist()]
        else:
            want_v = want.to_pylist()
        if name not in back.column_names:
            assert all(v is None for v in want_v), name
            continue
        got = back.column(name)
        if pa.types.is_dictionary(got.type):
            got = pc.cast(got, pa.string())
        got_v = got.cast(pa.int64()).to_pylist() if pa.types.is_timestamp(got.type) else got.to_pylist()
        assert got_v == want_v, name


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(table=random_logs())
def test_random_logs_pm4py_reads_what_we_write(tmp_path_factory, table):
    tmp = tmp_path_factory.mktemp("pm")
    log = write_log(table, tmp / "log.parquet")
    stored = read_log(log)
    write_xes(log, tmp / "out.xes")
    df = pm4py_read(tmp / "out.xes")
    assert len(df) == stored.num_rows
    assert list(df["case:concept:name"].astype(str)) == [xml_safe(v) for v in pc.cast(stored.column("case_id"), pa.string()).to_pylist()]
    assert list(df["concept:name"].astype(str)) == [xml_safe(v) for v in pc.cast(stored.column("activity"), pa.string()).to_pylist()]
    assert us(df["time:timestamp"]) == \
        [v // 1000 for v in stored.column("timestamp").cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_pylist()]


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(-9 * 10**18, 9 * 10**18)), min_size=1, max_size=50))
def test_date_text_matches_arrow_strftime(values):
    from engine.log.xes import format_dates
    col = pa.array(values, pa.timestamp("ns", tz="UTC"))
    want = pc.binary_join_element_wise(
        pc.strftime(col.cast(pa.timestamp("us", tz="UTC"), safe=False), format="%Y-%m-%dT%H:%M:%S"),
        pa.scalar("+00:00"), "")
    assert format_dates(col).to_pylist() == want.to_pylist()


def test_one_timestamp_formatter_for_every_writer():
    from engine.log.timestamps import format_timestamps
    ns = [1_772_442_902_000_000_000, 1_772_442_902_123_456_000, 1_772_442_902_123_456_789, None,
          -1_500]  # 2026-03-02T09:15:02 UTC; -1.5 us before the epoch
    col = pa.array(ns, pa.timestamp("ns", tz="UTC"))
    assert format_timestamps(col, fraction="micro").to_pylist() == [        # XES
        "2026-03-02T09:15:02.000000+00:00", "2026-03-02T09:15:02.123456+00:00", "2026-03-02T09:15:02.123456+00:00",
        None, "1969-12-31T23:59:59.999999+00:00"]
    assert format_timestamps(col, fraction="auto", utc="Z").to_pylist() == [  # OCEL 2.0
        "2026-03-02T09:15:02Z", "2026-03-02T09:15:02.123456Z", "2026-03-02T09:15:02.123456789Z", None,
        "1969-12-31T23:59:59.999998500Z"]
    summer = pa.array([1_783_000_000 * 10**9], pa.timestamp("ns", tz="UTC"))   # 2026-07-02T13:46:40 UTC
    assert format_timestamps(col.slice(0, 1), zone="Europe/Lisbon").to_pylist() == ["2026-03-02T09:15:02+00:00"]
    assert format_timestamps(summer, zone="Europe/Lisbon").to_pylist() == ["2026-07-02T14:46:40+01:00"]
    assert format_timestamps(summer, zone="America/St_Johns").to_pylist() == ["2026-07-02T11:16:40-02:30"]
    assert format_timestamps(summer, fraction="milli", utc="Z").to_pylist() == ["2026-07-02T13:46:40.000Z"]
    assert format_timestamps(pa.array([20_514, None], pa.date32())).to_pylist() == ["2026-03-02T00:00:00+00:00", None]
    assert format_timestamps(pa.array([0], pa.timestamp("s"))).to_pylist() == ["1970-01-01T00:00:00+00:00"]
    assert format_timestamps(pa.array([], pa.timestamp("ns", tz="UTC")), fraction="auto").to_pylist() == []


def test_write_from_an_unsorted_table(tmp_path):
    table = sample_table(6, seed=9)
    shuffled = table.take(pa.array(np.random.default_rng(0).permutation(table.num_rows)))
    n = write_xes(shuffled, tmp_path / "t.xes")
    log = write_log(table, tmp_path / "log.parquet")
    write_xes(log, tmp_path / "l.xes", name="cxmine log")
    assert n == table.num_rows
    assert (tmp_path / "t.xes").read_bytes() == (tmp_path / "l.xes").read_bytes()


def test_cli_ingest_and_export_xes(tmp_path):
    from click.testing import CliRunner

    from engine.cli import main
    src = write(tmp_path, SMALL)
    runner = CliRunner()
    res = runner.invoke(main, ["ingest", str(src), "-o", str(tmp_path / "log.parquet"), "--json", "-q"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert (summary["records_read"], summary["records_accepted"], summary["records_rejected"]) == (3, 3, 0)
    res = runner.invoke(main, ["export", str(tmp_path / "log.parquet"), "--to", "xes", "-o", str(tmp_path / "o.xes.gz"),
                               "-q"])
    assert res.exit_code == 0 and "3 events" in res.stdout
    bad = write(tmp_path, "<log>\n<trace>\n<event>\n</trace></log>", "bad.xes")
    res = runner.invoke(main, ["ingest", str(bad), "-o", str(tmp_path / "bad.parquet")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "does not match" in res.output and "line 4" in res.output
    assert not (tmp_path / "bad.parquet").exists()
