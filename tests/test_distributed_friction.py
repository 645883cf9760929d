"""cxmine friction on Dask (2-worker LocalCluster) over partitioned logs gives the single-machine result.

Compared byte for byte (JSON of ``FrictionResult.as_dict()``, the text output, the CSV files): the
bundled sample in 4 partitions with the SOP library and ``--by team,week``, with one SOP and
``--where``, a simulated log with injected frictions (delays, ping-pong, context loss) in 5
partitions, a selection that leaves partitions without contacts, empty partition files, a single-file
log as one partition, and a worker killed mid-run.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

distributed = pytest.importorskip("distributed")

from dask_sample import client, killable_client, sample  # noqa: E402,F401  (fixtures)

from engine.analyses.friction import encode_for_friction, rank_frictions  # noqa: E402
from engine.cli import main  # noqa: E402
from engine.distributed import friction as dask_friction  # noqa: E402
from engine.errors import AnalysisError, InputError  # noqa: E402
from engine.log.partitions import partition_log  # noqa: E402
from engine.model import load_sop  # noqa: E402
from engine.report.outputs import to_json  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
SOP = MODELS / "lost_card.bpmn"
LIBRARY = tuple(sorted(MODELS.glob("*.bpmn")))


@pytest.fixture(scope="module")
def injected(tmp_path_factory) -> tuple[str, str]:
    """4,000 simulated contacts with context loss, ping-pong and back-office delays, as one file and in
    5 partitions."""
    from engine.simulate import simulate_contacts, write_simulation
    from engine.simulate.frictions import Frictions
    sops = [load_sop(p) for p in LIBRARY]
    sim = simulate_contacts(sops, 4000, seed=5, days=28, deviation_rate=0.02,
                            frictions=Frictions(context_loss=0.3, ping_pong=0.9, back_office_delay=0.25,
                                                back_office_minutes=30, back_office_owner="Logistics"))
    out = tmp_path_factory.mktemp("injected")
    write_simulation(sim, out)
    res = CliRunner().invoke(main, ["ingest", str(out / "contacts.csv"), "--mapping", str(out / "mapping.toml"), "-o",
                                    str(out / "log.parquet"), "-q"])
    assert res.exit_code == 0, res.output
    return str(out / "log.parquet"), str(partition_log(out / "log.parquet", out / "log.parts", 5))


def _local(single: str, sops, **params) -> str:
    where = params.pop("where", None)
    by = params.get("by", ())
    return to_json(rank_frictions(encode_for_friction(single, by, where, sops), sops, **params).as_dict())


def _on_dask(folder: str, sops, client, **params) -> str:
    return to_json(dask_friction.distributed_friction(folder, sops, client=client, **params).as_dict())


def test_library_by_team_and_week_identical_on_dask(sample, client):
    single, folder = sample
    sops = [load_sop(p) for p in LIBRARY]
    params = dict(by=("team", "week"), library=True)
    local = _local(single, sops, **params)
    assert local == _on_dask(folder, sops, client, **params)
    result = rank_frictions(encode_for_friction(single, ("team", "week"), None, sops), sops, by=("team", "week"))
    # every kind of finding is compared, not an empty list
    assert {f.kind for f in result.frictions} == {"deviation", "handoff", "drift", "kpi"}
    assert result.handoffs and result.sop_handoffs and result.ownership and result.sops.unmatched >= 0


def test_one_sop_with_where_identical_on_dask(sample, client):
    single, folder = sample
    sops = [load_sop(SOP)]
    params = dict(where={"intent": {"lost_card"}}, library=False, rank_by="risk", period_days=30.0,
                  cost_per_minute={"Support Ops": 1.25, "Back Office": 2.0}, top=8)
    local = _local(single, sops, **dict(params))
    assert local == _on_dask(folder, sops, client, **params)
    assert local == _on_dask(single, sops, client, **params)  # a single-file log: one partition


def test_injected_frictions_identical_on_dask(injected, client):
    """Delays against each edge's median, ping-pong detours and context loss measured inside contacts."""
    single, folder = injected
    sops = [load_sop(p) for p in LIBRARY]
    local = _local(single, sops, by=("team",), min_contacts=5)
    assert local == _on_dask(folder, sops, client, by=("team",), min_contacts=5)
    whats = {f.what for f in rank_frictions(encode_for_friction(single, ("team",), None, sops), sops,
                                            by=("team",), min_contacts=5).frictions}
    assert {"delay", "ping-pong", "context loss"} <= whats


