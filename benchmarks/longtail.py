"""A long-tailed contact-center log over an SOP, for measuring deviation location.

18 activities; contacts follow a 12-step SOP (one choice, one optional step, one
loop) and then get random skips, insertions of other steps and swaps of
neighbours, about 9.4 events per contact: 100,000 contacts give about 7,600
variants. The SOP is the Petri net pm4py's inductive miner discovers from the
clean paths.
"""

from __future__ import annotations

import numpy as np

ACTIVITIES = ("IVR menu", "Bot intent", "Bot answer", "Bot handoff", "Queue", "Agent answer", "Verify identity",
              "Check account", "Check order", "Hold", "Transfer", "Escalate", "Back office", "Refund",
              "Resolve", "Survey", "Wrap-up", "Callback")


def _clean_path(rng) -> list[int]:
    """IVR > Bot intent > (Bot answer | Bot handoff) > Queue > Agent answer > Verify > Check (account|order)
    > [Hold] > (Resolve | Escalate > Back office) > Wrap-up."""
    p = [0, 1]
    p += [2, 3] if rng.random() < 0.55 else [3]
    p += [4, 5] if rng.random() < 0.5 else [4, 5, 6]
    p += [7] if rng.random() < 0.5 else [8]
    while rng.random() < 0.15:
        p.append(9)
    p += [14] if rng.random() < 0.7 else [11, 12]
    p.append(16)
    return p


def longtail_log(contacts: int, seed: int = 7):
    """(case_offsets int64, activity_codes int32, activities, clean paths) of a long-tailed log."""
    rng = np.random.default_rng(seed)
    traces = []
    for _ in range(contacts):
        p = _clean_path(rng)
        r = rng.random()
        if r < 0.14:
            n_dev = 1 + int(rng.poisson(0.8))
            for _ in range(n_dev):
                kind = rng.integers(3)
                if kind == 0 and len(p) > 2:
                    del p[rng.integers(len(p))]
                elif kind == 1:
                    p.insert(int(rng.integers(len(p) + 1)), int(rng.integers(len(ACTIVITIES))))
                elif len(p) > 2:
                    i = int(rng.integers(len(p) - 1))
                    p[i], p[i + 1] = p[i + 1], p[i]
        traces.append(p)
    offsets = np.zeros(contacts + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(t) for t in traces])
    codes = np.fromiter((a for t in traces for a in t), dtype=np.int32, count=int(offsets[-1]))
    return offsets, codes, ACTIVITIES


def longtail_sop(seed: int = 1):
    """The SOP: pm4py's inductive miner on 2,000 clean paths. Returns (net, im, fm)."""
    import pandas as pd
    import pm4py

    rng = np.random.default_rng(seed)
    rows = [(f"c{i}", ACTIVITIES[a], j) for i in range(2000) for j, a in enumerate(_clean_path(rng))]
    df = pd.DataFrame(rows, columns=["case:concept:name", "concept:name", "j"])
    df["time:timestamp"] = pd.to_datetime(df["j"], unit="s", utc=True)
    return pm4py.discover_petri_net_inductive(df[["case:concept:name", "concept:name", "time:timestamp"]])
