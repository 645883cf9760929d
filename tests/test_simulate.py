"""The simulator: SOP-fitting paths, ground truth checked against pm4py, determinism, drift, realism."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.errors import InputError
from engine.simulate import load_drifts, simulate_contacts, write_simulation
from engine.simulate.deviations import insert_events, pick_positions, skip_events, swap_events
from engine.simulate.paths import accept_traces, build_paths, tabulate_language
from engine.model import load_sop
from engine.model.workflow_net import to_pm4py

ROOT = Path(__file__).resolve().parent.parent
MODELS = sorted((ROOT / "models").glob("*.bpmn"))


@pytest.fixture(scope="module")
def sops():
    return [load_sop(p) for p in MODELS]


def replay_unfit(sim, sop) -> tuple[set[str], set[str], int]:
    """Contacts of one SOP that pm4py's token replay finds unfit, and those holding activities not in the net.

    pm4py's token replay leaves activities that are not in the net out of the
    fitness (they are reported apart), so an 'unknown activity' deviation
    shows as such an activity rather than as fitness below 1.
    """
    import pm4py

    name = Path(sop.path).stem
    ev = sim.events.to_pandas()
    ev = ev[ev["intent"] == name][["contact_id", "activity", "start"]].astype({"contact_id": str, "activity": str})
    df = pm4py.format_dataframe(ev, case_id="contact_id", activity_key="activity", timestamp_key="start")
    log = pm4py.convert_to_event_log(df)
    results = pm4py.conformance_diagnostics_token_based_replay(log, *to_pm4py(sop.net, sop.initial_marking,
                                                                              sop.final_marking))
    labels = {t.label for t in sop.net.transitions if t.label}
    unfit = {tr.attributes["concept:name"] for tr, r in zip(log, results) if r["trace_fitness"] < 1.0}
    foreign = {tr.attributes["concept:name"] for tr in log if any(e["concept:name"] not in labels for e in tr)}
    return unfit, foreign, len(log)


def test_undeviated_contacts_fit_their_sop_in_pm4py(sops):
    sim = simulate_contacts(sops, 2500, seed=11, deviation_rate=0.0)
    assert sim.deviations.num_rows == 0
    assert all(sim.contacts.column("fits_sop").to_pylist())
    total = 0
    for sop in sops:
        unfit, foreign, n = replay_unfit(sim, sop)
        assert n > 100
        assert unfit == set() and foreign == set(), Path(sop.path).stem
        total += n
    assert total == 2500


def test_pm4py_unfit_contacts_are_exactly_the_injected_deviations(sops):
    drift = load_drifts(["2026-01-19:team=B:skip=Verify identity:p=0.5"], "Europe/Lisbon")
    sim = simulate_contacts(sops, 3000, seed=5, deviation_rate=0.15, drifts=drift)
    truth = sim.deviations.to_pandas()
    truth["contact_id"] = truth["contact_id"].astype(str)
    allowed_kinds = set()
    for sop in sops:
        name = Path(sop.path).stem
        rows = truth[truth["sop"] == name]
        deviating = set(rows.loc[~rows["allowed_by_sop"], "contact_id"])
        allowed = set(rows.loc[rows["allowed_by_sop"], "contact_id"])
        unfit, foreign, _ = replay_unfit(sim, sop)
        assert unfit | foreign == deviating, name
        # A change the SOP itself allows leaves a fitting trace: a swap of two steps of a parallel
        # block, a skipped optional step, a step inserted where the SOP's loop or choice allows it.
        assert not (allowed & (unfit | foreign)), name
        allowed_kinds |= set(rows.loc[rows["allowed_by_sop"], "kind"].astype(str))
    assert len(truth) > 300
    assert {"skipped", "inserted", "swapped", "unknown"} <= set(truth["kind"].astype(str))
    assert allowed_kinds, "no injected change fell where the SOPs allow it; the test would not exercise it"
    assert {"team", "drift", "context_loss"} <= set(truth["cause"].astype(str))


def test_same_seed_same_bytes(tmp_path):
    args = ["simulate", "--sop", str(MODELS[0]), "--sop", str(MODELS[1]), "--contacts", "1500", "--days", "10",
            "--drift", "2026-01-08:team=B:skip=Verify identity:p=0.3", "--quiet"]
    runner = CliRunner()
    digests = []
    for run, extra in enumerate((["--seed", "3"], ["--seed", "3"], ["--seed", "4"])):
        out = tmp_path / f"run{run}"
        res = runner.invoke(main, args + extra + ["--gzip", "-o", str(out)])
        assert res.exit_code == 0, res.output
        digests.append({p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted(out.rglob("*")) if p.is_file()})
    assert digests[0] == digests[1]
    assert digests[0]["contacts.csv.gz"] != digests[2]["contacts.csv.gz"]
    assert set(digests[0]) == {"contacts.csv.gz", "mapping.toml", "manifest.json", "ground_truth/deviations.csv",
                               "ground_truth/contacts.csv", "ground_truth/transfers.csv",
                               "ground_truth/drift.json"}
    with gzip.open(tmp_path / "run0" / "contacts.csv.gz", "rt") as fh:
        assert fh.readline().strip().replace('"', "").split(",") == [
            "contact_id", "activity", "start", "end", "agent", "owner", "team", "site", "shift", "channel", "queue",
            "customer", "intent", "outcome"]


def test_export_ingests_with_its_mapping_and_customers_are_pseudonymised(sops, tmp_path, monkeypatch):
    monkeypatch.setenv("CXMINE_PSEUDONYM_KEY", "test-key")
    sim = simulate_contacts(sops, 1200, seed=2, days=7)
    write_simulation(sim, tmp_path / "sim")
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "sim" / "contacts.csv"), "--mapping",
                                    str(tmp_path / "sim" / "mapping.toml"), "-o", str(tmp_path / "log.parquet"),
                                    "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{"):])
    assert summary["records_read"] == summary["records_accepted"] == sim.events.num_rows
    assert summary["cases"] == 1200
    log = pd.read_parquet(tmp_path / "log.parquet")
    raw = set(sim.contacts.column("customer").to_pylist())
    assert not raw & set(log["customer_id"].astype(str))
    # a repeat contact's customer, written either way, gets the first contact's pseudonym
    contacts = sim.contacts.to_pandas()
    repeats = contacts.dropna(subset=["repeat_of"])
    assert len(repeats) > 100
    cust = log.groupby(log["case_id"].astype(str))["customer_id"].first().astype(str)
    spelled_differently = 0
    for cid, prev in zip(repeats["contact_id"], repeats["repeat_of"].astype(str)):
        assert cust[cid] == cust[prev]
        spelled_differently += contacts.set_index("contact_id").loc[cid, "customer"] != \
            contacts.set_index("contact_id").loc[prev, "customer"]
    assert spelled_differently > 0
    # channel switches between a contact and its repeat
    chan = contacts.set_index("contact_id")["channel"].astype(str)
    assert (chan[repeats["contact_id"]].to_numpy() != chan[repeats["repeat_of"].astype(str)].to_numpy()).any()


def test_drift_changes_only_its_scope_after_its_date(sops):
    drifts = load_drifts(["2026-01-19:team=B:skip=Verify identity:p=0.4",
                          "2026-01-19:context_loss=0.8:bot_version=v2"], "Europe/Lisbon")
    sim = simulate_contacts(sops, 4000, seed=9, days=28, deviation_rate=0.02, drifts=drifts)
    contacts = sim.contacts.to_pandas().set_index("contact_id")
    truth = sim.deviations.to_pandas()
    d1 = truth[truth["drift_id"].astype(str) == "D1"]
    assert len(d1) > 20
    assert set(d1["team"].astype(str)) == {"B"}
    assert set(d1["step"].astype(str)) == {"Verify identity"} and set(d1["kind"].astype(str)) == {"skipped"}
    date = pd.Timestamp("2026-01-19", tz="Europe/Lisbon")
    assert (contacts.loc[d1["contact_id"].astype(str), "arrival"] >= date).all()
    before = contacts[(contacts["arrival"] < date) & contacts["bot_handoff"]]
    after = contacts[(contacts["arrival"] >= date) & contacts["bot_handoff"]]
    assert before["context_loss"].mean() < 0.1 < 0.6 < after["context_loss"].mean()
    assert set(after["bot_version"].astype(str)) == {"bot-v2"}
    info = {d["id"]: d for d in sim.drifts}
    assert info["D1"]["change"] == "skip" and info["D1"]["scope"] == {"team": "B"}
    assert info["D1"]["deviations_injected"] == len(d1)
    assert info["D2"]["bot_version"] == "bot-v2" or info["D2"]["bot_version"] == "v2"


def test_realism_seasonality_people_and_handoffs(sops):
    sim = simulate_contacts(sops, 6000, seed=4, start="2026-01-05", days=14)
    c = sim.contacts.to_pandas()
    local = c["arrival"].dt.tz_convert("Europe/Lisbon")
    weekday = local.dt.dayofweek
    assert (weekday < 5).mean() > 0.8           # weekends are quiet
    hours = local.dt.hour
    assert ((hours >= 9) & (hours < 17)).mean() > 0.55 > ((hours < 6).mean())
    assert c["team"].nunique() == 4 and c["site"].nunique() == 3 and c["shift"].nunique() == 3
    assert c["bot_handoff"].sum() > 100 and (c["outcome"].astype(str) == "contained").sum() > 100
    assert c["repeat_of"].notna().mean() > 0.1
    ev = sim.events.to_pandas()
    assert (ev["end"] >= ev["start"]).all()
    starts = ev.groupby(ev["contact_id"].astype(str))["start"].apply(lambda s: s.is_monotonic_increasing)
    assert starts.all()
    # queue waits follow the load: the morning peak waits longer than the night
    queue = ev[ev["activity"].astype(str) == "Queue"]
    wait = (queue["end"] - queue["start"]).dt.total_seconds()
    hour = queue["start"].dt.tz_convert("Europe/Lisbon").dt.hour
    assert wait[hour.between(9, 11)].median() > 3 * wait[hour.between(0, 4)].median()
    # unresolved contacts and lost context bring customers back more often than a resolution
    c["followed"] = c["contact_id"].isin(set(c["repeat_of"].dropna().astype(str)))
    back = c.groupby(c["outcome"].astype(str))["followed"].mean()
    assert back["unresolved"] > 1.3 * back["resolved"]
    # every dictionary names each value once (one customer, one identifier)
    import pyarrow as pa
    for table in (sim.events, sim.contacts, sim.transfers, sim.deviations):
        for name in table.column_names:
            col = table.column(name).combine_chunks()
            if pa.types.is_dictionary(col.type):
                assert len(col.dictionary) == len(set(col.dictionary.to_pylist())), name
    # deviation propensity differs by team (C deviates most, A least)
    dev = c.assign(dev=c["deviations"] > 0).groupby(c["team"].astype(str))["dev"].mean()
    assert dev["C"] > dev["A"]


def test_cli_errors_are_clean(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["simulate", "--sop", str(MODELS[0]), "--drift", "2026-03-01:team=Z:skip=Verify identity",
                               "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "unknown team 'Z'" in res.output and "Traceback" not in res.output
    res = runner.invoke(main, ["simulate", "--sop", str(MODELS[0]), "--drift", "2026-03-01:team=B",
                               "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "exactly one change" in res.output
    res = runner.invoke(main, ["simulate", "--sop", str(MODELS[0]), "--drift", "2026-03-01:skip=No such step",
                               "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "'No such step' is not a step of any SOP" in res.output
    res = runner.invoke(main, ["simulate", "--sop", str(tmp_path / "nope.bpmn"), "-o", str(tmp_path / "x")])
    assert res.exit_code == 1 and "SOP model not found" in res.output
    bad = tmp_path / "drift.toml"
    bad.write_text("[[drift]]\ndate = 'yesterday'\nskip = 'Verify identity'\n")
    res = runner.invoke(main, ["simulate", "--sop", str(MODELS[0]), "--drift", str(bad), "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "not an ISO date" in res.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("kwargs, field, text, flag_text", [
    ({"contacts": 0}, "contacts", "contacts must be at least 1, got 0", None),
    ({"days": 0}, "days", "days must be at least 1, got 0", None),
    ({"deviation_rate": 1.5}, "deviation_rate", "deviation_rate must be between 0 and 1, got 1.5", None),
    ({"seed": -1}, "seed", "seed must be >= 0, got -1", None),
    ({"start": "soon"}, "start", "start 'soon' is not an ISO date", "--start 'soon' is not an ISO date"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone 'Mars/Olympus'", "Unknown time zone 'Mars/Olympus'"),
])
def test_library_errors_name_the_argument_and_the_cli_its_option(sops, tmp_path, kwargs, field, text, flag_text):
    from engine.errors import InputError

    args = {"contacts": 10, "days": 1, "deviation_rate": 0.05, "seed": 0, "start": "2026-01-05",
            "timezone": "Europe/Lisbon", **kwargs}
    with pytest.raises(InputError) as e:
        simulate_contacts(sops[:1], args.pop("contacts"), **args)
    assert e.value.field == field and text in str(e.value) and "--" not in str(e.value)
    if flag_text is None:
        return  # click refuses these values itself
    option = {"start": "--start", "timezone": "--timezone"}[field]
    res = CliRunner().invoke(main, ["simulate", "--sop", str(MODELS[0]), option, str(kwargs[field]),
                                    "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and flag_text in res.output and "Traceback" not in res.output


def test_output_that_is_a_file_is_refused_naming_the_argument(sops, tmp_path):
    from engine.errors import InputError

    target = tmp_path / "file"
    target.write_text("")
    sim = simulate_contacts(sops[:1], 20, days=1)
    with pytest.raises(InputError) as e:
        write_simulation(sim, target)
    assert e.value.field == "out_dir" and "the simulator writes a folder" in str(e.value)
    assert "-o " not in str(e.value) and "--" not in str(e.value)


def test_variants_are_firing_sequences(sops):
    for sop in sops:
        paths = build_paths(sop.net, sop.initial_marking, sop.final_marking, name=sop.name)
        assert abs(paths.probabilities.sum() - 1) < 1e-9 and paths.dropped_probability < 0.05
        vocab = sorted({t for v in paths.variants for t in v} | {"Nope"})
        code = {a: i for i, a in enumerate(vocab)}
        table, accept = tabulate_language(paths, code, len(vocab))
        traces = [[code[a] for a in v] for v in paths.variants]
        traces += [t[:-1] for t in traces if len(t) > 1] + [t + [code["Nope"]] for t in traces]
        offsets = np.concatenate(([0], np.cumsum([len(t) for t in traces]))).astype(np.int64)
        flat = np.array([c for t in traces for c in t], dtype=np.int32)
        ok = accept_traces(table, accept, paths.start, offsets, flat)
        n = len(paths.variants)
        assert ok[:n].all() and not ok[-n:].any()


# --- array operations against plain-Python twins -------------------------------------------------

traces_st = st.lists(st.lists(st.integers(0, 5), min_size=2, max_size=6), min_size=1, max_size=8)


def _csr(traces):
    offsets = np.concatenate(([0], np.cumsum([len(t) for t in traces]))).astype(np.int64)
    return offsets, np.array([c for t in traces for c in t], dtype=np.int32)


def _lists(offsets, codes):
    return [codes[offsets[i]:offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]


@settings(max_examples=60, deadline=None)
@given(traces_st, st.data())
def test_trace_operations_match_twin(traces, data):
    offsets, codes = _csr(traces)
    picks = [data.draw(st.one_of(st.none(), st.integers(0, len(t) - 2))) for t in traces]
    chosen = np.array([i for i, p in enumerate(picks) if p is not None], dtype=np.int64)
    ev = np.array([offsets[i] + picks[i] for i in chosen], dtype=np.int64)
    # skip
    o2, c2 = skip_events(offsets, codes, ev)
    assert _lists(o2, c2) == [t[:p] + t[p + 1:] if p is not None else t for t, p in zip(traces, picks)]
    # insert before position p+1 (code 9)
    o3, c3 = insert_events(offsets, codes, ev + 1, chosen, np.full(len(chosen), 9, np.int32))
    assert _lists(o3, c3) == [t[:p + 1] + [9] + t[p + 1:] if p is not None else t for t, p in zip(traces, picks)]
    # swap
    c4 = swap_events(codes, ev)
    want = []
    for t, p in zip(traces, picks):
        t = list(t)
        if p is not None:
            t[p], t[p + 1] = t[p + 1], t[p]
        want.append(t)
    assert _lists(offsets, c4) == want
    # pick the k-th valid event
    valid = codes % 2 == 0
    u = np.array([data.draw(st.floats(0, 0.999)) for _ in traces])
    got = pick_positions(offsets, np.arange(len(traces)), valid, u)
    for i, t in enumerate(traces):
        idx = [offsets[i] + j for j, c in enumerate(t) if c % 2 == 0]
        assert got[i] == (idx[int(u[i] * len(idx))] if idx else -1)


@pytest.mark.slow
def test_one_million_contacts_within_a_minute(sops, tmp_path):
    import time

    t0 = time.perf_counter()
    sim = simulate_contacts(sops, 1_000_000, seed=1, deviation_rate=0.05,
                            drifts=load_drifts(["2026-01-19:team=B:skip=Verify identity:p=0.3"], "Europe/Lisbon"))
    write_simulation(sim, tmp_path / "big")
    elapsed = time.perf_counter() - t0
    assert sim.contacts.num_rows == 1_000_000 and sim.events.num_rows > 5_000_000
    assert elapsed < 60, f"{elapsed:.1f} s"


def test_drift_file_insert_and_handle_time(sops, tmp_path):
    spec = tmp_path / "drift.toml"
    spec.write_text('[[drift]]\nid = "ins"\ndate = "2026-01-12"\nsite = "Manila"\ninsert = "Hold"\n'
                    'after = "Agent answer"\np = 1.0\n\n'
                    '[[drift]]\nid = "slow"\ndate = "2026-01-12"\nhandle_time = 3.0\nstep = "Agent answer"\n')
    drifts = load_drifts([str(spec)], "Europe/Lisbon")
    sim = simulate_contacts(sops, 3000, seed=8, days=14, deviation_rate=0.0, drifts=drifts)
    truth = sim.deviations.to_pandas()
    ins = truth[truth["drift_id"].astype(str) == "ins"]
    assert len(ins) > 50 and set(ins["site"].astype(str)) == {"Manila"}
    ev = sim.events.to_pandas()
    ev["contact_id"] = ev["contact_id"].astype(str)
    ev["activity"] = ev["activity"].astype(str)
    for cid in ins["contact_id"].astype(str).head(20):
        acts = ev.loc[ev["contact_id"] == cid, "activity"].tolist()
        k = acts.index("Agent answer")
        assert acts[k + 1] == "Hold"
    answer = ev[ev["activity"] == "Agent answer"]
    minutes = (answer["end"] - answer["start"]).dt.total_seconds() / 60
    after = answer["start"] >= pd.Timestamp("2026-01-12", tz="Europe/Lisbon")
    assert minutes[after].median() > 2 * minutes[~after].median()
    # with no team deviations, every change in the ground truth comes from the drift points
    assert set(truth["cause"].astype(str)) == {"drift"}


def test_realistic_variety_keeps_its_ground_truth_exact(sops):
    """Every contact pm4py finds unfit (or holding a step its SOP does not know) has a recorded deviation
    that the SOP does not allow, and no other contact has one; the long tail has several times the
    variants of the standard setting, with more events per contact."""
    sim = simulate_contacts(sops, 3000, seed=5, deviation_rate=0.05, variety="realistic")
    truth = sim.deviations.to_pandas()
    truth["contact_id"] = truth["contact_id"].astype(str)
    for sop in sops:
        name = Path(sop.path).stem
        rows = truth[truth["sop"] == name]
        unfit, foreign, _ = replay_unfit(sim, sop)
        assert unfit | foreign == set(rows.loc[~rows["allowed_by_sop"], "contact_id"]), name
        tasks = set(sop.task_names)
        assert set(rows.loc[rows["kind"] == "unknown", "step"].astype(str)).isdisjoint(tasks), name
        assert set(rows.loc[rows["kind"] == "inserted", "step"].astype(str)) <= tasks, name
    counts = truth.groupby("contact_id").size()
    per_contact = sim.contacts.to_pandas().set_index("contact_id")["deviations"]
    assert (per_contact[per_contact > 0] == counts.reindex(per_contact[per_contact > 0].index)).all()
    assert {"habit"} <= set(truth["cause"].astype(str))
    assert {"skipped", "inserted", "swapped", "unknown"} <= set(truth.loc[truth["cause"] == "habit", "kind"])
    standard = simulate_contacts(sops, 3000, seed=5, deviation_rate=0.05)

    def variants(s):
        ev = s.events.select(["contact_id", "activity"]).to_pandas().astype(str)
        return ev.groupby("contact_id", sort=False)["activity"].agg(tuple).nunique()

    assert variants(sim) > 3 * variants(standard)
    assert sim.events.num_rows > 1.15 * standard.events.num_rows
    assert sim.parameters["variety"] == "realistic" and "variety" not in standard.parameters


def test_realistic_variety_same_seed_same_result_and_bad_name(sops):
    a = simulate_contacts(sops[:2], 400, seed=9, variety="realistic")
    b = simulate_contacts(sops[:2], 400, seed=9, variety="realistic")
    assert a.events.equals(b.events) and a.deviations.equals(b.deviations)
    with pytest.raises(InputError, match=r"Unknown variety 'wild' \(valid: standard, realistic\)"):
        simulate_contacts(sops[:2], 10, variety="wild")


def test_cli_variety_option(tmp_path):
    r = CliRunner().invoke(main, ["simulate", "--sop", str(MODELS[0]), "--contacts", "300", "--variety", "realistic",
                                  "-o", str(tmp_path / "sim"), "--json", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["parameters"]["variety"] == "realistic"
    r = CliRunner().invoke(main, ["simulate", "--sop", str(MODELS[0]), "--variety", "wild", "-o", str(tmp_path / "x")])
    assert r.exit_code == 2
    assert "Invalid value for '--variety'" in r.output
