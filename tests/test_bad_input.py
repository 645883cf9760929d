"""Bad tabular input: the message a user sees, the exit code, the rejects file and the counts."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from click.testing import CliRunner

from engine.cli import main
from engine.ingest import ReadOptions
from engine.ingest.job import ingest_to_log

ROOT = Path(__file__).resolve().parents[1]
CXMINE = Path(sys.executable).with_name("cxmine")
HEADER = "case_id,activity,timestamp,resource\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CXMINE_PSEUDONYM_KEY", "test-key")
    return tmp_path


def run(*args):
    result = CliRunner().invoke(main, ["ingest", *args, "-o", "log.parquet", "--json", "-q"])
    assert "Traceback" not in result.output
    return result


def summary_of(result) -> dict:
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    assert s["records_read"] == s["records_accepted"] + s["records_rejected"]
    rejects = read_rejects()
    assert len(rejects) == s["records_rejected"]
    return s


def read_rejects(name="log.rejects.csv") -> list[dict]:
    if not Path(name).exists():
        return []
    with open(name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def fails(result, needle: str, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("Error: ")
    assert needle in result.stderr, result.stderr
    assert not Path("log.parquet").exists()
    return result.stderr


def test_required_column_missing_lists_columns_and_the_mapping_line_to_add(in_tmp):
    Path("calls.csv").write_text("call_id,queue,event,ts\nc1,Billing,Queue,2026-03-01T10:00:00Z\n")
    Path("map.toml").write_text('[columns]\ncase_id = "call_id"\nactivity = "event"\n')
    err = fails(run("calls.csv", "--mapping", "map.toml"),
                "Column 'timestamp' not found in calls.csv (available: call_id, queue, event, ts). "
                "Map it in the mapping file: timestamp = \"ts\"")
    assert err.count("\n") == 1


def test_required_column_missing_without_mapping(in_tmp):
    Path("c.csv").write_text("case,event,time\nc1,Queue,2026-03-01T10:00:00Z\n")
    fails(run("c.csv"), "Column 'case_id' not found in c.csv (available: case, event, time). "
                        "Map it in the mapping file: case_id = \"case\" (under [columns], and pass it with --mapping")


def test_mapped_source_column_missing_names_the_mapping_line(in_tmp):
    Path("c.csv").write_text("id,event,ts\nc1,Queue,2026-03-01T10:00:00Z\n")
    Path("map.toml").write_text('[columns]\ncase_id = "id"\nactivity = "event"\ntimestamp = "start"\n')
    fails(run("c.csv", "--mapping", "map.toml"),
          "Column 'start' not found in c.csv (available: id, event, ts). Fix line 4 of map.toml: timestamp = \"ts\"")


def test_unparseable_timestamp_rejects_that_record(in_tmp):
    Path("c.csv").write_text(HEADER + "c1,Queue,2026-03-01T10:00:00Z,a\nc1,Hold,01.03.2026 10:05,a\n"
                                      "c1,Wrap-up,2026-03-01T10:09:00Z,a\n")
    s = summary_of(run("c.csv"))
    assert (s["records_read"], s["records_accepted"], s["records_rejected"], s["events"]) == (3, 2, 1, 2)
    [r] = read_rejects()
    assert r["source"] == "c.csv" and r["line"] == "3"
    assert r["reason"] == ("unparseable timestamp '01.03.2026 10:05' in column 'timestamp' "
                           "(expected ISO 8601, e.g. 2026-03-01T09:30:00+01:00)")
    assert r["record"] == "c1,Hold,01.03.2026 10:05,a"


def test_pattern_format_is_named_in_the_reason(in_tmp):
    Path("c.csv").write_text(HEADER + "c1,Queue,01/03/2026 10:00,a\nc1,Hold,2026-03-01 10:05,a\n")
    Path("m.toml").write_text('timezone = "Europe/Paris"\ntimestamp_format = "%d/%m/%Y %H:%M"\n')
    s = summary_of(run("c.csv", "--mapping", "m.toml"))
    assert s["records_rejected"] == 1
    assert "expected the pattern %d/%m/%Y %H:%M" in read_rejects()[0]["reason"]


def test_no_time_zone_anywhere_refuses_the_file(in_tmp):
    Path("c.csv").write_text(HEADER + "c1,Queue,2026-03-01 10:00:00,a\nc1,Hold,2026-03-01 10:05:00,a\n")
    fails(run("c.csv"), "Timestamps in column 'timestamp' of c.csv carry no UTC offset (e.g. '2026-03-01 10:00:00' "
                        "on line 2) and no time zone is given. Add the zone of these local times to the mapping file: "
                        "timezone = \"Europe/Berlin\"")
    # and --timezone (or timezone in the mapping) reads them as local times
    s = summary_of(run("c.csv", "--timezone", "Europe/Berlin"))
    assert s["first_event"].startswith("2026-03-01T09:00:00")


def test_mixed_naive_and_offset_values_reject_the_naive_ones(in_tmp):
    Path("c.csv").write_text(HEADER + "c1,Queue,2026-03-01T10:00:00+01:00,a\nc1,Hold,2026-03-01 10:05:00,a\n"
                                      "c2,Queue,2026-03-01T10:00:00-05:00,a\n")
    s = summary_of(run("c.csv"))
    assert (s["records_accepted"], s["records_rejected"]) == (2, 1)
    [r] = read_rejects()
    assert r["line"] == "3" and "has no UTC offset and the mapping gives no timezone" in r["reason"]
    assert s["first_event"].startswith("2026-03-01T09:00:00") and s["last_event"].startswith("2026-03-01T15:00:00")


def test_local_time_in_the_spring_gap_is_rejected(in_tmp):
    Path("c.csv").write_text(HEADER + "c1,Queue,2026-03-29 02:30:00,a\nc1,Hold,2026-03-29 03:30:00,a\n")
    s = summary_of(run("c.csv", "--timezone", "Europe/Berlin"))
    assert s["records_rejected"] == 1
    assert "does not exist in Europe/Berlin" in read_rejects()[0]["reason"]


@pytest.mark.parametrize("content,needle", [
    (b"", "Input file c.csv is empty"),
    (b"\n\n  \n", "Input file c.csv is empty"),
    (HEADER.encode(), "Input file c.csv has a header but no records"),
])
def test_empty_file_is_refused(in_tmp, content, needle):
    Path("c.csv").write_bytes(content)
    fails(run("c.csv"), needle)


def test_rows_with_too_few_or_too_many_fields_are_rejected_with_their_line(in_tmp):
    Path("c.csv").write_text(
        HEADER +
        "c1,Queue,2026-03-01T10:00:00Z,a\n"          # line 2
        "\n"                                        # line 3 blank: skipped, not a record
        "c1,Hold,2026-03-01T10:01:00Z\n"             # line 4: too few
        'c1,"Agent\nanswer",2026-03-01T10:02:00Z,b\n'  # lines 5-6: one record with a quoted line break
        "c1,Wrap-up,2026-03-01T10:03:00Z,b,extra\n"  # line 7: too many
        "c2,Queue,2026-03-01T10:04:00Z,a\n")         # line 8
    s = summary_of(run("c.csv"))
    assert (s["records_read"], s["records_accepted"], s["records_rejected"]) == (5, 3, 2)
    rej = read_rejects()
    assert [(r["line"], r["reason"]) for r in rej] == [
        ("4", "too few fields: expected 4, found 3"), ("7", "too many fields: expected 4, found 5")]
    assert rej[1]["record"] == "c1,Wrap-up,2026-03-01T10:03:00Z,b,extra"


def test_line_numbers_after_a_multiline_record(in_tmp):
    Path("c.csv").write_text(HEADER + 'c1,"Agent\nanswer\nlong",2026-03-01T10:02:00Z,b\nc1,Hold,never,a\n')
    summary_of(run("c.csv"))
    assert read_rejects()[0]["line"] == "5"


def test_duplicate_events_reject_the_later_one(in_tmp):
    Path("c.csv").write_text(HEADER + "c1,Queue,2026-03-01T10:00:00Z,a\nc1,Hold,2026-03-01T10:01:00Z,a\n"
                                      "c1,Queue,2026-03-01T11:00:00+01:00,a\n"   # same instant as line 2
                                      "c1,Queue,2026-03-01T10:00:00Z,b\n")       # other resource: not a duplicate
    s = summary_of(run("c.csv"))
    assert (s["records_accepted"], s["records_rejected"]) == (3, 1)
    assert [(r["line"], r["reason"]) for r in read_rejects()] == [("4", "duplicate of line 2")]


def test_bytes_that_are_not_utf8_reject_the_record(in_tmp):
    Path("c.csv").write_bytes(HEADER.encode() + b"c1,Queue,2026-03-01T10:00:00Z,a\n"
                              b"c1,Hold,2026-03-01T10:01:00Z,Ren\xe9\n" b"c1,Wrap-up,2026-03-01T10:02:00Z,a\n")
    result = run("c.csv")
    s = summary_of(result)
    assert (s["records_accepted"], s["records_rejected"]) == (2, 1)
    [r] = read_rejects()
    assert r["line"] == "3" and r["reason"] == "bytes that are not UTF-8 (0xe9 at character 33 of the line)"
    assert "encoding" in result.stderr
    # the right encoding in the mapping reads it
    Path("m.toml").write_text('encoding = "latin-1"\n')
    s = summary_of(run("c.csv", "--mapping", "m.toml"))
    assert s["records_rejected"] == 0


def test_header_that_is_not_utf8_refuses_the_file(in_tmp):
    Path("c.csv").write_bytes(b"case_id,activit\xe9,timestamp\nc1,Q,2026-03-01T10:00:00Z\n")
    fails(run("c.csv"), "The header of c.csv holds bytes that are not UTF-8")


@pytest.mark.parametrize("name,content,fmt,needle", [
    ("c.csv", PNG, None, "Input file c.csv is a PNG image, not CSV"),
    ("c.csv", b"PK\x03\x04\x14\x00\x06\x00", None, "is a ZIP archive (an Excel .xlsx workbook?), not CSV"),
    ("c.parquet", (HEADER + "c1,Q,2026-03-01T10:00:00Z,a\n").encode(), None,
     "Input file c.parquet is text (CSV?), not Parquet. Give --format csv"),
    ("c.parquet", b'{"a": 1}\n', None, "is JSON text, not Parquet. Give --format jsonl"),
    ("c.jsonl", (HEADER + "c1,Q,2026-03-01T10:00:00Z,a\n").encode(), None,
     "Input file c.jsonl is not JSON Lines: the first line does not start with '{'"),
    ("c.jsonl", b'[{"a": 1}]', None, "is a JSON array, not JSON Lines"),
    ("c.csv.gz", gzip.compress((HEADER * 50).encode())[:40], None, "Compressed input is truncated or corrupt"),
    ("c.csv", b"PAR1\x00\x00", None, "is a Parquet file, not CSV. Read it with --format parquet"),
    ("c.csv", b'{"case_id": "c1"}\n', None, "Input file c.csv is JSON, not CSV. Read it with --format jsonl"),
])
def test_file_that_is_not_what_its_extension_says(in_tmp, name, content, fmt, needle):
    Path(name).write_bytes(content)
    fails(run(name), needle)


def test_unknown_format_is_a_usage_error(in_tmp):
    Path("c.txt").write_text(HEADER)
    fails(run("c.txt"), "Cannot tell the format of 'c.txt' from its extension", code=2)


@pytest.mark.parametrize("name,content,fmt,field,needle", [
    ("c.txt", HEADER.encode(), None, "format", "Give it with the format argument (amazon-connect, "),
    ("c.csv", HEADER.encode(), "xyz", "format", "Unknown format 'xyz'"),
    ("c.csv", b"PAR1\x00\x00", None, None, 'is a Parquet file, not CSV. Read it with format "parquet"'),
    ("c.parquet", (HEADER + "c1,Q,2026-03-01T10:00:00Z,a\n").encode(), None, None, 'Give format "csv"'),
    ("c.csv", b"a,b\n1,2\n", None, "case_id", "(under [columns], and pass it with the mapping argument)"),
])
def test_library_errors_name_arguments_not_command_line_flags(in_tmp, name, content, fmt, field, needle):
    from engine.errors import InputError
    Path(name).write_bytes(content)
    with pytest.raises(InputError) as e:
        ingest_to_log([name], "log.parquet", fmt=fmt)
    assert e.value.field == field and needle in e.value.render() and "--" not in e.value.render()


def test_strict_and_journey_window_errors_name_their_flags_on_the_command_line(in_tmp):
    from engine.errors import InputError
    Path("c.csv").write_text(HEADER + "c1,Q,yesterday,a\n")
    with pytest.raises(InputError, match="run without the strict argument"):
        ingest_to_log(["c.csv"], "log.parquet", options=ReadOptions(strict=True))
    fails(run("c.csv", "--strict"), "Fix the record, or run without --strict to write refused records")
    Path("c.csv").write_text(HEADER + "c1,Q,2026-03-01T10:00:00Z,a\n")
    err = fails(run("c.csv", "--case", "journey", "--journey-days", "-1"), "got -1.0", code=2)
    assert err.strip().endswith("Give --journey-days 7 (or set CXMINE_JOURNEY_DAYS)")


def test_empty_required_values_and_end_before_start(in_tmp):
    Path("c.csv").write_text("case_id,activity,timestamp,end_timestamp\n"
                             ",Queue,2026-03-01T10:00:00Z,\n"
                             "c1,,2026-03-01T10:00:00Z,\n"
                             "c1,Queue,,\n"
                             "c1,Hold,2026-03-01T10:05:00Z,2026-03-01T10:04:00Z\n"
                             "c1,Hold,2026-03-01T10:05:00Z,2026-03-01T10:06:00Z\n")
    s = summary_of(run("c.csv"))
    assert (s["records_accepted"], s["records_rejected"]) == (1, 4)
    assert [(r["line"], r["reason"]) for r in read_rejects()] == [
        ("2", "empty case_id (column 'case_id')"),
        ("3", "empty activity (column 'activity')"),
        ("4", "empty timestamp (column 'timestamp')"),
        ("5", "end '2026-03-01T10:04:00Z' (column 'end_timestamp') is before start '2026-03-01T10:05:00Z' "
              "(column 'timestamp')")]


def test_jsonl_bad_lines_are_rejected_with_their_line(in_tmp):
    good = [json.dumps({"case_id": "c1", "activity": a, "timestamp": f"2026-03-01T10:0{i}:00Z"})
            for i, a in enumerate(["Queue", "Hold", "Wrap-up"])]
    Path("c.jsonl").write_text(good[0] + "\n\n" + '{"case_id": "c1", "activity": \n' + good[1] + "\n[1, 2]\n" +
                               good[2] + "\n")
    s = summary_of(run("c.jsonl"))
    assert (s["records_read"], s["records_accepted"], s["records_rejected"]) == (5, 3, 2)
    rej = read_rejects()
    assert [r["line"] for r in rej] == ["3", "5"]
    assert rej[0]["reason"].startswith("not valid JSON") and "JSON object was expected" in rej[1]["reason"]


def test_wide_form_rows_without_events_or_with_a_bad_time_are_rejected_whole(in_tmp):
    Path("calls.csv").write_text("call_id,ivr_entry,queue_entry,answered\n"
                                 "A,2026-03-01T10:00:00Z,2026-03-01T10:01:00Z,2026-03-01T10:03:00Z\n"
                                 "B,,,\n"
                                 "C,2026-03-01T10:00:00Z,soon,\n")
    Path("m.toml").write_text('[columns]\ncase_id = "call_id"\n'
                              '[[events]]\nactivity = "IVR menu"\ntimestamp = "ivr_entry"\n'
                              '[[events]]\nactivity = "Queue"\ntimestamp = "queue_entry"\n'
                              '[[events]]\nactivity = "Agent answer"\ntimestamp = "answered"\n')
    s = summary_of(run("calls.csv", "--mapping", "m.toml"))
    assert (s["records_read"], s["records_accepted"], s["records_rejected"], s["events"]) == (3, 1, 2, 3)
    rej = read_rejects()
    assert rej[0]["line"] == "3" and rej[0]["reason"].startswith("no event: every [[events]] entry's condition")
    assert rej[1]["line"] == "4" and rej[1]["reason"].startswith("unparseable timestamp 'soon' in column 'queue_entry'")


def test_strict_stops_at_the_first_bad_record_and_writes_nothing(in_tmp):
    Path("c.csv").write_text(HEADER + "c1,Queue,2026-03-01T10:00:00Z,a\nc1,Hold,later,a\nc1,Hold\n")
    result = CliRunner().invoke(main, ["ingest", "c.csv", "--strict", "-o", "log.parquet"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: Refused record: unparseable timestamp 'later' in column 'timestamp' (expected ISO 8601, e.g. "
        "2026-03-01T09:30:00+01:00) (c.csv, line 3). Fix the record, or run without --strict to write refused "
        "records to the rejects file")
    assert not Path("log.parquet").exists() and not Path("log.rejects.csv").exists()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_failing_runs_leave_old_outputs_untouched_and_no_partial_files(in_tmp, monkeypatch):
    Path("c.csv").write_text(HEADER + "c1,Queue,2026-03-01T10:00:00Z,a\nc1,Hold,x,a\n")
    summary_of(run("c.csv"))
    before = _snapshot(in_tmp)
    assert {"log.parquet", "log.rejects.csv"} <= set(before)
    # refused input
    Path("bad.csv").write_text("x,y\n1,2\n")
    fails_result = CliRunner().invoke(main, ["ingest", "bad.csv", "-o", "log.parquet"])
    assert fails_result.exit_code == 1
    # strict refusal
    assert CliRunner().invoke(main, ["ingest", "c.csv", "--strict", "-o", "log.parquet"]).exit_code == 1
    # a crash half-way through writing the Parquet file
    import engine.log.store as store

    def broken_write(table, where, **kw):
        Path(where).write_bytes(b"PAR1 half")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(store.pq, "write_table", broken_write)
    Path("c2.csv").write_text(HEADER + "c9,Queue,2026-03-01T10:00:00Z,a\n")
    with pytest.raises(OSError):
        ingest_to_log(["c2.csv"], "log.parquet", options=ReadOptions())
    after = _snapshot(in_tmp)
    for name in ("log.parquet", "log.rejects.csv"):
        assert after[name] == before[name]
    assert not [p for p in after if p.endswith(".part")]


def test_clean_run_removes_a_stale_rejects_file(in_tmp):
    Path("c.csv").write_text(HEADER + "c1,Queue,2026-03-01T10:00:00Z,a\nc1,Hold,x,a\n")
    summary_of(run("c.csv"))
    assert Path("log.rejects.csv").exists()
    Path("c.csv").write_text(HEADER + "c1,Queue,2026-03-01T10:00:00Z,a\n")
    s = summary_of(run("c.csv"))
    assert s["rejects_file"] is None and not Path("log.rejects.csv").exists()


def test_nothing_accepted_is_an_error_listing_the_reasons(in_tmp):
    Path("c.csv").write_text(HEADER + "c1,Queue,x,a\nc1,Hold,y,a\nc2\n")
    fails(run("c.csv"), "No record of c.csv was accepted: 2 x unparseable timestamp 'x'")


def test_real_process_exit_code_and_message(in_tmp):
    Path("calls.csv").write_text("call_id,queue,event,ts\nc1,Billing,Queue,2026-03-01T10:00:00Z\n")
    env = {**os.environ, "CXMINE_PSEUDONYM_KEY": "k"}
    p = subprocess.run([str(CXMINE), "ingest", "calls.csv", "-o", "log.parquet"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines()[-1].startswith("Error: Column 'case_id' not found in calls.csv")
    assert "Traceback" not in p.stderr and not Path("log.parquet").exists()
    Path("c.csv").write_bytes(HEADER.encode() + b"c1,Queue,2026-03-01T10:00:00Z,a\nc1,Hold\n")
    p = subprocess.run([str(CXMINE), "ingest", "c.csv", "-o", "log.parquet", "--json"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert (s["records_read"], s["records_accepted"], s["records_rejected"]) == (2, 1, 1)
    assert read_rejects()[0]["line"] == "3"


# ---------------------------------------------------------------- twin: Python's csv module, line by line

FIELD = st.sampled_from(["a", "b,c", 'say "hi"', "two\nlines", "é", "", " "])
STAMP = st.sampled_from(["2026-03-01T10:00:00Z", "2026-03-01T10:01:00Z", "2026-03-01T11:00:00+01:00", "x", ""])
ROW = st.one_of(
    st.tuples(st.sampled_from(["c1", "c2", " c1", "", "c\n3"]), st.sampled_from(["Queue", "Hold", ""]), STAMP,
              FIELD).map(list),
    st.lists(FIELD, min_size=1, max_size=6))


def twin(text: str):
    """Accepted (case, activity, instant, resource) and [(line, reason start)] by a line-by-line reading."""
    import datetime as dt
    import io
    reader = csv.reader(io.StringIO(text, newline=""))
    header, accepted, rejects, seen = None, [], [], {}
    prev_end = 0
    for row in reader:
        start, prev_end = prev_end + 1, reader.line_num
        if not row:
            continue
        if header is None:
            header = row
            continue
        if len(row) != len(header):
            rejects.append((start, "too few fields" if len(row) < len(header) else "too many fields"))
            continue
        case, act, ts, res = row
        if not case.strip():
            rejects.append((start, "empty case_id"))
            continue
        if not act.strip():
            rejects.append((start, "empty activity"))
            continue
        if not ts.strip():
            rejects.append((start, "empty timestamp"))
            continue
        try:
            instant = dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
        except ValueError:
            rejects.append((start, "unparseable timestamp"))
            continue
        key = (case, act, instant, res)
        if key in seen:
            rejects.append((start, f"duplicate of line {seen[key]}"))
            continue
        seen[key] = start
        accepted.append((case.strip(), act.strip(), instant, res if res.strip() else None))
    return accepted, rejects


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(ROW, st.integers(0, 2)), min_size=1, max_size=25), st.booleans())
def test_line_numbers_and_counts_match_a_line_by_line_twin(in_tmp, rows, crlf):
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(["case_id", "activity", "timestamp", "resource"])
    for row, blanks in rows:
        w.writerow(row)
        buf.write(("\r\n" if crlf else "\n") * blanks)
    text = buf.getvalue()
    Path("t.csv").write_bytes(text.encode("utf-8"))
    accepted, rejects = twin(text)
    result = CliRunner().invoke(main, ["ingest", "t.csv", "-o", "log.parquet", "--json", "-q"])
    if not accepted:
        assert result.exit_code == 1 and "was accepted" in result.stderr
        return
    s = summary_of(result)
    assert s["records_read"] == len(accepted) + len(rejects)
    got = [(int(r["line"]), r["reason"]) for r in read_rejects()]
    assert [(line, reason[:len(want)]) for (line, reason), (_, want) in zip(got, rejects)] == rejects
    import pyarrow.parquet as pq
    log = pq.read_table("log.parquet").to_pylist()
    def order(e):
        return e[0], e[1], e[2], e[3] or ""
    events = sorted(((r["case_id"], r["activity"], r["timestamp"], r["resource"]) for r in log), key=order)
    assert events == sorted(accepted, key=order)


def test_stray_quote_inside_a_value_keeps_line_numbers(in_tmp):
    Path("c.csv").write_text(HEADER + 'c1,Queue,2026-03-01T10:00:00Z,5" screen\nc1,Hold,2026-03-01T10:01:00Z,a\n'
                                      "c1,Hold\nc1,Wrap-up,never,a\n")
    s = summary_of(run("c.csv"))
    assert (s["records_accepted"], s["records_rejected"]) == (2, 2)
    assert [r["line"] for r in read_rejects()] == ["4", "5"]
