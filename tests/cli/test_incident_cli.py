"""The incident commands as a person types them: output, --json, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from mgops import exitcodes
from mgops.access import create_token
from mgops.clock import SYSTEM_CLOCK
from mgops.policy import default_policy
from mgops.store.db import Store
from tests.cli.conftest import Mgops
from tests.web.live import live_server


class TestLocalStore:
    def test_tour(self, mgops: Mgops, tmp_path: Path) -> None:
        """Declare, tick, advance, update, render, resolve, post-mortem."""
        made = mgops(
            "incident",
            "declare",
            "Sync delayed by minutes",
            "-s",
            "P2",
            "--service",
            "sync-service",
            "--json",
        )
        number = str(json.loads(made.out)["id"])
        ticked = mgops(
            "incident", "tick", number, "understand-alert", "check-health-dashboard"
        )
        blocked = mgops("incident", "advance", number)
        mgops("incident", "advance", number, "--to", "RESOLVE", "--force")
        update = mgops(
            "incident",
            "update",
            number,
            "--state",
            "mitigating",
            "--know",
            "queue backlog",
            "--doing",
            "scaling consumers",
        )
        comms = mgops("incident", "comms", number, "--kind", "status-update")
        mgops("incident", "resolve", number, "--force", "--root-cause", "slow consumer")
        post = mgops("incident", "postmortem", number, "-o", str(tmp_path / "pm.md"))

        assert exitcodes.OK == made.code
        assert "2/8 ticked" in ticked.out
        assert exitcodes.CONFLICT == blocked.code
        assert "error: The DETECT checklist has 5 unticked items" in blocked.err
        assert "Posted Mitigating update" in update.out
        assert "*Current Status:* Mitigating" in comms.out
        assert exitcodes.OK == post.code
        assert "slow consumer" in (tmp_path / "pm.md").read_text()

    def test_list_json(self, mgops: Mgops) -> None:
        """Listings print JSON for scripts."""
        mgops("incident", "declare", "One", "-s", "P3")
        mgops("incident", "declare", "Two", "-s", "P1")

        listed = json.loads(mgops("incident", "list", "--severity", "P1", "--json").out)

        assert ["Two"] == [i["title"] for i in listed]

    def test_errors_are_sentences_with_codes(self, mgops: Mgops) -> None:
        """A missing incident is exit 3 and one sentence on stderr, no traceback."""
        result = mgops("incident", "show", "7")

        assert exitcodes.NOT_FOUND == result.code
        assert "error: Incident 7 does not exist." in result.err
        assert "Traceback" not in result.err

    def test_bad_option_is_a_usage_error(self, mgops: Mgops) -> None:
        """An unknown severity is a usage error."""
        result = mgops("incident", "declare", "x", "-s", "P7")

        assert exitcodes.USAGE == result.code


class TestRemoteServer:
    def test_same_commands_through_the_api(self, mgops: Mgops, tmp_path: Path) -> None:
        """With --server the CLI works on the server's store, not a local one."""
        server_store = Store(f"sqlite:///{tmp_path / 'server.db'}")
        with server_store.session() as session:
            _, token = create_token(
                session, name="carol", role="responder", now=SYSTEM_CLOCK.now()
            )
        with live_server(server_store, default_policy()) as url:
            made = mgops(
                "--server",
                url,
                "--token",
                token,
                "incident",
                "declare",
                "Recommendations not loading",
                "-s",
                "P2",
                "--json",
            )
            shown = mgops(
                "--server", url, "--token", token, "incident", "show", "1", "--json"
            )
            local = mgops("incident", "list", "--json")
            refused = mgops("--server", url, "--token", "wrong", "incident", "list")

        assert exitcodes.OK == made.code, made.err
        assert "carol" == json.loads(shown.out)["declared_by"]
        assert [] == json.loads(local.out)
        assert exitcodes.UNAUTHORIZED == refused.code
        assert "unknown or revoked" in refused.err
        server_store.dispose()


class TestBadInput:
    def test_invalid_values_are_sentences_not_tracebacks(
        self, mgops: Mgops, tmp_path: Path
    ) -> None:
        """Out-of-range options and unwritable paths give one line and exit 2."""
        mgops("incident", "declare", "x", "-s", "P3", "--no-page")
        results = [
            mgops("incident", "declare", "x", "-s", "P1", "--users-affected", "101"),
            mgops(
                "incident",
                "update",
                "1",
                "--state",
                "identified",
                "--know",
                "a",
                "--doing",
                "b",
                "--next-in",
                "0",
            ),
            mgops("incident", "assign", "1", ""),
        ]

        assert [exitcodes.USAGE] * 3 == [r.code for r in results]
        assert all(
            "Traceback" not in r.err and r.err.startswith("error:") for r in results
        )

    def test_not_a_database(self, mgops: Mgops, tmp_path: Path) -> None:
        """A --db file that is not SQLite is named, not a traceback."""
        junk = tmp_path / "junk.db"
        junk.write_bytes(b"this is not sqlite" * 100)

        result = mgops("--db", str(junk), "incident", "list")

        assert exitcodes.STORE == result.code
        assert "cannot be reached or upgraded" in result.err
