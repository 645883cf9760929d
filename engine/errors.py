"""One exception tree for everything a user can get wrong.

Every error carries a message in the pattern *what, where, how to fix* and
structured fields, so the CLI can print it without a traceback and tests can
assert on the fields. Foreign exceptions (pyarrow, lxml, pm4py) are translated
at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error cxmine raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None, hint: str | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.path is not None:
            where = f" ({self.path}" + (f", line {self.line}" if self.line is not None else "") + ")"
        elif self.line is not None:
            where = f" (line {self.line})"
        text = self.message + where
        if self.hint:
            text += f". {self.hint}" if not text.endswith(".") else f" {self.hint}"
        return text


class InputError(EngineError):
    """An input file or record is missing, unreadable or not what was expected."""


class ModelError(EngineError):
    """An SOP model (BPMN, Petri net, sidecar) cannot be loaded or used."""


class AnalysisError(EngineError):
    """An analysis cannot run on the data it was given."""


class UsageError(EngineError):
    """The command was called with arguments that do not fit together."""

    exit_code = 2
