"""One frozen settings object, read from the environment once.

``CXMINE_PSEUDONYM_KEY``: key of the keyed hash that pseudonymises customer
identifiers. ``CXMINE_JOURNEY_DAYS``: default journey / repeat-contact window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    pseudonym_key: str | None = None
    journey_days: float = 7.0

    @classmethod
    def from_env(cls) -> "Settings":
        days = os.environ.get("CXMINE_JOURNEY_DAYS")
        return cls(
            pseudonym_key=os.environ.get("CXMINE_PSEUDONYM_KEY") or None,
            journey_days=float(days) if days else 7.0,
        )
