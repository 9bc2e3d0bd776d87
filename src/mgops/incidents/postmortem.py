"""The post-mortem draft written at REVIEW from the incident's own record.

The draft is Markdown: summary, impact, the timeline as recorded, SLA outcomes,
root cause and resolution, status updates, checklist exceptions (forced moves)
and action items. What the record does not know is left as a visible TODO for
the review meeting to fill in, never invented.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mgops.errors import Conflict
from mgops.incidents.comms import human_duration
from mgops.incidents.views import IncidentView
from mgops.policy.schema import Policy

_SKIP_KINDS = {"checklist-ticked", "checklist-unticked"}


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def postmortem_markdown(view: IncidentView, policy: Policy) -> str:
    if view.phase != "REVIEW":
        raise Conflict(
            f"Incident {view.id} is in {view.phase}; the post-mortem draft is "
            "written at REVIEW, once the incident is resolved."
        )
    names = {s.name: s.display_name for s in policy.services}
    services = ", ".join(names.get(s, s) for s in view.services) or "—"
    duration = (
        human_duration(view.resolved_at - view.started_at) if view.resolved_at else "—"
    )
    lines = [
        f"# Post-mortem: {view.title}",
        "",
        f"*Incident {view.id} · {view.severity} "
        f"({policy.severity(view.severity).label}) · draft written from the "
        "incident record; edit before the review.*",
        "",
        "## Summary",
        "",
        "| | |",
        "|---|---|",
        f"| Severity | {view.severity} |",
        f"| Services | {_cell(services)} |",
        f"| Started | {_when(view.started_at)} |",
        f"| Declared | {_when(view.declared_at)} by {_cell(view.declared_by)} |",
        f"| Resolved | {_when(view.resolved_at)} |",
        f"| Duration | {duration} |",
        f"| Owner | {_cell(view.owner or '—')} |",
        f"| Channel | #{view.channel} |",
        "",
        "## Impact",
        "",
        view.impact or "TODO: describe the customer impact.",
        "",
        f"- Customer-facing: {'yes' if view.customer_facing else 'no'}",
        "- Users affected: "
        + (
            f"{view.users_affected_pct:g}%"
            if view.users_affected_pct is not None
            else "unknown"
        ),
        "",
        "## Response against targets",
        "",
    ]
    for clock in view.clocks:
        if clock.name != "next-update":
            lines.append(f"- {clock.text} (due {_when(clock.due_at)})")
    lines += [
        "",
        "## Timeline",
        "",
        "| time (UTC) | who | what |",
        "|---|---|---|",
    ]
    for entry in view.timeline:
        if entry.kind in _SKIP_KINDS:
            continue
        lines.append(
            f"| {entry.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} | {_cell(entry.actor)} "
            f"| {_cell(entry.message)} |"
        )
    lines += [
        "",
        "## Root cause",
        "",
        view.root_cause or "TODO: root cause not recorded on the incident.",
        "",
        "## Resolution",
        "",
        view.resolution or "TODO: resolution not recorded on the incident.",
        "",
    ]
    if view.updates:
        lines += ["## Status updates", ""]
        for update in view.updates:
            lines.append(
                f"- {_when(update.posted_at)} **{update.state}** — "
                f"{update.what_we_know} / {update.what_we_are_doing}"
            )
        lines.append("")
    forced = [
        e
        for e in view.timeline
        if e.kind in ("phase-forced", "closed") and e.data.get("forced")
    ]
    if forced:
        lines += ["## Checklist exceptions", ""]
        lines += [f"- {_when(e.at)}: {e.message}" for e in forced]
        lines.append("")
    items = [e for e in view.timeline if e.kind == "action-item"]
    lines += ["## Action items", ""]
    if items:
        lines += [
            f"- [ ] {e.data.get('text', e.message)} (raised by {e.actor})"
            for e in items
        ]
    else:
        lines.append(
            "- [ ] TODO: add action items (`mgops incident note N --action-item`)"
        )
    lines += ["", "## Review checklist", ""]
    lines += [f"- [{'x' if i.ticked else ' '}] {i.text}" for i in view.checklist.items]
    return "\n".join(lines) + "\n"
