"""One frozen settings object, read from the environment once.

``CXMINE_PSEUDONYM_KEY``: key of the keyed hash that pseudonymises customer
identifiers. Without it, cxmine uses an installation key: created once, on
first use, in the user's configuration folder (``CXMINE_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/cxmine``, else ``~/.config/cxmine``) as ``pseudonym.key``,
readable by the user only, and reused by every later run, so pseudonyms (and
so reports) are the same from run to run. Outputs record which key was used
by its identifier (a keyed hash of a fixed text), never the key.

``CXMINE_JOURNEY_DAYS``: default journey / repeat-contact window.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

KEY_FILE = "pseudonym.key"


@dataclass(frozen=True)
class Settings:
    pseudonym_key: str | None = None
    journey_days: float = 7.0
    config_dir: str | None = None

    @classmethod
    def from_env(cls) -> "Settings":
        days = os.environ.get("CXMINE_JOURNEY_DAYS")
        config = os.environ.get("CXMINE_CONFIG_DIR") or None
        if config is None:
            base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
            config = str(Path(base) / "cxmine")
        return cls(
            pseudonym_key=os.environ.get("CXMINE_PSEUDONYM_KEY") or None,
            journey_days=float(days) if days else 7.0,
            config_dir=config,
        )


@dataclass(frozen=True)
class PseudonymKey:
    """The key in force, where it came from, and its public identifier."""

    key: bytes
    source: str  # "environment" | "installation" | "run"
    path: str | None = None

    @property
    def key_id(self) -> str:
        return "key-" + hmac.digest(self.key, b"cxmine pseudonym key id", "sha256")[:6].hex()


def resolve_pseudonym_key(settings: Settings) -> PseudonymKey:
    """The environment's key, else the installation key (created once, mode 0600).

    When the configuration folder cannot be written, a key for this run only
    is used (source "run"); callers then warn that pseudonyms will differ
    between runs.
    """
    if settings.pseudonym_key:
        return PseudonymKey(settings.pseudonym_key.encode("utf-8"), "environment")
    if settings.config_dir:
        path = Path(settings.config_dir) / KEY_FILE
        try:
            return PseudonymKey(_read_or_create(path), "installation", str(path))
        except OSError:
            pass
    return PseudonymKey(secrets.token_bytes(32), "run")


def _read_or_create(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text.encode("ascii")
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(32)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    try:
        os.link(tmp, path)  # atomic: the first run to get here wins, later ones read its key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text(encoding="ascii").strip().encode("ascii")
