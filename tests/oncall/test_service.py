"""Schedules in the store: seeding, membership, overrides, hand-offs, people."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from mgops.errors import (
    ActionRefused,
    Conflict,
    InputError,
    NotFound,
    PolicyError,
)
from mgops.oncall import handoff, people, service
from mgops.policy import Policy
from mgops.policy.schema import Rotation
from mgops.store.db import Store, alembic_config, current_revision, head_revision
from mgops.store.models import Incident

NOW = datetime(2026, 3, 18, 11, 0, tzinfo=UTC)  # 12:00 in Berlin


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def r4_policy(policy: Policy) -> Policy:
    """The default policy with rotation R4 of the cases file as ``r4``."""
    r4 = Rotation.model_validate(
        {
            "name": "r4",
            "timezone": "Europe/Berlin",
            "length": "weekly",
            "start": "2026-03-02T09:00:00",
            "members": ["engineer-a", "engineer-b", "engineer-c", "engineer-d"],
            "handoff": policy.rotations[0].handoff.model_dump(),
        }
    )
    return policy.model_copy(update={"rotations": [r4]})


@pytest.fixture
def seeded(store: Store, r4_policy: Policy) -> Store:
    with store.session() as session:
        service.ensure_seeded(session, r4_policy, now=NOW)
    return store


def make_incident(session: Session, **fields: Any) -> Incident:
    at = fields.pop("declared_at", NOW)
    values: dict[str, Any] = {
        "title": "Playback errors",
        "severity": "P2",
        "phase": "RESPOND",
        "declared_by": "engineer-c",
        "declared_at": at,
        "started_at": at,
        "phase_entered_at": at,
        "updated_at": at,
        "channel": "inc-test",
    }
    values.update(fields)
    incident = Incident(**values)
    session.add(incident)
    session.flush()
    return incident


class TestSeeding:
    def test_a_fresh_store_answers_at_once(self, store: Store, policy: Policy) -> None:
        """The built-in policy's Engineer A–D rotation answers on an empty store."""
        with store.session() as session:
            found = service.who_is_on_call(session, None, NOW, policy=policy)
            names = [p.handle for p in people.list_people(session)]

        assert found.primary is not None
        assert {"engineer-a", "engineer-b", "engineer-c", "engineer-d"} <= set(names)

    def test_seeding_twice_changes_nothing(
        self, seeded: Store, r4_policy: Policy
    ) -> None:
        """The second run creates no schedule and no person."""
        with seeded.session() as session:
            created = service.ensure_seeded(session, r4_policy, now=NOW)
            count = len(people.list_people(session))

        assert created == 0
        assert count == 4

    def test_r4_from_the_store(self, seeded: Store) -> None:
        """The stored R4 gives the O1 answers: D until 08:59, A from 09:00 local."""
        with seeded.session() as session:
            before = service.who_is_on_call(session, "r4", utc("2026-03-30T06:59"))
            after = service.who_is_on_call(session, "r4", utc("2026-03-30T07:00"))
            handoff_at = service.next_handoff(session, "r4", utc("2026-03-24T00:00"))

        assert (before.primary, after.primary) == ("engineer-d", "engineer-a")
        assert handoff_at.at == utc("2026-03-30T07:00")

    def test_a_bad_role_in_the_policy_points_at_the_entry(
        self, store: Store, policy: Policy
    ) -> None:
        """A policy person with an unknown role is a policy error naming the entry."""
        person = policy.people[0].model_copy(update={"roles": ["janitor"]})
        broken = policy.model_copy(update={"people": [person]})

        with store.session() as session, pytest.raises(PolicyError, match=r"people\.0"):
            service.ensure_seeded(session, broken, now=NOW)

    def test_an_unknown_schedule_is_named(self, seeded: Store) -> None:
        """Asking for a schedule that does not exist lists the ones that do."""
        with seeded.session() as session, pytest.raises(NotFound, match="r4"):
            service.who_is_on_call(session, "nope", NOW)


