"""The analyses on Dask (2-worker LocalCluster) over partitioned logs give the single-machine results.

Compared: variants (order, counts, first cases, per segment), DFG and performance DFG documents, KPIs,
conformance (fitness, deviations with their example contacts, variants), on the bundled sample and on a
simulated log in several partitions; with a worker killed mid-run; and the partitioned storage itself.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

distributed = pytest.importorskip("distributed")

from dask_sample import client, drifted, killable_client, sample  # noqa: E402,F401  (fixtures)

from engine.analyses.cases import profile_cases  # noqa: E402
from engine.analyses.conformance import check_conformance  # noqa: E402
from engine.analyses.dfg import discover_dfg, discover_performance_dfg  # noqa: E402
from engine.analyses.kpis import compute_kpis, encode_for_kpis, scope_of  # noqa: E402
from engine.analyses.variants import count_variants, count_variants_by  # noqa: E402
from engine.cli import main  # noqa: E402
from engine.distributed.analyses import (distributed_conformance, distributed_dfg, distributed_kpis,  # noqa: E402
                                         distributed_variants)
from engine.distributed.cluster import run_partitions  # noqa: E402
from engine.distributed.partials import summarise_variants  # noqa: E402
from engine.errors import AnalysisError, InputError  # noqa: E402
from engine.log.encode import encode_log  # noqa: E402
from engine.log.partitions import GLOBAL_CASE_INDEX, partition_log, partition_paths  # noqa: E402
from engine.log.schema import SEGMENT_COLUMNS  # noqa: E402
from engine.log.select import encode_where  # noqa: E402
from engine.log.store import read_log, write_log  # noqa: E402
from engine.model import load_sop  # noqa: E402
from engine.report.dfg import dfg_document  # noqa: E402
from engine.report.outputs import to_json  # noqa: E402
from engine.report.variants import variants_document  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOP = ROOT / "models" / "lost_card.bpmn"
BY = ("team", "week")
WHERE = {"intent": {"lost_card", "password_reset"}}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> tuple[str, str]:
    """A simulated log of two chunks: one file written by write_log, and 5 partitions by the chunked writer."""
    from engine.log.schema import sort_log
    from engine.simulate.contacts import simulate_contacts
    from engine.simulate.log import simulate_partitioned_log, simulation_table
    sops = [load_sop(p) for p in sorted((ROOT / "models").glob("*.bpmn"))]
    out = tmp_path_factory.mktemp("simulated")
    folder = simulate_partitioned_log(sops, 3000, out / "sim.parts", 5, key=b"k", chunk=1500, seed=3, days=14)
    chunks = [sort_log(simulation_table(simulate_contacts(sops, 1500, seed=3 + k, start=day, days=14), b"k",
                                        prefix=f"k{k}-"))
              for k, day in enumerate(("2026-01-05", "2026-01-19"))]
    single = write_log(pa.concat_tables(chunks, promote_options="permissive"), out / "sim.parquet")
    return str(single), str(folder)


def _variants_doc(overall, segments, profile) -> str:
    return to_json(variants_document(overall, segments, profile, 10 ** 6))


def _single_variants(log, where):
    enc = encode_where(log, where, by=BY, attributes=())
    return count_variants(enc), {a: count_variants_by(enc, a) for a in BY}, profile_cases(enc)


def _single_graphs(log, where):
    enc = encode_where(log, where, by=BY, attributes=())
    graphs = [(None, None, discover_dfg(enc), discover_performance_dfg(enc, measure="end_to_start"))]
    for attr in BY:
        freq, perf = discover_dfg(enc, by=attr), discover_performance_dfg(enc, by=attr, measure="end_to_start")
        graphs += [(attr, label, freq[label], perf[label]) for label in freq]
    return graphs


def _kpi_params() -> dict:
    sop = load_sop(SOP)
    return dict(critical=sop.critical, label_map=dict(sop.label_map), window_days=7.0,
                scope=scope_of(t.name for t in sop.tasks))


def _check_identical(single: str, folder: str, client, where) -> None:
    one, per_segment, profile = _single_variants(single, where)
    d_one, d_per_segment, d_profile = distributed_variants(folder, by=BY, where=where, client=client)
    assert _variants_doc(one, per_segment, profile) == _variants_doc(d_one, d_per_segment, d_profile)
    assert one.sequences == d_one.sequences and np.array_equal(one.counts, d_one.counts)
    assert np.array_equal(profile.durations_ns, d_profile.durations_ns)
    if not where:  # without a selection a case's position in the selection is its global position
        assert np.array_equal(one.first_case, d_one.first_case)

    graphs = _single_graphs(single, where)
    d_graphs = distributed_dfg(folder, by=BY, where=where, measure="end_to_start", client=client)
    assert to_json(dfg_document(graphs, "end_to_start", BY)) == to_json(dfg_document(d_graphs, "end_to_start", BY))
    assert [(a, label, f) for a, label, f, _ in graphs] == [(a, label, f) for a, label, f, _ in d_graphs]

    params = _kpi_params()
    kpis = compute_kpis(encode_for_kpis(single, BY, where), by=BY, where=where, **params)
    d_kpis = distributed_kpis(folder, by=BY, where=where, client=client, **params)
    assert to_json(kpis.as_dict()) == to_json(d_kpis.as_dict())
    assert kpis.overall.measure("repeated") > 0

    enc = encode_where(single, where, by=BY, with_case_ids=True, attributes=SEGMENT_COLUMNS)
    result = check_conformance(enc, load_sop(SOP), by=BY, examples=3)
    d_result = distributed_conformance(folder, SOP, by=BY, where=where, examples=3, client=client)
    assert to_json(result.as_dict()) == to_json(d_result.as_dict())
    assert result.steps == d_result.steps and result.segment_deviations == d_result.segment_deviations
    assert any(s.examples for s in result.steps)
    assert [v.activities for v in result.variant_fits] == [v.activities for v in d_result.variant_fits]
    assert [v.example for v in result.variant_fits] == [v.example for v in d_result.variant_fits]
    if not where:
        assert result.variant_fits == d_result.variant_fits


def test_sample_identical_on_dask(sample, client):
    _check_identical(*sample, client, None)


@pytest.mark.parametrize("where", [None, WHERE], ids=["all", "where"])
def test_simulated_partitions_identical_on_dask(simulated, client, where):
    _check_identical(*simulated, client, where)


def test_folder_reads_as_the_file(sample):
    single, folder = sample
    a = encode_log(single, with_case_ids=True, case_attributes=("customer_id", "intent"))
    b = encode_log(folder, with_case_ids=True, case_attributes=("customer_id", "intent"))
    for name in ("case_offsets", "activity_codes", "timestamps", "end_timestamps"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.activities == b.activities and a.case_ids.equals(b.case_ids)
    assert {k: v[1] for k, v in a.attributes.items()} == {k: v[1] for k, v in b.attributes.items()}
    assert all(np.array_equal(a.case_attributes[k][0], b.case_attributes[k][0]) for k in a.case_attributes)
    t_single, t_folder = read_log(single), read_log(folder)
    assert t_single.schema.equals(t_folder.schema, check_metadata=False)
    for name in t_single.column_names:  # same values (the dictionaries of the string columns may differ)
        col = t_single.column(name)
        plain = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
        assert col.cast(plain).equals(t_folder.column(name).cast(plain)), name


def test_case_and_customer_in_one_partition(sample):
    single, folder = sample
    seen_cases, seen_customers = {}, {}
    for p, path in enumerate(partition_paths(folder)):
        t = pq.read_table(path, columns=["case_id", "customer_id", "case_index", GLOBAL_CASE_INDEX])
        local = t.column("case_index").to_numpy()
        assert local[0] == 0 and np.all(np.diff(local) >= 0) and np.all(np.diff(local) <= 1)
        assert np.all(np.diff(t.column(GLOBAL_CASE_INDEX).to_numpy()) >= 0)
        for c in set(t.column("case_id").to_pylist()):
            assert seen_cases.setdefault(c, p) == p
        for c in set(t.column("customer_id").drop_null().to_pylist()):
            assert seen_customers.setdefault(c, p) == p
    assert len(seen_cases) == 20000 and len(set(seen_cases.values())) == 4


def test_ingest_partitions_writes_what_partition_writes(small_log, tmp_path):
    """``cxmine ingest --partitions`` and ``partition_log`` of the single-file log give the same partitions."""
    small = ROOT / "eventlogs" / "small"
    res = CliRunner().invoke(main, ["ingest", str(small / "contacts.csv"), "--mapping", str(small / "mapping.toml"),
                                    "--partitions", "3", "-o", str(tmp_path / "small.parts"), "-q"],
                             env={"CXMINE_PSEUDONYM_KEY": "k"})
    assert res.exit_code == 0, res.output
    folder, again = tmp_path / "small.parts", partition_log(small_log, tmp_path / "again", 3)
    assert (tmp_path / "small.parts" / "cxmine.json").is_file()
    for a, b in zip(partition_paths(folder), partition_paths(again)):
        ta, tb = pq.read_table(a, columns=["case_id", "timestamp", GLOBAL_CASE_INDEX]), \
            pq.read_table(b, columns=["case_id", "timestamp", GLOBAL_CASE_INDEX])
        assert ta.column("case_id").to_pylist() == tb.column("case_id").to_pylist()
        assert ta.column(GLOBAL_CASE_INDEX).equals(tb.column(GLOBAL_CASE_INDEX))


def _kill_once(path, marker, then=summarise_variants, **params):
    """``then`` (summarise_variants), but the first task on partition 1 kills its worker process (SIGKILL)."""
    if Path(path).name == "part-00001.parquet":
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            os.kill(os.getpid(), signal.SIGKILL)
        except FileExistsError:
            pass
    return then(path, **params)


def _kill_always(path, **params):
    if Path(path).name == "part-00002.parquet":
        os.kill(os.getpid(), signal.SIGKILL)
    return summarise_variants(path, **params)


@pytest.fixture
def by_value():
    import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_killed_worker_run_completes_identically(sample, killable_client, tmp_path, by_value):
    single, folder = sample
    marker = tmp_path / "killed"
    merged = run_partitions(folder, _kill_once, client=killable_client, marker=str(marker), by=BY, where=None)
    assert marker.exists()  # a worker did die
    assert _variants_doc(*_single_variants(single, None)) == _variants_doc(*merged.finish())


def test_worker_dying_on_every_retry_fails_clearly(sample, killable_client, by_value):
    with pytest.raises(AnalysisError) as err:
        run_partitions(sample[1], _kill_always, client=killable_client, by=(), where=None)
    assert "a Dask worker died while computing partition part-00002.parquet" in err.value.message
    assert "no result was produced" in err.value.message


def test_error_in_a_partition_reaches_the_caller(sample, client):
    with pytest.raises(InputError, match="No contact matches the selection"):
        distributed_variants(sample[1], where={"intent": {"no_such_intent"}}, client=client)


def test_cli_engine_dask_prints_what_local_prints(sample, client):
    single, folder = sample
    args = ["kpi", "--sop", str(SOP), "--by", "team", "-q"]
    local = CliRunner().invoke(main, [*args, single])
    dask_run = CliRunner().invoke(main, [*args, folder, "--engine", "dask", "--scheduler", client.scheduler.address])
    assert local.exit_code == 0 and dask_run.exit_code == 0, dask_run.output
    assert local.stdout == dask_run.stdout


def test_cli_conform_csv_files_identical_on_dask(simulated, client, tmp_path):
    """Every CSV file of ``cxmine conform --csv``, contacts.csv (every contact, log order) included."""
    single, folder = simulated
    args = ["conform", "--sop", str(SOP), "--where", "intent=lost_card", "--examples", "2", "-q"]
    local = CliRunner().invoke(main, [*args, single, "--csv", str(tmp_path / "local")])
    dask_run = CliRunner().invoke(main, [*args, folder, "--csv", str(tmp_path / "dask"), "--engine", "dask",
                                         "--scheduler", client.scheduler.address])
    assert local.exit_code == 0 and dask_run.exit_code == 0, dask_run.output
    assert local.stdout == dask_run.stdout
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert "contacts.csv" in names and names == sorted(p.name for p in (tmp_path / "dask").iterdir())
    for name in names:
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name


def test_cli_scheduler_without_dask_is_a_usage_error(sample):
    res = CliRunner().invoke(main, ["variants", sample[1], "--scheduler", "tcp://127.0.0.1:8786"])
    assert res.exit_code == 2
    assert "--scheduler is the address of a Dask scheduler: give it with --engine dask" in res.output


def test_folder_that_is_not_a_log(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    res = CliRunner().invoke(main, ["variants", str(tmp_path)])
    assert res.exit_code == 1
    assert "found a folder that is not a partitioned cxmine log (no cxmine.json)" in res.output


def test_missing_partition_file(sample, tmp_path):
    import shutil
    folder = shutil.copytree(sample[1], tmp_path / "copy")
    (folder / "part-00003.parquet").unlink()
    res = CliRunner().invoke(main, ["dfg", str(folder)])
    assert res.exit_code == 1
    assert "Partition file part-00003.parquet of the log is missing" in res.output


def test_partition_refuses_a_folder_with_other_files(sample, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    res = CliRunner().invoke(main, ["partition", sample[0], "--partitions", "2", "-o", str(tmp_path)])
    assert res.exit_code == 1
    assert "The output folder is not empty and holds no partitioned cxmine log" in res.output
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_windowed_summaries_merge_to_the_whole_logs_windows(simulated):
    """Per-week DFGs summarised per partition and merged by window equal those of the whole log."""
    from engine.distributed.partials import encode_partition
    from engine.distributed.windows import DAY_NS, Windowed, summarise_windows
    single, folder = simulated
    week = 7 * DAY_NS

    def weekly(log, positions):
        return summarise_windows(log, positions, lambda sub, _: discover_dfg(sub), week)

    merged = None
    for path in partition_paths(folder):
        log, positions = encode_partition(str(path), None, attributes=())
        merged = weekly(log, positions) if merged is None else merged + weekly(log, positions)
    whole = encode_where(single, None, attributes=())
    expected = weekly(whole, np.arange(whole.n_cases))
    assert isinstance(merged, Windowed) and len(expected.windows) >= 3
    assert [(t, d.as_dict()) for t, d in merged.in_order()] == [(t, d.as_dict()) for t, d in expected.in_order()]
    assert sum(d.n_cases for _, d in merged.in_order()) == whole.n_cases


def test_empty_partitions_change_nothing(small_log, client, tmp_path):
    """200 contacts in 64 partitions: some hold none; the results are the single file's."""
    folder = partition_log(small_log, tmp_path / "many", 64)
    assert any(pq.ParquetFile(p).metadata.num_rows == 0 for p in partition_paths(folder))
    assert _variants_doc(*_single_variants(small_log, None)) == \
        _variants_doc(*distributed_variants(folder, by=BY, client=client))
    enc = encode_where(small_log, None, with_case_ids=True, attributes=SEGMENT_COLUMNS)
    result = check_conformance(enc, load_sop(SOP), examples=3)
    d_result = distributed_conformance(folder, SOP, examples=3, client=client)
    assert to_json(result.as_dict()) == to_json(d_result.as_dict()) and result.variant_fits == d_result.variant_fits
    from engine.analyses.drift import EXPLAIN_ATTRIBUTES, DriftSettings, detect_drift
    from engine.distributed.drift import distributed_drift
    settings = DriftSettings(min_cases=50, window="day")
    local = detect_drift(encode_where(small_log, None, case_attributes=EXPLAIN_ATTRIBUTES), settings)
    assert to_json(local.as_dict()) == to_json(distributed_drift(folder, settings, client=client).as_dict())


