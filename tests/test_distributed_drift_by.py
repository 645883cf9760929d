"""Drift within each value of an attribute (``by``), and the KPIs around each change (``kpis``), on Dask
(2-worker LocalCluster) give the single-machine result.

Compared: the whole result (change points of the log and of every value, with their explanations, each value
compared with the rest, the KPIs before and after), the text output and every CSV file, on the bundled sample in 4 partitions and on a
simulated log with injected changes in 5 partitions; blocks of contacts, days and weeks; with and without a
selection and an SOP; values with too few contacts for a search of their own, and values no selected contact
holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

distributed = pytest.importorskip("distributed")

from dask_sample import client, drifted, sample  # noqa: E402,F401  (fixtures)

from engine.analyses.drift import EXPLAIN_ATTRIBUTES, DriftSettings, detect_drift  # noqa: E402
from engine.cli import main  # noqa: E402
from engine.distributed.drift import distributed_drift  # noqa: E402
from engine.errors import AnalysisError  # noqa: E402
from engine.log.select import encode_where  # noqa: E402
from engine.model import load_sop  # noqa: E402
from engine.report.outputs import to_json  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOP = str(ROOT / "models" / "lost_card.bpmn")
WHERE = {"intent": {"lost_card", "password_reset"}}


def _local(single: str, settings: DriftSettings, where, by, sop, timezone=None):
    enc = encode_where(single, where, case_attributes=tuple(dict.fromkeys(EXPLAIN_ATTRIBUTES + tuple(by))))
    return detect_drift(enc, settings, by=by, timezone=timezone, sop=load_sop(sop) if sop else None)


@pytest.mark.parametrize("window, where, sop, by", [
    ("auto", None, None, ("team",)),
    ("week", None, SOP, ("site",)),
    ("500", WHERE, None, ("team", "site")),
    ("week", WHERE, SOP, ("team",)),
    ("auto", {"team": {"A", "B"}}, None, ("intent", "team")),
], ids=["auto-team", "week-sop-site", "500-where-team-site", "week-where-sop-team", "where-team-intent-team"])
def test_drift_by_identical_on_dask_sample(sample, client, window, where, sop, by):
    """Change points of every value (case positions in the whole selected log, times, what moved, where,
    fitness) and every value's comparison with the rest."""
    single, folder = sample
    settings = DriftSettings(window=window)
    local = _local(single, settings, where, by, sop)
    on_dask = distributed_drift(folder, settings, where=where, sop_path=sop, by=by, client=client)
    assert to_json(local.as_dict()) == to_json(on_dask.as_dict())
    assert local.series.as_rows() == on_dask.series.as_rows()
    assert list(dict.fromkeys(s.attribute for s in on_dask.segments)) == list(by)
    assert any(s.change_points for s in local.segments)  # a value's own change point is compared, not just none
    assert all(s.comparison is not None for s in on_dask.segments)
    for seg in on_dask.segments:
        for p in seg.change_points:  # a value's change point is one of its contacts, by whole-log position
            assert p.case_index < on_dask.n_cases and p.where and all(w.attribute != seg.attribute for w in p.where)
    if sop:
        assert all(p.fitness for s in on_dask.segments for p in s.change_points)


@pytest.mark.parametrize("window, where", [("day", None), ("40", WHERE)], ids=["day", "40-where"])
def test_drift_by_identical_on_dask_with_injected_changes(drifted, client, window, where):
    single, folder = drifted
    settings = DriftSettings(window=window)
    local = _local(single, settings, where, ("team",), SOP, "Europe/Lisbon")
    on_dask = distributed_drift(folder, settings, where=where, timezone="Europe/Lisbon", sop_path=SOP, by="team",
                                client=client)
    assert to_json(local.as_dict()) == to_json(on_dask.as_dict())
    assert sum(len(s.change_points) for s in local.segments) >= 2


def test_values_with_too_few_contacts_for_their_own_search(sample, client):
    """Night shift (975 contacts) is below 2 x min_cases: compared with the rest, no search of its own, as on
    one machine; the other shifts are searched."""
    single, folder = sample
    settings = DriftSettings(min_cases=500)
    local = _local(single, settings, None, ("shift",), None)
    on_dask = distributed_drift(folder, settings, by=("shift",), client=client)
    assert to_json(local.as_dict()) == to_json(on_dask.as_dict())
    night = next(s for s in on_dask.segments if s.value == "Night")
    assert night.n_cases < 2 * settings.min_cases and night.change_points == () and night.comparison.n_cases == 975
    assert any(s.change_points for s in on_dask.segments if s.value != "Night")


