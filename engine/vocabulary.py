"""The contact-center activity vocabulary every part agrees on.

Adapters and the simulator emit these canonical activity labels; KPIs,
conformance and friction recognise steps by their *role*. A log whose labels
differ can map them with an SOP sidecar's activity mapping or a mapping file.

Roles (one per label):
  portal, ivr, bot      self-service steps (Digital Experience, IVR, AI Automation)
  queue                 waiting for an agent (Queue, Callback scheduled)
  talk                  a live agent or specialist working the contact (Agent answer)
  hold                  customer on hold (the event's end_timestamp closes the hold)
  verify                the customer identifies / is verified (Verify identity)
  transfer              handoff to another queue, agent or team (Transfer)
  escalate              tier 2, supervisor or back office (Escalate)
  resolve               the issue is resolved (Resolve)
  wrapup                after-contact work (Wrap-up)
  abandon               the customer left before being served (Abandon)
  end                   the contact ends (Disconnect)
  other                 any other step
"""

from __future__ import annotations

ROLES = ("portal", "ivr", "bot", "queue", "talk", "hold", "verify", "transfer", "escalate", "resolve",
         "wrapup", "abandon", "end", "other")

DEFAULT_ROLES: dict[str, str] = {
    "Portal visit": "portal",
    "Portal search": "portal",
    "Send reset link": "portal",
    "IVR menu": "ivr",
    "IVR authentication": "verify",
    "Bot intent": "bot",
    "Bot answer": "bot",
    "Bot authentication": "verify",
    "Bot handoff": "transfer",
    "Queue": "queue",
    "Callback scheduled": "queue",
    "Agent answer": "talk",
    "Specialist answer": "talk",
    "Back office review": "talk",
    "Review invoice": "talk",
    "Check order status": "talk",
    "Verify identity": "verify",
    "Hold": "hold",
    "Transfer": "transfer",
    "Consult": "other",
    "Conference": "other",
    "Escalate": "escalate",
    "Resolve": "resolve",
    "Wrap-up": "wrapup",
    "Abandon": "abandon",
    "Disconnect": "end",
}


def role_of(activity: str, overrides: dict[str, str] | None = None) -> str:
    if overrides and activity in overrides:
        return overrides[activity]
    return DEFAULT_ROLES.get(activity, "other")
