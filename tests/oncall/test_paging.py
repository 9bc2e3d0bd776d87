"""Paging and escalation: one page per step; acks stop all; restarts lose nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mgops.access import create_token
from mgops.clock import ManualClock
from mgops.errors import Conflict
from mgops.incidents.desk import LocalDesk
from mgops.incidents.lifecycle import DeskEnv
from mgops.incidents.requests import DeclareRequest, PhaseRequest, ResolveRequest
from mgops.notify.channels import Channels, ConsoleChannel, DeliveryError, Message
from mgops.oncall.paging import acknowledge_page
from mgops.oncall.paging_models import Notification, Page
from mgops.policy import Policy
from mgops.store.db import Store
from mgops.web.app import create_app
from mgops.worker import Worker
from tests.oncall.paging_fixtures import paging_policy


class Recorder:
    """A channel that remembers what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)


def make_worker(
    store: Store, policy: Policy, clock: ManualClock
) -> tuple[Worker, Recorder]:
    recorder = Recorder()
    kinds = dict.fromkeys(("console", "slack", "email", "webhook"), recorder)
    kinds["sms"] = recorder
    kinds["phone"] = recorder
    return Worker(store, policy, clock, Channels(kinds)), recorder  # type: ignore[arg-type]


def declare(
    store: Store,
    policy: Policy,
    clock: ManualClock,
    severity: str = "P1",
    **extra: object,
) -> int:
    desk = LocalDesk(store, policy, clock, "alice")
    return desk.declare(
        DeclareRequest(
            title="Auth failing",
            severity=severity,  # type: ignore[arg-type]
            services=["auth-service"],
            **extra,
        )
    ).id  # type: ignore[arg-type]


def pages(store: Store) -> list[Page]:
    with store.session() as session:
        return list(session.scalars(select(Page).order_by(Page.id)))


def sent(store: Store) -> list[Notification]:
    with store.session() as session:
        return list(
            session.scalars(
                select(Notification)
                .where(Notification.status == "sent")
                .order_by(Notification.id)
            )
        )


def ack(store: Store, policy: Policy, clock: ManualClock, page_id: int) -> None:
    with store.session() as session:
        acknowledge_page(DeskEnv(session, policy, clock, "engineer-a"), page_id)


MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # engineer-a primary, b secondary


class TestModes:
    @pytest.mark.parametrize(
        ("severity", "when", "modes"),
        [
            ("P1", MONDAY, ["page"]),
            ("P2", MONDAY, ["page"]),
            ("P2", MONDAY.replace(hour=22), ["alert"]),
            ("P3", MONDAY, ["alert"]),
            ("P4", MONDAY, []),
        ],
    )
    def test_severity_decides(
        self, store: Store, severity: str, when: datetime, modes: list[str]
    ) -> None:
        """P1 pages; P2 pages in business hours else alerts; P3 alerts; P4 nothing."""
        policy = paging_policy()
        clock = ManualClock(when)

        declare(store, policy, clock, severity)

        assert modes == [p.mode for p in pages(store)]
        assert all(p.person == "engineer-a" for p in pages(store))


