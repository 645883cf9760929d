"""Slow, readable twins of the numba kernels and a small log builder for tests.

A log here is a list of cases; a case is a list of event dicts with keys
``activity``, ``timestamp`` (int ns) and optionally ``end``, ``owner``,
``channel``, ``team``, ``customer``.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from engine.log import encode_log, write_log
from engine.log.encode import NO_TIME, EncodedLog, encode_strings
from engine.log.schema import TS_TYPE
from engine.vocabulary import role_of

import corpus

DAY = 86_400 * 1_000_000_000
HERE = Path(__file__).resolve().parent
# pm4py-oracle logs: every XES under tests/data, and a few read straight from the shared corpus
SHARED = corpus.SHARED_DATA / "pm4py-tests" / "tests"
SHARED_LOGS = ["input_data/running-example.xes", "input_data/interval_event_log.xes", "input_data/reviewing.xes",
               "input_data/roadtraffic100traces.xes", "compressed_input_data/08_receipt.xes.gz",
               "compressed_input_data/02_teleclaims.xes.gz", "compressed_input_data/03_repairExample.xes.gz",
               "compressed_input_data/13_SEPSIS_1t_per_variant.xes.gz"]


def xes_logs() -> list[Path]:
    found = sorted(p for p in (HERE / "data").rglob("*") if p.name.endswith((".xes", ".xes.gz")))
    return found + [SHARED / name for name in SHARED_LOGS]


def _ns(ts) -> pa.Array:
    if getattr(ts.dt, "tz", None) is None:
        ts = ts.dt.tz_localize("UTC")
    return pa.array(ts.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64").to_numpy()).cast(TS_TYPE)


def pm4py_time_key(df) -> str:
    """The column pm4py must order by to see the events in cxmine's order."""
    return "start_timestamp" if "start_timestamp" in df.columns else "time:timestamp"


def load_xes(path: Path, tmp_path: Path):
    """pm4py's dataframe of an XES file and cxmine's encoded log of the same events."""
    corpus.require(path)
    pm4py = pytest.importorskip("pm4py")
    try:
        df = pm4py.read_xes(str(path))
    except Exception as exc:  # a file pm4py itself cannot read is no oracle
        pytest.skip(f"pm4py cannot read {path.name}: {exc}")
    needed = {"case:concept:name", "concept:name", "time:timestamp"}
    if not needed <= set(df.columns) or len(df) == 0 or df[list(needed)].isna().any().any():
        pytest.skip(f"{path.name} lacks case ids, activities or timestamps on some events")
    df = df.reset_index(drop=True)
    for col in ("time:timestamp", "start_timestamp"):
        if col in df.columns and not hasattr(df[col], "dt"):
            import pandas as pd
            try:  # some readers hand back timestamps as text
                df[col] = pd.to_datetime(df[col], utc=True)
            except (ValueError, TypeError) as exc:
                pytest.skip(f"{path.name}: timestamps pandas cannot parse ({exc})")
    # interval logs: cxmine's timestamp is the event start, its end_timestamp the completion
    interval = "start_timestamp" in df.columns and not df["start_timestamp"].isna().any()
    ts = df["start_timestamp" if interval else "time:timestamp"]
    columns = {"case_id": df["case:concept:name"].astype(str).tolist(),
               "activity": df["concept:name"].astype(str).tolist(), "timestamp": _ns(ts)}
    if interval:
        columns["end_timestamp"] = _ns(df["time:timestamp"])
    table = pa.table(columns)
    out = tmp_path / "log.parquet"
    write_log(table, out)
    df = df.assign(**{"case:concept:name": df["case:concept:name"].astype(str),
                      "concept:name": df["concept:name"].astype(str)})
    return df, encode_log(out)




