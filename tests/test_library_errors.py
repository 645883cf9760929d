"""Bad argument values: the library raises AnalysisError naming the argument (``field``), never a CLI flag;
the command line names the option that gave the value, exits 2 and shows no traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import naive
from engine.analyses.dfg import discover_performance_dfg
from engine.analyses.discovery import discover_model, mine_heuristics_net
from engine.analyses.process_map import build_process_map
from engine.cli import main
from engine.errors import AnalysisError
from engine.report.drawing import check_format
from engine.report.sop_render import render_sop

ROOT = Path(__file__).resolve().parents[1]
LOST_CARD = ROOT / "models" / "lost_card.bpmn"


def _log():
    return naive.encode_cases([[{"activity": "a", "timestamp": 0}, {"activity": "b", "timestamp": 10**9}]])


def _cli(*args, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert "Traceback" not in result.output and not isinstance(result.exception, AnalysisError), result.output
    return result


def _raised(call) -> AnalysisError:
    with pytest.raises(AnalysisError) as err:
        call()
    assert "--" not in err.value.render()  # library messages name arguments, never flags
    return err.value


@pytest.mark.parametrize("call, field, message", [
    (lambda: discover_model(_log(), "alpha"), "method",
     "Unknown discovery method 'alpha' (valid: inductive, heuristics, dfg)"),
    (lambda: discover_model(_log(), "inductive", noise=1.5), "noise", "Noise threshold 1.5 is outside [0, 1]"),
    (lambda: discover_model(_log(), "heuristics", noise=0.2), "noise",
     "A noise threshold applies to the inductive miner only, not to 'heuristics'"),
    (lambda: discover_model(_log(), "heuristics", heuristics={"dependency_threshold": 2.0}),
     "dependency_threshold", "Heuristics dependency threshold 2 is outside [-1, 1]"),
    (lambda: discover_performance_dfg(_log(), measure="median"), "measure",
     "Unknown performance measure 'median' (valid: start_to_start, end_to_start)"),
    (lambda: build_process_map(_log(), measure="mean"), "measure",
     "Unknown map measure 'mean' (valid: frequency, median, p90)"),
    (lambda: build_process_map(_log(), coverage=1.5), "coverage", "Variant coverage 1.5 is outside (0, 1]"),
    (lambda: build_process_map(_log(), min_edge=0), "min_edge", "Minimum edge count 0 is below 1"),
    (lambda: build_process_map(_log(), max_edges=0), "max_edges", "Maximum edge count 0 is below 1"),
    (lambda: check_format("map.gif"), "output", "Cannot draw to 'map.gif': unknown format 'gif'"),
])
def test_library_names_the_argument(call, field, message):
    err = _raised(call)
    assert err.field == field
    assert err.render().startswith(message)


def test_drift_chart_and_comparison_level_are_named_by_argument():
    from engine.analyses.comparison import compare_logs
    from engine.report.drift import check_chart_path
    err = _raised(lambda: check_chart_path("drift.gif"))
    assert err.field == "chart"
    assert err.render() == "Cannot write a chart to 'drift.gif'. Give a file ending in .svg or .png"
    err = _raised(lambda: compare_logs(_log(), _log(), "A", "B", alpha=1.5))
    assert err.field == "alpha" and err.message == "Significance level 1.5 is outside (0, 1)"


def test_cli_drift_chart_names_the_option(small_log, tmp_path):
    result = _cli("drift", small_log, "-o", tmp_path / "drift.gif", "-q")
    assert result.exit_code == 2, result.output
    assert result.output == ("Error: --output: Cannot write a chart to '" + str(tmp_path / "drift.gif")
                             + "'. Give a file ending in .svg or .png\n")


def test_heuristics_thresholds_are_named_by_argument():
    from engine.analyses.dfg import discover_dfg
    from engine.analyses.variants import count_variants
    log = _log()
    for name in ("dependency_threshold", "and_threshold", "loop_two_threshold"):
        err = _raised(lambda: mine_heuristics_net(discover_dfg(log), count_variants(log), **{name: -2.0}))
        assert err.field == name and "threshold -2 is outside [-1, 1]" in err.message


def test_sop_render_names_the_argument(tmp_path):
    from engine.model import load_sop
    err = _raised(lambda: render_sop(load_sop(LOST_CARD), tmp_path / "sop.gif"))
    assert err.field == "output"
    assert err.render() == ("Cannot render to 'sop.gif': unknown format 'gif'. "
                            "Use one of the suffixes: .svg, .png, .pdf, .dot")


def test_distributed_names_the_argument(monkeypatch):
    from engine.distributed.analyses import distributed_dfg
    from engine.distributed.cluster import check_engine
    err = _raised(lambda: check_engine("spark"))
    assert err.field == "engine" and err.message == "Unknown engine 'spark' (valid: local, dask)"
    err = _raised(lambda: distributed_dfg("unused.parquet", measure="median"))
    assert err.field == "measure" and err.message.startswith("Unknown performance measure 'median'")


@pytest.mark.parametrize("args, message", [
    (["--method", "heuristics", "--dependency", "2"],
     "Error: --dependency: Heuristics dependency threshold 2 is outside [-1, 1]\n"),
    (["--noise", "1.5"], "Error: --noise: Noise threshold 1.5 is outside [0, 1]. pm4py's noise_threshold is a share"),
])
def test_cli_discover_names_the_option(small_log, tmp_path, args, message):
    result = _cli("discover", small_log, *args, "-o", tmp_path / "m", "-q")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "m").exists()


def test_cli_map_names_the_option(small_log, tmp_path):
    result = _cli("map", small_log, "-o", tmp_path / "map.gif", "-q")
    assert result.exit_code == 2, result.output
    assert result.output == ("Error: --output: Cannot draw to 'map.gif': unknown format 'gif'. "
                             "Use one of the suffixes: .svg, .png, .pdf, .dot\n")


def test_cli_sop_render_names_the_option(tmp_path):
    result = _cli("sop", "render", LOST_CARD, "-o", tmp_path / "x.gif")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: --output: Cannot render to 'x.gif': unknown format 'gif'.")
    assert not (tmp_path / "x.gif").exists()


def test_cli_dask_engine_without_dask_names_the_option(small_log, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    result = _cli("dfg", small_log, "--engine", "dask", "-q")
    assert result.exit_code == 2, result.output
    assert result.output == ("Error: --engine: The dask engine needs dask.distributed, which is not installed. "
                             "Install it: pip install 'cxmine[distributed]'\n")


def test_cli_error_about_data_keeps_its_exit_code(small_log):
    """An error about the data (its field a column of the log, not an option) is shown as it is, exit 1."""
    result = _cli("discover", small_log, "--by", "planet", "-o", "unused", "-q")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: Cannot segment by 'planet'")