class TestEscalation:
    def test_unacknowledged_page_escalates_once(self, store: Store) -> None:
        """No ack in 15 minutes: the secondary is paged, once, however many ticks."""
        policy = paging_policy()
        clock = ManualClock(MONDAY)
        declare(store, policy, clock)
        worker, _ = make_worker(store, policy, clock)

        worker.tick()
        clock.advance(timedelta(minutes=14, seconds=59))
        worker.tick()
        before = [p.person for p in pages(store)]
        clock.advance(timedelta(seconds=2))
        for _ in range(3):
            worker.tick()

        assert ["engineer-a"] == before
        assert ["engineer-a", "engineer-b"] == [p.person for p in pages(store)]

    def test_case_o6_ack_stops_the_rule_and_escalation(self, store: Store) -> None:
        """Push, 60 s, SMS, 60 s, call; ack at 30 s: no SMS, no call, no secondary."""
        rule = [
            {"contact": "console", "after_seconds": 0},
            {"contact": "sms", "after_seconds": 60},
            {"contact": "phone", "after_seconds": 120},
        ]
        team = {
            h: {
                "contacts": [
                    {"kind": "console", "address": h},
                    {"kind": "sms", "address": "+49 30 1234567"},
                    {"kind": "phone", "address": "+49 30 1234567"},
                ],
                "notify": rule,
            }
            for h in ("engineer-a", "engineer-b", "engineer-c", "engineer-d")
        }
        policy = paging_policy(people=team)
        clock = ManualClock(MONDAY)
        declare(store, policy, clock)
        worker, recorder = make_worker(store, policy, clock)

        worker.tick()
        clock.advance(timedelta(seconds=30))
        ack(store, policy, clock, pages(store)[0].id)
        for seconds in (31, 61, 121, 20 * 60, 3600):
            clock.set(MONDAY + timedelta(seconds=seconds))
            worker.tick()

        paged = [m.channel for m in recorder.sent if m.page_id is not None]
        assert ["console"] == paged
        assert 1 == len(pages(store))

    def test_case_o5_window_and_restart(self, store: Store) -> None:
        """Only 09-17 Berlin: alert 06:00, restart 07:00, secondary paged 09:00."""
        window = {"timezone": "Europe/Berlin", "start": "09:00", "end": "17:00"}
        policy = paging_policy(level1_window=window)
        berlin_six = datetime(2026, 3, 4, 5, 0, tzinfo=UTC)  # 06:00 CET, a Wednesday
        clock = ManualClock(berlin_six)
        declare(store, policy, clock)
        first, _ = make_worker(store, policy, clock)
        first.tick()

        del first  # the server is killed at 07:00 and started again
        clock.set(berlin_six + timedelta(hours=1))
        restarted, _ = make_worker(Store(store.url), policy, clock)
        restarted.tick()
        at_seven = [p.person for p in pages(store)]
        clock.set(datetime(2026, 3, 4, 8, 0, 2, tzinfo=UTC))  # 09:00:02 Berlin
        for _ in range(3):
            restarted.tick()

        escalations = [p for p in pages(store) if p.level == 1]
        assert ["engineer-a"] == at_seven
        assert 1 == len(escalations)
        assert datetime(2026, 3, 4, 8, 0, 2, tzinfo=UTC) == escalations[0].created_at


