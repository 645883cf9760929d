"""Mapping keys for real telephony exports: null_values, time-of-day columns with a date, multi-column keys.

The sample is shaped like a bank call-center export: one row per call, times
of day only (the date in its own column as yymmdd), single-digit hours,
``0:00:00`` for a queue never entered, ``NO_SERVER`` for a call no agent
served, and call ids that repeat across IVR lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.errors import InputError
from engine.ingest import ReadOptions
from engine.ingest.job import ingest_to_log
from engine.ingest.mapping import load_mapping
from engine.ingest.timestamps import parse_timestamps
from engine.log.store import read_log

CALLS = """vru_line,call_id,customer_id,type,date,vru_entry,vru_exit,q_start,q_exit,outcome,ser_start,ser_exit,server
AA0101,33116,9664491,PS,990101,0:00:31,0:00:36,0:00:36,0:03:09,HANG,0:00:00,0:00:00,NO_SERVER
AA0101,33117,0,PS,990101,0:34:12,0:34:23,0:00:00,0:00:00,HANG,0:00:00,0:00:00,NO_SERVER
AA0101,33118,63702995,PS,990101,6:55:20,6:55:26,6:55:26,6:55:43,AGENT,6:55:43,6:56:37,MICHAL
AA0102,33116,27434751,NE,990102,13:01:02,13:01:09,13:01:09,13:01:20,AGENT,13:01:20,13:05:00,N/A
"""

EVENTS = """
[[events]]
activity = "IVR"
timestamp = "vru_entry"
end_timestamp = "vru_exit"

[[events]]
activity = "Queue"
timestamp = "q_start"
end_timestamp = "q_exit"

[[events]]
activity = "Agent"
timestamp = "ser_start"
end_timestamp = "ser_exit"
columns = { resource = "server" }
"""

HEAD = """timezone = "Asia/Jerusalem"
timestamp_format = "%H:%M:%S"
date_column = "date"
date_format = "%y%m%d"
"""


def ingest(tmp_path, mapping_text: str, data: str = CALLS):
    (tmp_path / "calls.csv").write_text(data)
    (tmp_path / "m.toml").write_text(mapping_text)
    out = tmp_path / "log.parquet"
    summary = ingest_to_log([tmp_path / "calls.csv"], out,
                            options=ReadOptions(mapping=load_mapping(tmp_path / "m.toml"), pseudonym_key=b"k"))
    assert summary.records_read == summary.records_accepted + summary.records_rejected
    return summary, read_log(out)


def traces(log: pa.Table) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c, a in zip(log.column("case_id").to_pylist(), log.column("activity").to_pylist()):
        out.setdefault(c, []).append(a)
    return out


def utc(text: str) -> int:
    return pd.Timestamp(text).value


def test_sentinels_are_empty_so_a_call_that_never_queued_has_no_queue_event(tmp_path):
    mapping = HEAD + 'null_values = ["0:00:00", "NO_SERVER", "N/A"]\n[columns]\ncase_id = ["vru_line", "call_id"]\n' \
        + EVENTS
    summary, log = ingest(tmp_path, mapping)
    assert summary.records_rejected == 0
    assert traces(log) == {"AA0101|33116": ["IVR", "Queue"], "AA0101|33117": ["IVR"],
                           "AA0101|33118": ["IVR", "Queue", "Agent"], "AA0102|33116": ["IVR", "Queue", "Agent"]}
    rows = log.to_pylist()
    agent = [r for r in rows if r["activity"] == "Agent"]
    # NO_SERVER and N/A are empty: no resource; MICHAL is kept
    assert [r["resource"] for r in agent] == ["MICHAL", None]
    # the date column (yymmdd) plus a single-digit hour, in Israel's winter time (UTC+2)
    first = next(r for r in rows if r["case_id"] == "AA0101|33118" and r["activity"] == "IVR")
    assert first["timestamp"].value == utc("1999-01-01T04:55:20Z")
    assert first["end_timestamp"].value == utc("1999-01-01T04:55:26Z")
    # the parts of the key are not kept again as attributes; other columns are, sentinels emptied
    assert "vru_line" not in log.column_names and "call_id" not in log.column_names
    assert log.column("outcome").to_pylist()[:2] == ["HANG", "HANG"]


def test_null_values_by_column_and_when_unless_where_honour_them(tmp_path):
    mapping = HEAD + """
