"""Process-health KPIs: a hand-built contact-center log with worked-out answers,
the slow twin in tests/naive.py, and additivity over segments and partitions."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

import naive
from engine.analyses.kpis import compute_kpis, scope_of
from engine.errors import AnalysisError
from engine.kernels.kpis import MEASURES
from engine.log import encode_log, write_log
from engine.log.schema import TS_TYPE

M = 60 * 10**9  # one minute in ns
D = 24 * 60 * M


def ev(activity, t, owner=None, end=None, **kw):
    return {"activity": activity, "timestamp": t, "end": end, "owner": owner, **kw}


def contact_center_cases():
    k1 = {"customer": "K1"}
    c1 = [ev("IVR menu", 0, "Digital", channel="voice", team="A", site="S1", **k1),
          ev("Queue", 1 * M, "Support", end=3 * M, queue="Q-Support"),
          ev("Agent answer", 3 * M, "Support", end=10 * M),
          ev("Verify identity", 4 * M, "Support"),
          ev("Hold", 5 * M, "Support", end=7 * M),
          ev("Transfer", 8 * M, "Support"),
          ev("Agent answer", 9 * M, "Billing", end=12 * M, queue="Q-Billing"),
          ev("Verify identity", 9 * M + M // 2, "Billing"),
          ev("Resolve", 12 * M, "Billing"),
          ev("Wrap-up", 12 * M, "Billing", end=13 * M)]
    t = 2 * D
    c2 = [ev("Bot intent", t, "AI", channel="chat", team="A", site="S1", **k1),
          ev("Bot handoff", t + 1 * M, "AI"),
          ev("Queue", t + 2 * M, "Support", queue="Q-Support"),
          ev("Agent answer", t + 4 * M, "Support", queue="Q-Support"),
          ev("Transfer", t + 6 * M, "Support", queue="Q-Support"),
          ev("Agent answer", t + 7 * M, "Billing", queue="Q-Billing"),
          ev("Transfer", t + 9 * M, "Billing", queue="Q-Billing"),
          ev("Agent answer", t + 10 * M, "Support", queue="Q-Support"),
          ev("Escalate", t + 12 * M, "Support", queue="Q-Support"),
          ev("Disconnect", t + 13 * M, "Support", queue="Q-Support")]
    c3 = [ev("IVR menu", 3 * D, "Digital", channel="voice", team="B", site="S2", customer="K2"),
          ev("Abandon", 3 * D + M, "Digital")]
    t = 12 * D
    c4 = [ev("Queue", t, "Support", channel="voice", team="B", site="S2", **k1),
          ev("Agent answer", t + M, "Support", end=t + 6 * M),
          ev("Verify identity", t + 2 * M, "Support"),
          ev("Resolve", t + 6 * M, "Support"),
          ev("Wrap-up", t + 6 * M, "Support", end=t + 8 * M)]
    c5 = [ev("Bot intent", 13 * D, "AI", channel="chat"), ev("Resolve", 13 * D + M, "AI")]
    return [c1, c2, c3, c4, c5]


def stored(cases, tmp_path):
    """Write the cases through the Parquet store and encode them as the CLI does."""
    rows = []
    for k, c in enumerate(cases):
        for e in c:
            rows.append({"case_id": f"c{k + 1}", **e})
    cols = {"case_id": [r["case_id"] for r in rows], "activity": [r["activity"] for r in rows],
            "timestamp": pa.array([r["timestamp"] for r in rows], pa.int64()).cast(TS_TYPE),
            "end_timestamp": pa.array([r.get("end") for r in rows], pa.int64()).cast(TS_TYPE)}
    for name, key in (("owner", "owner"), ("queue", "queue"), ("channel", "channel"), ("team", "team"),
                      ("site", "site"), ("customer_id", "customer")):
        cols[name] = pa.array([r.get(key) for r in rows], pa.string())
    write_log(pa.table(cols), tmp_path / "log.parquet")
    return encode_log(tmp_path / "log.parquet", case_attributes=("customer_id",))


def rates(summary):
    return {k: r.value for k, r in summary.kpis().items()}


def test_hand_built_contact_center_log(tmp_path):
    log = stored(contact_center_cases(), tmp_path)
    k = compute_kpis(log, by=("team", "site"), critical={"Verify identity", "Wrap-up"})
    r = k.overall.kpis()
    # AHT: c1 talk (10-3) - hold 2 + (12-9) = 8 min, hold 2, wrap-up 1 -> 11 min;
    # c2 three talks of 2 min (no ends: until the next event) -> 6 min; c4 talk 5 + wrap-up 2 -> 7 min
    assert r["aht_s"].value == pytest.approx((11 + 6 + 7) * 60 / 3)
    assert (r["aht_s"].denominator, r["talk_s"].numerator, r["hold_s"].numerator) == (3, (8 + 6 + 5) * 60, 120)
    # c1 is followed by c2 two days later; c4 comes 10 days after c2; c3 is another customer; c5 has none
    assert (r["repeat_contact_rate"].numerator, r["repeat_contact_rate"].denominator) == (1, 4)
    # resolved with a customer: c1 (repeated) and c4 (not)
    assert (r["fcr"].numerator, r["fcr"].denominator) == (1, 2)
    # transfers: c1 one, c2 a bot handoff and two transfers
    assert r["transfers_per_contact"].value == pytest.approx(4 / 5)
    assert r["transfer_rate"].value == pytest.approx(2 / 5)
    # owner handoffs: c1 Digital>Support>Billing (2), c2 AI>Support>Billing>Support (3)
    assert (r["handoffs_per_contact"].numerator, r["handoffs_per_contact"].denominator) == (5, 5)
    # c2's second transfer sends it from Q-Billing back to Q-Support: a ping-pong; c1's goes to a new queue
    assert (r["ping_pongs_per_transfer"].numerator, r["ping_pongs_per_transfer"].denominator) == (1, 4)
    assert r["ping_pong_rate"].value == pytest.approx(1 / 5)
    assert r["escalation_rate"].value == pytest.approx(1 / 5)
    assert r["events_per_contact"].value == pytest.approx(29 / 5)
    # journeys: c1+c2, c3, c4, c5
    assert (r["contacts_per_journey"].numerator, r["contacts_per_journey"].denominator) == (5, 4)
    # compliance among handled contacts c1, c2, c4: c2 has neither verification nor wrap-up
    assert (r["compliance_rate"].numerator, r["compliance_rate"].denominator) == (2, 3)
    # c1: verified, transferred, verified again with Billing
    assert (r["reidentification_rate"].numerator, r["reidentification_rate"].denominator) == (1, 1)
    assert r["hold_rate"].value == pytest.approx(1 / 5)
    assert (r["cross_channel_repeat_rate"].numerator, r["cross_channel_repeat_rate"].denominator) == (1, 1)
    assert r["channel_switch_rate"].value == 0.0
    # queue: c1 2 min (its end), c2 2 min (to the next event), c4 1 min
    assert r["queue_wait_s"].value == pytest.approx(100.0)
    # segments: c5 has no team; team A = c1, c2; team B = c3, c4
    team = k.segments["team"]
    assert set(team) == {"A", "B"}
    assert team["A"].measure("contacts") == 2 and team["B"].measure("contacts") == 2
    assert team["A"].kpis()["compliance_rate"].value == 0.5 and team["B"].kpis()["compliance_rate"].value == 1.0
    spread = k.compliance_spread()["team"]
    assert spread["max_minus_min"] == 0.5 and spread["std"] == pytest.approx(0.25)
    assert (spread["lowest"], spread["highest"]) == ("A", "B")


def test_label_map_and_window(tmp_path):
    cases = contact_center_cases()
    for c in cases:
        for e in c:
            if e["activity"] == "Verify identity":
                e["activity"] = "Authenticate caller"
    log = stored(cases, tmp_path)
    plain = compute_kpis(log, critical={"Verify identity", "Wrap-up"}).overall.kpis()
    mapped = compute_kpis(log, critical={"Verify identity", "Wrap-up"},
                          label_map={"Authenticate caller": "Verify identity"}).overall.kpis()
    assert plain["compliance_rate"].numerator == 0 and plain["reidentification_rate"].denominator == 0
    assert mapped["compliance_rate"].numerator == 2 and mapped["reidentification_rate"].numerator == 1
    # with a 1-day window c2 is no longer a repeat of c1
    short = compute_kpis(log, window_days=1).overall.kpis()
    assert short["repeat_contact_rate"].numerator == 0 and short["contacts_per_journey"].denominator == 5
    with pytest.raises(AnalysisError, match="window must be positive"):
        compute_kpis(log, window_days=0)


def test_compliance_scope_limits_to_contacts_of_the_procedure(tmp_path):
    log = stored(contact_center_cases(), tmp_path)
    # only c2 escalated, and it lacks both critical steps
    r = compute_kpis(log, critical={"Verify identity", "Wrap-up"}, scope={"Escalate"}).overall.kpis()
    assert (r["compliance_rate"].numerator, r["compliance_rate"].denominator) == (0, 1)
    assert scope_of(["Verify identity", "Block card", "Resolve", "Order replacement card"]) == \
        {"Block card", "Order replacement card"}


def test_without_customer_owner_or_critical_steps():
    log = naive.encode_cases([[ev("Agent answer", 0), ev("Resolve", M)]], attributes=())
    k = compute_kpis(log)
    r = k.overall.kpis()
    assert r["repeat_contact_rate"].denominator == 0 and r["repeat_contact_rate"].value is None
    assert r["compliance_rate"].denominator == 0 and k.compliance_spread() == {}
    assert r["aht_s"].value == 60.0


ACTIVITIES = ["IVR menu", "Bot intent", "Queue", "Agent answer", "Hold", "Verify identity", "Transfer",
              "Bot handoff", "Escalate", "Resolve", "Wrap-up", "Consult"]


@st.composite
def contact_logs(draw):
    n = draw(st.integers(0, 12))
    cases = []
    for k in range(n):
        t = draw(st.integers(0, 20)) * D // 2
        case = []
        for _ in range(draw(st.integers(1, 9))):
            t += draw(st.integers(0, 5)) * M
            end = t + draw(st.integers(0, 4)) * M if draw(st.booleans()) else None
            case.append(ev(draw(st.sampled_from(ACTIVITIES)), t, draw(st.sampled_from([None, "O1", "O2", "O3"])),
                           end=end, channel=draw(st.sampled_from([None, "voice", "chat"])),
                           queue=draw(st.sampled_from([None, "Q1", "Q2", "Q3"])),
                           team=draw(st.sampled_from([None, "A", "B"])),
                           customer=draw(st.sampled_from([None, "K1", "K2", "K3"]))))
        cases.append(case)
    cases.sort(key=lambda c: c[0]["timestamp"])  # stored logs are in order of first event
    return cases


CRITICAL = frozenset({"Verify identity", "Wrap-up"})


@settings(max_examples=120, deadline=None)
@given(contact_logs(), st.sampled_from([frozenset(), frozenset({"Escalate", "Consult"})]))
def test_kpis_match_twin(cases, scope):
    got = compute_kpis(naive.encode_cases(cases), critical=CRITICAL, scope=scope).overall
    twin = naive.contact_measures(cases, critical=CRITICAL, scope=scope)
    assert {m: got.measure(m) for m in MEASURES} == {m: twin[m] for m in MEASURES}


@settings(max_examples=60, deadline=None)
@given(contact_logs())
def test_segments_and_customer_partitions_add_up(cases):
    whole = compute_kpis(naive.encode_cases(cases), by=("team", "week"), critical=CRITICAL)
    for attr in ("team", "week"):
        segs = list(whole.segments[attr].values())
        if segs:
            total = segs[0]
            for s in segs[1:]:
                total = total + s
            with_value = sum(1 for c in cases if attr == "week" or any(e.get("team") for e in c))
            assert total.measure("contacts") == with_value
    # partition by customer (a customer's contacts stay together): summaries add up to the whole
    def cust(c):
        return next((e["customer"] for e in c if e.get("customer")), None)
    left = [c for c in cases if cust(c) in ("K1", None)]
    right = [c for c in cases if cust(c) not in ("K1", None)]
    merged = compute_kpis(naive.encode_cases(left), by=("team",), critical=CRITICAL) + \
        compute_kpis(naive.encode_cases(right), by=("team",), critical=CRITICAL)
    full = compute_kpis(naive.encode_cases(cases), by=("team",), critical=CRITICAL)
    assert list(merged.overall.totals) == list(full.overall.totals)
    for label, s in full.segments["team"].items():
        assert list(merged.segments["team"][label].totals) == list(s.totals)


def test_rates_are_consistent_with_their_parts(tmp_path):
    k = compute_kpis(stored(contact_center_cases(), tmp_path), by=("site",))
    for name, r in k.overall.kpis().items():
        if r.denominator:
            assert math.isclose(r.value, r.numerator / r.denominator)
    d = k.as_dict()
    assert d["overall"]["fcr"] == {"value": 0.5, "numerator": 1, "denominator": 2, "unit": "share"}
    assert set(d["segments"]["site"]) == {"S1", "S2"}


def test_cli_kpi_json_csv_and_errors(tmp_path):
    import csv
    import json

    from click.testing import CliRunner

    from engine.cli import main
    stored(contact_center_cases(), tmp_path)
    log = str(tmp_path / "log.parquet")
    runner = CliRunner()
    res = runner.invoke(main, ["kpi", log, "--by", "team,site", "--json", "-q"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["overall"]["fcr"]["numerator"] == 1 and set(data["segments"]) == {"team", "site"}
    res = runner.invoke(main, ["kpi", log, "--by", "week", "--csv", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 0 and "aht_s" in res.stdout and "1970-W" in res.stdout
    rows = list(csv.DictReader(open(tmp_path / "out" / "kpis.csv")))
    assert {"attribute": "all", "segment": "all", "kpi": "aht_s"}.items() <= rows[0].items()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".part")]
    model = Path(__file__).resolve().parents[1] / "models" / "lost_card.bpmn"
    if model.exists():
        res = runner.invoke(main, ["kpi", log, "--sop", str(model), "--by", "team", "--json", "-q"])
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        assert "Verify identity" in data["critical_steps"]
        # no contact of this log ran a lost-card step: nothing is in the compliance scope
        assert data["overall"]["compliance_rate"]["denominator"] == 0
    res = runner.invoke(main, ["kpi", log, "--by", "region"])
    assert res.exit_code == 1 and "Cannot segment by 'region'" in res.output and "Traceback" not in res.output
    res = runner.invoke(main, ["kpi", str(tmp_path / "missing.parquet")])
    assert res.exit_code == 1 and "Event log not found" in res.output


SAMPLE = Path(__file__).resolve().parents[1] / "eventlogs" / "sample"


def test_ping_pong_and_repeats_recover_the_simulators_ground_truth(tmp_path):
    """The committed sample was simulated with known ping-pong transfers and repeat contacts."""
    import csv

    if not (SAMPLE / "contacts.csv.gz").exists() or not (SAMPLE / "ground_truth" / "contacts.csv").exists():
        pytest.skip("eventlogs/sample is not present")
    from engine.analyses.kpis import encode_for_kpis
    from engine.ingest import ReadOptions
    from engine.ingest.job import ingest_to_log
    from engine.ingest.mapping import load_mapping
    ingest_to_log([str(SAMPLE / "contacts.csv.gz")], tmp_path / "log.parquet",
                  options=ReadOptions(mapping=load_mapping(SAMPLE / "mapping.toml"), pseudonym_key=b"test"))
    r = compute_kpis(encode_for_kpis(tmp_path / "log.parquet")).overall.kpis()
    truth = list(csv.DictReader(open(SAMPLE / "ground_truth" / "contacts.csv")))
    assert r["ping_pong_rate"].denominator == len(truth)
    expected = sum(row["ping_pong"] == "true" for row in truth)
    assert expected > 0 and r["ping_pong_rate"].numerator == expected
