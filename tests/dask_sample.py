"""Fixtures for the Dask tests (import them into a test module): a 2-worker LocalCluster, and the
bundled sample as one stored log and as a 4-partition folder made from it."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from sample import SAMPLE, run_cxmine, sample_log  # noqa: F401  (fixture)


@contextmanager
def _local_client():
    """2 worker processes, one thread each; a task may kill its worker once and be run again, not twice."""
    distributed = pytest.importorskip("distributed")
    import dask
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=50) as cluster, distributed.Client(cluster) as client:
            yield client


@pytest.fixture(scope="session")
def sample_parts(sample_log, tmp_path_factory):  # noqa: F811
    """``(single file, 4-partition folder)`` of the bundled sample."""
    if not (SAMPLE / "contacts.csv.gz").exists():
        pytest.skip("eventlogs/sample is not present")
    folder = tmp_path_factory.mktemp("sample_parts") / "log.parts"
    res = run_cxmine("partition", sample_log, "--partitions", 4, "-o", folder, "-q")
    assert res.exit_code == 0, res.output
    return str(sample_log), str(folder)


@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster for the tests of one module."""
    with _local_client() as c:
        yield c


@pytest.fixture
def killable_client():
    """A 2-worker LocalCluster of the test's own, for a test that kills workers. The tests after it never
    wait for a killed worker's replacement (the nanny restarts it, but on a busy machine not always within
    minutes)."""
    with _local_client() as c:
        yield c


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[str, str]:
    """The bundled sample as one file, and as a 4-partition folder made from it by ``cxmine partition``."""
    from click.testing import CliRunner

    from engine.cli import main
    if not (SAMPLE / "contacts.csv.gz").exists():
        pytest.skip("eventlogs/sample is not in this checkout")
    out = tmp_path_factory.mktemp("sample")
    res = CliRunner().invoke(main, ["ingest", str(SAMPLE / "contacts.csv.gz"), "--mapping",
                                    str(SAMPLE / "mapping.toml"), "-q", "-o", str(out / "log.parquet")],
                             env={"CXMINE_PSEUDONYM_KEY": "k"})
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["partition", str(out / "log.parquet"), "--partitions", "4", "-o",
                                    str(out / "log.parts"), "-q"])
    assert res.exit_code == 0, res.output
    assert "20,000 cases, 133,005 events in 4 partitions" in res.output
    return str(out / "log.parquet"), str(out / "log.parts")


@pytest.fixture(scope="module")
def drifted(tmp_path_factory) -> tuple[str, str]:
    """6,000 simulated contacts with two injected changes, as one file and as 5 partitions."""
    from engine.log.partitions import partition_log
    from engine.log.store import write_log
    from engine.model import load_sop
    from engine.simulate import load_drifts
    from engine.simulate.contacts import simulate_contacts
    from engine.simulate.log import simulation_table
    sops = [load_sop(p) for p in sorted((SAMPLE.parents[1] / "models").glob("*.bpmn"))]
    changes = ["2026-01-14:skip=Verify identity:p=0.6", "2026-01-26:insert=Hold:after=Agent answer:p=0.3"]
    sim = simulate_contacts(sops, 6000, seed=21, start="2026-01-05", days=28,
                            drifts=load_drifts(changes, "Europe/Lisbon"))
    out = tmp_path_factory.mktemp("drifted")
    single = write_log(simulation_table(sim, b"k"), out / "drift.parquet")
    return str(single), str(partition_log(single, out / "drift.parts", 5))
