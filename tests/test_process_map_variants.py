"""The process map's shown DFG counted on the top variants, and owners counted block by block, against the
direct computations on the selected cases' events."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

import naive
from engine.analyses.dfg import discover_dfg
from engine.analyses.process_map import dfg_of_top_variants, owners_by_activity
from engine.analyses.variants import count_variants
from engine.log.select import select_cases

cases = st.lists(st.lists(st.tuples(st.sampled_from("abcde"), st.sampled_from(["X", "Y", None])), min_size=1,
                          max_size=6), min_size=1, max_size=40)


def encoded(raw):
    return naive.encode_cases([[{"activity": a, "timestamp": i, "owner": o} for i, (a, o) in enumerate(case)]
                               for case in raw], attributes=("owner",))


@settings(max_examples=150, deadline=None)
@given(cases, st.integers(0, 50))
def test_dfg_of_top_variants_is_the_dfg_of_their_cases(raw, k):
    log = encoded(raw)
    variants = count_variants(log)
    k = min(k, variants.n_variants)
    ours = dfg_of_top_variants(log, variants, k)
    theirs = discover_dfg(select_cases(log, variants.case_variant < k))
    for field in ("edges", "start_activities", "end_activities", "activity_counts"):
        assert list(getattr(ours, field).items()) == list(getattr(theirs, field).items()), field
    assert ours.n_cases == theirs.n_cases


@settings(max_examples=100, deadline=None)
@given(cases)
def test_owners_by_activity_is_the_most_frequent_owner(raw):
    counts: dict = {}
    for case in raw:
        for a, o in case:
            if o is not None:
                counts.setdefault(a, {}).setdefault(o, 0)
                counts[a][o] += 1
    expected = {a: min(owners, key=lambda o: (-owners[o], o)) for a, owners in counts.items()}
    assert owners_by_activity(encoded(raw)) == expected
