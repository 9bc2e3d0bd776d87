"""``mgops oncall`` and ``mgops person`` on a temporary SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mgops import exitcodes
from mgops.cli.context import AppContext
from mgops.cli.main import app
from mgops.cli.output import console
from mgops.clock import ManualClock
from mgops.errors import ActionRefused, ConfirmationRequired, InputError, NotFound
from mgops.policy.load import default_policy_text

Invoke = Callable[..., Any]
NOW = datetime(2026, 3, 18, 11, 0, tzinfo=UTC)  # 12:00 in Berlin: C's week


@pytest.fixture
def r4_policy_file(tmp_path: Path) -> Path:
    """The built-in policy with its rotation turned into R4 (Berlin, from 03-02)."""
    rest = "\n    length: weekly\n    start: "
    text = default_policy_text().replace(
        f"    timezone: UTC{rest}2026-01-05T09:00:00",
        f"    timezone: Europe/Berlin{rest}2026-03-02T09:00:00",
    )
    assert "Europe/Berlin" in text
    path = tmp_path / "policy.yaml"
    path.write_text(text, "utf-8")
    return path


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def invoke(tmp_path: Path, r4_policy_file: Path, clock: ManualClock) -> Invoke:
    """Run ``mgops`` with a temp store, the R4 policy and the manual clock."""
    runner = CliRunner()
    store = tmp_path / "mgops.db"

    def run(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(
            app,
            ["--db", str(store), "--policy", str(r4_policy_file), *args],
            obj=AppContext(clock=clock),
        )
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    return run


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


class TestWho:
    def test_now(self, invoke: Invoke) -> None:
        """At 12:00 on 2026-03-18 C is on call, D next; hand-off 03-23 08:00Z."""
        [answer] = as_json(invoke("oncall", "now", "--json"))

        assert (answer["primary"], answer["secondary"]) == ("engineer-c", "engineer-d")
        assert answer["next_handoff"]["at"] == "2026-03-23T08:00:00+00:00"
        assert answer["next_handoff"]["incoming"] == "engineer-d"

    def test_who_reads_times_in_the_schedule_zone(self, invoke: Invoke) -> None:
        """2026-03-30 08:59 (Berlin) is D's; 09:00 is A's; an explicit Z works."""
        before = as_json(invoke("oncall", "who", "--at", "2026-03-30 08:59", "--json"))
        after = as_json(invoke("oncall", "who", "--at", "2026-03-30 09:00", "--json"))
        zulu = as_json(invoke("oncall", "who", "--at", "2026-03-30T07:00Z", "--json"))

        assert before[0]["primary"] == "engineer-d"
        assert after[0]["primary"] == "engineer-a"
        assert zulu[0]["primary"] == "engineer-a"

    def test_the_table_is_rendered(self, invoke: Invoke) -> None:
        """Without --json the answer is a table naming the primary."""
        result = invoke("oncall", "now")

        assert "engineer-c" in result.stdout
        assert "CET" in result.stdout


class TestSchedule:
    def test_json_segments(self, invoke: Invoke) -> None:
        """Three weeks from 03-20: C, D (167 h), A."""
        data = as_json(
            invoke(
                "oncall",
                "schedule",
                "--from",
                "2026-03-20",
                "--to",
                "2026-04-06",
                "--json",
            )
        )

        assert data["timezone"] == "Europe/Berlin"
        assert [s["primary"] for s in data["segments"]] == [
            "engineer-c",
            "engineer-d",
            "engineer-a",
        ]
        assert data["segments"][1]["start"] == "2026-03-23T08:00:00+00:00"
        assert data["segments"][1]["end"] == "2026-03-30T07:00:00+00:00"

    def test_table_and_chart(self, invoke: Invoke) -> None:
        """The terminal view has the table and a bar per person."""
        out = invoke(
            "oncall", "schedule", "--from", "2026-03-20", "--to", "2026-04-06"
        ).stdout

        bars = [line for line in out.splitlines() if line.startswith("engineer-")]
        assert "167h" in out
        assert len(bars) == 4
        assert all("█" in bar for bar in bars[2:])


class TestOverrides:
    def test_add_list_remove(self, invoke: Invoke) -> None:
        """B covers C this afternoon: now B via override; removed, C again."""
        made = as_json(
            invoke(
                "oncall",
                "override",
                "add",
                "--person",
                "engineer-b",
                "--covers",
                "engineer-c",
                "--from",
                "2026-03-18 12:00",
                "--to",
                "2026-03-18 18:00",
                "--reason",
                "dentist",
                "--json",
            )
        )
        [now] = as_json(invoke("oncall", "now", "--json"))
        listed = as_json(invoke("oncall", "override", "list", "--json"))
        invoke("oncall", "override", "remove", str(made["id"]))
        [after] = as_json(invoke("oncall", "now", "--json"))

        assert made["starts_at"] == "2026-03-18T11:00:00+00:00"
        assert (now["primary"], now["via_override"]) == ("engineer-b", True)
        assert [o["id"] for o in listed] == [made["id"]]
        assert after["primary"] == "engineer-c"
        assert as_json(invoke("oncall", "override", "list", "--json")) == []


class TestMembers:
    def test_removing_the_person_on_call_needs_confirmation(
        self, invoke: Invoke
    ) -> None:
        """Without a terminal and without --yes nothing changes."""
        result = invoke("oncall", "member", "remove", "engineer-c", ok=False)
        [now] = as_json(invoke("oncall", "now", "--json"))

        assert isinstance(result.exception, ConfirmationRequired)
        assert now["primary"] == "engineer-c"

    def test_remove_with_yes_hands_over_and_records_it(
        self, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """O3 from the command line: D on call at once; history and timeline say so."""
        monkeypatch.setattr(console, "width", 200)
        invoke("oncall", "member", "remove", "engineer-c", "--yes")
        [now] = as_json(invoke("oncall", "now", "--json"))
        listing = as_json(invoke("oncall", "member", "list", "--json"))

        timeline = invoke(
            "oncall",
            "schedule",
            "--from",
            "2026-03-18",
            "--to",
            "2026-03-19",
            "--no-chart",
        ).stdout
        data = as_json(
            invoke(
                "oncall",
                "schedule",
                "--from",
                "2026-03-18",
                "--to",
                "2026-03-19",
                "--json",
            )
        )

        assert now["primary"] == "engineer-d"
        assert listing["members"] == ["engineer-a", "engineer-b", "engineer-d"]
        assert "engineer-d is on call at once" in listing["history"][-1]["note"]
        assert [s["primary"] for s in data["segments"]] == ["engineer-c", "engineer-d"]
        assert data["segments"][1]["start"] == NOW.isoformat()
        assert data["changes"][0]["takes_over"] == "engineer-d"
        assert "engineer-c removed; engineer-d took over at once" in timeline

    def test_add_keeps_now(self, invoke: Invoke) -> None:
        """A new person joins; C stays on call."""
        invoke("person", "add", "erin", "--name", "Erin", "--email", "erin@x.io")
        invoke("oncall", "member", "add", "erin", "--position", "0")
        [now] = as_json(invoke("oncall", "now", "--json"))

        assert now["primary"] == "engineer-c"

    def test_unknown_person(self, invoke: Invoke) -> None:
        """Adding somebody who does not exist is NotFound, with the fix named."""
        result = invoke("oncall", "member", "add", "nobody", ok=False)

        assert isinstance(result.exception, NotFound)
        assert "person add" in str(result.exception)


class TestHandoff:
    def test_show_ack_and_tick(self, invoke: Invoke) -> None:
        """C acknowledges and ticks verify-access; B may not acknowledge."""
        shown = as_json(invoke("oncall", "handoff", "show", "--json"))
        refused = invoke("oncall", "handoff", "ack", "--as", "engineer-b", ok=False)
        acked = as_json(
            invoke("oncall", "handoff", "ack", "--as", "engineer-c", "--json")
        )
        ticked = as_json(
            invoke(
                "oncall",
                "handoff",
                "tick",
                "verify-access",
                "--as",
                "engineer-c",
                "--note",
                "VPN ok",
                "--json",
            )
        )

        assert (shown["outgoing"], shown["incoming"]) == ("engineer-b", "engineer-c")
        assert isinstance(refused.exception, ActionRefused)
        assert acked["acknowledged_by"] == "engineer-c"
        line = next(x for x in ticked["checklist"] if x["id"] == "verify-access")
        assert (line["ticked_by"], line["note"]) == ("engineer-c", "VPN ok")
        assert line["ticked_at"] == NOW.isoformat()

    def test_bare_handoff_shows_the_summary(self, invoke: Invoke) -> None:
        """``mgops oncall handoff`` alone prints the summary and checklist."""
        out = invoke("oncall", "handoff").stdout

        assert "engineer-b → engineer-c" in out
        assert "test-paging" in out


class TestPeople:
    def test_add_list_show(self, invoke: Invoke) -> None:
        """A person with contacts and roles is listed by role and shown."""
        invoke(
            "person",
            "add",
            "dana",
            "--name",
            "Dana",
            "--email",
            "dana@x.io",
            "--slack",
            "@dana",
            "--phone",
            "+49 30 1234567",
            "--role",
            "sme:database",
            "--role",
            "engineering-manager",
        )
        smes = as_json(invoke("person", "list", "--role", "sme:database", "--json"))
        shown = as_json(invoke("person", "show", "engineer-c", "--json"))

        assert [p["handle"] for p in smes] == ["dana"]
        assert smes[0]["roles"] == ["sme:database", "engineering-manager"]
        assert {"email", "slack", "phone"} == {c["kind"] for c in smes[0]["contacts"]}
        assert shown["shifts"][0]["role"] == "primary"

    def test_a_bad_role_is_an_input_error(self, invoke: Invoke) -> None:
        """Unknown roles are refused with the list of roles."""
        result = invoke("person", "add", "x", "--role", "janitor", ok=False)

        assert isinstance(result.exception, InputError)


class TestIcal:
    def test_the_feed(self, invoke: Invoke) -> None:
        """``oncall ical`` prints the calendar with CRLF line ends."""
        result = invoke("oncall", "ical")

        assert result.stdout_bytes.startswith(b"BEGIN:VCALENDAR\r\n")
        assert b"DTSTART:20260330T070000Z\r\n" in result.stdout_bytes


class TestExitCodes:
    def test_errors_are_sentences_with_named_exit_codes(self, tmp_path: Path) -> None:
        """The real entry point: no traceback, the NOT_FOUND exit code."""
        env = {**os.environ, "MGOPS_DATABASE_URL": str(tmp_path / "m.db")}

        done = subprocess.run(
            [sys.executable, "-m", "mgops", "oncall", "member", "add", "nobody"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

        assert done.returncode == exitcodes.NOT_FOUND
        assert "Traceback" not in done.stderr
        assert "nobody" in done.stderr


class TestThroughServer:
    def test_who_through_server_answers_as_the_local_store(
        self, invoke: Invoke, tmp_path: Path, r4_policy_file: Path, clock: ManualClock
    ) -> None:
        """``oncall who --server`` asks the server, which reads the same rotation."""
        from mgops.access import create_token
        from mgops.policy import load_policy
        from mgops.store.db import Store
        from tests.web.live import live_server

        invoke(
            "oncall", "override", "add", "--person", "engineer-a",
            "--from", "2026-03-18 10:00", "--to", "2026-03-18 14:00",
        )  # fmt: skip
        local = json.loads(
            invoke("oncall", "who", "--at", "2026-03-18 12:00", "--json").stdout
        )
        store = Store(f"sqlite:///{tmp_path / 'mgops.db'}")
        with store.session() as session:
            _, token = create_token(session, name="t", role="viewer", now=NOW)
        with live_server(store, load_policy(str(r4_policy_file)), clock=clock) as url:
            remote = json.loads(
                invoke(
                    "--server",
                    url,
                    "--token",
                    token,
                    "oncall",
                    "who",
                    "--at",
                    "2026-03-18 12:00",
                    "--json",
                ).stdout
            )
            other = invoke(
                "--server",
                url,
                "--token",
                token,
                "oncall",
                "member",
                "list",
                ok=False,
            )
        store.dispose()

        assert local == remote
        assert "engineer-a" == remote[0]["primary"] and remote[0]["via_override"]
        assert isinstance(other.exception, InputError), other.output  # no HTTP yet

    def test_overrides_through_server(
        self, invoke: Invoke, tmp_path: Path, r4_policy_file: Path, clock: ManualClock
    ) -> None:
        """Add, list and remove an override on the server's store; viewers may not."""
        from mgops.access import create_token
        from mgops.errors import Forbidden
        from mgops.policy import load_policy
        from mgops.store.db import Store
        from tests.web.live import live_server

        store = Store(f"sqlite:///{tmp_path / 'server.db'}")
        with store.session() as session:
            _, responder = create_token(session, name="ann", role="responder", now=NOW)
            _, viewer = create_token(session, name="vic", role="viewer", now=NOW)
        window = ("--from", "2026-03-18 10:00", "--to", "2026-03-18 14:00")
        with live_server(store, load_policy(str(r4_policy_file)), clock=clock) as url:

            def remote(token: str, *args: str, ok: bool = True) -> Any:
                return invoke("--server", url, "--token", token, *args, ok=ok)

            made = json.loads(
                remote(
                    responder, "oncall", "override", "add", "--person", "engineer-a",
                    *window, "--reason", "swap", "--json",
                ).stdout
            )  # fmt: skip
            from_now = json.loads(
                remote(
                    responder, "oncall", "override", "add", "--person", "engineer-b",
                    "--from", "now", "--to", "2026-03-18 15:00", "--json",
                ).stdout
            )  # fmt: skip
            refused = remote(
                viewer, "oncall", "override", "add", "--person", "engineer-b",
                *window, ok=False,
            )  # fmt: skip
            listed = json.loads(
                remote(viewer, "oncall", "override", "list", "--json").stdout
            )
            remote(responder, "oncall", "override", "remove", str(made["id"]))
            after = json.loads(
                remote(viewer, "oncall", "override", "list", "--all", "--json").stdout
            )
        store.dispose()
        local = json.loads(invoke("oncall", "override", "list", "--json").stdout)

        assert ("engineer-a", "ann", "2026-03-18T09:00:00Z") == (
            made["person"],
            made["created_by"],
            made["starts_at"].replace("+00:00", "Z"),
        )  # 10:00 in Berlin
        assert isinstance(refused.exception, Forbidden)
        assert NOW == datetime.fromisoformat(from_now["starts_at"])  # the server's now
        assert [made["id"], from_now["id"]] == [o["id"] for o in listed]
        assert after[0]["removed_at"] is not None
        assert [] == local  # the local store was never touched
