"""Journey case notion: hand-checked logs and a slow pure-Python twin under hypothesis."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from engine.errors import InputError
from engine.ingest.journeys import to_journeys

DAY = 86_400 * 10**9
TS = pa.timestamp("ns", tz="UTC")


def _table(rows):
    """rows: (case, t_days, end_days|None, customer|None, previous|None)."""
    return pa.table({
        "case_id": [r[0] for r in rows], "activity": ["x"] * len(rows),
        "timestamp": pa.array([int(r[1] * DAY) for r in rows]).cast(TS),
        "end_timestamp": pa.array([None if r[2] is None else int(r[2] * DAY) for r in rows], pa.int64()).cast(TS),
        "customer_id": pa.array([r[3] for r in rows], pa.string()),
        "previous_contact_id": pa.array([r[4] for r in rows], pa.string()),
    })


def _groups(t: pa.Table) -> dict[str, str]:
    return dict(zip(t.column("contact_id").to_pylist(), t.column("case_id").to_pylist()))


def test_hand_checked():
    t = _table([
        ("a", 0, 0.1, "c1", None), ("a", 0.05, None, "c1", None),
        ("b", 3, None, "c1", None),          # 2.9 days after a ends: same journey
        ("c", 11, None, "c1", None),         # 8 days after b: new journey
        ("d", 1, None, None, None),
        ("e", 30, None, None, "d"),          # callback of d, a month later: linked explicitly
        ("f", 40, None, "c2", None),
    ])
    out = to_journeys(t, 7)
    g = _groups(out)
    assert g == {"a": "journey:a", "b": "journey:a", "c": "journey:c", "d": "journey:d", "e": "journey:d",
                 "f": "journey:f"}
    pos = dict(zip(out.column("contact_id").to_pylist(), out.column("journey_contact").to_pylist()))
    assert (pos["a"], pos["b"], pos["c"], pos["e"]) == (1, 2, 1, 2)
    assert out.num_rows == t.num_rows


def test_window_is_measured_from_the_end_of_the_previous_contact():
    t = _table([("a", 0, 5, "c", None), ("b", 11.5, None, "c", None)])
    assert len(set(_groups(to_journeys(t, 7)).values())) == 1
    assert len(set(_groups(to_journeys(t, 6)).values())) == 2


def test_bad_window():
    with pytest.raises(InputError) as e:
        to_journeys(_table([("a", 0, None, "c", None)]), -1)
    assert e.value.field == "journey_days" and "--" not in e.value.render()


def _twin(contacts: dict[str, tuple[float, float, str | None, str | None]], window: float) -> dict[str, str]:
    """Readable reference: union-find over customer chains and explicit links."""
    parent = {c: c for c in contacts}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    by_customer: dict[str, list[str]] = {}
    for c, (first, last, cust, prev) in contacts.items():
        if cust is not None:
            by_customer.setdefault(cust, []).append(c)
        if prev is not None and prev in contacts:
            union(c, prev)
    for cust, cs in by_customer.items():
        cs.sort(key=lambda c: (contacts[c][0], c))
        for p, q in zip(cs, cs[1:]):
            if contacts[q][0] - contacts[p][1] <= window * DAY:
                union(p, q)
    members: dict[str, list[str]] = {}
    for c in contacts:
        members.setdefault(find(c), []).append(c)
    out = {}
    for ms in members.values():
        head = min(ms, key=lambda c: (contacts[c][0], c))
        for c in ms:
            out[c] = "journey:" + head
    return out


event = st.tuples(st.integers(0, 14), st.integers(0, 40 * 24), st.integers(0, 48),
                  st.one_of(st.none(), st.sampled_from(["c1", "c2", "c3"])),
                  st.one_of(st.none(), st.integers(0, 14)))


@settings(max_examples=150, deadline=None)
@given(st.lists(event, min_size=0, max_size=40), st.sampled_from([0.0, 1.0, 7.0]))
def test_matches_twin(events, window):
    rows = []
    for case, hour, dur, cust, prev in events:
        rows.append((f"k{case}", hour / 24, (hour + dur) / 24, cust, None if prev is None else f"k{prev}"))
    t = _table(rows) if rows else _table([])
    out = to_journeys(t, window)
    if not rows:
        assert out.num_rows == 0
        return
    # contact facts: first start, last start-or-end, customer (a contact with several customer values
    # takes the one of its last row that has one), explicit links
    facts: dict[str, list] = {}
    links: dict[str, set] = {}
    for case, start, end, cust, prev in rows:
        f = facts.setdefault(case, [start * DAY, start * DAY])
        f[0] = min(f[0], start * DAY)
        f[1] = max(f[1], start * DAY, end * DAY)
        if prev is not None:
            links.setdefault(case, set()).add(prev)
    contacts = {c: (f[0], f[1], _module_customer(t, c), None) for c, f in facts.items()}
    want = _apply_links(_twin(contacts, window), contacts, links)
    got = _groups(out)
    assert _partition(got) == _partition(want)
    assert got == want


def _module_customer(t: pa.Table, c: str):
    vals = [cu for cs, cu in zip(t.column("case_id").to_pylist(), t.column("customer_id").to_pylist())
            if cs == c and cu is not None]
    return vals[-1] if vals else None


def _apply_links(groups, facts, links):
    contacts = {c: (f[0], f[1], f[2], None) for c, f in facts.items()}
    parent = {c: c for c in contacts}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x
    for c in contacts:
        parent[find(c)] = find(groups[c].removeprefix("journey:"))
    for c, ps in links.items():
        for p in ps:
            if p in contacts:
                ra, rb = find(c), find(p)
                if ra != rb:
                    parent[rb] = ra
    members: dict[str, list[str]] = {}
    for c in contacts:
        members.setdefault(find(c), []).append(c)
    out = {}
    for ms in members.values():
        head = min(ms, key=lambda c: (contacts[c][0], c))
        for c in ms:
            out[c] = "journey:" + head
    return out


def _partition(groups):
    inv: dict[str, set] = {}
    for c, j in groups.items():
        inv.setdefault(j, set()).add(c)
    return sorted(sorted(s) for s in inv.values())
