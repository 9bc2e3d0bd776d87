"""Hostile and odd input at the intake: refused with a reason, or accepted safely."""

from __future__ import annotations

import json

from tests.alerts.conftest import Api, am_alert, am_payload


class TestUnicode:
    def test_lone_surrogate_event_is_400_and_breaks_nothing(self, api: Api) -> None:
        """A ``\\udfff`` escape is an invalid event; listings keep working."""
        body = json.dumps(
            {
                "routing_key": api.ev_key,
                "event_action": "trigger",
                "payload": {
                    "summary": "ok",
                    "source": "x",
                    "severity": "info",
                    "custom_details": {"k": "SURROGATE"},
                },
            }
        )
        raw = body.replace("SURROGATE", "\\udfff")

        response = api.client.post(
            "/v2/enqueue",
            content=raw.encode(),
            headers={"content-type": "application/json"},
        )

        assert 400 == response.status_code
        assert "not valid Unicode" in response.json()["errors"][0]
        assert [] == api.get("/api/v1/alerts/groups")

    def test_deep_nesting_is_400(self, api: Api) -> None:
        """A body nested thousands deep is not JSON mgops will read, not a 500."""
        raw = "[" * 5000 + "]" * 5000

        response = api.client.post(
            "/v2/enqueue",
            content=raw.encode(),
            headers={"content-type": "application/json"},
        )

        assert 400 == response.status_code


class TestTitles:
    def test_long_alert_summary_is_shortened_not_lost(self, api: Api) -> None:
        """Alertmanager does not retry 4xx: a 1000-character summary still opens."""
        payload = am_payload("firing", [am_alert("X", "firing", "ffff000000000001")])
        payload["commonAnnotations"] = {"summary": "x" * 1000}

        reply = api.alertmanager(payload)

        title = api.get(f"/api/v1/incidents/{reply.json()['incident_id']}")["title"]
        assert 200 == reply.status_code
        assert 300 == len(title)

    def test_blank_summary_gets_a_title(self, api: Api) -> None:
        """An event whose summary is only control characters still opens."""
        reply = api.event(
            event_action="trigger",
            dedup_key="blank",
            payload={"summary": "\u0007 x", "source": "s", "severity": "critical"},
        )

        assert 202 == reply.status_code
        assert "x" == api.get("/api/v1/incidents")[0]["title"]


class TestAlertmanagerStates:
    def test_firing_payload_with_only_resolved_alerts_opens_nothing(
        self, api: Api
    ) -> None:
        """Nothing fires, so nothing opens, whatever the top-level status says."""
        payload = am_payload("firing", [am_alert("X", "resolved", "abab000000000001")])

        api.alertmanager(payload)

        assert [] == api.get("/api/v1/incidents")

    def test_resolved_status_with_a_firing_alert_keeps_the_group_open(
        self, api: Api
    ) -> None:
        """A contradictory payload does not resolve a group that still fires."""
        api.alertmanager(
            am_payload(
                "firing",
                [
                    am_alert("X", "firing", "acac000000000001"),
                    am_alert("X", "firing", "acac000000000002"),
                ],
            )
        )

        api.alertmanager(
            am_payload("resolved", [am_alert("X", "resolved", "acac000000000001")])
        )

        group = api.get("/api/v1/alerts/groups")[0]
        assert ("firing", None) == (group["status"], group["resolved_at"])

    def test_oversized_webhook_is_413(self, api: Api) -> None:
        """A payload over 4 MiB is refused before it is read."""
        response = api.client.post(
            f"/api/v1/integrations/alertmanager/{api.am_key}",
            content=b"{" + b" " * (4 * 1024 * 1024 + 10) + b"}",
            headers={"content-type": "application/json"},
        )

        assert 413 == response.status_code
