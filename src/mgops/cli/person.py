"""``mgops person add | list | show``: people, their contacts and escalation roles."""

from __future__ import annotations

from datetime import timedelta

import typer

from mgops.cli.context import app_context
from mgops.cli.output import JsonOption, console, emit, table

app = typer.Typer(
    help="People: contact methods and escalation roles.", no_args_is_help=True
)


@app.command("add")
def add(
    ctx: typer.Context,
    handle: str = typer.Argument(..., help="Short handle, e.g. jane-doe."),
    name: str = typer.Option(None, "--name", help="Full name (default: the handle)."),
    email: list[str] = typer.Option([], "--email", help="Email address."),
    slack: list[str] = typer.Option(
        [], "--slack", help="Slack incoming-webhook URL (pages are posted there)."
    ),
    phone: list[str] = typer.Option([], "--phone", help="Phone number, +49…"),
    sms: list[str] = typer.Option([], "--sms", help="Number for text messages."),
    role: list[str] = typer.Option(
        [],
        "--role",
        help="tech-lead:<domain>, sme:<domain> (backend, platform, database, "
        "security), engineering-manager, vp, cto, ceo. Repeatable.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Add a person who can be on call or escalated to."""
    from mgops.cli.oncall_render import plain
    from mgops.oncall.people import add_person
    from mgops.oncall.service import ensure_seeded

    context = app_context(ctx)
    context.require_local("Person commands")
    contacts = (
        [("email", a) for a in email]
        + [("slack", a) for a in slack]
        + [("phone", a) for a in phone]
        + [("sms", a) for a in sms]
    )
    with context.store.session() as session:
        ensure_seeded(session, context.policy, now=context.clock.now())
        person = add_person(
            session,
            handle=handle,
            name=name or handle,
            contacts=contacts,
            roles=role,
            now=context.clock.now(),
        )
    emit(plain(person), as_json, lambda: console.print(f"Added {person.handle}."))


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    role: str = typer.Option(None, "--role", help="Only people with this role."),
    as_json: bool = JsonOption,
) -> None:
    """Everybody, with contacts and roles."""
    from mgops.cli.oncall_render import plain
    from mgops.oncall.people import list_people, parse_role, people_with_role
    from mgops.oncall.service import ensure_seeded

    context = app_context(ctx)
    context.require_local("Person commands")
    with context.store.session() as session:
        ensure_seeded(session, context.policy, now=context.clock.now())
        if role:
            wanted, domain = parse_role(role)
            people = people_with_role(session, wanted, domain or None)
        else:
            people = list_people(session)
    emit(
        plain(people),
        as_json,
        lambda: table(
            "People",
            ["handle", "name", "contacts", "roles"],
            [
                (
                    p.handle,
                    p.name,
                    ", ".join(f"{c['kind']}: {c['address']}" for c in p.contacts),
                    ", ".join(p.roles),
                )
                for p in people
            ],
            empty="Nobody yet: add people with `mgops person add`.",
        ),
    )


@app.command("show")
def show(
    ctx: typer.Context,
    handle: str = typer.Argument(..., help="The person's handle."),
    as_json: bool = JsonOption,
) -> None:
    """One person: contacts, roles, rotations and their next shifts."""
    from mgops.cli.oncall_render import local, plain
    from mgops.oncall.people import get_person
    from mgops.oncall.schedule import shifts_of
    from mgops.oncall.service import ensure_seeded, load_state, schedule_names

    context = app_context(ctx)
    context.require_local("Person commands")
    now = context.clock.now()
    upcoming = []
    with context.store.session() as session:
        ensure_seeded(session, context.policy, now=now)
        person = get_person(session, handle)
        for name in schedule_names(session):
            state = load_state(session, name)
            if handle not in state.members:
                continue
            for s in shifts_of(state, handle, now, now + timedelta(days=56))[:6]:
                role = "primary" if s.primary == handle else "secondary"
                upcoming.append((name, state.rule.zone, role, s.start, s.end))

    def render() -> None:
        console.print(f"[bold]{person.name}[/bold] ({person.handle})")
        for contact in person.contacts:
            console.print(f"  {contact['kind']}: {contact['address']}")
        console.print(f"  roles: {', '.join(person.roles) or '-'}")
        table(
            "Next shifts",
            ["schedule", "role", "from", "to"],
            [(n, r, local(a, z), local(b, z)) for n, z, r, a, b in upcoming],
            empty="No shifts in the next eight weeks.",
        )

    data = {
        **plain(person),
        "shifts": [
            {"schedule": n, "role": r, "start": a, "end": b}
            for n, _, r, a, b in upcoming
        ],
    }
    emit(data, as_json, render)