def test_partitions_without_selected_contacts(injected, client, tmp_path):
    """32 partitions and the contacts of 12 customers: most partitions hold none of the selected contacts,
    yet the labels (activities, owners, attribute values) are the whole log's, as on one machine."""
    import numpy as np
    single, _ = injected
    folder = str(partition_log(single, tmp_path / "many.parts", 32))
    codes, labels = encode_for_friction(single).case_attributes["customer_id"]
    labels = list(labels)
    busiest = np.argsort(-np.bincount(codes[codes >= 0], minlength=len(labels)), kind="stable")[:12]
    where = {"customer_id": {labels[i] for i in busiest}}
    sops = [load_sop(p) for p in LIBRARY]
    local = _local(single, sops, where=where, min_contacts=1)
    assert local == _on_dask(folder, sops, client, where=where, min_contacts=1)
    pieces = [dask_friction.measure_partition(p, sops, where=where).pieces[0]
              for p in sorted(Path(folder).glob("part-*.parquet"))]
    assert sum(not p.n_cases for p in pieces) >= 20
    whole, merged = encode_for_friction(single), dask_friction.FrictionPartial(tuple(pieces)).finish()
    assert merged.labels["activities"] == whole.activities
    for name in ("team", "site", "channel", "queue"):
        assert merged.labels[f"case:{name}"] == whole.case_attributes[name][1]


def test_empty_partition_files_change_nothing(small_log, client, tmp_path):
    """200 contacts in 64 partitions: some files hold no contact at all."""
    import pyarrow.parquet as pq

    from engine.log.partitions import partition_paths
    folder = partition_log(small_log, tmp_path / "many", 64)
    assert any(pq.ParquetFile(p).metadata.num_rows == 0 for p in partition_paths(folder))
    sops = [load_sop(p) for p in LIBRARY]
    assert _local(small_log, sops, min_contacts=2) == _on_dask(str(folder), sops, client, min_contacts=2)


def test_cli_text_and_csv_identical_on_dask(sample, client, tmp_path):
    single, folder = sample
    args = ["friction", "--sop", str(MODELS), "--by", "team", "--top", "15", "-q"]
    local = CliRunner().invoke(main, [*args, single, "--csv", str(tmp_path / "local")])
    on_dask = CliRunner().invoke(main, [*args, folder, "--csv", str(tmp_path / "dask"), "--engine", "dask",
                                        "--scheduler", client.scheduler.address])
    assert local.exit_code == 0 and on_dask.exit_code == 0, on_dask.output
    assert local.stdout == on_dask.stdout and "context loss" in local.stdout
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == ["frictions.csv", "handoffs.csv", "ownership.csv", "sop_handoffs.csv"]
    for name in names:
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name


def test_cli_json_with_where_identical_on_dask(sample, client):
    single, folder = sample
    args = ["friction", "--sop", str(SOP), "--where", "intent=lost_card", "--json", "-q"]
    local = CliRunner().invoke(main, [*args, single])
    on_dask = CliRunner().invoke(main, [*args, folder, "--engine", "dask", "--scheduler", client.scheduler.address])
    assert local.exit_code == 0 and on_dask.exit_code == 0, on_dask.output
    assert local.stdout == on_dask.stdout


def test_bad_selection_and_attribute_on_dask(sample, client):
    _, folder = sample
    sops = [load_sop(SOP)]
    with pytest.raises(InputError, match="No contact matches the selection"):
        dask_friction.distributed_friction(folder, sops, where={"intent": {"no_such_intent"}}, client=client)
    with pytest.raises(AnalysisError, match="Unknown ranking 'speed'"):
        dask_friction.distributed_friction(folder, sops, rank_by="speed", client=client)
    res = CliRunner().invoke(main, ["friction", folder, "--sop", str(SOP), "--where", "intent=nothing", "--engine",
                                    "dask", "--scheduler", client.scheduler.address])
    assert res.exit_code == 1 and "No contact matches the selection" in res.output


def _kill_once(path, marker, **params):
    """``measure_partition``, but the first task on partition 1 kills its worker process (SIGKILL)."""
    if Path(path).name == "part-00001.parquet":
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            os.kill(os.getpid(), signal.SIGKILL)
        except FileExistsError:
            pass
    return dask_friction.measure_partition(path, **params)


def _kill_always(path, **params):
    if Path(path).name == "part-00002.parquet":
        os.kill(os.getpid(), signal.SIGKILL)
    return dask_friction.measure_partition(path, **params)


@pytest.fixture
def by_value():
    import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_killed_worker_run_completes_identically(sample, killable_client, tmp_path, by_value, monkeypatch):
    from functools import partial
    single, folder = sample
    sops = [load_sop(p) for p in LIBRARY]
    marker = tmp_path / "killed"
    monkeypatch.setattr(dask_friction, "measure_partition", partial(_kill_once, marker=str(marker)))
    on_dask = _on_dask(folder, sops, killable_client, by=("team",))
    assert marker.exists()  # a worker did die
    assert _local(single, sops, by=("team",)) == on_dask


def test_worker_dying_on_every_retry_fails_clearly(sample, killable_client, by_value, monkeypatch):
    monkeypatch.setattr(dask_friction, "measure_partition", _kill_always)
    with pytest.raises(AnalysisError) as err:
        _on_dask(sample[1], [load_sop(SOP)], killable_client)
    assert "a Dask worker died while computing partition part-00002.parquet" in err.value.message
    assert "no result was produced" in err.value.message