class TestMembership:
    def test_removing_the_person_on_call_is_recorded(self, seeded: Store) -> None:
        """O3 through the store: D takes over at once and the history says so."""
        with seeded.session() as session:
            service.remove_member(session, "r4", "engineer-c", at=NOW, actor="lead")
        with seeded.session() as session:
            found = service.who_is_on_call(session, "r4", NOW)
            history = service.membership_history(session, "r4")

        assert found.primary == "engineer-d"
        assert [c.change for c in history] == ["initial", "remove"]
        assert history[-1].takes_over == "engineer-d"
        assert "engineer-d is on call at once" in history[-1].note
        assert history[-1].actor == "lead"

    def test_adding_keeps_the_person_on_call(self, seeded: Store) -> None:
        """Adding a member at the front keeps C on call now."""
        with seeded.session() as session:
            people.add_person(session, handle="erin", name="Erin", now=NOW)
            service.add_member(session, "r4", "erin", at=NOW, actor="lead", position=0)
            found = service.who_is_on_call(session, "r4", NOW)

        assert found.primary == "engineer-c"

    def test_adding_someone_unknown_is_refused(self, seeded: Store) -> None:
        """A typo never joins a rotation."""
        with seeded.session() as session, pytest.raises(NotFound, match="person add"):
            service.add_member(session, "r4", "enginer-e", at=NOW, actor="lead")


class TestOverrides:
    def add(self, session: Session, **fields: Any) -> service.OverrideView:
        values: dict[str, Any] = {
            "person": "engineer-a",
            "starts_at": NOW - timedelta(hours=1),
            "ends_at": NOW + timedelta(hours=5),
            "actor": "lead",
            "now": NOW,
        }
        values.update(fields)
        return service.add_override(session, "r4", **values)

    def test_an_override_applies_and_is_listed(self, seeded: Store) -> None:
        """A covers C for six hours: A is on call now, via override."""
        with seeded.session() as session:
            made = self.add(session, covers="engineer-c")
            found = service.who_is_on_call(session, "r4", NOW)
            listed = service.list_overrides(session, "r4", now=NOW)

        assert (found.primary, found.override_id) == ("engineer-a", made.id)
        assert [o.id for o in listed] == [made.id]

    def test_removing_a_running_override_keeps_its_past(self, seeded: Store) -> None:
        """Removed while running, it ends now: the past hour stays A's."""
        with seeded.session() as session:
            made = self.add(session)
            service.remove_override(session, made.id, actor="lead", now=NOW)
            now_holder = service.who_is_on_call(session, "r4", NOW)
            past_holder = service.who_is_on_call(
                session, "r4", NOW - timedelta(minutes=30)
            )

        assert now_holder.primary == "engineer-c"
        assert past_holder.primary == "engineer-a"

    def test_removing_twice_is_a_conflict(self, seeded: Store) -> None:
        """The second removal says it was removed already."""
        with seeded.session() as session:
            made = self.add(session)
            service.remove_override(session, made.id, actor="lead", now=NOW)
            with pytest.raises(Conflict, match="already"):
                service.remove_override(session, made.id, actor="lead", now=NOW)

    def test_an_override_in_the_past_is_refused(self, seeded: Store) -> None:
        """Overrides do not rewrite who was on call."""
        with seeded.session() as session, pytest.raises(InputError, match="over"):
            self.add(session, starts_at=NOW - timedelta(days=2), ends_at=NOW)


