"""Communications rendered from the policy's templates (runbook 3.3).

Templates are Jinja2, rendered in a sandbox because a policy file is user input.
Each receives ``incident`` (see ``incident_context``), ``organisation`` and
``support_email``; the status update template also gets ``update``. Filters:
``hhmm`` (``14:05``) and ``datetime`` (``2026-03-02 14:05``), both in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from mgops.errors import Conflict, InputError, PolicyError
from mgops.incidents.views import CommsView
from mgops.policy.schema import Policy
from mgops.store.models import Incident, StatusUpdate

KINDS = ("declaration", "status-update", "resolved", "customer-email")


def _hhmm(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%H:%M") if value else ""


def _datetime(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else ""


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters["hhmm"] = _hhmm
    env.filters["datetime"] = _datetime
    return env


_ENV = _environment()


def human_duration(delta: timedelta) -> str:
    """``2 hours 5 minutes`` — the resolved template's duration wording."""
    minutes = max(0, round(delta.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def incident_context(incident: Incident, policy: Policy) -> dict[str, Any]:
    names = {s.name: s.display_name for s in policy.services}
    services = [names.get(s, s) for s in incident.services]
    end = incident.resolved_at
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "severity_label": policy.severity(incident.severity).label,
        "impact": incident.impact,
        "owner": incident.owner,
        "channel": incident.channel,
        "declared_at": incident.declared_at,
        "started_at": incident.started_at,
        "resolved_at": end,
        "duration": human_duration(end - incident.started_at) if end else "ongoing",
        "root_cause": incident.root_cause,
        "resolution": incident.resolution,
        "postmortem_at": incident.postmortem_at,
        "services": services,
        "services_text": ", ".join(services) or policy.organisation,
        "customer_facing": incident.customer_facing,
        "users_affected_pct": incident.users_affected_pct,
    }


def update_context(update: StatusUpdate) -> dict[str, Any]:
    return {
        "posted_at": update.posted_at,
        "state": update.state,
        "what_we_know": update.what_we_know,
        "what_we_are_doing": update.what_we_are_doing,
        "next_update_at": update.next_update_at,
    }


def render_template(source: str, context: dict[str, Any], *, name: str) -> str:
    try:
        return _ENV.from_string(source).render(**context).strip()
    except TemplateError as exc:
        raise PolicyError(f"The policy's {name} template failed: {exc}.") from None


def check_template(source: str) -> None:
    """Raise ``ValueError`` when ``source`` is not a valid template."""
    try:
        _ENV.parse(source)
    except TemplateError as exc:
        raise ValueError(f"not a valid template: {exc}") from None


def render_comms(
    incident: Incident,
    policy: Policy,
    kind: str,
    *,
    update: StatusUpdate | None = None,
) -> CommsView:
    if kind not in KINDS:
        raise InputError(f"Communication {kind!r} is not one of {', '.join(KINDS)}.")
    base = {
        "incident": incident_context(incident, policy),
        "organisation": policy.organisation,
        "support_email": policy.support_email,
    }
    templates = policy.templates
    subject = None
    if kind == "declaration":
        text = render_template(templates.declaration, base, name="declaration")
    elif kind == "status-update":
        latest = update or (incident.updates[-1] if incident.updates else None)
        if latest is None:
            raise Conflict(
                f"Incident {incident.id} has no status update yet; post one first."
            )
        text = render_template(
            templates.status_update,
            {**base, "update": update_context(latest)},
            name="status_update",
        )
    elif kind == "resolved":
        if incident.resolved_at is None:
            raise Conflict(f"Incident {incident.id} is not resolved yet.")
        text = render_template(templates.resolved, base, name="resolved")
    else:
        subject = render_template(
            templates.customer_email_subject, base, name="customer_email_subject"
        )
        text = render_template(templates.customer_email, base, name="customer_email")
    return CommsView(
        incident_id=incident.id,
        kind=kind,
        subject=subject,
        text=text,
    )
