"""People: who can be on call or escalated to, how to reach them, and their roles.

Escalation roles follow runbook 4.3: a tech lead or subject-matter expert per
domain (``tech-lead:backend``, ``sme:database``), the engineering manager, the
VP of engineering and the executives (``cto``, ``ceo``). The escalation engine
asks ``escalation_contacts(session, "domain-lead", domain="database")`` and
gets the people to page, in the order it should try them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.strategy_options import _AbstractLoad

from mgops.errors import Conflict, InputError, NotFound, PolicyError
from mgops.oncall.models import ContactMethod, Person, PersonRole
from mgops.policy import Policy

DOMAINS = ("backend", "platform", "database", "security")
DOMAIN_ROLES = ("tech-lead", "sme")
PLAIN_ROLES = ("engineering-manager", "vp", "cto", "ceo")
CONTACT_KINDS = ("email", "slack", "phone", "sms", "webhook", "console")

# The policy's escalation targets (``escalation_levels[].target``) → roles.
TARGET_ROLES: dict[str, tuple[str, ...]] = {
    "domain-lead": ("tech-lead", "sme"),
    "tech-lead": ("tech-lead",),
    "sme": ("sme",),
    "engineering-manager": ("engineering-manager",),
    "vp": ("vp",),
    "executive": ("cto", "ceo"),
    "cto": ("cto",),
    "ceo": ("ceo",),
}

_HANDLE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,}$")


@dataclass(frozen=True)
class PersonView:
    handle: str
    name: str
    contacts: list[dict[str, str]] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)

    def contact(self, kind: str) -> str | None:
        return next((c["address"] for c in self.contacts if c["kind"] == kind), None)


def parse_role(text: str) -> tuple[str, str]:
    """``tech-lead:backend`` → ("tech-lead", "backend"); ``vp`` → ("vp", "")."""
    role, _, domain = text.strip().lower().partition(":")
    if role in DOMAIN_ROLES:
        if domain not in DOMAINS:
            raise InputError(
                f"Role {text!r} needs a domain: {role}:" + f"|{role}:".join(DOMAINS)
            )
        return role, domain
    if role in PLAIN_ROLES and not domain:
        return role, ""
    known = [f"{r}:<domain>" for r in DOMAIN_ROLES] + list(PLAIN_ROLES)
    raise InputError(f"Unknown role {text!r}; roles are {', '.join(known)}.")


def format_role(role: str, domain: str) -> str:
    return f"{role}:{domain}" if domain else role


def check_contact(kind: str, address: str) -> tuple[str, str]:
    kind, address = kind.strip().lower(), address.strip()
    if kind not in CONTACT_KINDS:
        raise InputError(
            f"Contact kind {kind!r} is not one of {', '.join(CONTACT_KINDS)}."
        )
    if not address:
        raise InputError(f"The {kind} contact has no address.")
    if kind == "email" and "@" not in address:
        raise InputError(f"{address!r} is not an email address.")
    if kind in ("phone", "sms") and not _PHONE.match(address):
        raise InputError(f"{address!r} is not a phone number (+49 30 1234567).")
    return kind, address


def add_person(
    session: Session,
    *,
    handle: str,
    name: str,
    contacts: Sequence[tuple[str, str]] = (),
    roles: Sequence[str] = (),
    now: datetime,
    source: str = "cli",
) -> PersonView:
    """Create a person; a handle already taken is a conflict, never an update."""
    if not _HANDLE.match(handle):
        raise InputError(
            f"Handle {handle!r} must be lower-case letters, digits and dashes."
        )
    if _find(session, handle) is not None:
        raise Conflict(f"A person with handle {handle!r} exists already.")
    checked = [check_contact(kind, address) for kind, address in contacts]
    parsed = [parse_role(role) for role in roles]
    person = Person(handle=handle, name=name or handle, source=source, created_at=now)
    person.contacts = [
        ContactMethod(kind=k, address=a) for k, a in dict.fromkeys(checked)
    ]
    person.roles = [PersonRole(role=r, domain=d) for r, d in dict.fromkeys(parsed)]
    session.add(person)
    session.flush()
    return _view(person)


def list_people(session: Session) -> list[PersonView]:
    query = select(Person).order_by(Person.handle).options(*_eager())
    return [_view(p) for p in session.scalars(query)]


def get_person(session: Session, handle: str) -> PersonView:
    person = _find(session, handle)
    if person is None:
        raise NotFound(f"Nobody has the handle {handle!r}; see `mgops person list`.")
    return _view(person)


def require_people(session: Session, handles: Sequence[str]) -> None:
    """Refuse handles that name nobody, so a typo never joins a rotation."""
    known = set(
        session.scalars(select(Person.handle).where(Person.handle.in_(handles)))
    )
    missing = [h for h in handles if h not in known]
    if missing:
        raise NotFound(
            f"Nobody has the handle {missing[0]!r}; add them with "
            "`mgops person add` first."
        )


def people_with_role(
    session: Session, role: str, domain: str | None = None
) -> list[PersonView]:
    """People holding ``role`` (in ``domain``, for tech leads and SMEs)."""
    query = (
        select(Person)
        .join(PersonRole)
        .where(PersonRole.role == role)
        .order_by(Person.handle)
        .options(*_eager())
    )
    if domain is not None and role in DOMAIN_ROLES:
        query = query.where(PersonRole.domain == domain)
    return [_view(p) for p in session.scalars(query).unique()]


def escalation_contacts(
    session: Session, target: str, *, domain: str | None = None
) -> list[PersonView]:
    """The people a policy escalation target names, in the order to try them."""
    if target == "secondary":
        raise InputError("The secondary comes from the schedule: ask who_is_on_call().")
    roles = TARGET_ROLES.get(target)
    if roles is None:
        raise InputError(
            f"Escalation target {target!r} is not one of "
            f"secondary, {', '.join(TARGET_ROLES)}."
        )
    found: list[PersonView] = []
    for role in roles:
        for person in people_with_role(session, role, domain):
            if person not in found:
                found.append(person)
    return found


def seed_people(session: Session, policy: Policy, *, now: datetime) -> int:
    """Create the policy's people that the store does not know yet."""
    created = 0
    for index, entry in enumerate(policy.people):
        if _find(session, entry.handle) is not None:
            continue
        _check_policy_person(index, entry.roles, entry.contacts)
        try:
            with session.begin_nested():
                add_person(
                    session,
                    handle=entry.handle,
                    name=entry.name,
                    contacts=[(c.kind, c.address) for c in entry.contacts],
                    roles=entry.roles,
                    now=now,
                    source="policy",
                )
        except IntegrityError:
            continue  # another process seeded this person first
        created += 1
    return created


def _check_policy_person(index: int, roles: list[str], contacts: list[Any]) -> None:
    """Point at the policy entry when its roles or contacts do not parse."""
    try:
        for role in roles:
            parse_role(role)
        for contact in contacts:
            check_contact(contact.kind, contact.address)
    except InputError as exc:
        raise PolicyError(f"policy people.{index}: {exc.message}") from None


def _find(session: Session, handle: str) -> Person | None:
    query = select(Person).where(Person.handle == handle).options(*_eager())
    return session.scalars(query).first()


def _eager() -> tuple[_AbstractLoad, ...]:
    return (selectinload(Person.contacts), selectinload(Person.roles))


def _view(person: Person) -> PersonView:
    return PersonView(
        handle=person.handle,
        name=person.name,
        contacts=[{"kind": c.kind, "address": c.address} for c in person.contacts],
        roles=[format_role(r.role, r.domain) for r in person.roles],
    )
