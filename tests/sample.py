"""The bundled sample as a stored log, ingested once per test session (import the fixture into a test module)."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "eventlogs" / "sample"


@pytest.fixture(scope="session")
def sample_log(tmp_path_factory):
    """The bundled sample (20,000 simulated contacts) as a canonical log."""
    from engine.ingest import ReadOptions
    from engine.ingest.job import ingest_to_log
    from engine.ingest.mapping import load_mapping
    if not (SAMPLE / "contacts.csv.gz").exists():
        pytest.skip("eventlogs/sample is not present")
    out = tmp_path_factory.mktemp("sample") / "log.parquet"
    ingest_to_log([str(SAMPLE / "contacts.csv.gz")], out,
                  options=ReadOptions(mapping=load_mapping(SAMPLE / "mapping.toml"), pseudonym_key=b"test"))
    return out


def run_cxmine(*args):
    """Invoke the command line in-process; a traceback in the output is always a failure."""
    from click.testing import CliRunner

    from engine.cli import main
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result