def test_values_no_selected_contact_holds(sample, client):
    """Selecting site Austin (team D only) leaves teams A, B and C with no contact: listed, with 0 contacts,
    as the single-machine path lists them (its labels are the whole log's)."""
    single, folder = sample
    where = {"site": {"Austin"}}
    local = _local(single, DriftSettings(), where, ("team",), None)
    on_dask = distributed_drift(folder, where=where, by=("team",), client=client)
    assert to_json(local.as_dict()) == to_json(on_dask.as_dict())
    assert [(s.value, s.n_cases) for s in on_dask.segments] == [("A", 0), ("B", 0), ("C", 0), ("D", 3976)]


def test_unknown_attribute_is_reported(sample, client):
    with pytest.raises(AnalysisError, match="Attribute 'colour' is not in the event log"):
        distributed_drift(sample[1], by=("colour",), client=client)


@pytest.mark.parametrize("args", [["--by", "team"], ["--by", "site", "--window", "week", "--where",
                                                      "intent=lost_card,password_reset", "--sop", SOP]],
                         ids=["team", "site-week-where-sop"])
def test_cli_drift_by_on_dask_prints_and_writes_what_local_does(sample, client, tmp_path, args):
    """Text output, JSON and every CSV file (drift_by_ATTR.csv and the comparison tables included)."""
    single, folder = sample
    dask = ["--engine", "dask", "--scheduler", client.scheduler.address]
    local = CliRunner().invoke(main, ["drift", single, *args, "-q", "--csv", str(tmp_path / "local")])
    on_dask = CliRunner().invoke(main, ["drift", folder, *args, "-q", "--csv", str(tmp_path / "dask"), *dask])
    assert local.exit_code == 0 and on_dask.exit_code == 0, on_dask.output
    assert local.stdout == on_dask.stdout and args[1] in local.stdout
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert f"drift_by_{args[1]}.csv" in names and names == sorted(p.name for p in (tmp_path / "dask").iterdir())
    for name in names:
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name
    local = CliRunner().invoke(main, ["drift", single, *args, "-q", "--json"])
    on_dask = CliRunner().invoke(main, ["drift", folder, *args, "-q", "--json", *dask])
    assert local.exit_code == 0 and on_dask.exit_code == 0 and local.stdout == on_dask.stdout
    assert '"segments"' in local.stdout


@pytest.mark.parametrize("where, by", [(None, ()), (WHERE, ("team",))], ids=["all", "where-team"])
def test_drift_kpis_identical_on_dask(sample, client, where, by):
    """The KPIs before and after each change (repeat contacts linked within each stretch) from KPI sums per
    partition and stretch; the log is read as ``cxmine drift --kpis`` reads it."""
    single, folder = sample
    enc = encode_where(single, where, attributes=("owner", "queue", "channel"),
                       case_attributes=tuple(dict.fromkeys(EXPLAIN_ATTRIBUTES + by + ("customer_id",))))
    local = detect_drift(enc, DriftSettings(), by=by, kpis=True)
    on_dask = distributed_drift(folder, where=where, by=by, kpis=True, client=client)
    assert to_json(local.as_dict()) == to_json(on_dask.as_dict())
    assert on_dask.change_points and all(p.kpis for p in on_dask.change_points)
    repeats = [p.kpis["repeat_contact_rate"] for p in on_dask.change_points]
    assert all(r["numerator_before"] > 0 and r["numerator_after"] > 0 for r in repeats)  # repeats were linked
    assert all(p.kpis is None for s in on_dask.segments for p in s.change_points)  # as on one machine


def test_cli_drift_kpis_on_dask_prints_and_writes_what_local_does(drifted, client, tmp_path):
    single, folder = drifted
    args = ["drift", "--kpis", "--by", "team", "--window", "day", "--sop", SOP, "--timezone", "Europe/Lisbon", "-q"]
    local = CliRunner().invoke(main, [*args, single, "--csv", str(tmp_path / "local")])
    on_dask = CliRunner().invoke(main, [*args, folder, "--csv", str(tmp_path / "dask"), "--engine", "dask",
                                        "--scheduler", client.scheduler.address])
    assert local.exit_code == 0 and on_dask.exit_code == 0, on_dask.output
    assert local.stdout == on_dask.stdout
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert "kpis.csv" in names and names == sorted(p.name for p in (tmp_path / "dask").iterdir())
    for name in names:
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name


