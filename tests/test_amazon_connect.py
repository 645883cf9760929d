"""Amazon Connect adapters: contact records and EventBridge contact events."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from engine.cli import main
from engine.errors import InputError
from engine.ingest import ReadOptions, detect_format, read_input
from engine.ingest.amazon_connect import classify_handoffs, read_contact_events, read_contact_records
from engine.ingest.vendor_events import scrub_text
from engine.ingest.pseudonym import pseudonymise_value
from engine.log.schema import sort_log

DATA = Path(__file__).parent / "data" / "amazon_connect"
DOCS = DATA / "docs"
KEY = b"test-key"
OPT = ReadOptions(pseudonym_key=KEY)


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


# --- the documentation's samples: each ingests or is refused with its reason -----------------------------

REFUSED_AS_CTR = {
    "contact-events__block00.json": "contact event",
    "contact-events__block01.jsonc.txt": "EventBridge event",
    "connect-lambda-functions__block04.json": "missing required field ContactId",
    "connect-lambda-functions__block05.json": "missing required field ContactId",
    "connect-lambda-functions__block08.json": "Lambda contact-flow event",
    "sns-payload__block02.json": "SNS message",
    "case-event-streams-sample__block00.jsonc.txt": "EventBridge event",
    "case-event-streams-sample__block01.jsonc.txt": "EventBridge event",
}
NOT_JSON = ("about-contact-states__block00.jsonc.txt", "connect-lambda-functions__block00.jsonc.txt",
            "determine-acw-time__block00.jsonc.txt", "determine-acw-time__block01.jsonc.txt",
            "sample-agent-event-stream__block00.jsonc.txt")


def test_every_documentation_sample_is_covered():
    assert {p.name for p in DOCS.iterdir()} == set(REFUSED_AS_CTR) | set(NOT_JSON)


@pytest.mark.parametrize("name", sorted(REFUSED_AS_CTR))
def test_documentation_samples_that_are_not_contact_records_are_refused_with_reason(name):
    res = read_contact_records(DOCS / name, OPT)
    assert res.records_read == res.records_rejected == 1
    assert res.table.num_rows == 0
    assert REFUSED_AS_CTR[name] in res.rejects[0].reason
    assert res.rejects[0].source == str(DOCS / name) and res.rejects[0].line >= 1


@pytest.mark.parametrize("name", NOT_JSON)
def test_documentation_samples_that_are_not_json_are_refused_by_name(name):
    # the guide annotates these with prose that is not JSON (even with comments removed)
    with pytest.raises(InputError) as err:
        read_contact_records(DOCS / name, OPT)
    assert "Not JSON" in err.value.message and err.value.path == str(DOCS / name)
    assert "line" in err.value.message


def test_streams_agent_snapshots_are_refused():
    res = read_contact_records(DATA / "streams" / "sample-snapshots.json", OPT)
    assert res.records_read == 1 and res.records_rejected == 1
    assert "Streams agent snapshot" in res.rejects[0].reason


def test_contact_event_samples_ingest():
    a = read_contact_events(DOCS / "contact-events__block00.json", OPT)
    assert (a.records_read, a.records_accepted) == (1, 1)
    cid, agent = "11111111-1111-1111-1111-111111111111", "12345678-1234-1234-1234-123456789012"
    # one CONNECTED_TO_AGENT message carries the initiation, enqueue and agent times
    assert _rows(a.table, "case_id", "activity", "timestamp", "end_timestamp", "resource") == [
        (cid, "Contact initiated", "17:17:53", None, None), (cid, "Queue", "17:29:04", "17:29:09", None),
        (cid, "Agent answer", "17:29:09", None, agent)]
    b = read_contact_events(DOCS / "contact-events__block01.jsonc.txt", OPT)
    assert (b.records_read, b.records_accepted) == (1, 1)
    assert any("leniently" in w for w in b.warnings)
    # the sample's queue and agent times fall after its disconnect: kept as given, no negative spans
    assert _rows(b.table, "activity", "timestamp", "end_timestamp", "channel", "initiation_method") == [
        ("Contact initiated", "17:17:53", None, "voice", "OUTBOUND"),
        ("Outbound call", "17:17:53", "17:17:55", "voice", "OUTBOUND"),
        ("Disconnect", "17:18:37", None, "voice", "OUTBOUND"),
        ("Queue", "17:29:04", "17:29:09", "voice", "OUTBOUND"),
        ("Agent answer", "17:29:09", None, "voice", "OUTBOUND")]
    c = read_contact_events(DOCS / "sns-payload__block02.json", OPT)
    assert c.records_rejected == 1 and "not a contact event" in c.rejects[0].reason


# --- contact records ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chain():
    return read_contact_records(DATA / "ctr_chain.jsonl", OPT)


def test_accounting_and_rejects(chain):
    assert chain.records_read == 9
    assert chain.records_accepted == 5
    reasons = {r.line: r.reason for r in chain.rejects}
    assert reasons[6].startswith("duplicate ContactId")
    assert reasons[7] == "missing required field ContactId"
    assert reasons[8].startswith("impossible times: DisconnectTimestamp before InitiationTimestamp")
    assert reasons[9] == "missing required field InitiationTimestamp"
    for r in chain.rejects:      # refused records are written without raw identifiers
        assert "+1555" not in r.record and "cus_" in r.record


def test_transfer_chain_is_one_contact_with_a_transfer(chain):
    rows = [r for r in _rows(chain.table, "case_id", "activity", "timestamp", "owner", "resource")
            if r[0] == "c-100"]
    assert rows == [
        ("c-100", "IVR menu", "09:00:00", "Self-service", None),
        ("c-100", "Queue", "09:02:00", "Cards", None),
        ("c-100", "Agent answer", "09:05:00", "Support Ops", "jdoe"),
        ("c-100", "Transfer", "09:10:00", "Support Ops", "jdoe"),
        ("c-100", "Queue", "09:10:05", "Fraud", None),
        ("c-100", "Agent answer", "09:10:30", "Fraud Team", "asmith"),
        ("c-100", "Wrap-up", "09:11:00", "Support Ops", "jdoe"),
        ("c-100", "Wrap-up", "09:20:00", "Fraud Team", "asmith"),
        ("c-100", "Disconnect", "09:20:00", None, None),
    ]


def test_abandon_callback_chat_and_dedup(chain):
    rows = _rows(chain.table, "case_id", "activity", "channel", "previous_contact_id")
    by_case = {}
    for r in rows:
        by_case.setdefault(r[0], []).append(r)
    # the kept c-200 copy is the later one (with the queue), abandoned in the queue
    assert [r[1] for r in by_case["c-200"]] == ["IVR menu", "Queue", "Abandon"]
    # the callback is its own contact, linked to the one it calls back
    assert [r[1] for r in by_case["c-300"]] == ["Outbound call", "Queue", "Agent answer", "Wrap-up", "Disconnect"]
    assert {r[3] for r in by_case["c-300"]} == {"c-200"}
    assert [r[1] for r in by_case["c-400"]][0] == "Bot intent" and by_case["c-400"][0][2] == "chat"


def test_pii_is_pseudonymised_and_unknown_fields_kept(chain):
    t = chain.table
    cust = set(t.column("customer_id").to_pylist())
    assert pseudonymise_value("+447700900123", KEY) in cust
    assert pseudonymise_value("pat.lee@example.org", KEY) in cust
    assert set(t.column("SomeNewField").to_pylist()) >= {"kept"}
    assert set(t.column("attr.intent").to_pylist()) >= {"card_lost"}
    cb = {v for v in t.column("attr.callback_number").to_pylist() if v}
    assert cb == {pseudonymise_value("+44 7700 900123", KEY)}
    note = {v for v in t.column("attr.note").to_pylist() if v}
    assert note == {"customer wrote from " + pseudonymise_value("jane.roe@example.com", KEY)}
    acct = {v for v in t.column("attr.account_number").to_pylist() if v}
    assert acct == {pseudonymise_value("AC-99812", KEY)}   # key name says account: whole value
    sys_ep = {v for v in t.column("SystemEndpoint.Address").to_pylist() if v}
    assert all(v.startswith("cus_") for v in sys_ep)
    text = json.dumps(t.to_pylist(), default=str)
    for raw in ("+447700900123", "7700 900123", "jane.roe@example.com", "pat.lee@example.org", "+15550100200"):
        assert raw not in text


def test_scrub_rule():
    k = KEY
    assert scrub_text("call me on +44 20 7946 0958 please", k) == \
        "call me on " + pseudonymise_value("+44 20 7946 0958", k) + " please"
    assert scrub_text("(020) 7946-0958", k) == pseudonymise_value("(020) 7946-0958", k)
    assert scrub_text("2024-05-06", k) == "2024-05-06"             # dates are not phone numbers
    assert scrub_text("order 12345", k) == "order 12345"
    assert scrub_text("A.B@Example.COM", k) == pseudonymise_value("a.b@example.com", k)


def test_same_records_in_every_container(tmp_path, chain):
    lines = (DATA / "ctr_chain.jsonl").read_text().splitlines()
    records = [json.loads(x) for x in lines]
    variants = {
        "array.json": json.dumps(records, indent=2).encode(),
        "firehose.json": "".join(json.dumps(r) for r in records).encode(),     # back to back, no separator
        "lines.jsonl.gz": gzip.compress("\n".join(lines).encode() + b"\n"),
    }
    want = _rows(chain.table, "case_id", "activity", "timestamp", "end_timestamp", "owner")
    for name, data in variants.items():
        p = tmp_path / name
        p.write_bytes(data)
        res = read_contact_records(p, OPT)
        assert (res.records_read, res.records_accepted) == (9, 5), name
        assert _rows(res.table, "case_id", "activity", "timestamp", "end_timestamp", "owner") == want, name
        assert detect_format(p) == "amazon-connect"


def test_malformed_line_is_rejected_others_kept(tmp_path):
    lines = (DATA / "ctr_chain.jsonl").read_text().splitlines()
    lines.insert(2, '{"ContactId": "broken", ')
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + "\n")
    res = read_contact_records(p, OPT)
    assert res.records_read == 10 and res.records_accepted == 5
    bad = [r for r in res.rejects if r.line == 3]
    assert bad and bad[0].reason.startswith("not valid JSON")


def _record(cid, init, acw, *, prev=None, method="INBOUND", agent_at=None, hold=0, acw_end=None):
    rec = {"ContactId": cid, "Channel": "VOICE", "InitiationMethod": method, "InitiationTimestamp": init,
           "DisconnectTimestamp": acw,
           "Agent": {"Username": f"agent-{cid}", "ConnectedToAgentTimestamp": agent_at or init,
                     "AfterContactWorkStartTimestamp": acw, "AfterContactWorkEndTimestamp": acw_end or acw,
                     "CustomerHoldDuration": hold},
           "CustomerEndpoint": {"Address": "+15550101010", "Type": "TELEPHONE_NUMBER"}}
    if prev:
        rec["PreviousContactId"] = prev
        rec["InitialContactId"] = prev
    return rec


@pytest.mark.parametrize("second_acw,hold,label", [
    ("2024-01-01T10:20:00Z", 0, "Transfer"),      # the first agent left first
    ("2024-01-01T10:08:00Z", 240, "Consult"),     # consulted agent left first, customer on hold meanwhile
    ("2024-01-01T10:08:00Z", 10, "Conference"),   # consulted agent left first, customer could talk to both
])
def test_consult_conference_transfer(tmp_path, second_acw, hold, label):
    a = _record("a", "2024-01-01T10:00:00Z", "2024-01-01T10:10:00Z", hold=hold)
    b = _record("b", "2024-01-01T10:05:00Z", second_acw, prev="a", method="TRANSFER",
                agent_at="2024-01-01T10:05:00Z")
    p = tmp_path / "ctr.jsonl"
    p.write_text(json.dumps(a) + "\n" + json.dumps(b) + "\n")
    res = read_contact_records(p, OPT)
    acts = [r for r in _rows(res.table, "case_id", "activity", "timestamp")]
    assert {r[0] for r in acts} == {"a"}
    assert (("a", label, "10:05:00") in acts)


def test_classify_handoffs_unknown_times_are_transfers():
    nat = np.iinfo(np.int64).min
    got = classify_handoffs(np.array([nat, 5, 9]), np.array([3, nat, 4]), np.array([0.0, 0.0, 100.0]),
                            np.array([0.0, 0.0, 50.0]))
    assert got.tolist() == [0, 0, 1]


def test_bad_step_trail_refuses_the_record(tmp_path):
    rec = _record("a", "2024-01-01T10:00:00Z", "2024-01-01T10:10:00Z")
    rec["Attributes"] = {"cxmine_steps": "Queue|notatime||Support|"}
    p = tmp_path / "ctr.jsonl"
    p.write_text(json.dumps(rec) + "\n")
    res = read_contact_records(p, OPT)
    assert res.records_rejected == 1 and "step trail" in res.rejects[0].reason


def test_step_trail_events(tmp_path):
    rec = _record("a", "2024-01-01T10:00:00Z", "2024-01-01T10:10:00Z")
    rec["Attributes"] = {"cxmine_steps": "Verify identity|1704103200000|1704103260000|Support Ops|ag%7C1;"
                                         "Block card|1704103270000||Fraud|ag2", "shift": "Early"}
    p = tmp_path / "ctr.jsonl"
    p.write_text(json.dumps(rec) + "\n")
    res = read_contact_records(p, OPT)
    assert _rows(res.table, "activity", "timestamp", "owner", "resource", "shift") == [
        ("Verify identity", "10:00:00", "Support Ops", "ag|1", "Early"), ("Block card", "10:01:10", "Fraud", "ag2", "Early")]


@settings(max_examples=25, deadline=None)
@given(st.permutations(list(range(9))))
def test_record_order_does_not_matter(tmp_path_factory, perm):
    lines = (DATA / "ctr_chain.jsonl").read_text().splitlines()
    p = tmp_path_factory.mktemp("perm") / "ctr.jsonl"
    p.write_text("\n".join(lines[i] for i in perm) + "\n")
    res = read_contact_records(p, OPT)
    ref = read_contact_records(DATA / "ctr_chain.jsonl", OPT)
    cols = ("case_id", "activity", "timestamp", "end_timestamp", "owner", "resource")
    assert res.records_accepted == 5
    # which copy of c-200 is kept never depends on order: the later LastUpdateTimestamp wins
    assert _rows(res.table, *cols) == _rows(ref.table, *cols)


def test_events_reader_dedup_and_chain(tmp_path):
    ev = [
        {"detail-type": "Amazon Connect Contact Event", "source": "aws.connect", "time": "2024-01-01T10:00:00Z",
         "detail": {"eventType": "INITIATED", "contactId": "x1", "channel": "VOICE", "initiationMethod": "INBOUND",
                    "initiationTimestamp": "2024-01-01T10:00:00.000Z"}},
        {"detail-type": "Amazon Connect Contact Event", "time": "2024-01-01T10:01:00Z",
         "detail": {"eventType": "QUEUED", "contactId": "x1", "channel": "VOICE", "initiationMethod": "INBOUND",
                    "queueInfo": {"queueArn": "arn:aws:connect:r:1:instance/i/queue/q-cards",
                                  "enqueueTimestamp": "2024-01-01T10:01:00.000Z"}}},
        {"detail-type": "Amazon Connect Contact Event", "time": "2024-01-01T10:06:00Z",
         "detail": {"eventType": "INITIATED", "contactId": "x2", "previousContactId": "x1", "initialContactId": "x1",
                    "channel": "VOICE", "initiationMethod": "TRANSFER",
                    "initiationTimestamp": "2024-01-01T10:06:00.000Z"}},
    ]
    p = tmp_path / "events.jsonl"
    p.write_text("\n".join(json.dumps(e) for e in ev + [ev[1]]) + "\n")
    res = read_contact_events(p, OPT)
    assert res.records_read == 4 and res.records_rejected == 1
    assert res.rejects[0].reason.startswith("duplicate contact event")
    assert _rows(res.table, "case_id", "activity", "timestamp", "end_timestamp", "queue") == [
        ("x1", "Contact initiated", "10:00:00", None, "q-cards"), ("x1", "Queue", "10:01:00", None, "q-cards"),
        ("x1", "Transfer", "10:06:00", None, None)]
    assert detect_format(p) == "amazon-connect-events"


def test_cli_ingest_connect(tmp_path, monkeypatch):
    monkeypatch.setenv("CXMINE_PSEUDONYM_KEY", "cli-key")
    out = tmp_path / "log.parquet"
    r = CliRunner().invoke(main, ["ingest", str(DATA / "ctr_chain.jsonl"), "--format", "amazon-connect",
                                  "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert (summary["records_read"], summary["records_accepted"], summary["records_rejected"]) == (9, 5, 4)
    assert summary["cases"] == 4
    rejects = (tmp_path / "log.rejects.csv").read_text()
    assert "duplicate ContactId" in rejects and "+1555" not in rejects


def test_cli_refuses_a_file_that_is_not_json(tmp_path):
    p = tmp_path / "calls.json"
    p.write_text("contact_id,start\n1,2024-01-01\n")
    r = CliRunner().invoke(main, ["ingest", str(p), "--format", "amazon-connect", "-o", str(tmp_path / "l.parquet")])
    assert r.exit_code == 1
    assert "Not JSON" in r.output and "Traceback" not in r.output and str(p) in r.output


def test_chunked_reading_gives_the_same_events(monkeypatch, chain):
    import engine.ingest.amazon_connect as ac
    monkeypatch.setattr(ac, "CHUNK", 1)     # one case per chunk: chains must still be whole
    res = read_contact_records(DATA / "ctr_chain.jsonl", OPT)
    cols = ("case_id", "activity", "timestamp", "end_timestamp", "owner", "resource", "transfer_type")
    assert _rows(res.table, *cols) == _rows(chain.table, *cols)
    assert [(r.line, r.reason) for r in res.rejects] == [(r.line, r.reason) for r in chain.rejects]


def test_contact_event_messages_merge_into_spans(tmp_path):
    def msg(et, cid, **times):
        d = {"eventType": et, "contactId": cid, "channel": "VOICE", "initiationMethod": "INBOUND",
             "initiationTimestamp": "2024-01-01T09:00:00.000Z"}
        if "enq" in times:
            d["queueInfo"] = {"queueArn": "arn:q/queue/billing", "enqueueTimestamp": times["enq"]}
        if "agent" in times:
            d["agentInfo"] = {"agentArn": "arn:a/agent/ana", "connectedToAgentTimestamp": times["agent"]}
        if "disc" in times:
            d["disconnectTimestamp"] = times["disc"]
        return d
    msgs = [msg("QUEUED", "a", enq="2024-01-01T09:01:00Z"),
            msg("CONNECTED_TO_AGENT", "a", agent="2024-01-01T09:03:00Z"),
            msg("DISCONNECTED", "a", enq="2024-01-01T09:01:00Z", agent="2024-01-01T09:03:00Z",
                disc="2024-01-01T09:10:00Z"),
            msg("QUEUED", "b", enq="2024-01-01T09:02:00Z"),
            msg("DISCONNECTED", "b", enq="2024-01-01T09:02:00Z", disc="2024-01-01T09:04:00Z")]
    p = tmp_path / "ev.jsonl"
    p.write_text("\n".join(json.dumps(m) for m in msgs) + "\n")
    res = read_contact_events(p, OPT)
    assert res.records_read == res.records_accepted == 5
    assert _rows(res.table, "case_id", "activity", "timestamp", "end_timestamp", "owner", "resource") == [
        ("a", "Contact initiated", "09:00:00", None, None, None),
        ("a", "Queue", "09:01:00", "09:03:00", "billing", None),
        ("a", "Agent answer", "09:03:00", "09:10:00", None, "ana"),
        ("a", "Disconnect", "09:10:00", None, None, None),
        ("b", "Contact initiated", "09:00:00", None, None, None),
        ("b", "Queue", "09:02:00", "09:04:00", "billing", None),
        ("b", "Abandon", "09:04:00", None, "billing", None)]


def test_queue_transfer_and_external_transfer(tmp_path):
    a = _record("a", "2024-01-01T10:00:00Z", "2024-01-01T10:10:00Z")
    a["Queue"] = {"Name": "Cards", "EnqueueTimestamp": "2024-01-01T10:00:00Z",
                  "DequeueTimestamp": "2024-01-01T10:02:00Z"}
    b = _record("b", "2024-01-01T10:02:00Z", "2024-01-01T10:20:00Z", prev="a", method="QUEUE_TRANSFER",
                agent_at="2024-01-01T10:05:00Z")
    b["Queue"] = {"Name": "Fraud", "EnqueueTimestamp": "2024-01-01T10:02:00Z",
                  "DequeueTimestamp": "2024-01-01T10:05:00Z"}
    b["TransferredToEndpoint"] = {"Address": "+442079460000", "Type": "TELEPHONE_NUMBER"}
    b["TransferCompletedTimestamp"] = "2024-01-01T10:19:00Z"
    p = tmp_path / "ctr.jsonl"
    p.write_text(json.dumps(a) + "\n" + json.dumps(b) + "\n")
    res = read_contact_records(p, OPT)
    rows = _rows(res.table, "case_id", "activity", "timestamp", "transfer_type", "transfer_to")
    assert ("a", "Transfer", "10:02:00", "transfer", "Fraud") in rows
    ext = [r for r in rows if r[3] == "external"]
    assert ext == [("a", "Transfer", "10:19:00", "external", pseudonymise_value("+442079460000", KEY))]
    assert {r[0] for r in rows} == {"a"}
