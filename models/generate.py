"""Writes the BPMN 2.0 files of the SOP library (with lanes and diagram layout).

The procedures are described below as steps, lanes and flows; this script lays
them out (one horizontal band per lane, columns by flow depth) and writes
``models/<name>.bpmn`` with BPMN DI, so any modeler (bpmn.io, Camunda Modeler,
Signavio) opens them. Each SOP's sidecar ``models/<name>.toml`` is written by
hand. Run ``python models/generate.py`` after changing a procedure here.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent

SIZES = {"task": (110, 70), "start": (36, 36), "end": (36, 36), "xor": (50, 50), "and": (50, 50)}
TAGS = {"task": "task", "start": "startEvent", "end": "endEvent", "xor": "exclusiveGateway",
        "and": "parallelGateway"}
COL_W, LANE_PAD, ROW_H, LANE_LABEL = 150, 30, 110, 30


def _sop(name, title, pool, documentation, lanes, nodes, flows):
    """nodes: (id, kind, name, lane, documentation); flows: (source, target, name)."""
    return {"name": name, "title": title, "pool": pool, "documentation": documentation, "lanes": lanes,
            "nodes": nodes, "flows": flows}


SOPS = [
    _sop(
        "omnichannel_escalation", "Omnichannel escalation path", "Contact center",
        "Customer starts on the self-service portal, moves to the virtual agent, then to a live Tier 1 "
        "agent and, when needed, to a specialist in Finance or the Logistics back office. The handoffs "
        "bot -> agent and agent -> back office are where context gets lost (re-identification).",
        ["Digital Experience", "AI Automation", "Support Ops", "Finance", "Logistics"],
        [
            ("start", "start", "Customer needs help", "Digital Experience", ""),
            ("portal", "task", "Portal visit", "Digital Experience", "Customer opens the help portal."),
            ("search", "task", "Portal search", "Digital Experience", "Customer searches the knowledge base."),
            ("g_portal", "xor", "", "Digital Experience", ""),
            ("bot", "task", "Bot intent", "AI Automation", "Virtual agent identifies the intent."),
            ("g_auth", "xor", "", "AI Automation", ""),
            ("bot_auth", "task", "Bot authentication", "AI Automation",
             "Optional: the virtual agent authenticates the customer (one-time code). The result does not "
             "travel with the handoff, so the agent verifies again: the designed context-loss point."),
            ("g_auth_m", "xor", "", "AI Automation", ""),
            ("bot_answer", "task", "Bot answer", "AI Automation", "Virtual agent answers or collects details."),
            ("g_bot", "xor", "", "AI Automation", ""),
            ("handoff", "task", "Bot handoff", "AI Automation",
             "Handoff to a live agent; the bot transcript must travel with the contact (context-loss risk)."),
            ("queue", "task", "Queue", "Support Ops", "Contact waits for a Tier 1 agent."),
            ("answer", "task", "Agent answer", "Support Ops", "Tier 1 agent takes the contact."),
            ("verify", "task", "Verify identity", "Support Ops",
             "Agent verifies the customer; repeated when the bot's verification did not travel."),
            ("g_hold", "xor", "", "Support Ops", ""),
            ("hold", "task", "Hold", "Support Ops", "Optional hold while the agent looks things up."),
            ("g_hold_m", "xor", "", "Support Ops", ""),
            ("g_tier", "xor", "", "Support Ops", ""),
            ("transfer", "task", "Transfer", "Support Ops", "Warm transfer to a specialist or back office."),
            ("g_spec", "xor", "", "Support Ops", ""),
            ("finance", "task", "Specialist answer", "Finance", "Billing specialist handles the request."),
            ("logistics", "task", "Back office review", "Logistics", "Logistics back office checks shipments."),
            ("g_spec_m", "xor", "", "Support Ops", ""),
            ("g_res_m", "xor", "", "Support Ops", ""),
            ("resolve", "task", "Resolve", "Support Ops", "Agent confirms the resolution with the customer."),
            ("wrap", "task", "Wrap-up", "Support Ops", "After-contact work: disposition code and notes."),
            ("g_end", "xor", "", "Support Ops", ""),
            ("end", "end", "Contact closed", "Support Ops", ""),
        ],
        [
            ("start", "portal", ""), ("portal", "search", ""), ("search", "g_portal", ""),
            ("g_portal", "g_end", "answer found"), ("g_portal", "bot", "needs help"),
            ("bot", "g_auth", ""), ("g_auth", "bot_auth", "account question"), ("g_auth", "g_auth_m", "general"),
            ("bot_auth", "g_auth_m", ""), ("g_auth_m", "bot_answer", ""), ("bot_answer", "g_bot", ""),
            ("g_bot", "g_end", "solved by bot"), ("g_bot", "handoff", "needs an agent"),
            ("handoff", "queue", ""), ("queue", "answer", ""), ("answer", "verify", ""),
            ("verify", "g_hold", ""), ("g_hold", "hold", "needs lookup"), ("g_hold", "g_hold_m", "no hold"),
            ("hold", "g_hold_m", ""), ("g_hold_m", "g_tier", ""),
            ("g_tier", "g_res_m", "Tier 1 resolves"), ("g_tier", "transfer", "needs specialist"),
            ("transfer", "g_spec", ""), ("g_spec", "finance", "billing"), ("g_spec", "logistics", "delivery"),
            ("finance", "g_spec_m", ""), ("logistics", "g_spec_m", ""), ("g_spec_m", "g_res_m", ""),
            ("g_res_m", "resolve", ""), ("resolve", "wrap", ""), ("wrap", "g_end", ""), ("g_end", "end", ""),
        ],
    ),
    _sop(
        "billing_dispute", "Billing dispute", "Contact center",
        "Customer disputes a charge. Tier 1 verifies identity (retry allowed), reviews the invoice and "
        "either explains the charge or escalates to Finance; while Finance reviews, the agent schedules a "
        "callback. Finance issues a credit when the dispute is upheld; the customer is always notified.",
        ["Digital Experience", "Support Ops", "Finance"],
        [
            ("start", "start", "Dispute raised", "Digital Experience", ""),
            ("ivr", "task", "IVR menu", "Digital Experience", "Caller selects 'billing'."),
            ("queue", "task", "Queue", "Support Ops", "Waits for a billing-skilled agent."),
            ("answer", "task", "Agent answer", "Support Ops", "Tier 1 agent takes the contact and reads the bot transcript."),
            ("g_v_m", "xor", "", "Support Ops", ""),
            ("verify", "task", "Verify identity", "Support Ops", "Mandatory before discussing the account."),
            ("g_v", "xor", "", "Support Ops", ""),
            ("review", "task", "Review invoice", "Support Ops", "Agent walks through the disputed charge."),
            ("g_disp", "xor", "", "Support Ops", ""),
            ("escalate", "task", "Escalate", "Support Ops", "Dispute ticket to Finance."),
            ("g_par", "and", "", "Support Ops", ""),
            ("callback", "task", "Callback scheduled", "Support Ops", "Customer gets a callback slot."),
            ("bo", "task", "Back office review", "Finance", "Finance investigates the charge."),
            ("g_par_j", "and", "", "Finance", ""),
            ("g_credit", "xor", "", "Finance", ""),
            ("credit", "task", "Issue credit", "Finance", "Dispute upheld: credit note issued."),
            ("g_credit_m", "xor", "", "Finance", ""),
            ("notify", "task", "Notify customer", "Finance", "Outcome sent to the customer."),
            ("g_res_m", "xor", "", "Support Ops", ""),
            ("resolve", "task", "Resolve", "Support Ops", "Agent confirms the outcome with the customer."),
            ("wrap", "task", "Wrap-up", "Support Ops", "Disposition 'billing dispute'."),
            ("end", "end", "Dispute closed", "Support Ops", ""),
        ],
        [
            ("start", "ivr", ""), ("ivr", "queue", ""), ("queue", "answer", ""), ("answer", "g_v_m", ""),
            ("g_v_m", "verify", ""), ("verify", "g_v", ""), ("g_v", "g_v_m", "retry"),
            ("g_v", "review", "verified"), ("review", "g_disp", ""),
            ("g_disp", "g_res_m", "charge explained"), ("g_disp", "escalate", "disputed"),
            ("escalate", "g_par", ""), ("g_par", "callback", ""), ("g_par", "bo", ""),
            ("callback", "g_par_j", ""), ("bo", "g_par_j", ""), ("g_par_j", "g_credit", ""),
            ("g_credit", "credit", "upheld"), ("g_credit", "g_credit_m", "rejected"),
            ("credit", "g_credit_m", ""), ("g_credit_m", "notify", ""), ("notify", "g_res_m", ""),
            ("g_res_m", "resolve", ""), ("resolve", "wrap", ""), ("wrap", "end", ""),
        ],
    ),
    _sop(
        "lost_card", "Lost or stolen card", "Contact center",
        "Customer reports a lost or stolen card. Identity verification and blocking the card are "
        "compliance-critical. Verification may be retried; after failed verification the contact is "
        "escalated to Fraud Operations, who block the card. A replacement is ordered while recent "
        "transactions are reviewed; suspicious ones open a fraud case.",
        ["Digital Experience", "Support Ops", "Fraud Operations", "Logistics"],
        [
            ("start", "start", "Card reported lost", "Digital Experience", ""),
            ("ivr", "task", "IVR menu", "Digital Experience", "Caller selects 'lost or stolen card' (priority)."),
            ("queue", "task", "Queue", "Support Ops", "Priority queue."),
            ("answer", "task", "Agent answer", "Support Ops", "Agent greets the caller and states the purpose of the call."),
            ("g_v_m", "xor", "", "Support Ops", ""),
            ("verify", "task", "Verify identity", "Support Ops",
             "Compliance-critical: verify the cardholder before any action on the account."),
            ("g_v", "xor", "", "Support Ops", ""),
            ("escalate", "task", "Escalate", "Support Ops", "Verification failed: hand to Fraud Operations."),
            ("specialist", "task", "Specialist answer", "Fraud Operations", "Fraud analyst takes over."),
            ("g_block_m", "xor", "", "Support Ops", ""),
            ("block", "task", "Block card", "Support Ops",
             "Compliance-critical: block the card immediately; no other step before it once verified."),
            ("g_par", "and", "", "Support Ops", ""),
            ("replace", "task", "Order replacement card", "Logistics", "Card production and dispatch."),
            ("txn", "task", "Review recent transactions", "Fraud Operations", "Fraud analyst reviews the last 30 days of card transactions with the customer."),
            ("g_fraud", "xor", "", "Fraud Operations", ""),
            ("case", "task", "Open fraud case", "Fraud Operations", "Only when suspicious transactions exist."),
            ("g_fraud_m", "xor", "", "Fraud Operations", ""),
            ("g_par_j", "and", "", "Support Ops", ""),
            ("resolve", "task", "Resolve", "Support Ops", "Agent confirms the card is blocked and when the replacement arrives."),
            ("wrap", "task", "Wrap-up", "Support Ops", "Disposition 'card blocked'."),
            ("end", "end", "Case closed", "Support Ops", ""),
        ],
        [
            ("start", "ivr", ""), ("ivr", "queue", ""), ("queue", "answer", ""), ("answer", "g_v_m", ""),
            ("g_v_m", "verify", ""), ("verify", "g_v", ""), ("g_v", "g_v_m", "retry"),
            ("g_v", "g_block_m", "verified"), ("g_v", "escalate", "failed"),
            ("escalate", "specialist", ""), ("specialist", "g_block_m", ""), ("g_block_m", "block", ""),
            ("block", "g_par", ""), ("g_par", "replace", ""), ("g_par", "txn", ""),
            ("txn", "g_fraud", ""), ("g_fraud", "case", "suspicious"), ("g_fraud", "g_fraud_m", "all known"),
            ("case", "g_fraud_m", ""), ("replace", "g_par_j", ""), ("g_fraud_m", "g_par_j", ""),
            ("g_par_j", "resolve", ""), ("resolve", "wrap", ""), ("wrap", "end", ""),
        ],
    ),
    _sop(
        "password_reset", "Password or account reset", "Contact center",
        "Customer cannot sign in. Self-service reset on the portal first; when the link fails or the "
        "customer prefers chat, the virtual agent helps and hands off to a live agent, who verifies "
        "identity again (context lost at the handoff) and resets the credentials. Locked accounts go to "
        "IT Security.",
        ["Digital Experience", "AI Automation", "Support Ops", "IT Security"],
        [
            ("start", "start", "Cannot sign in", "Digital Experience", ""),
            ("portal", "task", "Portal visit", "Digital Experience", "Customer opens the sign-in help page."),
            ("g_p", "xor", "", "Digital Experience", ""),
            ("link", "task", "Send reset link", "Digital Experience", "Self-service reset by e-mail or SMS."),
            ("g_link", "xor", "", "Digital Experience", ""),
            ("g_bot_m", "xor", "", "AI Automation", ""),
            ("bot", "task", "Bot intent", "AI Automation", "Virtual agent identifies the 'cannot sign in' intent."),
            ("bot_answer", "task", "Bot answer", "AI Automation", "Bot guides through the reset."),
            ("g_bot", "xor", "", "AI Automation", ""),
            ("handoff", "task", "Bot handoff", "AI Automation", "Handoff to a live agent."),
            ("queue", "task", "Queue", "Support Ops", "Contact waits for an agent."),
            ("answer", "task", "Agent answer", "Support Ops", "Agent takes over from the bot."),
            ("g_v_m", "xor", "", "Support Ops", ""),
            ("verify", "task", "Verify identity", "Support Ops", "Required before changing credentials."),
            ("g_v", "xor", "", "Support Ops", ""),
            ("reset", "task", "Reset credentials", "Support Ops", "Temporary password issued."),
            ("escalate", "task", "Escalate", "Support Ops", "Account locked: ticket to IT Security."),
            ("bo", "task", "Back office review", "IT Security", "IT Security unlocks the account."),
            ("g_r_m", "xor", "", "Support Ops", ""),
            ("resolve", "task", "Resolve", "Support Ops", "Agent confirms the customer can sign in."),
            ("wrap", "task", "Wrap-up", "Support Ops", "After-contact work: disposition 'account access'."),
            ("g_end", "xor", "", "Support Ops", ""),
            ("end", "end", "Access restored", "Support Ops", ""),
        ],
        [
            ("start", "portal", ""), ("portal", "g_p", ""), ("g_p", "link", "self-service"),
            ("g_p", "g_bot_m", "chat"), ("link", "g_link", ""), ("g_link", "g_end", "reset done"),
            ("g_link", "g_bot_m", "link failed"), ("g_bot_m", "bot", ""), ("bot", "bot_answer", ""),
            ("bot_answer", "g_bot", ""), ("g_bot", "g_end", "solved by bot"),
            ("g_bot", "handoff", "needs an agent"), ("handoff", "queue", ""), ("queue", "answer", ""),
            ("answer", "g_v_m", ""), ("g_v_m", "verify", ""), ("verify", "g_v", ""),
            ("g_v", "g_v_m", "retry"), ("g_v", "reset", "verified"), ("g_v", "escalate", "account locked"),
            ("escalate", "bo", ""), ("bo", "g_r_m", ""), ("reset", "g_r_m", ""), ("g_r_m", "resolve", ""),
            ("resolve", "wrap", ""), ("wrap", "g_end", ""), ("g_end", "end", ""),
        ],
    ),
    _sop(
        "order_delivery", "Order delivery problem", "Contact center",
        "Customer asks about a late, lost or damaged order. The virtual agent tracks the order; an agent "
        "takes over when tracking does not settle it, checks the order and escalates to the Logistics back "
        "office, which reships or (through Finance) refunds. The customer may be put on hold while the "
        "agent checks the carrier.",
        ["AI Automation", "Support Ops", "Logistics", "Finance"],
        [
            ("start", "start", "Delivery problem", "AI Automation", ""),
            ("bot", "task", "Bot intent", "AI Automation", "Virtual agent identifies the 'where is my order' intent."),
            ("track", "task", "Bot answer", "AI Automation", "Bot shows the tracking status."),
            ("g_bot", "xor", "", "AI Automation", ""),
            ("handoff", "task", "Bot handoff", "AI Automation", "Handoff to a live agent with the order number."),
            ("queue", "task", "Queue", "Support Ops", "Contact waits for an agent."),
            ("answer", "task", "Agent answer", "Support Ops", "Agent takes over from the bot."),
            ("verify", "task", "Verify identity", "Support Ops", "Required before discussing the order or address."),
            ("check", "task", "Check order status", "Support Ops", "Order and carrier status."),
            ("g_hold", "xor", "", "Support Ops", ""),
            ("hold", "task", "Hold", "Support Ops", "Optional: agent calls the carrier."),
            ("g_hold_m", "xor", "", "Support Ops", ""),
            ("g_issue", "xor", "", "Support Ops", ""),
            ("escalate", "task", "Escalate", "Support Ops", "Lost or damaged: ticket to Logistics."),
            ("bo", "task", "Back office review", "Logistics", "Logistics checks with the carrier."),
            ("g_out", "xor", "", "Logistics", ""),
            ("reship", "task", "Reship order", "Logistics", "Logistics sends a new parcel."),
            ("refund", "task", "Refund order", "Finance", "Finance refunds the order value."),
            ("g_out_m", "xor", "", "Logistics", ""),
            ("g_res_m", "xor", "", "Support Ops", ""),
            ("resolve", "task", "Resolve", "Support Ops", "Agent confirms the next step and date with the customer."),
            ("wrap", "task", "Wrap-up", "Support Ops", "After-contact work: disposition 'delivery'."),
            ("g_end", "xor", "", "Support Ops", ""),
            ("end", "end", "Contact closed", "Support Ops", ""),
        ],
        [
            ("start", "bot", ""), ("bot", "track", ""), ("track", "g_bot", ""),
            ("g_bot", "g_end", "tracking settles it"), ("g_bot", "handoff", "needs an agent"),
            ("handoff", "queue", ""), ("queue", "answer", ""), ("answer", "verify", ""), ("verify", "check", ""),
            ("check", "g_hold", ""), ("g_hold", "hold", "call carrier"), ("g_hold", "g_hold_m", "no hold"),
            ("hold", "g_hold_m", ""), ("g_hold_m", "g_issue", ""),
            ("g_issue", "g_res_m", "in transit"), ("g_issue", "escalate", "lost or damaged"),
            ("escalate", "bo", ""), ("bo", "g_out", ""), ("g_out", "reship", "reship"),
            ("g_out", "refund", "refund"), ("reship", "g_out_m", ""), ("refund", "g_out_m", ""),
            ("g_out_m", "g_res_m", ""), ("g_res_m", "resolve", ""), ("resolve", "wrap", ""),
            ("wrap", "g_end", ""), ("g_end", "end", ""),
        ],
    ),
]


def layout(sop: dict) -> tuple[dict, dict, int]:
    """Columns by longest forward path from the start; rows inside each lane band."""
    nodes = {n[0]: n for n in sop["nodes"]}
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for s, t, _ in sop["flows"]:
        succ[s].append(t)
    order, state, back = [], {}, set()

    def dfs(n: str) -> None:
        state[n] = 1
        for m in succ[n]:
            if state.get(m) == 1:
                back.add((n, m))
            elif m not in state:
                dfs(m)
        state[n] = 2
        order.append(n)

    dfs(sop["nodes"][0][0])
    col = {n: 0 for n in nodes}
    for n in reversed(order):
        for m in succ[n]:
            if (n, m) not in back:
                col[m] = max(col[m], col[n] + 1)
    rows: dict[str, int] = {}
    used: dict[tuple[str, int], int] = {}
    for n in sorted(nodes, key=lambda k: (col[k], list(nodes).index(k))):
        key = (nodes[n][3], col[n])
        rows[n] = used.get(key, 0)
        used[key] = rows[n] + 1
    lane_rows = {lane: 1 + max([r for (ln, _), r in used.items() if ln == lane] or [1]) - 1
                 for lane in sop["lanes"]}
    lane_y, y = {}, 0
    for lane in sop["lanes"]:
        lane_y[lane] = (y, lane_rows[lane] * ROW_H + LANE_PAD)
        y += lane_rows[lane] * ROW_H + LANE_PAD
    bounds = {}
    for n, (_, kind, _, lane, _) in nodes.items():
        w, h = SIZES[kind]
        cx = 60 + LANE_LABEL + col[n] * COL_W + 55
        cy = lane_y[lane][0] + LANE_PAD // 2 + rows[n] * ROW_H + ROW_H // 2
        bounds[n] = (cx - w // 2, cy - h // 2, w, h)
    width = 60 + LANE_LABEL + (max(col.values()) + 1) * COL_W + 60
    return bounds, lane_y, width


def render(sop: dict) -> str:
    bounds, lane_y, width = layout(sop)
    pid, name = f"Process_{sop['name']}", sop["title"]
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
           'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
           f'id="Definitions_{sop["name"]}" name="{escape(name)}" targetNamespace="https://cxmine.example/sop" '
           'exporter="cxmine models/generate.py" exporterVersion="1">',
           '  <bpmn:collaboration id="Collaboration_1">',
           f'    <bpmn:participant id="Participant_1" name="{escape(sop["pool"])}" processRef="{pid}" />',
           '  </bpmn:collaboration>',
           f'  <bpmn:process id="{pid}" name="{escape(name)}" isExecutable="false">',
           f'    <bpmn:documentation>{escape(sop["documentation"])}</bpmn:documentation>',
           '    <bpmn:laneSet id="LaneSet_1">']
    for i, lane in enumerate(sop["lanes"]):
        out.append(f'      <bpmn:lane id="Lane_{i}" name="{escape(lane)}">')
        out += [f'        <bpmn:flowNodeRef>{n[0]}</bpmn:flowNodeRef>' for n in sop["nodes"] if n[3] == lane]
        out.append('      </bpmn:lane>')
    out.append('    </bpmn:laneSet>')
    flows = [(f"Flow_{i}", s, t, label) for i, (s, t, label) in enumerate(sop["flows"])]
    for ident, kind, label, _, doc in sop["nodes"]:
        tag = TAGS[kind]
        out.append(f'    <bpmn:{tag} id="{ident}"' + (f' name="{escape(label)}"' if label else "") + '>')
        if doc:
            out.append(f'      <bpmn:documentation>{escape(doc)}</bpmn:documentation>')
        out += [f'      <bpmn:incoming>{f}</bpmn:incoming>' for f, s, t, _ in flows if t == ident]
        out += [f'      <bpmn:outgoing>{f}</bpmn:outgoing>' for f, s, t, _ in flows if s == ident]
        out.append(f'    </bpmn:{tag}>')
    for f, s, t, label in flows:
        out.append(f'    <bpmn:sequenceFlow id="{f}" sourceRef="{s}" targetRef="{t}"'
                   + (f' name="{escape(label)}"' if label else "") + ' />')
    out.append('  </bpmn:process>')
    total_h = sum(h for _, h in lane_y.values())
    out += ['  <bpmndi:BPMNDiagram id="Diagram_1">',
            '    <bpmndi:BPMNPlane id="Plane_1" bpmnElement="Collaboration_1">',
            '      <bpmndi:BPMNShape id="Participant_1_di" bpmnElement="Participant_1" isHorizontal="true">',
            f'        <dc:Bounds x="0" y="0" width="{width}" height="{total_h}" />',
            '      </bpmndi:BPMNShape>']
    for i, lane in enumerate(sop["lanes"]):
        y, h = lane_y[lane]
        out += [f'      <bpmndi:BPMNShape id="Lane_{i}_di" bpmnElement="Lane_{i}" isHorizontal="true">',
                f'        <dc:Bounds x="30" y="{y}" width="{width - 30}" height="{h}" />',
                '      </bpmndi:BPMNShape>']
    for ident, kind, *_ in sop["nodes"]:
        x, y, w, h = bounds[ident]
        marker = ' isMarkerVisible="true"' if kind == "xor" else ""
        out += [f'      <bpmndi:BPMNShape id="{ident}_di" bpmnElement="{ident}"{marker}>',
                f'        <dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}" />',
                '      </bpmndi:BPMNShape>']
    for f, s, t, _ in flows:
        sx, sy, sw, sh = bounds[s]
        tx, ty, tw, th = bounds[t]
        a = (sx + sw, sy + sh // 2)
        b = (tx, ty + th // 2)
        if b[0] <= a[0]:  # loop back: go over the top of the shapes
            top = min(sy, ty) - 20
            points = [(sx + sw // 2, sy), (sx + sw // 2, top), (tx + tw // 2, top), (tx + tw // 2, ty)]
        elif a[1] == b[1]:
            points = [a, b]
        else:
            mid = (a[0] + b[0]) // 2
            points = [a, (mid, a[1]), (mid, b[1]), b]
        out.append(f'      <bpmndi:BPMNEdge id="{f}_di" bpmnElement="{f}">')
        out += [f'        <di:waypoint x="{x}" y="{y}" />' for x, y in points]
        out.append('      </bpmndi:BPMNEdge>')
    out += ['    </bpmndi:BPMNPlane>', '  </bpmndi:BPMNDiagram>', '</bpmn:definitions>', '']
    return "\n".join(out)


def main() -> None:
    from engine.atomic import atomic_path

    for sop in SOPS:
        with atomic_path(HERE / f"{sop['name']}.bpmn") as tmp:
            tmp.write_text(render(sop), encoding="utf-8")
            tmp.chmod(0o644)
        print(f"wrote models/{sop['name']}.bpmn")


if __name__ == "__main__":
    main()
