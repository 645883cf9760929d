"""`cxmine ingest` on the command line: summary, JSON, warnings, options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.ingest.pseudonym import RANDOM_KEY_WARNING

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "eventlogs" / "callcenter"
CXMINE = Path(sys.executable).with_name("cxmine")
ROWS = ("case_id,activity,timestamp,customer_id\n"
        "c1,Queue,2026-03-01T10:00:00Z,+44 7700 900001\nc1,Agent answer,2026-03-01T10:02:00Z,+44 7700 900001\n")


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CXMINE_PSEUDONYM_KEY", raising=False)
    return tmp_path


def test_summary_text_lists_every_count(folder):
    Path("a.csv").write_text(ROWS + "c2,Queue,not-a-time,x\n")
    r = CliRunner().invoke(main, ["ingest", "a.csv", "-o", "out/log.parquet"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["records", "read", "3"]
    assert lines[1].split() == ["accepted", "2"]
    assert lines[2].split()[:2] == ["rejected", "1"] and "out/log.rejects.csv" in lines[2]
    assert [x.split()[0] for x in lines[3:]] == ["cases", "events", "activities", "time", "log"]
    assert "2026-03-01T10:00:00" in lines[6] and "2026-03-01T10:02:00" in lines[6]
    assert Path("out/log.parquet").exists()


def test_random_key_warning_and_stable_pseudonyms_with_a_key(folder, monkeypatch):
    Path("a.csv").write_text(ROWS)
    Path("blocker").write_text("a file where the configuration folder should be")
    monkeypatch.setenv("CXMINE_CONFIG_DIR", str(folder / "blocker" / "cxmine"))
    r = CliRunner().invoke(main, ["ingest", "a.csv", "-o", "l.parquet"])
    assert f"Warning: {RANDOM_KEY_WARNING}" in r.stderr
    monkeypatch.setenv("CXMINE_PSEUDONYM_KEY", "secret")
    ids = []
    for _ in range(2):
        r = CliRunner().invoke(main, ["ingest", "a.csv", "-o", "l.parquet"])
        assert r.exit_code == 0 and "Warning" not in r.stderr
        ids.append(pq.read_table("l.parquet").column("customer_id").to_pylist())
    assert ids[0] == ids[1] and ids[0][0].startswith("cus_") and "7700" not in ids[0][0]


def test_installation_key_keeps_pseudonyms_stable_between_runs(folder, monkeypatch):
    import json
    Path("a.csv").write_text(ROWS)
    monkeypatch.setenv("CXMINE_CONFIG_DIR", str(folder / "config"))
    runs = []
    for _ in range(2):
        r = CliRunner().invoke(main, ["ingest", "a.csv", "-o", "l.parquet"])
        assert r.exit_code == 0 and "Warning" not in r.stderr, r.output
        meta = json.loads(pq.read_schema("l.parquet").metadata[b"cxmine"])
        runs.append((pq.read_table("l.parquet").column("customer_id").to_pylist(), meta["pseudonym_key_id"]))
    assert runs[0] == runs[1] and runs[0][1].startswith("key-")
    key = (folder / "config" / "pseudonym.key").read_text().strip()
    assert key not in Path("l.parquet").read_bytes().decode("latin-1")


def test_json_summary_and_several_inputs(folder):
    Path("a.csv").write_text(ROWS)
    Path("b.jsonl").write_text(json.dumps({"case_id": "c3", "activity": "Queue", "timestamp": "2026-03-02T09:00:00Z"})
                               + "\n" + "{broken\n")
    r = CliRunner().invoke(main, ["ingest", "a.csv", "b.jsonl", "-o", "l.parquet", "--json", "-q"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert set(s) >= {"records_read", "records_accepted", "records_rejected", "cases", "events", "activities",
                      "first_event", "last_event", "output", "rejects_file", "warnings"}
    assert (s["records_read"], s["records_accepted"], s["records_rejected"]) == (4, 3, 1)
    assert (s["cases"], s["events"], s["activities"]) == (2, 3, 2)


def test_format_option_overrides_the_extension(folder):
    Path("export.txt").write_text(ROWS.replace(",", "\t"))
    r = CliRunner().invoke(main, ["ingest", "export.txt", "--format", "csv", "-o", "l.parquet", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["events"] == 2


def test_mapping_format_key_is_used_when_the_extension_says_nothing(folder):
    Path("export.dat").write_text(ROWS)
    Path("m.toml").write_text('format = "csv"\n')
    r = CliRunner().invoke(main, ["ingest", "export.dat", "--mapping", "m.toml", "-o", "l.parquet", "--json"])
    assert r.exit_code == 0, r.output


def test_unknown_time_zone_option_is_a_usage_error(folder):
    Path("a.csv").write_text(ROWS)
    r = CliRunner().invoke(main, ["ingest", "a.csv", "--timezone", "Mars/Olympus", "-o", "l.parquet"])
    assert r.exit_code == 2 and "Unknown time zone 'Mars/Olympus'" in r.stderr


def test_bad_mapping_file_message(folder):
    Path("a.csv").write_text(ROWS)
    Path("m.toml").write_text('[columns]\ncase_id = "case_id"\n[[event]]\nactivity = "Q"\n')
    r = CliRunner().invoke(main, ["ingest", "a.csv", "--mapping", "m.toml", "-o", "l.parquet"])
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: Unknown key 'event' in the mapping file (m.toml, line 3). "
                                "Did you mean 'events'?")


def test_help_has_an_example():
    r = CliRunner().invoke(main, ["ingest", "--help"])
    assert r.exit_code == 0 and "Example:" in r.output and "--mapping" in r.output and "--strict" in r.output


def test_callcenter_example_in_a_real_process(folder):
    env = {**os.environ, "CXMINE_PSEUDONYM_KEY": "k"}
    p = subprocess.run([str(CXMINE), "ingest", str(CALLS / "calls.csv"), "--mapping", str(CALLS / "mapping.toml"),
                        "-o", "cc.parquet", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["records_read"] == s["records_accepted"] == s["cases"] == 140
    assert s["records_rejected"] == 0 and s["activities"] == 5
