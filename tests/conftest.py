"""Shared fixtures: the committed small sample as a stored log."""

from pathlib import Path

import pytest

SMALL = Path(__file__).resolve().parents[1] / "eventlogs" / "small"


@pytest.fixture(scope="session")
def small_log(tmp_path_factory) -> str:
    """eventlogs/small/contacts.csv ingested with its mapping (200 contacts, ground truth beside it)."""
    from click.testing import CliRunner

    from engine.cli import main
    log = tmp_path_factory.mktemp("small") / "small.parquet"
    res = CliRunner().invoke(main, ["ingest", str(SMALL / "contacts.csv"), "--mapping", str(SMALL / "mapping.toml"),
                                    "-o", str(log), "-q"], env={"CXMINE_PSEUDONYM_KEY": "k"})
    assert res.exit_code == 0, res.output
    return str(log)
