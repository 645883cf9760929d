"""JSON Lines sources: one object per line, nested objects flattened to dotted column names (Queue.Name).

Blocks of lines are parsed by pyarrow; a block holding a bad line is halved
until the bad line is found and refused, so one broken record costs little.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pjson

from engine.errors import InputError
from engine.ingest import Reject
from engine.ingest.source import (RawSource, Records, bad_utf8_spans, first_char, flatten_structs, newlines, read_bytes,
                                  record_text, split_records, transcode, utf8_rejects)


def _untimed(t: pa.DataType) -> tuple[pa.DataType, bool]:
    """The type with every timestamp (pyarrow infers them from JSON strings) replaced by text."""
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return pa.string(), True
    if pa.types.is_struct(t):
        fields, changed = [], False
        for f in t:
            ft, c = _untimed(f.type)
            fields.append(pa.field(f.name, ft))
            changed |= c
        return pa.struct(fields), changed
    return t, False


def _json_block(data: bytes) -> pa.Table:
    read = pjson.ReadOptions(use_threads=False, block_size=1 << 24)
    table = pjson.read_json(pa.BufferReader(data), read_options=read)
    schema, changed = _untimed(pa.struct(list(table.schema)))
    if changed:
        # read again keeping times as written: the offset (or its absence) decides how they are read
        table = pjson.read_json(pa.BufferReader(data), read_options=read,
                                parse_options=pjson.ParseOptions(explicit_schema=pa.schema(list(schema))))
    return _stringify(flatten_structs(table))


def _stringify(table: pa.Table) -> pa.Table:
    cols = []
    for f in table.schema:
        col = table.column(f.name)
        if pa.types.is_string(f.type):
            cols.append(col)
        elif pa.types.is_null(f.type):
            cols.append(pa.nulls(len(col), pa.string()))
        elif pa.types.is_list(f.type) or pa.types.is_large_list(f.type) or pa.types.is_map(f.type):
            cols.append(pa.array([None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                                  for v in col.to_pylist()], pa.string()))
        elif pa.types.is_boolean(f.type):
            cols.append(pc.if_else(col, "true", "false"))
        else:
            cols.append(pc.cast(col, pa.string()))
    return pa.table(cols, names=table.column_names)


def _json_python(lines: list[bytes]) -> tuple[pa.Table, list[tuple[int, str]]]:
    """Slow path for a small block with a bad line: parse line by line; return the table and refusals."""
    rows, bad = [], []
    for i, raw in enumerate(lines):
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            bad.append((i, f"not valid JSON: {exc.msg} at character {exc.colno}"
                        if isinstance(exc, json.JSONDecodeError) else "not valid JSON"))
            continue
        if not isinstance(obj, dict):
            bad.append((i, f"a JSON {type(obj).__name__.replace('dict', 'object').replace('list', 'array')} "
                           f"where a JSON object was expected"))
            continue
        rows.append((i, obj))
    flat_rows = [(i, _flatten_obj(o)) for i, o in rows]
    names: dict[str, None] = {}
    for _, o in flat_rows:
        names.update(dict.fromkeys(o))
    cols = {n: pa.array([None if (v := o.get(n)) is None else v if isinstance(v, str)
                         else json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict, bool))
                         else str(v) for _, o in flat_rows], pa.string()) for n in names}
    table = pa.table(cols) if cols else pa.table({"__empty": pa.nulls(len(flat_rows), pa.string())})
    return table, bad


def _flatten_obj(obj: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict) and v:
            out.update(_flatten_obj(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def read_jsonl_source(path: Path, mapping: dict | None) -> RawSource:
    data = read_bytes(path, "JSON Lines")
    data = transcode(data, (mapping or {}).get("encoding", "utf-8"), path)
    first = first_char(data)
    if first == b"[":
        raise InputError(f"Input file {path} is a JSON array, not JSON Lines (one object per line)",
                         hint="Convert it with: jq -c '.[]' FILE > FILE.jsonl")
    if first != b"{":
        raise InputError(f"Input file {path} is not JSON Lines: the first line does not start with '{{'",
                         hint="Give the right format argument (csv, parquet, ...) or export one JSON object per line")
    buf = np.frombuffer(data, dtype=np.uint8)
    recs = split_records(buf, newlines(buf))
    # whitespace-only lines are blank in JSON Lines (only lines starting with white space can be)
    lead = np.flatnonzero(np.isin(buf[recs.starts], np.array([9, 13, 32], dtype=np.uint8)))
    blank = [k for k in lead if not data[recs.starts[k]:recs.ends[k]].strip()]
    if blank:
        keep = np.ones(len(recs.starts), dtype=bool)
        keep[blank] = False
        recs = Records(recs.starts[keep], recs.ends[keep], recs.lines[keep])
    spans = bad_utf8_spans(data)
    rejects: list[Reject] = []
    bad_utf8: set[int] = set()
    if spans:
        data, bad_utf8, rejects = utf8_rejects(data, spans, recs, path)
    tables: list[pa.Table] = []
    row_rec: list[np.ndarray] = []

    def parse(lo: int, hi: int) -> None:
        idx = np.arange(lo, hi, dtype=np.int64)
        if bad_utf8:
            idx = np.setdiff1d(idx, np.fromiter(bad_utf8, dtype=np.int64), assume_unique=True)
        if not len(idx):
            return
        if len(idx) != hi - lo or hi - lo <= 1024:
            chunk = b"\n".join(data[recs.starts[k]:recs.ends[k]] for k in idx)
        else:
            chunk = data[recs.starts[lo]:recs.ends[hi - 1]]
        try:
            t = _json_block(chunk)
            if t.num_rows != len(idx):
                raise pa.ArrowInvalid("record count differs")
            tables.append(t)
            row_rec.append(idx)
            return
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
        if hi - lo > 1024:
            mid = (lo + hi) // 2
            parse(lo, mid)
            parse(mid, hi)
            return
        t, bad = _json_python([data[recs.starts[k]:recs.ends[k]] for k in idx])
        bad_pos = {i for i, _ in bad}
        for i, reason in bad:
            k = int(idx[i])
            rejects.append(Reject(str(path), int(recs.lines[k]), reason,
                                  record_text(data, int(recs.starts[k]), int(recs.ends[k]))))
        good = np.array([k for i, k in enumerate(idx) if i not in bad_pos], dtype=np.int64)
        if len(good):
            tables.append(t)
            row_rec.append(good)

    parse(0, len(recs.starts))
    tables = [t.drop_columns(["__empty"]) if "__empty" in t.column_names else t for t in tables]
    if tables:
        table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
        rr = np.concatenate(row_rec)
    else:
        table, rr = pa.table({}), np.zeros(0, dtype=np.int64)
    src = RawSource(path, table, recs.lines[rr],
                    lambda i: record_text(data, int(recs.starts[rr[i]]), int(recs.ends[rr[i]])),
                    rejects=rejects, records_read=len(recs.starts))
    return src
