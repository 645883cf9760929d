"""The journey case notion: all contacts of one customer chained within a window.

``to_journeys(table, window_days)`` turns a contact log (one case per
contact) into a journey log (one case per journey):

- Contacts of the same ``customer_id`` are taken in order of their first
  event; a contact joins the journey of the customer's previous contact when
  it starts at most ``window_days`` after the end of that previous contact
  (its last event's start or end time, whichever is later). A longer gap starts a new journey. This is
  the same window as the repeat-contact rate: a contact followed by another
  within the window is a repeat contact.
- Contacts the platform links explicitly (``previous_contact_id`` or
  ``initial_contact_id`` naming another contact of the log: a callback, a
  disconnect-flow contact) are in the same journey whatever the customer
  field says, and whatever the gap.
- A contact without customer and without links is a journey of its own.

The journey's case id is ``journey:`` followed by the id of its first contact.
Each event keeps its contact's id in ``contact_id`` (so the OCEL export has
both contact and customer objects) and gets ``journey_contact`` (1 for the
first contact of the journey, 2 for the next, ...).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import InputError

LINK_COLUMNS = ("previous_contact_id", "initial_contact_id")
NS_PER_DAY = 86_400 * 10**9


def _strings(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return col.cast(pa.string()) if not pa.types.is_string(col.type) else col


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of n nodes and edges (a, b): label = smallest node of the component."""
    label = np.arange(n, dtype=np.int64)
    if len(a) == 0:
        return label
    while True:
        m = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        new = new[new]          # pointer jumping
        if np.array_equal(new, label):
            return label
        label = new


def to_journeys(table: pa.Table, window_days: float = 7.0) -> pa.Table:
    """Regroup a contact log into journeys (see module docstring); returns an unsorted table."""
    if window_days is None or not np.isfinite(window_days) or window_days < 0:
        raise InputError(f"Journey window must be a non-negative number of days, got {window_days}",
                         field="journey_days", hint="Give journey_days \"7\"")
    n_rows = table.num_rows
    case = _strings(table.column("case_id"))
    if n_rows == 0:
        return table.append_column("contact_id", case) if "contact_id" not in table.column_names else table
    enc = pc.dictionary_encode(case)
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    contacts = enc.dictionary
    n = len(contacts)
    ts = table.column("timestamp").cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_numpy()
    last = ts.copy()
    if "end_timestamp" in table.column_names:
        end = pc.fill_null(table.column("end_timestamp").cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()),
                           np.iinfo(np.int64).min).to_numpy()
        last = np.maximum(last, end)
    first_ts = np.full(n, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first_ts, codes, ts)
    last_ts = np.full(n, np.iinfo(np.int64).min, np.int64)
    np.maximum.at(last_ts, codes, last)

    edges_a, edges_b = [], []
    # customer chains
    if "customer_id" in table.column_names:
        cust = _strings(table.column("customer_id"))
        cust_enc = pc.dictionary_encode(cust)
        cidx = pc.fill_null(cust_enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        contact_cust = np.full(n, -1, np.int64)
        have = cidx >= 0
        contact_cust[codes[have]] = cidx[have]       # a contact's customer: any of its non-empty values
        with_c = np.flatnonzero(contact_cust >= 0)
        order = with_c[np.lexsort((with_c, first_ts[with_c], contact_cust[with_c]))]
        if len(order) > 1:
            same = contact_cust[order[1:]] == contact_cust[order[:-1]]
            run = last_ts[order[:-1]]
            close = same & (first_ts[order[1:]] - run <= window_days * NS_PER_DAY)
            edges_a.append(order[:-1][close])
            edges_b.append(order[1:][close])
    # explicit platform links
    for name in LINK_COLUMNS:
        if name not in table.column_names:
            continue
        link = _strings(table.column(name))
        pos = pc.fill_null(pc.index_in(link, value_set=contacts), -1).to_numpy(zero_copy_only=False).astype(np.int64)
        sel = pos >= 0
        edges_a.append(codes[sel])
        edges_b.append(pos[sel])
    a = np.concatenate(edges_a) if edges_a else np.zeros(0, np.int64)
    b = np.concatenate(edges_b) if edges_b else np.zeros(0, np.int64)
    label = _components(n, a, b)
    # journey named after its first contact (by first event time, ties by contact id)
    name_rank = np.empty(n, np.int64)
    name_rank[pc.sort_indices(contacts).to_numpy()] = np.arange(n)
    order = np.lexsort((name_rank, first_ts))
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    first_of = np.full(n, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first_of, label, rank)
    head = order[first_of[label]]                    # contact index heading each contact's journey
    journey_name = pc.binary_join_element_wise(pa.scalar("journey:"), contacts.take(pa.array(head)), "")
    # position of each contact within its journey
    by_j = np.lexsort((rank, label))
    pos_in = np.empty(n, np.int64)
    starts = np.concatenate(([True], label[by_j][1:] != label[by_j][:-1]))
    grp_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    pos_in[by_j] = np.arange(n) - grp_start + 1
    out = table
    if "contact_id" in out.column_names:
        out = out.drop_columns(["contact_id"])
    if "journey_contact" in out.column_names:
        out = out.drop_columns(["journey_contact"])
    out = out.set_column(out.column_names.index("case_id"), "case_id", journey_name.take(pa.array(codes)))
    out = out.append_column("contact_id", case)
    out = out.append_column("journey_contact", pa.array(pos_in[codes].astype(np.int32)))
    return out

