"""CSV and TSV sources (gzip-compressed too): the file's records as text columns, with their lines.

pyarrow parses the file with every column as text; line numbers come from the
record boundaries found with numpy (line breaks outside quotes), so a refused
record is reported with the line it starts on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from engine.errors import InputError
from engine.ingest import Reject
from engine.ingest.source import (RawSource, Records, bad_utf8_spans, drop_rows, first_char, newlines, quoted_newlines,
                                  read_bytes, record_text, split_records, transcode, utf8_rejects)


def _header_names(header: str, delimiter: str, path: Path) -> list[str]:
    import csv
    row = next(csv.reader([header], delimiter=delimiter), [])
    names = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(row):
        name = raw.strip()
        if not name:
            name = f"column_{i + 1}"
        if name in seen:
            raise InputError(f"Column name '{name}' appears twice in the header of {path} (columns {seen[name] + 1} "
                             f"and {i + 1})", path=None, field=name,
                             hint="Rename one of them so every column name is unique")
        seen[name] = i
        names.append(name)
    return names


def _sniff_delimiter(header: str, path: Path, mapping: dict | None) -> str:
    if mapping and mapping.get("delimiter"):
        return mapping["delimiter"]
    name = path.name.lower()
    if name.endswith(".tsv") or name.endswith(".tsv.gz") or name.endswith(".tab"):
        return "\t"
    for d in (",", "\t", ";", "|"):
        if d in header:
            return d
    return ","


def read_csv_source(path: Path, mapping: dict | None) -> RawSource:
    data = read_bytes(path, "CSV")
    data = transcode(data, (mapping or {}).get("encoding", "utf-8"), path)
    if first_char(data) in (b"{", b"["):
        raise InputError(f"Input file {path} is JSON, not CSV", hint='Read it with format "jsonl"')
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = newlines(buf)
    inside = quoted_newlines(buf, nl)
    has_quoted_newlines = inside is not None and bool(inside.any())
    recs = split_records(buf, nl, inside if has_quoted_newlines else None)
    spans = bad_utf8_spans(data)
    bad_utf8: set[int] = set()
    rejects: list[Reject] = []
    if spans:
        data, bad_utf8, rejects = utf8_rejects(data, spans, recs, path)
        if 0 in bad_utf8:
            raise InputError(f"The header of {path} holds bytes that are not UTF-8", path=None, field=None,
                             hint="Save the file as UTF-8, or set its encoding in the mapping file "
                                  "(encoding = \"cp1252\")")
        buf = np.frombuffer(data, dtype=np.uint8)
    header = data[int(recs.starts[0]):int(recs.ends[0])].decode("utf-8", errors="replace").rstrip("\r\n")
    delimiter = _sniff_delimiter(header, path, mapping)
    names = _header_names(header, delimiter, path)
    invalid: list[tuple[int, int, int]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        table = pcsv.read_csv(
            pa.BufferReader(data),
            read_options=pcsv.ReadOptions(use_threads=False, column_names=names, skip_rows=1,
                                          block_size=1 << 24),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=has_quoted_newlines,
                                            invalid_row_handler=on_invalid),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                strings_can_be_null=True, null_values=[""],
                                                quoted_strings_can_be_null=True))
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise InputError(f"Cannot parse {path} as CSV: {exc}", path=None,
                         hint="Check the delimiter and quoting (a quote left open runs to the end of the file)") from exc
    n_records = len(recs.starts)
    warnings = []
    if n_records - 1 != table.num_rows + len(invalid):
        # stray quotes inside unquoted values: records are physical lines
        recs = split_records(buf, nl)
        n_records = len(recs.starts)
    if n_records - 1 != table.num_rows + len(invalid):
        warnings.append(f"{path}: line numbers could not be matched to CSV records; the rejects file gives "
                        f"record numbers (header = 1) instead")
        count = table.num_rows + len(invalid) + 1
        recs = Records(np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int64),  # no record text
                       np.arange(1, count + 1, dtype=np.int64))
    if table.num_rows + len(invalid) == 0:
        raise InputError(f"Input file {path} has a header but no records", path=None,
                         hint="Export the data again; there is nothing to ingest")
    invalid_idx = np.array([num - 1 for num, _, _ in invalid], dtype=np.int64)  # index into recs
    for num, expected, actual in invalid:
        k = num - 1
        if k in bad_utf8:
            continue
        rejects.append(Reject(str(path), int(recs.lines[k]),
                              f"{'too few' if actual < expected else 'too many'} fields: expected {expected}, "
                              f"found {actual}",
                              record_text(data, int(recs.starts[k]), int(recs.ends[k]))))
    accepted = np.ones(n_records, dtype=bool)
    accepted[0] = False
    accepted[invalid_idx] = False
    row_rec = np.flatnonzero(accepted)
    src = RawSource(path, table, recs.lines[row_rec],
                    lambda i: record_text(data, int(recs.starts[row_rec[i]]), int(recs.ends[row_rec[i]])),
                    rejects=rejects, warnings=warnings, records_read=n_records - 1)
    if bad_utf8:
        bad_rows = np.flatnonzero(np.isin(row_rec, np.fromiter(bad_utf8, dtype=np.int64)))
        src = drop_rows(src, bad_rows)
        src.warnings.append(f"{path}: {len(bad_utf8)} record(s) hold bytes that are not UTF-8 and were refused; if "
                            f"the file is in another encoding, set it in the mapping file (encoding = \"cp1252\")")
    return src
