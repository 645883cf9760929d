"""``cxmine report --engine dask``: every section of the report from per-partition partials, as on one machine.

The oracle is ``build_overview`` on one machine, over the same partitioned sample (which it reads as one
log). Each section computed on Dask is compared with it: KPIs by team, site and shift, the weekly trends
of all contacts and of each team, variants, case profile, DFG and performance DFG, the process map, the
conformance of the SOP library (with the contacts.csv rows of each SOP), and report.json and every CSV
table written from those sections. Drift per team and friction come from engine.distributed.drift
(``by``) and engine.distributed.friction; the end-to-end comparison of the command covers them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from dask_sample import client, sample_log, sample_parts  # noqa: E402,F401  (fixtures)
from engine.analyses.overview import (MAP_COVERAGE, MAP_EDGES, Overview, SopCheck, _iso,  # noqa: E402
                                      build_overview, sop_selection)
from engine.analyses.sop_execution import summarize_execution  # noqa: E402
from engine.distributed.analyses import distributed_flow, distributed_library, distributed_overview_kpis  # noqa: E402
from engine.model import load_sop_library  # noqa: E402
from engine.report.audit import AuditTrail  # noqa: E402
from engine.report.bundle import write_report  # noqa: E402
from engine.report.conformance import contact_frame  # noqa: E402
from engine.report.outputs import to_json  # noqa: E402
from sample import run_cxmine  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(scope="module")
def sops():
    return load_sop_library([MODELS])


@pytest.fixture(scope="module")
def local(sample_parts, sops) -> Overview:
    """The single-machine overview of the partitioned sample."""
    return build_overview(sample_parts[1], sops=sops)


@pytest.fixture(scope="module")
def on_dask(sample_parts, sops, local, client) -> Overview:
    """An overview whose KPIs, trends, flow and conformance were computed on Dask (drift and friction
    left out: see the module docstring)."""
    folder = sample_parts[1]
    label_map = {k: v for s in sops for k, v in s.label_map.items()}
    kpis, trends, n_contacts, n_events = distributed_overview_kpis(folder, local.segments, label_map=label_map,
                                                                   client=client)
    variants, profile, dfg, perf, span, pmap = distributed_flow(folder, coverage=MAP_COVERAGE, max_edges=MAP_EDGES,
                                                                client=client)
    lib, rows, executions = distributed_library(folder, sops, by=("week",), per_contact=True, executions=True,
                                                client=client)
    zone = local.metadata.get("timezone")
    return Overview(log_path=folder, metadata=local.metadata, n_contacts=n_contacts, n_events=n_events,
                    first_event=_iso(span[0], zone), last_event=_iso(span[1], zone), segments=local.segments,
                    kpis=kpis, kpi_trends=trends, variants=variants, profile=profile, dfg=dfg, performance=perf,
                    process_map=pmap,
                    sops=tuple(SopCheck(s, sop_selection(s), r if r.contacts else None, c, e)
                               for s, r, c, e in zip(sops, lib.results, rows, executions)),
                    unmatched_contacts=lib.unmatched, unmatched_examples=lib.unmatched_examples,
                    ambiguous_contacts=lib.ambiguous, ambiguous_examples=lib.ambiguous_examples)


def test_kpis_and_weekly_trends_identical(local, on_dask):
    assert (on_dask.n_contacts, on_dask.n_events) == (local.n_contacts, local.n_events) == (20_000, 133_005)
    assert local.segments == ("team", "site", "shift")
    assert to_json(local.kpis.as_dict()) == to_json(on_dask.kpis.as_dict())
    assert list(local.kpi_trends) == list(on_dask.kpi_trends) == ["all", "A", "B", "C", "D"]
    for label, trend in local.kpi_trends.items():
        assert to_json(trend.as_dict()) == to_json(on_dask.kpi_trends[label].as_dict()), label
        assert len(trend.segments["week"]) >= 8


def test_trend_of_a_team_in_one_partition_only(sample_parts, client, tmp_path):
    """A team whose contacts all sit in one partition (one customer's) adds nothing elsewhere."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from engine.analyses.overview import _kpi_part
    from engine.log.partitions import partition_log, partition_paths
    from engine.log.store import read_log, write_log
    table = read_log(sample_parts[0])
    customer = table.column("customer_id").to_pylist()[0]
    mine = pc.fill_null(pc.equal(table.column("customer_id").cast(pa.string()), customer), False)
    team = pc.if_else(mine, pa.scalar("E"), table.column("team").cast(pa.string()))
    single = write_log(table.set_column(table.schema.get_field_index("team"), "team", team), tmp_path / "log.parquet")
    folder = partition_log(single, tmp_path / "log.parts", 4)
    holding = [p for p in partition_paths(folder) if "E" in read_log(p).column("team").to_pylist()]
    assert len(holding) == 1 and np.count_nonzero(mine) > 0
    kpis, trends, n, e = _kpi_part(str(single), ("team", "shift"), frozenset(), {}, 7.0)
    d_kpis, d_trends, d_n, d_e = distributed_overview_kpis(folder, ("team", "shift"), client=client)
    assert list(trends) == list(d_trends) == ["all", "A", "B", "C", "D", "E"] and (n, e) == (d_n, d_e)
    assert to_json(kpis.as_dict()) == to_json(d_kpis.as_dict())
    for label, trend in trends.items():
        assert to_json(trend.as_dict()) == to_json(d_trends[label].as_dict()), label


def test_flow_and_process_map_identical(local, on_dask):
    assert (on_dask.first_event, on_dask.last_event) == (local.first_event, local.last_event)
    assert on_dask.variants.sequences == local.variants.sequences
    assert to_json(on_dask.variants.as_dict(10 ** 6)) == to_json(local.variants.as_dict(10 ** 6))
    assert to_json(on_dask.profile.as_dict()) == to_json(local.profile.as_dict())
    assert on_dask.dfg == local.dfg and to_json(on_dask.dfg.as_dict()) == to_json(local.dfg.as_dict())
    assert to_json(on_dask.performance.as_dict()) == to_json(local.performance.as_dict())
    assert on_dask.process_map == local.process_map
    assert to_json(on_dask.process_map.as_dict()) == to_json(local.process_map.as_dict())
    # the map leaves variants out, so the shown part is counted from the merged variants
    assert local.process_map.n_variants_shown < local.process_map.n_variants
    assert local.process_map.owners


def test_library_conformance_identical(local, on_dask):
    assert [c.sop.name for c in on_dask.sops] == [c.sop.name for c in local.sops]
    for mine, theirs in zip(on_dask.sops, local.sops):
        assert to_json(mine.result.as_dict()) == to_json(theirs.result.as_dict()), theirs.sop.name
        assert mine.contacts.to_csv(index=False) == contact_frame(theirs.result).to_csv(index=False)
        # the SOP drawn with its contacts' execution: per task, flow and flow outside the SOP, with examples
        execution = summarize_execution(theirs.result, theirs.sop)
        assert to_json(mine.execution.as_dict()) == to_json(execution.as_dict()), theirs.sop.name
        assert any(step.examples for step in execution.steps) and execution.outside
    assert (on_dask.unmatched_contacts, on_dask.unmatched_examples, on_dask.ambiguous_contacts,
            on_dask.ambiguous_examples) == (local.unmatched_contacts, local.unmatched_examples,
                                            local.ambiguous_contacts, local.ambiguous_examples)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_report_json_html_and_tables_of_these_sections_identical(local, on_dask, tmp_path):
    """report.json, index.html and the CSV tables written from the sections above (drift and friction left
    out of both)."""
    audit = AuditTrail(version="test", inputs=(), models=(), parameters={}, counts={}, pseudonym_key_id=None,
                       timing={})
    single = replace(local, drift=None, friction=None, timings={})
    write_report(single, audit, tmp_path / "local", title="t", subtitle="s")
    write_report(on_dask, audit, tmp_path / "dask", title="t", subtitle="s")
    assert (tmp_path / "local" / "report.json").read_bytes() == (tmp_path / "dask" / "report.json").read_bytes()
    html = (tmp_path / "local" / "index.html").read_text(encoding="utf-8")
    assert html == (tmp_path / "dask" / "index.html").read_text(encoding="utf-8")
    assert "share that ran it as designed" in html
    tables = _tree(tmp_path / "local" / "tables")
    assert "conform/lost_card/contacts.csv" in tables and "kpi/kpis.csv" in tables
    assert tables == _tree(tmp_path / "dask" / "tables")


def test_cli_report_on_dask_writes_what_local_writes(sample_parts, client, tmp_path):
    folder = sample_parts[1]
    args = ["report", folder, "--sop", MODELS, "-q"]
    local = run_cxmine(*args, "-o", tmp_path / "local")
    on_dask = run_cxmine(*args, "-o", tmp_path / "dask", "--engine", "dask", "--scheduler",
                         client.scheduler.address)
    assert local.exit_code == 0 and on_dask.exit_code == 0, on_dask.output
    assert (tmp_path / "local" / "report.json").read_bytes() == (tmp_path / "dask" / "report.json").read_bytes()
    times = re.compile(r"<dt>(started|finished)</dt><dd>[^<]*</dd>")
    assert times.sub("", (tmp_path / "local" / "index.html").read_text(encoding="utf-8")) == \
        times.sub("", (tmp_path / "dask" / "index.html").read_text(encoding="utf-8"))
    tables = _tree(tmp_path / "local" / "tables")
    assert {"drift/change_points.csv", "conform/lost_card/contacts.csv"} <= set(tables)
    assert any(name.startswith("friction/") for name in tables)
    assert tables == _tree(tmp_path / "dask" / "tables")


def test_report_scheduler_needs_engine_dask(sample_parts, tmp_path):
    res = run_cxmine("report", sample_parts[1], "--scheduler", "tcp://127.0.0.1:8786", "-o", tmp_path / "out")
    assert res.exit_code == 2 and "give it with --engine dask" in res.output


def test_empty_partitions_change_no_section(small_log, sops, client, tmp_path):
    """200 contacts in 64 partitions, some holding none: every section is the single file's."""
    import pyarrow.parquet as pq

    from engine.log.partitions import partition_log, partition_paths
    folder = partition_log(small_log, tmp_path / "many", 64)
    assert any(pq.ParquetFile(p).metadata.num_rows == 0 for p in partition_paths(folder))
    local = build_overview(small_log, sops=sops)
    kpis, trends, n, e = distributed_overview_kpis(folder, local.segments, client=client,
                                                   label_map={k: v for s in sops for k, v in s.label_map.items()})
    assert (n, e) == (local.n_contacts, local.n_events) and list(trends) == list(local.kpi_trends)
    assert to_json(kpis.as_dict()) == to_json(local.kpis.as_dict())
    assert all(to_json(t.as_dict()) == to_json(local.kpi_trends[k].as_dict()) for k, t in trends.items())
    variants, profile, dfg, perf, span, pmap = distributed_flow(folder, coverage=MAP_COVERAGE, max_edges=MAP_EDGES,
                                                                client=client)
    assert to_json(variants.as_dict(10 ** 6)) == to_json(local.variants.as_dict(10 ** 6))
    assert to_json(profile.as_dict()) == to_json(local.profile.as_dict())
    assert dfg == local.dfg and to_json(perf.as_dict()) == to_json(local.performance.as_dict())
    assert pmap == local.process_map
    lib, _, executions = distributed_library(folder, sops, by=("week",), executions=True, client=client)
    for check, r, execution in zip(local.sops, lib.results, executions):
        assert to_json(r.as_dict()) == to_json(check.result.as_dict()) if check.result else r.contacts == 0
        if check.result is not None:
            assert to_json(execution.as_dict()) == to_json(summarize_execution(check.result, check.sop).as_dict())
    assert (lib.unmatched, lib.unmatched_examples) == (local.unmatched_contacts, local.unmatched_examples)