@pytest.mark.parametrize("method", ["inductive", "heuristics", "dfg"])
def test_discovered_models_identical_on_dask(simulated, client, method):
    """The miners see the same variants (in the same first-occurrence order) and DFG: the same models."""
    from engine.analyses.discovery import discover_model, discover_models_by
    from engine.distributed.analyses import distributed_models
    single, folder = simulated
    noise = 0.2 if method == "inductive" else 0.0
    enc = encode_where(single, WHERE, by=("team",), attributes=())
    local = {None: discover_model(enc, method, noise)}
    local_by = discover_models_by(enc, "team", method, noise)
    d_local = distributed_models(folder, method, noise, where=WHERE, client=client)
    d_by = distributed_models(folder, method, noise, by=("team",), where=WHERE, client=client)["team"]

    def described(models: dict) -> dict:
        return {k: (m.as_dict(), str(m.tree), m.dfg, sorted(str(t.label) for t in m.net.transitions))
                for k, m in models.items()}

    assert described(local) == described(d_local)
    assert list(local_by) == list(d_by) and len(d_by) >= 2
    assert described(local_by) == described(d_by)


def test_cli_discover_on_dask_writes_what_local_writes(sample, client, tmp_path):
    single, folder = sample
    args = ["discover", "--method", "inductive", "--noise", "0.2", "--json", "-q"]
    local = CliRunner().invoke(main, [*args, single, "-o", str(tmp_path / "local")])
    dask_run = CliRunner().invoke(main, [*args, folder, "-o", str(tmp_path / "dask"), "--engine", "dask",
                                         "--scheduler", client.scheduler.address])
    assert local.exit_code == 0 and dask_run.exit_code == 0, dask_run.output
    assert local.stdout.replace(str(tmp_path / "local"), "OUT") == dask_run.stdout.replace(str(tmp_path / "dask"), "OUT")
    assert '"process_tree"' in local.stdout
    for name in ("model.pnml", "model.ptml"):
        assert (tmp_path / "local" / name).is_file()


