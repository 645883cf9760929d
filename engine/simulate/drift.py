"""Drift points: from a date on, part of the operation works differently.

A drift is given on the command line as ``DATE:key=value:...`` or in a TOML
file with one ``[[drift]]`` table per point. Keys:

- ``date`` (ISO date or date-time; in the spec string, the first field)
- scope, all optional: ``team``, ``site``, ``shift``, ``sop`` (SOP name), ``channel``
- one change:
  ``skip = STEP``: the step is left out (its first occurrence), with probability ``p``;
  ``insert = STEP`` with ``after = STEP``: the step is added after the first ``after``, with probability ``p``;
  ``context_loss = P``: a new bot version (``bot_version``, default ``v2``) hands off to agents and loses
  context with probability P (the customer is asked to identify again);
  ``handle_time = F``: handle times (of ``step``, or all steps) are multiplied by F.
- ``p``: probability per contact in scope (default 1), ``id`` (default ``D1``, ``D2``, ...).

Example: ``2026-03-01:team=B:skip=Verify identity:p=0.3``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import InputError

SCOPES = ("team", "site", "shift", "sop", "channel")
CHANGES = ("skip", "insert", "context_loss", "handle_time")
KEYS = {"id", "date", "p", "after", "step", "bot_version", *SCOPES, *CHANGES}


@dataclass(frozen=True)
class Drift:
    id: str
    date: str
    start_ns: int
    change: str
    step: str | None = None
    after: str | None = None
    value: float = 1.0           # context_loss probability or handle_time factor
    p: float = 1.0
    bot_version: str = "v2"
    scope: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict:
        out = {"id": self.id, "date": self.date, "scope": dict(sorted(self.scope.items())), "change": self.change}
        if self.step is not None:
            out["step"] = self.step
        if self.after is not None:
            out["after"] = self.after
        if self.change == "context_loss":
            out["bot_version"] = self.bot_version
            out["context_loss_probability"] = self.value
        elif self.change == "handle_time":
            out["factor"] = self.value
        else:
            out["probability"] = self.p
        return out


def _parse_date(value: str, zone: str, where: str) -> int:
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InputError(f"Drift date '{value}' is not an ISO date", path=where, field="drifts",
                         hint="Write it as 2026-03-01 or 2026-03-01T08:00") from exc
    if dt.tzinfo is None:
        try:
            dt = dt.replace(tzinfo=ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InputError(f"Unknown time zone '{zone}'", field="timezone",
                             hint="Use an IANA name such as Europe/Lisbon") from exc
    return int(dt.timestamp() * 10**9)


def _number(key: str, value, where: str, lo: float, hi: float | None) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"Drift key '{key}' must be a number, got '{value}'", path=where, field="drifts") from exc
    if x < lo or (hi is not None and x > hi):
        raise InputError(f"Drift key '{key}' = {x} is out of range", path=where, field="drifts",
                         hint=f"Use a value between {lo} and {hi}" if hi is not None else f"Use a value >= {lo}")
    return x


def make_drift(entry: dict, index: int, zone: str, where: str) -> Drift:
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise InputError(f"Unknown drift key '{unknown[0]}'", path=where, field="drifts",
                         hint=f"Valid keys: {', '.join(sorted(KEYS))}")
    if "date" not in entry:
        raise InputError("Drift point without a date", path=where, field="drifts", hint="Add date = 2026-03-01")
    changes = [c for c in CHANGES if c in entry]
    if len(changes) != 1:
        raise InputError(f"A drift point needs exactly one change, got {len(changes)}", path=where, field="drifts",
                         hint=f"Give one of: {', '.join(CHANGES)}")
    change = changes[0]
    p = _number("p", entry.get("p", 1.0), where, 0.0, 1.0)
    kw = {}
    if change in ("skip", "insert"):
        kw["step"] = str(entry[change])
        if change == "insert":
            if "after" not in entry:
                raise InputError("Drift 'insert' needs 'after' (the step it follows)", path=where, field="drifts")
            kw["after"] = str(entry["after"])
    elif change == "context_loss":
        kw["value"] = _number("context_loss", entry[change], where, 0.0, 1.0)
        kw["bot_version"] = str(entry.get("bot_version", "v2"))
    else:
        kw["value"] = _number("handle_time", entry[change], where, 0.01, None)
        if "step" in entry:
            kw["step"] = str(entry["step"])
    return Drift(id=str(entry.get("id", f"D{index + 1}")), date=str(entry["date"]),
                 start_ns=_parse_date(entry["date"], zone, where), change=change, p=p,
                 scope={k: str(entry[k]) for k in SCOPES if k in entry}, **kw)


def parse_drift_spec(spec: str, index: int, zone: str) -> Drift:
    """``2026-03-01:team=B:skip=Verify identity:p=0.3`` -> Drift."""
    parts = spec.split(":")
    entry: dict[str, str] = {}
    # the date may itself hold colons (date-time): take fields until the first key=value
    date_parts = []
    for part in parts:
        if "=" in part or entry:
            if "=" not in part:
                raise InputError(f"Drift field '{part}' is not key=value", path=f"drift '{spec}'", field="drifts",
                                 hint="Example: 2026-03-01:team=B:skip=Verify identity:p=0.3")
            key, value = part.split("=", 1)
            entry[key.strip()] = value.strip()
        else:
            date_parts.append(part)
    if date_parts:
        entry.setdefault("date", ":".join(date_parts).strip())
    return make_drift(entry, index, zone, f"drift '{spec}'")


def load_drifts(values: list[str] | tuple[str, ...], zone: str) -> list[Drift]:
    """Drift points from spec strings and/or TOML files (paths ending in .toml)."""
    drifts: list[Drift] = []
    for value in values:
        if value.endswith(".toml"):
            path = Path(value)
            if not path.exists():
                raise InputError("Drift file not found", path=value)
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise InputError(f"Drift file is not valid TOML: {exc}", path=value) from exc
            entries = data.get("drift", [])
            if not isinstance(entries, list) or not entries:
                raise InputError("Drift file has no [[drift]] tables", path=value,
                                 hint='Add [[drift]] date = "2026-03-01" team = "B" skip = "Verify identity" p = 0.3')
            for entry in entries:
                drifts.append(make_drift(entry, len(drifts), zone, value))
        else:
            drifts.append(parse_drift_spec(value, len(drifts), zone))
    ids = [d.id for d in drifts]
    if len(set(ids)) != len(ids):
        raise InputError("Two drift points have the same id", field="drifts", hint="Give each [[drift]] its own id")
    return drifts
