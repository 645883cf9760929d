"""The CLI's error boundary and output paths: a message and an exit code, never a traceback."""

import os
from pathlib import Path

import click
import pyarrow as pa
import pytest
from click.testing import CliRunner

from engine.cli import CxGroup, main
from engine.log import write_log
from engine.log.schema import TS_TYPE


@pytest.fixture()
def log(tmp_path):
    t = pa.table({"case_id": ["c1", "c1", "c2"], "activity": ["A", "B", "A"],
                  "timestamp": pa.array([0, 10**9, 2 * 10**9], pa.int64()).cast(TS_TYPE),
                  "team": ["T1", "T1", "T2"]})
    write_log(t, tmp_path / "l.parquet")
    return str(tmp_path / "l.parquet")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_clean_failure(res, *phrases):
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    for phrase in phrases:
        assert phrase in res.output, res.output


@pytest.mark.parametrize("command", ["variants", "dfg", "kpi"])
def test_csv_folder_under_a_file(tmp_path, log, command):
    (tmp_path / "some_file.csv").write_text("x\n")
    res = run(command, log, "--csv", tmp_path / "some_file.csv" / "out")
    assert_clean_failure(res, "Cannot write the --csv folder", "some_file.csv' is a file, a folder is needed there")
    assert f"encoding {log}" not in res.output  # refused before any work


def test_csv_folder_that_is_a_file(tmp_path, log):
    (tmp_path / "taken").write_text("x\n")
    res = run("variants", log, "--csv", tmp_path / "taken")
    assert_clean_failure(res, "Cannot write the --csv folder: it is a file, a folder is needed")


def test_csv_folder_without_permission(tmp_path, log, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    res = run("variants", log, "--csv", locked / "out")
    assert_clean_failure(res, "no permission to write in", "locked")


def test_conform_csv_is_checked_before_replay(tmp_path, log):
    (tmp_path / "f").write_text("x\n")
    sop = Path(__file__).resolve().parents[1] / "models" / "lost_card.bpmn"
    res = run("conform", log, "--sop", sop, "--csv", tmp_path / "f" / "out")
    assert_clean_failure(res, "Cannot write the --csv folder")


def test_output_files(tmp_path, log):
    (tmp_path / "f").write_text("x\n")
    res = run("export", log, "--to", "xes", "-o", tmp_path / "f" / "log.xes")
    assert_clean_failure(res, "Cannot write the --output file", "is a file, a folder is needed there")
    res = run("export", log, "--to", "xes", "-o", tmp_path)
    assert_clean_failure(res, "Cannot write the --output file: it is a folder, a file name is needed")
    src = Path(__file__).resolve().parents[1] / "eventlogs" / "small" / "contacts.csv"
    res = run("ingest", src, "-o", tmp_path / "f" / "log.parquet")
    assert_clean_failure(res, "Cannot write the --output file")
    assert not list(tmp_path.glob("**/*.part"))


def _group_raising(exc_factory):
    @click.group(cls=CxGroup)
    @click.option("--debug", is_flag=True)
    @click.pass_context
    def group(ctx, debug):
        ctx.ensure_object(dict)
        ctx.obj["debug"] = debug

    @group.command()
    def boom():
        exc_factory()
    return group


def _raise_from_pm4py():
    import pm4py
    pm4py.read_xes("/nonexistent/log.xes")


def _raise_arrow():
    raise pa.ArrowInvalid("Parquet magic bytes not found in footer")


def _raise_permission():
    raise PermissionError(13, "Permission denied", "/root/out.csv")


def _raise_not_a_dir():
    open("/etc/hostname/out.csv", "w")


@pytest.mark.parametrize("factory, phrase", [
    (_raise_permission, "Error: permission denied: /root/out.csv"),
    (_raise_not_a_dir, "a file stands where a folder is needed: /etc/hostname/out.csv"),
    (_raise_arrow, "Error in pyarrow: ArrowInvalid: Parquet magic bytes"),
    (_raise_from_pm4py, "Error in pm4py: "),
])
def test_boundary_turns_foreign_errors_into_messages(factory, phrase):
    group = _group_raising(factory)
    res = CliRunner().invoke(group, ["boom"])
    assert res.exit_code == 1 and phrase in res.output and "Traceback" not in res.output
    assert isinstance(res.exception, SystemExit)
    res = CliRunner().invoke(group, ["--debug", "boom"])  # the traceback only with --debug
    assert res.exit_code == 1 and not isinstance(res.exception, SystemExit)


def test_boundary_lets_programming_errors_through():
    def bug():
        raise KeyError("internal")
    res = CliRunner().invoke(_group_raising(bug), ["boom"])
    assert isinstance(res.exception, KeyError)