@pytest.mark.parametrize("window, where, sop", [("auto", None, None), ("day", None, SOP), ("week", WHERE, None),
                                                ("40", WHERE, SOP)], ids=["auto", "day-sop", "week-where", "40-both"])
def test_drift_identical_on_dask(drifted, client, window, where, sop):
    """Change points (case, time, confidence, what moved, where, fitness) and the per-window series."""
    from engine.analyses.drift import EXPLAIN_ATTRIBUTES, DriftSettings, detect_drift
    from engine.distributed.drift import distributed_drift
    single, folder = drifted
    settings = DriftSettings(window=window)
    enc = encode_where(single, where, case_attributes=EXPLAIN_ATTRIBUTES)
    local = detect_drift(enc, settings, timezone="Europe/Lisbon", sop=load_sop(sop) if sop else None)
    on_dask = distributed_drift(folder, settings, where=where, timezone="Europe/Lisbon", sop_path=sop, client=client)
    assert to_json(local.as_dict()) == to_json(on_dask.as_dict())
    assert local.series.as_rows() == on_dask.series.as_rows() and local.series.starts == on_dask.series.starts
    assert len(local.change_points) >= 1 and all(p.where and p.changes for p in local.change_points)
    if sop:
        assert np.array_equal(local.series.fitness, on_dask.series.fitness)
        assert all(p.fitness for p in on_dask.change_points)
    if window == "auto":
        assert len(local.change_points) == 2