class TestHandoff:
    def test_the_summary_lists_the_past_shifts_incidents(self, seeded: Store) -> None:
        """Incidents declared in B's week are listed, older ones not; open ones too."""
        with seeded.session() as session:
            in_shift = make_incident(session, declared_at=utc("2026-03-12T10:00"))
            make_incident(session, declared_at=utc("2026-03-05T10:00"), resolved_at=NOW)
            summary = handoff.handoff_summary(session, "r4", now=NOW)

        assert (summary.outgoing, summary.incoming) == ("engineer-b", "engineer-c")
        assert summary.handoff_at == utc("2026-03-16T08:00")
        assert [i.id for i in summary.incidents] == [in_shift.id]
        assert [i.id for i in summary.open_incidents] == [in_shift.id]
        assert summary.pages is None

    def test_pages_come_through_the_seam(self, seeded: Store) -> None:
        """The pages source gets the past shift's window."""
        calls: list[tuple[str, datetime, datetime]] = []

        def pages(
            _: Session, schedule: str, start: datetime, end: datetime
        ) -> list[dict[str, Any]]:
            calls.append((schedule, start, end))
            return [{"id": 1}]

        with seeded.session() as session:
            summary = handoff.handoff_summary(
                session, "r4", now=NOW, pages_in_shift=pages
            )

        assert calls == [("r4", utc("2026-03-09T08:00"), utc("2026-03-16T08:00"))]
        assert summary.pages == [{"id": 1}]

    def test_only_the_incoming_engineer_acknowledges(self, seeded: Store) -> None:
        """B cannot acknowledge C's hand-off; C can, once, and it ticks the item."""
        with seeded.session() as session:
            with pytest.raises(ActionRefused, match="engineer-c"):
                handoff.acknowledge_handoff(session, "r4", person="engineer-b", now=NOW)
            first = handoff.acknowledge_handoff(
                session, "r4", person="engineer-c", now=NOW
            )
            again = handoff.acknowledge_handoff(
                session, "r4", person="engineer-c", now=NOW + timedelta(hours=1)
            )

        ticked = {line.id: line.ticked_by for line in first.checklist}
        assert (first.acknowledged_by, first.acknowledged_at) == ("engineer-c", NOW)
        assert again.acknowledged_at == NOW
        assert ticked["acknowledge-receipt"] == "engineer-c"

    def test_ticking_records_who_and_when(self, seeded: Store) -> None:
        """verify-access ticked by C at NOW; a second tick is a conflict."""
        with seeded.session() as session:
            summary = handoff.tick_handoff_item(
                session, "r4", "verify-access", actor="engineer-c", now=NOW, note="vpn"
            )
            with pytest.raises(Conflict, match="already"):
                handoff.tick_handoff_item(
                    session, "r4", "verify-access", actor="engineer-c", now=NOW
                )

        line = next(x for x in summary.checklist if x.id == "verify-access")
        assert (line.ticked_by, line.ticked_at, line.note) == ("engineer-c", NOW, "vpn")
        assert not summary.checklist_done

    def test_an_unknown_item_lists_the_items(self, seeded: Store) -> None:
        """The error names the checklist's items."""
        with (
            seeded.session() as session,
            pytest.raises(InputError, match="test-paging"),
        ):
            handoff.tick_handoff_item(
                session, "r4", "make-coffee", actor="engineer-c", now=NOW
            )


