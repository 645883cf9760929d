"""Genesys Cloud adapter: analytics conversation details."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from engine.errors import InputError
from engine.ingest import ReadOptions, detect_format
from engine.ingest.genesys import read_conversations
from engine.ingest.pseudonym import pseudonymise_value
from engine.log.schema import sort_log

DATA = Path(__file__).parent / "data" / "genesys"
KEY = b"test-key"
OPT = ReadOptions(pseudonym_key=KEY)
COLS = ("case_id", "activity", "timestamp", "end_timestamp", "owner", "resource", "queue", "team")


def _rows(table: pa.Table, *cols: str) -> list[tuple]:
    t = sort_log(table)
    out = []
    for i in range(t.num_rows):
        row = []
        for c in cols:
            v = t.column(c)[i].as_py()
            row.append(v.strftime("%H:%M:%S") if hasattr(v, "strftime") else v)
        out.append(tuple(row))
    return out


@pytest.fixture(scope="module")
def query():
    return read_conversations(DATA / "conversations_query.json", OPT)


def test_accounting_and_rejects(query):
    assert (query.records_read, query.records_accepted, query.records_rejected) == (4, 2, 2)
    reasons = sorted(r.reason for r in query.rejects)
    assert reasons[0].startswith("impossible times: a segment ends before it starts")
    assert reasons[1].startswith("not a conversation detail record: no conversationId")
    assert all("+1555" not in r.record for r in query.rejects)


def test_segments_become_events_with_owners(query):
    rows = [r[1:6] for r in _rows(query.table, *COLS) if r[0].endswith("0001")]
    assert rows == [
        ("IVR menu", "09:00:00", "09:02:00", "Self-service", None),
        ("Queue", "09:02:00", "09:05:00", "Cards", None),
        ("Alert", "09:04:50", "09:05:00", "Support Ops", "Jo Doe"),
        ("Agent answer", "09:05:00", "09:08:00", "Support Ops", "Jo Doe"),
        ("Hold", "09:08:00", "09:08:30", "Support Ops", "Jo Doe"),
        ("Agent answer", "09:08:30", "09:10:00", "Support Ops", "Jo Doe"),
        ("Transfer", "09:10:00", None, "Support Ops", "Jo Doe"),
        ("Queue", "09:10:00", "09:10:30", "Fraud", None),
        ("Wrap-up", "09:10:00", "09:11:00", "Support Ops", "Jo Doe"),
        # no team attribute on the second agent: the queue answered for stands in
        ("Agent answer", "09:10:30", "09:20:00", "Fraud", "Al Smith"),
        ("Wrap-up", "09:20:00", "09:21:00", "Fraud", "Al Smith"),
    ]


def test_bot_chat_abandoned(query):
    rows = [r[1:5] for r in _rows(query.table, *COLS) if r[0].endswith("0002")]
    assert rows == [("Bot intent", "10:00:00", "10:01:00", "Self-service"),
                    ("Queue", "10:01:00", "10:04:00", "Chat Billing"),
                    ("Abandon", "10:04:00", None, "Chat Billing")]
    assert set(query.table.column("channel").to_pylist()) == {"voice", "chat"}


def test_customers_and_attributes_pseudonymised(query):
    t = query.table
    assert set(t.column("customer_id").to_pylist()) == {pseudonymise_value("+353871234567", KEY),
                                                        pseudonymise_value("lee.pat@example.org", KEY)}
    mails = {v for v in t.column("attr.contact_email").to_pylist() if v}
    assert mails == {pseudonymise_value("sam.doe@example.net", KEY)}
    assert {v for v in t.column("attr.intent").to_pylist() if v} == {"card_lost"}
    assert set(t.column("wrap_up_code").to_pylist()) >= {"Transferred", "Card blocked"}
    text = json.dumps(t.to_pylist(), default=str)
    assert "353871234567" not in text and "example.org" not in text and "example.net" not in text


def _epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_older_field_set_and_containers(tmp_path, query):
    doc = json.loads((DATA / "conversations_query.json").read_text())
    # older exports: epoch-millisecond segment times
    old = copy.deepcopy(doc)
    for conv in old["conversations"]:
        for part in conv.get("participants", []):
            for sess in part.get("sessions", []):
                for seg in sess.get("segments", []):
                    for k in ("segmentStart", "segmentEnd"):
                        if k in seg:
                            seg[k] = _epoch_ms(seg[k])
    want = _rows(query.table, *COLS)
    variants = {
        "old.json": json.dumps(old).encode(),
        "pages.jsonl": (json.dumps({"conversations": doc["conversations"][:2], "cursor": "abc"}) + "\n" +
                        json.dumps({"conversations": doc["conversations"][2:]}) + "\n").encode(),
        "array.json.gz": gzip.compress(json.dumps(doc["conversations"]).encode()),
        "lines.jsonl": "\n".join(json.dumps(c) for c in doc["conversations"]).encode(),
    }
    for name, data in variants.items():
        p = tmp_path / name
        p.write_bytes(data)
        res = read_conversations(p, OPT)
        assert (res.records_read, res.records_accepted) == (4, 2), name
        assert _rows(res.table, *COLS) == want, name
        assert detect_format(p) == "genesys", name


def test_duplicate_conversation_keeps_latest(tmp_path):
    doc = json.loads((DATA / "conversations_query.json").read_text())
    first = doc["conversations"][1]
    later = copy.deepcopy(first)
    later["conversationEnd"] = "2024-05-06T10:05:00.000Z"
    later["participants"][2]["participantName"] = "Chat Billing 2"
    p = tmp_path / "dup.jsonl"
    p.write_text(json.dumps(later) + "\n" + json.dumps(first) + "\n")
    res = read_conversations(p, OPT)
    assert res.records_read == 2 and res.records_rejected == 1
    assert res.rejects[0].line == 2 and res.rejects[0].reason.startswith("duplicate conversationId")
    assert "Chat Billing 2" in res.table.column("queue").to_pylist()


def test_not_json_is_refused(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("conversationId;start\n")
    with pytest.raises(InputError) as err:
        read_conversations(p, OPT)
    assert "Not JSON" in err.value.message


def test_conversation_without_segments(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"conversations": [{"conversationId": "z", "participants": [
        {"purpose": "customer", "sessions": [{"mediaType": "voice", "segments": []}]}]}]}))
    res = read_conversations(p, OPT)
    assert res.records_rejected == 1 and "without segments" in res.rejects[0].reason


def test_chunked_reading_gives_the_same_events(monkeypatch, query):
    import engine.ingest.genesys as ge
    monkeypatch.setattr(ge, "CHUNK", 1)
    res = read_conversations(DATA / "conversations_query.json", OPT)
    assert _rows(res.table, *COLS) == _rows(query.table, *COLS)
    assert sorted((r.line, r.reason) for r in res.rejects) == sorted((r.line, r.reason) for r in query.rejects)