def test_cli_drift_on_dask_prints_and_writes_what_local_does(drifted, client, tmp_path):
    single, folder = drifted
    args = ["drift", "--window", "day", "--sop", str(SOP), "--timezone", "Europe/Lisbon", "-q"]
    local = CliRunner().invoke(main, [*args, single, "--csv", str(tmp_path / "local")])
    dask_run = CliRunner().invoke(main, [*args, folder, "--csv", str(tmp_path / "dask"), "--engine", "dask",
                                         "--scheduler", client.scheduler.address])
    assert local.exit_code == 0 and dask_run.exit_code == 0, dask_run.output
    assert local.stdout == dask_run.stdout and "fitness to the SOP" in local.stdout
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names and names == sorted(p.name for p in (tmp_path / "dask").iterdir())
    for name in names:
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name


def test_drift_on_dask_bad_window_is_reported(drifted, client):
    res = CliRunner().invoke(main, ["drift", drifted[1], "--window", "fortnight", "--engine", "dask",
                                    "--scheduler", client.scheduler.address])
    assert res.exit_code == 2
    assert "--window: Unknown window 'fortnight'" in res.output


def test_drift_with_a_killed_worker_completes_identically(drifted, killable_client, tmp_path, by_value, monkeypatch):
    from functools import partial

    from engine.analyses.drift import EXPLAIN_ATTRIBUTES, detect_drift
    from engine.distributed import drift as dask_drift
    from engine.distributed.drift_partials import count_partition_units
    single, folder = drifted
    marker = tmp_path / "killed"
    monkeypatch.setattr(dask_drift, "count_partition_units",
                        partial(_kill_once, marker=str(marker), then=count_partition_units))
    on_dask = dask_drift.distributed_drift(folder, client=killable_client)
    assert marker.exists()  # a worker did die
    local = detect_drift(encode_where(single, None, case_attributes=EXPLAIN_ATTRIBUTES))
    assert to_json(local.as_dict()) == to_json(on_dask.as_dict()) and local.change_points
