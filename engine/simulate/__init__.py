"""Contact-center interaction simulator with ground truth.

``simulate_contacts(sops, contacts, seed=..., start=..., days=..., deviation_rate=..., drifts=...)``
returns a ``Simulation``; ``write_simulation(sim, out_dir)`` writes it as a
contact center's long-form CSV export with its mapping file and the ground
truth (see ``engine.simulate.writers``). Same arguments and seed give the same
bytes.

What is simulated: arrivals with intraday and weekly seasonality
(``arrivals``); sites, teams, shifts and agents with their own deviation
propensity (``workforce``); paths that are firing sequences of each SOP's
Petri net, drawn from its playout variants (``paths``); lognormal handle times
and channel-dependent gaps (``timing``); transfers between queues and teams
with ping-pong (a leg that returns to the queue of the leg before the last);
bot containment and bot-to-agent handoffs, some losing context (the customer
identifies again after the handoff); repeat contacts by the same customer
within days, possibly on another channel; deviations per team (skipped,
inserted, swapped, unknown step) and drift at dates (``deviations``, ``drift``).

In-memory interface (for writers of other export formats, e.g. vendor contact
records). ``Simulation`` holds pyarrow tables; string columns are dictionary
encoded, times are ``timestamp[ns, UTC]``:

``events``: one row per event, grouped by contact, in time order:
    contact_id, activity, start, end, agent (agent id, "IVR", "Portal",
    "bot-v1"/"bot-v2", or a member of the owning team's pool such as
    "Logistics-03"; null for queue waits), owner (SOP lane), team, site,
    shift, channel, queue, customer (raw identifier), intent (SOP name),
    outcome, leg (int8: 0 for the first agent leg, +1 after each transfer).
``contacts``: one row per contact, in arrival order: contact_id, customer,
    arrival, sop, variant, channel, queue, site, shift, team, agent (first
    leg), repeat_of (contact_id of the earlier contact this one repeats, or
    null), legs, ping_pong, bot_version, bot_handoff, context_loss, outcome,
    deviations (count), fits_sop.
``transfers``: one row per transfer leg: contact_id, at, from_leg, to_leg,
    from_queue, to_queue, from_team, to_team, from_agent, to_agent, ping_pong.
``deviations``: the ground truth, one row per injected change: contact_id,
    step, kind (skipped | inserted | swapped | unknown), other_step, cause
    (team | context_loss | ping_pong | drift), drift_id, allowed_by_sop, sop, team, site,
    shift, agent.
``drifts``: one dict per drift point (id, date, scope, change, ...,
    contacts_affected, deviations_injected); ``parameters``: the arguments.

With ``frictions=Frictions(...)`` (``engine.simulate.frictions``) the sizes of
context loss and ping-pong are set directly and a back-office delay is added;
the contacts table then also has ``back_office_delay`` and
``back_office_delay_s``.
"""

from engine.simulate.contacts import Simulation, simulate_contacts
from engine.simulate.drift import Drift, load_drifts, parse_drift_spec
from engine.simulate.writers import write_simulation

__all__ = ["Simulation", "simulate_contacts", "write_simulation", "Drift", "load_drifts", "parse_drift_spec"]