class TestAcknowledge:
    def test_case_o9_nothing_leaves_after_ack(self, store: Store) -> None:
        """After an ack answered 200, two worker cycles send nothing for that page."""
        rule = [
            {"contact": "console", "after_seconds": 0},
            {"contact": "slack", "after_seconds": 60},
        ]
        team = {
            h: {
                "contacts": [
                    {"kind": "console", "address": h},
                    {"kind": "slack", "address": "http://127.0.0.1:9/x"},
                ],
                "notify": rule,
            }
            for h in ("engineer-a", "engineer-b", "engineer-c", "engineer-d")
        }
        policy = paging_policy(people=team)
        clock = ManualClock(MONDAY)
        declare(store, policy, clock)
        worker, recorder = make_worker(store, policy, clock)
        worker.tick()
        with store.session() as session:
            _, token = create_token(
                session, name="engineer-a", role="responder", now=clock.now()
            )
        page_id = pages(store)[0].id
        clock.advance(timedelta(seconds=59))

        with TestClient(create_app(store, policy, clock=clock)) as client:
            reply = client.post(
                f"/api/v1/pages/{page_id}/ack",
                headers={"Authorization": f"Bearer {token}"},
            )

        def for_page() -> int:
            return sum(m.page_id == page_id for m in recorder.sent)

        count = for_page()
        for _ in range(2):
            clock.advance(timedelta(minutes=20))
            worker.tick()

        assert 200 == reply.status_code
        assert 1 == count == for_page()
        assert 1 == len(pages(store))

    def test_incident_with_three_pages_is_listed_once(self, store: Store) -> None:
        """An incident that paged three people appears once in the list."""
        policy = paging_policy()
        clock = ManualClock(MONDAY)
        number = declare(store, policy, clock)
        with store.session() as session:
            from mgops.oncall.paging import escalate_incident
            from mgops.oncall.people import add_person

            add_person(
                session,
                handle="em",
                name="EM",
                contacts=[("console", "em")],
                roles=["engineering-manager"],
                now=clock.now(),
            )
            env = DeskEnv(session, policy, clock, "alice")
            escalate_incident(env, number, 1)
            escalate_incident(env, number, 3)
        desk = LocalDesk(store, policy, clock, "alice")

        listed = desk.list()

        assert 3 == len(pages(store))
        assert [number] == [i.id for i in listed]

    def test_stale_ack_is_409(self, store: Store) -> None:
        """Acknowledging a page of a resolved incident is a conflict."""
        policy = paging_policy()
        clock = ManualClock(MONDAY)
        number = declare(store, policy, clock)
        desk = LocalDesk(store, policy, clock, "alice")
        desk.move(number, PhaseRequest(to="RESOLVE", force=True))
        desk.resolve(number, ResolveRequest(force=True))

        with pytest.raises(Conflict, match="already resolved") as err:
            ack(store, policy, clock, pages(store)[0].id)

        assert 409 == err.value.http_status

    def test_signed_link(self, store: Store) -> None:
        """The link's GET only asks; its POST acknowledges; a forged one is refused."""
        from mgops.notify.links import LinkSigner, server_secret

        policy = paging_policy()
        clock = ManualClock(MONDAY)
        declare(store, policy, clock)
        page_id = pages(store)[0].id
        url = LinkSigner(server_secret(store), "http://testserver").ack_url(page_id)
        assert url is not None
        path = url.removeprefix("http://testserver")

        with TestClient(create_app(store, policy, clock=clock)) as client:
            asked = client.get(path)
            still_open = pages(store)[0].status
            forged = client.post(path.replace("sig=", "sig=0"))
            done = client.post(path)

        assert (200, "open") == (asked.status_code, still_open)
        assert 401 == forged.status_code
        assert 200 == done.status_code
        assert "acknowledged" == pages(store)[0].status


class TestOutbox:
    def test_down_channel_delays_and_loses_nothing(self, store: Store) -> None:
        """A failing channel is retried with backoff and delivered once it is back."""
        policy = paging_policy()
        clock = ManualClock(MONDAY)
        declare(store, policy, clock)

        class Flaky:
            def __init__(self) -> None:
                self.down = True
                self.delivered: list[int] = []

            def send(self, message: Message) -> None:
                if self.down:
                    raise DeliveryError("connection refused", permanent=False)
                self.delivered.append(message.id)

        flaky = Flaky()
        worker = Worker(store, policy, clock, Channels({"console": flaky}))  # type: ignore[dict-item]
        for _ in range(3):
            worker.tick()
            clock.advance(timedelta(seconds=5))
        flaky.down = False
        for _ in range(3):
            clock.advance(timedelta(seconds=10))
            worker.tick()

        with store.session() as session:
            row = session.scalars(select(Notification)).one()
        assert 1 == len(flaky.delivered)
        assert ("sent", 4) == (row.status, row.attempts)

    def test_sms_not_configured_is_a_clear_failure(self, store: Store) -> None:
        """SMS without a provider fails permanently with a sentence."""
        team = {
            h: {
                "contacts": [{"kind": "sms", "address": "+49 30 1234567"}],
                "notify": [{"contact": "sms", "after_seconds": 0}],
            }
            for h in ("engineer-a", "engineer-b", "engineer-c", "engineer-d")
        }
        policy = paging_policy(people=team)
        clock = ManualClock(MONDAY)
        declare(store, policy, clock)
        from mgops.notify.channels import build_channels

        Worker(store, policy, clock, build_channels()).tick()

        with store.session() as session:
            row = session.scalars(select(Notification)).one()
        assert "failed" == row.status
        assert "SMS is not configured" in (row.last_error or "")


