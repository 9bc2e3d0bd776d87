"""On-call: rotations, overrides, people, hand-offs and the iCalendar feed.

What the escalation engine calls (each takes a session or a ``ScheduleState``)::

    who_is_on_call(session, "primary", at)   -> OnCall(primary, secondary,
                                                 shift_start, shift_end,
                                                 via_override, ...)
    next_handoff(session, "primary", after)  -> Handoff(at, outgoing, incoming, ...)
    escalation_contacts(session, "domain-lead", domain="database") -> [PersonView]

Importing this package loads SQLAlchemy; the CLI imports it lazily.
"""

from mgops.oncall.people import PersonView, escalation_contacts, people_with_role
from mgops.oncall.schedule import Handoff, OnCall, ScheduleState
from mgops.oncall.service import (
    ensure_seeded,
    load_state,
    next_handoff,
    schedule_timeline,
    who_is_on_call,
)

__all__ = [
    "Handoff",
    "OnCall",
    "PersonView",
    "ScheduleState",
    "ensure_seeded",
    "escalation_contacts",
    "load_state",
    "next_handoff",
    "people_with_role",
    "schedule_timeline",
    "who_is_on_call",
]
