"""Standard operating procedures: a BPMN model plus its sidecar, as one object.

``load_sop("models/lost_card.bpmn")`` reads the BPMN file securely
(engine.model.bpmn), converts it to a Petri net with pm4py's converter, keeps
what pm4py drops (lanes as task owners, documentation) and reads the sidecar
``models/lost_card.toml``:

```toml
name = "Lost or stolen card"            # optional display name
description = "..."                      # optional
critical = ["Verify identity", "Block card"]   # compliance-critical BPMN task names
[label_map]                              # log activity label = BPMN task name
"Card blocked" = "Block card"
[cost_per_minute]                        # owner (lane) = cost of one minute of its work
"Support Ops" = 0.85
[applies_to]                             # which contacts the SOP is for (an SOP library)
intent = "lost_card"                     # a value, or a list: queue = ["Cards", "Fraud"]
```

``load_sop_library`` loads several SOPs (files, or every ``.bpmn`` of a
folder); ``applies_to`` says which contacts each one is for: a contact matches
when, for every attribute named, its value is one of those listed.

Everything in the sidecar is validated against the model: a label mapped to
a task that does not exist, a critical step that is not a task, an owner that
is not a lane, a negative cost: each is a ModelError saying where and how to fix.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ModelError

SIDECAR_KEYS = ("name", "description", "critical", "label_map", "cost_per_minute", "applies_to")


@dataclass(frozen=True)
class Task:
    """One step of the SOP."""

    id: str
    name: str
    owner: str | None
    documentation: str
    critical: bool


@dataclass(frozen=True)
class Sop:
    """A loaded SOP: Petri net with markings, steps with owners, and the sidecar's settings."""

    name: str
    path: Path
    net: object
    initial_marking: object
    final_marking: object
    tasks: tuple[Task, ...]
    owner_of: dict[str, str]
    label_map: dict[str, str]
    cost_per_minute: dict[str, float]
    critical: frozenset[str]
    warnings: tuple[str, ...]
    description: str = ""
    lanes: tuple[str, ...] = ()
    pools: tuple[str, ...] = ()
    model: object = field(default=None, repr=False, compare=False)  # the BpmnModel (steps and flows, for drawing)
    applies_to: dict[str, tuple[str, ...]] = field(default_factory=dict)  # attribute -> values (sidecar)

    def task_name(self, label: str) -> str:
        """BPMN task name for a log activity label (the label itself when it is not mapped)."""
        return self.label_map.get(label, label)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.name for t in self.tasks if t.name))

    def net_size(self) -> dict[str, int]:
        return {"places": len(self.net.places), "transitions": len(self.net.transitions),
                "arcs": len(self.net.arcs)}


def sidecar_path(bpmn_path: str | Path) -> Path:
    return Path(bpmn_path).with_suffix(".toml")