def encode_cases(cases: list[list[dict]], attributes=("owner", "queue", "channel", "team")) -> EncodedLog:
    """EncodedLog straight from Python lists, in the given case order (no Parquet)."""
    events = [e for case in cases for e in case]
    offsets = np.zeros(len(cases) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(c) for c in cases])
    codes, labels = encode_strings(pa.array([e["activity"] for e in events], pa.string()))
    ts = np.array([e["timestamp"] for e in events], dtype=np.int64)
    end = np.array([e.get("end", NO_TIME) if e.get("end") is not None else NO_TIME for e in events],
                   dtype=np.int64)
    attrs = {}
    for name in attributes:
        attrs[name] = encode_strings(pa.array([e.get(name) for e in events], pa.string()))
    case_attrs = {}
    cust = [next((e["customer"] for e in c if e.get("customer") is not None), None) for c in cases]
    case_attrs["customer_id"] = encode_strings(pa.array(cust, pa.string()))
    return EncodedLog(offsets, codes.astype(np.int32), ts, labels, end, attrs,
                      pa.array([str(i) for i in range(len(cases))]), case_attrs)


def variants(cases: list[list[str]]) -> dict[tuple[str, ...], int]:
    return dict(Counter(tuple(c) for c in cases))


def ordered_variants(cases: list[list[str]]) -> list[tuple[tuple[str, ...], int]]:
    """Count desc, ties by first occurrence."""
    first = {}
    for i, c in enumerate(cases):
        first.setdefault(tuple(c), i)
    counts = variants(cases)
    return sorted(counts.items(), key=lambda kv: (-kv[1], first[kv[0]]))


def dfg(cases: list[list[str]]):
    edges, starts, ends, acts = Counter(), Counter(), Counter(), Counter()
    for c in cases:
        if not c:
            continue
        starts[c[0]] += 1
        ends[c[-1]] += 1
        acts.update(c)
        for a, b in zip(c, c[1:]):
            edges[(a, b)] += 1
    return dict(edges), dict(starts), dict(ends), dict(acts)


def performance_dfg(cases: list[list[tuple[str, int]]]) -> dict[tuple[str, str], dict]:
    """Per edge: count, mean, min, max, median, p90 of start-to-start times (seconds)."""
    times: dict[tuple[str, str], list[int]] = {}
    for c in cases:
        for (a, ta), (b, tb) in zip(c, c[1:]):
            times.setdefault((a, b), []).append(tb - ta)
    out = {}
    for k, v in times.items():
        arr = np.array(sorted(v), dtype=np.float64)
        out[k] = {"count": len(v), "mean": sum(v) / len(v) / 1e9, "min": min(v) / 1e9, "max": max(v) / 1e9,
                  "median": float(np.median(arr)) / 1e9, "p90": float(np.percentile(arr, 90)) / 1e9}
    return out


def _length(case: list[dict], j: int) -> int:
    e = case[j]
    if e.get("end") is not None:
        stop = e["end"]
    elif j + 1 < len(case):
        stop = case[j + 1]["timestamp"]
    else:
        stop = e["timestamp"]
    return max(0, stop - e["timestamp"])