class TestPeople:
    def test_escalation_contacts_by_domain_and_level(self, seeded: Store) -> None:
        """domain-lead for database: tech lead, then SME; executive: CTO, CEO."""
        add: Callable[..., people.PersonView] = people.add_person
        with seeded.session() as session:
            add(session, handle="dana", name="Dana", roles=["sme:database"], now=NOW)
            add(
                session, handle="tom", name="Tom", roles=["tech-lead:database"], now=NOW
            )
            add(session, handle="bea", name="Bea", roles=["tech-lead:backend"], now=NOW)
            add(session, handle="cto", name="C. T. O.", roles=["cto"], now=NOW)
            add(session, handle="ceo", name="C. E. O.", roles=["ceo"], now=NOW)
            leads = people.escalation_contacts(
                session, "domain-lead", domain="database"
            )
            bosses = people.escalation_contacts(session, "executive")

        assert [p.handle for p in leads] == ["tom", "dana"]
        assert [p.handle for p in bosses] == ["cto", "ceo"]

    def test_contacts_are_checked(self, seeded: Store) -> None:
        """A phone number that is not one is refused before anything is stored."""
        with seeded.session() as session, pytest.raises(InputError, match="phone"):
            people.add_person(
                session, handle="x", name="X", contacts=[("phone", "call me")], now=NOW
            )

    def test_roles_are_checked(self) -> None:
        """A domain role needs one of the four domains; unknown roles are named."""
        assert people.parse_role("SME:Security") == ("sme", "security")
        with pytest.raises(InputError, match="domain"):
            people.parse_role("tech-lead")
        with pytest.raises(InputError, match="Unknown role"):
            people.parse_role("janitor")

    def test_a_handle_is_taken_once(self, seeded: Store) -> None:
        """Adding engineer-a again is a conflict, not an update."""
        with seeded.session() as session, pytest.raises(Conflict):
            people.add_person(session, handle="engineer-a", name="A", now=NOW)


@pytest.mark.postgres
class TestPostgres:
    def test_the_migration_runs_down_and_up(self, pg_store: Store) -> None:
        """0002 creates the on-call tables on PostgreSQL 15, drops them, recreates."""
        engine = pg_store.engine
        tables = set(inspect(engine).get_table_names())
        assert {
            "oncall_schedules",
            "oncall_epochs",
            "people",
            "oncall_handoffs",
        } <= tables

        migrate(pg_store, "downgrade", "0001")
        assert "oncall_schedules" not in set(inspect(engine).get_table_names())
        migrate(pg_store, "upgrade", "head")

        assert current_revision(engine) == head_revision(engine)
        assert "oncall_schedules" in set(inspect(engine).get_table_names())

    def test_schedules_work_on_postgres(
        self, pg_store: Store, r4_policy: Policy
    ) -> None:
        """Seed, remove the person on call, override and hand-off on PostgreSQL."""
        with pg_store.session() as session:
            service.ensure_seeded(session, r4_policy, now=NOW)
            service.remove_member(session, "r4", "engineer-c", at=NOW, actor="lead")
            service.add_override(
                session,
                "r4",
                person="engineer-b",
                covers="engineer-d",
                starts_at=NOW + timedelta(hours=1),
                ends_at=NOW + timedelta(hours=2),
                actor="lead",
                now=NOW,
            )
            handoff.tick_handoff_item(
                session, "r4", "verify-access", actor="engineer-d", now=NOW
            )
        with pg_store.session() as session:
            now_holder = service.who_is_on_call(session, "r4", NOW)
            later = service.who_is_on_call(session, "r4", NOW + timedelta(minutes=90))
            summary = handoff.handoff_summary(session, "r4", now=NOW)

        assert now_holder.primary == "engineer-d"
        assert (later.primary, later.covering) == ("engineer-b", "engineer-d")
        assert summary.incoming == "engineer-d"
        assert any(line.ticked_by == "engineer-d" for line in summary.checklist)

    def test_two_processes_seeding_at_once_make_one_schedule(
        self, pg_store: Store, r4_policy: Policy
    ) -> None:
        """Two sessions seed a fresh PostgreSQL store together: one R4, no error."""
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def seed() -> None:
            try:
                with pg_store.session() as session:
                    session.execute(text("SELECT 1"))
                    barrier.wait(timeout=10)
                    service.ensure_seeded(session, r4_policy, now=NOW)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=seed) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        with pg_store.session() as session:
            names = service.schedule_names(session)
            handles = [p.handle for p in people.list_people(session)]

        assert errors == []
        assert names == ["r4"]
        assert len(handles) == len(set(handles)) == 4


def migrate(store: Store, direction: str, revision: str) -> None:
    """Run Alembic up or down through the store's own configuration."""
    from alembic import command

    getattr(command, direction)(alembic_config(store.engine), revision)