def read_sidecar(path: Path) -> dict:
    """Parse a sidecar TOML file; structure only (names are checked against the model later)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"Cannot read the SOP sidecar: {exc.strerror or exc}", path=path,
                         hint="Check the path and permissions") from exc
    except UnicodeDecodeError as exc:
        raise ModelError("SOP sidecar is not UTF-8 text", path=path, hint="Save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise ModelError(f"SOP sidecar is not valid TOML: {exc}", path=path, line=line,
                         hint="Fix the syntax; see README, section 'SOP models'") from exc
    unknown = sorted(set(data) - set(SIDECAR_KEYS))
    if unknown:
        raise ModelError(f"Unknown key(s) {', '.join(unknown)} in the SOP sidecar", path=path,
                         field=unknown[0], hint=f"Valid keys: {', '.join(SIDECAR_KEYS)}")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise ModelError(f"Sidecar key '{key}' must be a string", path=path, field=key,
                             hint=f'Write {key} = "..."')
    critical = data.get("critical", [])
    if not isinstance(critical, list) or not all(isinstance(c, str) for c in critical):
        raise ModelError("Sidecar key 'critical' must be a list of BPMN task names", path=path, field="critical",
                         hint='Write critical = ["Verify identity", "Block card"]')
    label_map = data.get("label_map", {})
    if not isinstance(label_map, dict) or not all(isinstance(v, str) for v in label_map.values()):
        raise ModelError("Sidecar table [label_map] must map log labels to BPMN task names (strings)",
                         path=path, field="label_map", hint='Write "Card blocked" = "Block card" under [label_map]')
    costs = data.get("cost_per_minute", {})
    if not isinstance(costs, dict):
        raise ModelError("Sidecar [cost_per_minute] must be a table of owner = cost", path=path,
                         field="cost_per_minute", hint='Write "Support Ops" = 0.85 under [cost_per_minute]')
    for owner, value in costs.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ModelError(f"Cost per minute of '{owner}' must be a non-negative number, got {value!r}",
                             path=path, field="cost_per_minute", hint=f'Write "{owner}" = 0.85')
    data["applies_to"] = _read_applies_to(data.get("applies_to", {}), path)
    return data


def _read_applies_to(value, path: Path) -> dict[str, tuple[str, ...]]:
    hint = 'Write applies_to = { intent = "lost_card" } or applies_to = { queue = ["Cards", "Fraud"] }'
    if not isinstance(value, dict):
        raise ModelError("Sidecar key 'applies_to' must be a table of attribute = value(s)", path=path,
                         field="applies_to", hint=hint)
    out = {}
    for name, values in value.items():
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise ModelError(f"applies_to.{name} must be a string or a non-empty list of strings, got {values!r}",
                             path=path, field="applies_to", hint=hint)
        out[str(name)] = tuple(values)
    return out


def load_sop_library(paths) -> tuple[Sop, ...]:
    """Load the SOPs of the given paths: .bpmn files, or folders whose every .bpmn file is an SOP
    (in name order). With more than one SOP, each needs ``applies_to`` in its sidecar."""
    files: list[Path] = []
    for p in (Path(x) for x in paths):
        if p.is_dir():
            found = sorted(p.glob("*.bpmn"))
            if not found:
                raise ModelError("No SOP (.bpmn file) in the folder", path=p,
                                 hint="Give a folder of BPMN models with their .toml sidecars, e.g. models/")
            files += found
        else:
            files.append(p)
    files = list(dict.fromkeys(files))
    sops = tuple(load_sop(f) for f in files)
    if len(sops) > 1:
        for sop in sops:
            if not sop.applies_to:
                raise ModelError("In an SOP library every SOP must say which contacts it applies to",
                                 path=sidecar_path(sop.path), field="applies_to",
                                 hint='Add applies_to = { intent = "..." } (or queue = [...]) to the sidecar')
    return sops


def load_sop(path: str | Path) -> Sop:
    """Load an SOP: BPMN file -> Petri net (pm4py's converter) + owners, documentation and sidecar."""
    from engine.model.bpmn import convert_to_petri, read_bpmn

    path = Path(path)
    if not path.exists():
        raise ModelError("SOP model not found", path=path,
                         hint="Give the path of a .bpmn file, e.g. models/lost_card.bpmn")
    model = read_bpmn(path)
    net, im, fm = convert_to_petri(model)
    warnings = list(model.warnings)
    side = sidecar_path(path)
    data = read_sidecar(side) if side.exists() else {}
    if not side.exists():
        warnings.append(f"no sidecar {side.name}: no label mapping, costs or critical steps")
    names = {t.name for t in model.tasks if t.name}
    owners = {t.owner for t in model.tasks if t.owner}

    def check_task(name: str, key: str) -> None:
        if name not in names:
            raise ModelError(f"Sidecar '{key}' names '{name}', which is not a task of the BPMN model", path=side,
                             field=key, hint="Use one of: " + ", ".join(sorted(names)))

    critical = frozenset(data.get("critical", []))
    for name in sorted(critical):
        check_task(name, "critical")
    label_map = dict(data.get("label_map", {}))
    for label, name in label_map.items():
        check_task(name, "label_map")
    costs = {k: float(v) for k, v in data.get("cost_per_minute", {}).items()}
    for owner in costs:
        if owner not in owners:
            raise ModelError(f"Sidecar cost_per_minute names owner '{owner}', which owns no task in the model",
                             path=side, field="cost_per_minute",
                             hint="Use a lane (or pool) name: " + ", ".join(sorted(owners)))
    if costs:
        for owner in sorted(owners - set(costs)):
            warnings.append(f"owner '{owner}' has no cost_per_minute in {side.name}: its cost counts as 0")
    owner_of: dict[str, str] = {}
    for t in model.tasks:
        if t.name and t.owner:
            if t.name in owner_of and owner_of[t.name] != t.owner:
                warnings.append(f"task name '{t.name}' appears in lanes '{owner_of[t.name]}' and '{t.owner}': "
                                f"the owner of its log events is '{owner_of[t.name]}'")
                continue
            owner_of.setdefault(t.name, t.owner)
    tasks = tuple(Task(t.id, t.name, t.owner, t.documentation, t.name in critical) for t in model.tasks)
    return Sop(name=data.get("name") or model.name, path=path, net=net, initial_marking=im, final_marking=fm,
               tasks=tasks, owner_of=owner_of, label_map=label_map, cost_per_minute=costs,
               critical=critical, warnings=tuple(warnings), description=data.get("description", ""),
               lanes=model.lanes, pools=model.pools, model=model, applies_to=dict(data.get("applies_to", {})))
