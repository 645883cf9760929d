"""Settings and the installation pseudonym key."""

from __future__ import annotations

import stat

from engine.settings import Settings, resolve_pseudonym_key


def test_installation_key_is_created_once_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("CXMINE_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("CXMINE_CONFIG_DIR", str(tmp_path / "cfg"))
    first = resolve_pseudonym_key(Settings.from_env())
    second = resolve_pseudonym_key(Settings.from_env())
    assert first.source == second.source == "installation"
    assert first.key == second.key and first.key_id == second.key_id
    key_file = tmp_path / "cfg" / "pseudonym.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.key.decode() not in first.key_id and first.key_id.startswith("key-")


def test_environment_key_wins_and_ids_differ(tmp_path, monkeypatch):
    monkeypatch.setenv("CXMINE_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("CXMINE_PSEUDONYM_KEY", "secret")
    env = resolve_pseudonym_key(Settings.from_env())
    assert env.source == "environment" and env.key == b"secret"
    assert not (tmp_path / "cfg" / "pseudonym.key").exists()
    monkeypatch.delenv("CXMINE_PSEUDONYM_KEY")
    assert resolve_pseudonym_key(Settings.from_env()).key_id != env.key_id


def test_unwritable_config_falls_back_to_a_run_key(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.delenv("CXMINE_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("CXMINE_CONFIG_DIR", str(blocker / "cfg"))
    assert resolve_pseudonym_key(Settings.from_env()).source == "run"