def contact_measures(cases: list[list[dict]], critical=frozenset(), window_days=7.0,
                     label_map=None, scope=frozenset(), route="queue") -> Counter:
    """The KPI measures of engine.kernels.kpis.MEASURES, one contact at a time."""
    label_map = label_map or {}
    scope_steps = set(scope)
    window = window_days * DAY
    role = [[role_of(label_map.get(e["activity"], e["activity"])) for e in c] for c in cases]
    cust = [next((e["customer"] for e in c if e.get("customer") is not None), None) for c in cases]
    chan = [next((e["channel"] for e in c if e.get("channel") is not None), None) for c in cases]
    start = [c[0]["timestamp"] for c in cases]
    by_customer: dict[str, list[int]] = {}
    for i, k in enumerate(cust):
        if k is not None:
            by_customer.setdefault(k, []).append(i)
    repeated, has_prev, switch_prev = set(), set(), set()
    for idx in by_customer.values():
        idx = sorted(idx, key=lambda i: (start[i], i))
        for a, b in zip(idx, idx[1:]):
            if start[b] - start[a] <= window:
                repeated.add(a)
                has_prev.add(b)
                if chan[a] is not None and chan[b] is not None and chan[a] != chan[b]:
                    switch_prev.add(b)
    m = Counter()
    for i, c in enumerate(cases):
        r = role[i]
        m["contacts"] += 1
        m["events"] += len(c)
        handled = "talk" in r
        # talk minus holds inside the latest talk step's interval
        talk = hold = acw = queue = 0
        last_talk = None
        for j, e in enumerate(c):
            length = _length(c, j)
            if r[j] == "talk":
                talk += length
                last_talk = (e["timestamp"], e["timestamp"] + length)
            elif r[j] == "hold":
                hold += length
                if last_talk:
                    lo, hi = max(e["timestamp"], last_talk[0]), min(e["timestamp"] + length, last_talk[1])
                    talk -= max(0, hi - lo)
            elif r[j] == "wrapup":
                acw += length
            elif r[j] == "queue":
                queue += length
        if handled:
            m["handled"] += 1
            m["talk_us"] += talk // 1000
            m["hold_us"] += hold // 1000
            m["acw_us"] += acw // 1000
        has_customer = cust[i] is not None
        m["with_customer"] += has_customer
        m["repeated"] += has_customer and i in repeated
        resolved = "resolve" in r
        m["resolved"] += resolved
        m["resolved_with_customer"] += resolved and has_customer
        m["resolved_not_repeated"] += resolved and has_customer and i not in repeated
        transfers = r.count("transfer")
        m["transfers"] += transfers
        m["with_transfer"] += transfers > 0
        owners = [(j, e.get("owner")) for j, e in enumerate(c) if e.get("owner") is not None]
        handoff_at = {j1 for (_, o0), (j1, o1) in zip(owners, owners[1:]) if o1 != o0}
        ping = 0
        for j, e in enumerate(c):
            if r[j] != "transfer":
                continue
            after = [x.get(route) for x in c[j + 1:] if x.get(route) is not None]
            upto = [x.get(route) for x in c[:j + 1] if x.get(route) is not None]
            before = [x.get(route) for x in c[:j] if x.get(route) is not None]
            if after and after[0] != (upto[-1] if upto else None) and after[0] in before:
                ping += 1
        m["handoffs"] += len(handoff_at)
        m["ping_pongs"] += ping
        m["with_ping_pong"] += ping > 0
        m["escalated"] += "escalate" in r
        m["journey_starts"] += not (has_customer and i in has_prev)
        done = {label_map.get(e["activity"], e["activity"]) for e in c}
        if critical and handled and (not scope_steps or done & scope_steps):
            m["compliance_scope"] += 1
            m["compliant"] += set(critical) <= done
        # re-identification: verify after a handoff that followed a verification
        verified = after_handoff = scope = reident = False
        for j, e in enumerate(c):
            if (r[j] == "transfer" or j in handoff_at) and verified:
                after_handoff = scope = True
            if r[j] == "verify":
                if verified and after_handoff:
                    reident = True
                verified, after_handoff = True, False
        m["reidentification_scope"] += scope
        m["reidentified"] += reident
        holds = r.count("hold")
        m["holds"] += holds
        m["with_hold"] += holds > 0
        chans = [e.get("channel") for e in c if e.get("channel") is not None]
        switches = sum(1 for a, b in zip(chans, chans[1:]) if a != b)
        m["channel_switches_within"] += switches
        m["with_channel_switch_within"] += switches > 0
        m["with_previous_contact"] += has_customer and i in has_prev
        m["channel_switched_from_previous"] += has_customer and i in switch_prev
        if "queue" in r:
            m["queued"] += 1
            m["queue_us"] += queue // 1000
        last = max(max(e["timestamp"], e.get("end") or e["timestamp"]) for e in c)
        m["duration_us"] += (last - c[0]["timestamp"]) // 1000
    return m


def isclose(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