[null_values]
q_start = ["0:00:00"]
server = ["NO_SERVER", "N/A"]

[columns]
case_id = ["vru_line", "call_id"]

[[events]]
activity = "IVR"
timestamp = "vru_entry"

[[events]]
activity = "Queue"
timestamp = "q_exit"
when = "q_start"

[[events]]
activity = "Abandon"
timestamp = "q_exit"
unless = "server"
where = { outcome = "HANG" }

[[events]]
activity = "Served by nobody"
timestamp = "q_exit"
where = { server = "NO_SERVER" }
"""
    summary, log = ingest(tmp_path, mapping)
    assert summary.records_rejected == 0
    # 33117 never queued (q_start 0:00:00): no Queue and, its q_exit being a sentinel too but not listed for
    # that column, its Abandon is read at midnight
    assert traces(log) == {"AA0101|33116": ["IVR", "Queue", "Abandon"], "AA0101|33117": ["Abandon", "IVR"],
                           "AA0101|33118": ["IVR", "Queue"], "AA0102|33116": ["IVR", "Queue"]}


def test_fixed_date_for_a_file_of_times_of_day(tmp_path):
    data = "call,event,time\nc1,IVR,0:10:10\nc1,Queue,9:05:00\nc2,IVR,23:59:59\nc2,Queue,25:00:00\nc2,Hold,\n"
    mapping = ('date = "2026-03-29"\ntimezone = "Europe/London"\n[columns]\ncase_id = "call"\nactivity = "event"\n'
               'timestamp = "time"\n')
    summary, log = ingest(tmp_path, mapping, data)
    # timestamp_format defaults to %H:%M:%S when a date is given; 0:10:10 is GMT, 9:05 is BST (clocks went forward)
    assert [t.value for t in log.column("timestamp").to_pylist()] == [
        utc("2026-03-29T00:10:10Z"), utc("2026-03-29T08:05:00Z"), utc("2026-03-29T22:59:59Z")]
    rejects = (tmp_path / "log.rejects.csv").read_text()
    assert "unparseable timestamp '25:00:00' in column 'time' (expected the pattern %H:%M:%S)" in rejects
    assert "empty timestamp (column 'time')" in rejects and summary.records_rejected == 2


def test_a_bad_date_in_the_date_column_is_refused_per_record(tmp_path):
    data = CALLS.replace("AA0102,33116,27434751,NE,990102", "AA0102,33116,27434751,NE,99x102")
    mapping = HEAD + 'null_values = ["0:00:00"]\n[columns]\ncase_id = ["vru_line", "call_id"]\n' + EVENTS
    summary, _ = ingest(tmp_path, mapping, data)
    rejects = (tmp_path / "log.rejects.csv").read_text()
    assert summary.records_rejected == 1
    assert "5,unparseable date '99x102' in column 'date' (expected the pattern %y%m%d)" in rejects


def test_times_of_day_with_their_dates_in_the_parser():
    p = parse_timestamps(["0:10:10", "13:01:02", "", "7:5:00", "24:00:00"], "%H:%M:%S", "UTC",
                         dates=["2026-03-01", "2026-03-02", "2026-03-02", "2026-03-02", "2026-03-02"])
    assert p.valid.tolist() == [True, True, False, True, False]
    assert p.values[0] == utc("2026-03-01T00:10:10Z") and p.values[3] == utc("2026-03-02T07:05:00Z")
    q = parse_timestamps(pa.array(["1:00:00", "1:00:00"]), "%H:%M:%S", "America/New_York", dates="2026-01-15")
    assert q.values.tolist() == [utc("2026-01-15T06:00:00Z")] * 2


def test_multi_column_key_with_an_empty_part_is_refused(tmp_path):
    data = CALLS.replace("AA0101,33117", ",33117")
    mapping = HEAD + 'null_values = ["0:00:00"]\n[columns]\ncase_id = ["vru_line", "call_id"]\n' + EVENTS
    summary, _ = ingest(tmp_path, mapping, data)
    assert summary.records_rejected == 1
    assert "3,\"empty case_id (columns 'vru_line', 'call_id')\"" in (tmp_path / "log.rejects.csv").read_text()


def test_multi_column_key_in_yaml_and_long_form(tmp_path):
    data = "line,id,event,ts\nA,1,Queue,2026-03-01T10:00:00Z\nB,1,Queue,2026-03-01T10:01:00Z\n"
    mapping = "columns:\n  case_id: [line, id]\n  activity: event\n  timestamp: ts\n"
    (tmp_path / "m.yaml").write_text(mapping)
    (tmp_path / "c.csv").write_text(data)
    ingest_to_log([tmp_path / "c.csv"], tmp_path / "l.parquet",
                  options=ReadOptions(mapping=load_mapping(tmp_path / "m.yaml"), pseudonym_key=b"k"))
    assert read_log(tmp_path / "l.parquet").column("case_id").to_pylist() == ["A|1", "B|1"]


@pytest.mark.parametrize("text,needle,line", [
    ('null_values = "N/A"\n', "null_values must be a list of values.*or a table", 1),
    ('null_values = ["N/A", ["x"]]\n', "null_values must be a list of values", 1),
    ('[null_values]\nserver = "NO_SERVER"\n', "null_values.server must be a list of values", 2),
    ('date = "01/03/2026"\n', "date must be a day written YYYY-MM-DD, got '01/03/2026'", 1),
    ('date = "2026-02-30"\n', "date must be a day written YYYY-MM-DD, got '2026-02-30'", 1),
    ('date = "2026-03-01"\ndate_column = "d"\n', "give either date or date_column, not both", 2),
    ('date = "2026-03-01"\ntimestamp_format = "ISO8601"\n', "timestamp_format must be a strptime pattern", 2),
    ('date_column = "d"\ntimestamp_format = "epoch_s"\n', "timestamp_format must be a strptime pattern", 2),
    ('date_format = "yymmdd"\n', "date_format 'yymmdd' is not a strptime pattern", 1),
    ('date_format = "%y%m%d"\n', "date_format is used only with date_column", 1),
    ('[columns]\ncase_id = []\n', "'columns.case_id' must be a non-empty text or a list", 2),
    ('[columns]\ncase_id = ["line", 3]\n', "'columns.case_id' must be a non-empty text or a list", 2),
    ('[[events]]\nactivity = "Q"\ntimestamp = "t"\ncolumns = { resource = ["a", ""] }\n',
     "'events.0.columns.resource' must be a non-empty text or a list", 4),
])
def test_bad_values_of_the_new_keys_name_the_mapping_line(tmp_path, text, needle, line):
    (tmp_path / "m.toml").write_text(text)
    with pytest.raises(InputError, match=needle) as e:
        load_mapping(tmp_path / "m.toml")
    assert e.value.line == line and e.value.path == str(tmp_path / "m.toml")


@pytest.mark.parametrize("extra,needle", [
    ('[null_values]\nq_strat = ["0:00:00"]\n', "Column 'q_strat' not found in .*calls.csv.*Fix line 6 of"),
    ('[columns]\ncase_id = ["vru_line", "callid"]\n', "Column 'callid' not found.*Fix line 6 of.*call_id"),
    ('date_column = "day"\n[columns]\ncase_id = "call_id"\n', "Column 'day' not found.*Fix line 4 of"),
])
def test_columns_the_new_keys_name_must_exist(tmp_path, extra, needle):
    head = HEAD.replace('date_column = "date"\n', "" if "date_column" in extra else 'date_column = "date"\n')
    with pytest.raises(InputError, match=needle):
        ingest(tmp_path, head + extra + ('[columns]\ncase_id = "call_id"\n' if "[columns]" not in extra else "")
               + EVENTS)


def test_cli_ingests_the_export_with_its_mapping(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("calls.csv").write_text(CALLS)
    Path("m.toml").write_text(HEAD + 'null_values = ["0:00:00", "NO_SERVER", "N/A"]\n'
                              '[columns]\ncase_id = ["vru_line", "call_id"]\n' + EVENTS)
    r = CliRunner().invoke(main, ["ingest", "calls.csv", "--mapping", "m.toml", "-o", "l.parquet", "--json", "-q"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert (s["records_read"], s["records_rejected"], s["cases"], s["events"]) == (4, 0, 4, 9)
    Path("m.toml").write_text(HEAD + 'null_values = "0:00:00"\n')
    r = CliRunner().invoke(main, ["ingest", "calls.csv", "--mapping", "m.toml", "-o", "l.parquet"])
    assert r.exit_code == 1 and "(m.toml, line 5)" in r.stderr and "Traceback" not in r.output