def test_value_ranks_follow_the_whole_log(sample, client):
    """Each value's contacts, ranked among themselves, are the value's contacts of the single-machine log in
    order: the positions the catalogue gathers are those of the encoded whole log."""
    from engine.distributed.cluster import run_partitions
    from engine.distributed.drift import _value_ranks
    from engine.distributed.drift_partials import catalogue_partition
    single, folder = sample
    catalogue = run_partitions(folder, catalogue_partition, client=client, where=WHERE,
                               case_attributes=EXPLAIN_ATTRIBUTES, by=("team",))
    values = _value_ranks(catalogue, ("team",))
    enc = encode_where(single, WHERE, case_attributes=EXPLAIN_ATTRIBUTES)
    codes, labels = enc.case_attributes["team"]
    assert [k for k in values.keys] == [("team", v) for v in labels]
    for (_, label), ranks in zip(values.keys, values.ranks):
        assert np.array_equal(ranks, np.flatnonzero(codes == labels.index(label)))


@pytest.mark.parametrize("where, sop", [(None, None), (WHERE, SOP)], ids=["all", "where-sop"])
def test_counts_per_value_are_the_single_machine_ones(sample, client, where, sop):
    """What each value is compared with the rest on: contacts, contacts with each edge and activity, SOP
    tokens, and contacts of each variant, variants in the single-machine numbering (first occurrence)."""
    from engine.analyses.segment_comparison import _count_per_value
    from engine.analyses.drift import sop_tokens
    from engine.analyses.variants import assign_variants
    from engine.distributed.cluster import run_partitions
    from engine.distributed.drift import _value_counts, _value_ranks
    from engine.distributed.drift_partials import catalogue_partition, count_partition_units
    from engine.kernels.drift import edge_keys_present
    single, folder = sample
    catalogue = run_partitions(folder, catalogue_partition, client=client, where=where,
                               case_attributes=EXPLAIN_ATTRIBUTES, by=("team",))
    values = _value_ranks(catalogue, ("team",))
    activities = tuple(sorted(catalogue.activities))
    units = run_partitions(folder, count_partition_units, client=client, where=where, activities=activities,
                           selected=catalogue.positions, unit=("block", 100), sop_path=sop, values=values,
                           value_units={k: ("block", 100) for k in values.keys})
    labels = sorted(catalogue.values["team"])
    per, variant_log = _value_counts("team", labels, values, units.values, units.variants, units.whole.edge_keys,
                                     activities, sop is not None)
    enc = encode_where(single, where, case_attributes=EXPLAIN_ATTRIBUTES)
    codes, enc_labels = enc.case_attributes["team"]
    case_variant, first_case = assign_variants(enc)
    keys = edge_keys_present(enc.case_offsets, enc.activity_codes, len(enc.activities))
    tokens = sop_tokens(enc, load_sop(sop)) if sop else None
    expected = _count_per_value(enc, codes, len(enc_labels), keys, first_case, case_variant, tokens)
    assert list(enc_labels) == labels and enc.activities == activities and np.array_equal(keys, units.whole.edge_keys)
    for name in ("sizes", "edges", "activities", "variants", "tokens"):
        a, b = getattr(per, name), getattr(expected, name)
        assert (a is None and b is None) or np.array_equal(a, b), name
    assert per.variants.shape[1] == len(first_case) > 10
    assert [variant_log.activity_codes[variant_log.case_offsets[v]:variant_log.case_offsets[v + 1]].tolist()
            for v in range(variant_log.n_cases)] == \
        [enc.activity_codes[enc.case_offsets[f]:enc.case_offsets[f + 1]].tolist() for f in first_case]


def test_a_partition_without_selected_contacts_still_gives_its_labels(sample, client):
    """The single-machine path selects after encoding, so its labels (segments listed, Bonferroni factors)
    include values only unselected contacts hold; the catalogue keeps them from every partition."""
    from engine.distributed.drift_partials import catalogue_partition
    from engine.errors import InputError
    from engine.log.partitions import partition_paths
    first = str(partition_paths(sample[1])[0])
    part = catalogue_partition(first, {"intent": {"no_such_intent"}}, EXPLAIN_ATTRIBUTES, by=("team",))
    assert part.n_cases == 0 and len(part.positions) == 0 and part.by_positions == {}
    assert part.values["team"] == {"A", "B", "C", "D"} and "Verify identity" in part.activities
    with pytest.raises(InputError, match="No contact matches the selection"):
        distributed_drift(sample[1], where={"intent": {"no_such_intent"}}, by=("team",), client=client)
