"""Fixtures for the Dask tests (import them into a test module): a 2-worker LocalCluster, and the
bundled sample as one stored log and as a 4-partition folder made from it."""

from __future__ import annotations

import pytest

from sample import SAMPLE, run_cxmine, sample_log  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
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


@pytest.fixture
def killable_client():
    """A 2-worker LocalCluster of the test's own, for a test that kills workers: a task may kill its worker
    once and be run again, not twice. The tests after it never wait for a killed worker's replacement (the
    nanny restarts it, but on a busy machine not always within minutes)."""
    distributed = pytest.importorskip("distributed")
    import dask
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=50) as cluster, distributed.Client(cluster) as client:
            yield client
