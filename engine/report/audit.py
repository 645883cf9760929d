"""The audit trail of a report: what was read, with which parameters, by which version.

An auditor must be able to say which inputs produced a report and to produce
it again. The trail holds cxmine's version, the SHA-256 of every input file
and SOP model (sidecar included), every parameter, the record counts, and the
pseudonym key's identifier (never the key). Times of the run are kept apart
(``timing``), so that the same inputs and parameters give a byte-identical
``report.json``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


def sha256_file(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def hash_inputs(paths) -> list[dict]:
    """[{"path", "bytes", "sha256"}] for every file, and every file inside a folder (sorted)."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        files.extend(sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p])
    return [{"path": str(f), "bytes": f.stat().st_size, "sha256": sha256_file(f)} for f in files]


@dataclass(frozen=True)
class AuditTrail:
    """Everything needed to say how a report came about, in a stable order."""

    version: str
    inputs: tuple[dict, ...]
    models: tuple[dict, ...]
    parameters: Mapping[str, object]
    counts: Mapping[str, int]
    pseudonym_key_id: str | None
    timing: Mapping[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The reproducible part (no times)."""
        return {"cxmine_version": self.version, "inputs": list(self.inputs), "models": list(self.models),
                "parameters": dict(sorted(self.parameters.items())), "counts": dict(self.counts),
                "pseudonym_key_id": self.pseudonym_key_id}

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the report footer."""
        out = [("cxmine version", self.version)]
        for kind, items in (("input", self.inputs), ("SOP model", self.models)):
            out += [(kind, f"{d['path']} ({d['bytes']:,} bytes) sha256 {d['sha256']}") for d in items]
        out += [("parameters", ", ".join(f"{k}={v}" for k, v in sorted(self.parameters.items())))]
        out += [("records", ", ".join(f"{k} {v:,}" for k, v in self.counts.items()))]
        out += [("pseudonym key id", self.pseudonym_key_id or "none (no customer identifiers read)")]
        out += [(k.replace("_", " "), str(v)) for k, v in self.timing.items()]
        return out
