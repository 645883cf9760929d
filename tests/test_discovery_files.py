"""Discovery's faster paths against pm4py's own: the variant-log DFG and concurrency projection of the
inductive miner, and ``cxmine discover`` in a fresh process (pm4py's modules without its package imports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from sample import sample_log  # noqa: F401  (a fixture)
from test_discovery import same_net
from engine.analyses.inductive import dfg_of_variants, mine_variant_log, project_concurrent

ROOT = Path(__file__).resolve().parents[1]
CXMINE = str(Path(sys.executable).with_name("cxmine"))

traces = st.lists(st.sampled_from("abcdef"), max_size=7).map(tuple)
variant_logs = st.dictionaries(traces, st.integers(1, 50), max_size=25).map(Counter)


@settings(max_examples=200, deadline=None)
@given(variant_logs)
def test_variant_log_dfg_is_pm4pys_with_its_order(log):
    from pm4py.util.compression.util import discover_dfg_uvcl

    ours, theirs = dfg_of_variants(log), discover_dfg_uvcl(log)
    assert list(ours.graph.items()) == list(theirs.graph.items())
    assert list(ours.start_activities.items()) == list(theirs.start_activities.items())
    assert list(ours.end_activities.items()) == list(theirs.end_activities.items())


@settings(max_examples=200, deadline=None)
@given(variant_logs, st.lists(st.integers(0, 3), min_size=6, max_size=6))
def test_concurrent_projection_is_pm4pys_with_its_order(log, where):
    from pm4py.algo.discovery.inductive.cuts.concurrency import ConcurrencyCutUVCL
    from pm4py.algo.discovery.inductive.dtypes.im_ds import IMDataStructureUVCL

    groups = [g for g in ({a for a, i in zip("abcdef", where) if i == k} for k in range(4)) if g]
    ours = project_concurrent(log, groups)
    theirs = ConcurrencyCutUVCL.project(IMDataStructureUVCL(log), groups)
    assert [list(c.items()) for c in ours] == [list(t.data_structure.items()) for t in theirs]


@settings(max_examples=60, deadline=None)
@given(variant_logs.filter(len), st.sampled_from([0.0, 0.2]))
def test_miner_on_variant_logs_is_pm4pys(log, noise):
    from pm4py.algo.discovery.inductive.dtypes.im_ds import IMDataStructureUVCL
    from pm4py.algo.discovery.inductive.variants.im import IMUVCL
    from pm4py.algo.discovery.inductive.variants.imf import IMFUVCL

    params = {"noise_threshold": noise, "multiprocessing": False, "disable_fallthroughs": False}
    reference = (IMFUVCL(params) if noise else IMUVCL(params)).apply(IMDataStructureUVCL(log), params)
    assert str(mine_variant_log(log, noise)) == str(reference)


def lost_card_frame(log: Path) -> pd.DataFrame:
    """The lost-card contacts of the sample as pm4py's DataFrame."""
    import pm4py

    df = pd.read_parquet(log, columns=["case_id", "activity", "timestamp", "intent"])
    first = df.groupby("case_id", sort=False)["intent"].transform("first")
    df = df[first == "lost_card"][["case_id", "activity", "timestamp"]]
    return pm4py.format_dataframe(df, case_id="case_id", activity_key="activity", timestamp_key="timestamp")


@pytest.mark.parametrize("method", ["inductive", "heuristics", "dfg"])
def test_discover_in_a_fresh_process_writes_pm4pys_model(sample_log, tmp_path, method):
    import pm4py

    out = tmp_path / method
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([CXMINE, "discover", str(sample_log), "--method", method, "--where", "intent=lost_card",
                          "-o", str(out), "--json", "-q"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)  # pm4py's import banner would break the JSON on stdout
    df = lost_card_frame(sample_log)
    assert data["n_cases"] == df["case:concept:name"].nunique()
    net = pm4py.read_pnml(str(out / "model.pnml"))
    if method == "inductive":
        assert str(pm4py.read_ptml(str(out / "model.ptml"))) == str(pm4py.discover_process_tree_inductive(df))
        assert same_net(net, pm4py.discover_petri_net_inductive(df))
    elif method == "heuristics":
        assert same_net(net, pm4py.discover_petri_net_heuristics(df))
    else:
        assert same_net(net, pm4py.convert_to_petri_net(*pm4py.discover_dfg(df)))


def test_discover_process_imports_a_fraction_of_pm4py(sample_log, tmp_path):
    script = ("import sys\nfrom engine.cli import main\n"
              "try:\n    main([*sys.argv[1:]], standalone_mode=False)\n"
              "finally:\n    print(sum(m.split('.')[0] == 'pm4py' for m in sys.modules))\n")
    run = subprocess.run([sys.executable, "-c", script, "discover", str(sample_log), "-o", str(tmp_path / "m"),
                          "-q"], env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert 0 < int(run.stdout) < 300  # ``import pm4py`` brings about 1,100 of its modules


def test_discovery_encodes_times_only_for_weeks(sample_log):
    from engine.analyses.discovery import discover_model, encode_for_discovery
    from engine.log.encode import encode_log

    lean, full = encode_for_discovery(sample_log), encode_log(sample_log, attributes=())
    assert lean.timestamps.nbytes == 0 or lean.timestamps.strides == (0,)
    assert not lean.timestamps.any() and lean.end_timestamps is None
    assert (lean.case_offsets == full.case_offsets).all() and (lean.activity_codes == full.activity_codes).all()
    assert str(discover_model(lean).tree) == str(discover_model(full).tree)
    weekly = encode_for_discovery(sample_log, by=("week",))
    assert (weekly.timestamps == full.timestamps).all()
    selected = encode_for_discovery(sample_log, {"week": {"2026-W07"}})
    assert 0 < selected.n_cases < full.n_cases and selected.timestamps.min() > 0


def test_pm4py_imported_in_parts_still_offers_its_top_level_functions(tmp_path):
    script = """
import sys
import pandas as pd
from engine.analyses.pm4py_parts import import_parts
assert import_parts()
from pm4py.algo.discovery.inductive.variants.im import IMUVCL
light = sum(m.split('.')[0] == 'pm4py' for m in sys.modules)
import pm4py
df = pd.DataFrame({"case:concept:name": ["1", "1", "2"], "concept:name": ["a", "b", "a"],
                   "time:timestamp": pd.to_datetime([1, 2, 3], unit="s", utc=True)})
tree = pm4py.discover_process_tree_inductive(df)
from pm4py import read_pnml
from pm4py.util import constants
print(light)
print(tree)
print(bool(pm4py.__version__) and callable(read_pnml) and bool(constants.DEFAULT_ENCODING))
"""
    run = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    light, tree, whole = run.stdout.strip().splitlines()[-3:]
    assert int(light) < 300 and tree == "->( 'a', X( tau, 'b' ) )" and whole == "True"