class TestReminders:
    def test_overdue_update_reminds_the_owner_once(self, store: Store) -> None:
        """A P1 with no update for 15 minutes reminds its owner, once per due time."""
        policy = paging_policy()
        clock = ManualClock(MONDAY)
        declare(store, policy, clock, owner="engineer-c")
        worker, recorder = make_worker(store, policy, clock)
        worker.tick()

        clock.advance(timedelta(minutes=16))
        worker.tick()
        worker.tick()

        reminders = [m for m in recorder.sent if m.kind == "reminder"]
        assert ["engineer-c"] == [m.person for m in reminders]
        assert "Status update overdue" in reminders[0].subject

    def test_open_incidents_are_scanned_at_most_once_a_second(
        self, store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Ticks woken by every delivery do not each rescan every open incident."""
        import mgops.worker

        scans: list[datetime] = []
        real = mgops.worker.remind_overdue_updates

        def counting(store: Store, policy: Policy, clock: ManualClock) -> int:
            scans.append(clock.now())
            return real(store, policy, clock)

        monkeypatch.setattr(mgops.worker, "remind_overdue_updates", counting)
        policy = paging_policy()
        clock = ManualClock(MONDAY)
        worker, _ = make_worker(store, policy, clock)
        for _ in range(3):
            worker.tick()
        clock.advance(timedelta(milliseconds=999))
        worker.tick()
        clock.advance(timedelta(milliseconds=1))
        worker.tick()

        assert [MONDAY, MONDAY + timedelta(seconds=1)] == scans


def test_console_channel_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The console channel writes the message to mgops's log."""
    ConsoleChannel().send(
        Message(
            1, "engineer-a", "console", "engineer-a", "[P1] x", "text", "page", 1, 1
        )
    )

    assert "[P1] x" in caplog.text


class TestHandoff:
    def test_summary_lists_the_shift_pages(self, store: Store) -> None:
        """The next hand-off's summary names the pages sent during the shift."""
        from mgops.oncall.handoff import handoff_summary
        from mgops.oncall.pages import pages_in_shift

        policy = paging_policy()
        clock = ManualClock(MONDAY)
        number = declare(store, policy, clock)
        clock.advance(timedelta(days=7))  # the next hand-off reviews that shift

        with store.session() as session:
            summary = handoff_summary(
                session,
                None,
                now=clock.now(),
                policy=policy,
                pages_in_shift=pages_in_shift,
            )

        assert [number] == [p["incident_id"] for p in summary.pages or []]


class TestResolution:
    def test_resolving_closes_pages_and_cancels_steps(self, store: Store) -> None:
        """A resolved incident leaves no open page and no pending timer."""
        from mgops.oncall.paging_models import Timer

        policy = paging_policy()
        clock = ManualClock(MONDAY)
        number = declare(store, policy, clock)
        desk = LocalDesk(store, policy, clock, "alice")
        desk.move(number, PhaseRequest(to="RESOLVE", force=True))
        desk.resolve(number, ResolveRequest(force=True))

        with store.session() as session:
            pending = session.scalars(
                select(Timer).where(Timer.status == "pending")
            ).all()
        assert ["resolved"] == [p.status for p in pages(store)]
        assert [] == pending

    def test_free_text_owner_reminds_the_primary(self, store: Store) -> None:
        """An owner mgops cannot reach is not "reminded"; the primary is."""
        policy = paging_policy()
        clock = ManualClock(MONDAY)
        declare(store, policy, clock, owner="somebody-unknown")
        worker, recorder = make_worker(store, policy, clock)
        clock.advance(timedelta(minutes=16))

        worker.tick()

        reminders = [m.person for m in recorder.sent if m.kind == "reminder"]
        assert ["engineer-a"] == reminders
