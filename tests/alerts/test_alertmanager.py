"""Alertmanager webhook intake: per-alert state, idempotent repeats, truncation."""

from __future__ import annotations

import json
from datetime import timedelta

from mgops.clock import ManualClock
from tests.alerts.conftest import Api, am_alert, am_payload
from tests.conftest import shared_path


class TestCaseO7:
    """One group, one firing and one resolved alert, repeated, resolved, truncated."""

    def test_sequence(self, api: Api, clock: ManualClock) -> None:
        """Repeats change nothing; resolved resolves; truncated resolves nothing."""
        mixed = am_payload(
            "firing",
            [
                am_alert("HighErrorRate", "firing", "aaaa000000000001", pod="p1"),
                am_alert("HighErrorRate", "resolved", "aaaa000000000002", pod="p2"),
            ],
        )
        first = api.alertmanager(mixed).json()
        timeline_after_first = api.get(f"/api/v1/incidents/{first['incident_id']}")[
            "timeline"
        ]
        repeats = [api.alertmanager(mixed).json() for _ in range(2)]

        groups = api.get("/api/v1/alerts/groups")
        incidents = api.get("/api/v1/incidents")
        incident = api.get(f"/api/v1/incidents/{first['incident_id']}")
        assert (len(groups), len(groups[0]["alerts"]), len(incidents)) == (1, 2, 1)
        assert first["new_incident"] and incident["severity"] == "P1"
        assert all(r["duplicate"] and not r["new_incident"] for r in repeats)
        assert timeline_after_first == incident["timeline"]

        clock.advance(timedelta(minutes=5))
        resolved = am_payload(
            "resolved",
            [
                am_alert("HighErrorRate", "resolved", "aaaa000000000001", pod="p1"),
                am_alert("HighErrorRate", "resolved", "aaaa000000000002", pod="p2"),
            ],
        )
        done = api.alertmanager(resolved).json()
        truncated = api.alertmanager({**resolved, "truncatedAlerts": 5}).json()

        group = api.get("/api/v1/alerts/groups")[0]
        kinds = [
            e["kind"]
            for e in api.get(f"/api/v1/incidents/{first['incident_id']}")["timeline"]
        ]
        assert done["resolved_group"] and group["status"] == "resolved"
        assert not truncated["resolved_group"] and truncated["truncated"] == 5
        assert group["truncated_seen"] == 1
        assert len(api.get("/api/v1/alerts/groups")) == 1
        assert "alert-group-resolved" in kinds and kinds[-1] == "alert-truncated"

    def test_truncated_resolved_payload_does_not_resolve_an_open_group(
        self, api: Api
    ) -> None:
        """A partial 'resolved' payload never infers that everything resolved."""
        api.alertmanager(
            am_payload(
                "firing", [am_alert("HighErrorRate", "firing", "bbbb000000000001")]
            )
        )

        reply = api.alertmanager(
            am_payload(
                "resolved",
                [am_alert("HighErrorRate", "resolved", "bbbb000000000001")],
                truncated=3,
            )
        ).json()

        group = api.get("/api/v1/alerts/groups")[0]
        assert (reply["resolved_group"], group["resolved_at"]) == (False, None)
        assert group["status"] == "firing"


class TestGroups:
    def test_refire_after_resolution_opens_a_new_group(self, api: Api) -> None:
        """After a group resolves, its groupKey firing again is a new occurrence."""
        firing = am_payload("firing", [am_alert("X", "firing", "cccc000000000001")])
        api.alertmanager(firing)
        api.alertmanager(
            am_payload("resolved", [am_alert("X", "resolved", "cccc000000000001")])
        )

        again = api.alertmanager(firing).json()

        assert again["new_incident"]
        assert len(api.get("/api/v1/alerts/groups")) == 2

    def test_severity_from_labels(self, api: Api) -> None:
        """The policy maps severity=warning to P3."""
        payload = am_payload(
            "firing",
            [am_alert("Disk", "firing", "dddd000000000001", severity="warning")],
        )
        payload["commonLabels"] = {"alertname": "Disk", "severity": "warning"}

        reply = api.alertmanager(payload).json()

        assert api.get(f"/api/v1/incidents/{reply['incident_id']}")["severity"] == "P3"

    def test_unknown_key_is_404(self, api: Api) -> None:
        """A wrong integration key stores nothing."""
        response = api.client.post(
            "/api/v1/integrations/alertmanager/nope", json=am_payload("firing", [])
        )

        assert response.status_code == 404
        assert api.get("/api/v1/alerts/groups") == []

    def test_malformed_body_is_422_with_the_field(self, api: Api) -> None:
        """A body without groupKey is refused and names the field."""
        body = am_payload("firing", [])
        del body["groupKey"]

        response = api.alertmanager(body)

        assert response.status_code == 422
        assert "groupKey" in response.json()["message"]

    def test_public_sample_payload(self, api: Api) -> None:
        """Alertmanager's own sample (Go zero endsAt, epoch start) loads."""
        sample = json.loads(
            shared_path("data", "alertmanager", "exec_success.json").read_text()
        )

        reply = api.alertmanager(sample)

        alert = api.get("/api/v1/alerts/groups")[0]["alerts"][0]
        assert reply.status_code == 200, reply.text
        assert (alert["ends_at"], alert["status"]) == (None, "firing")


class TestStartTime:
    def test_incident_starts_when_the_alert_started(
        self, api: Api, clock: ManualClock
    ) -> None:
        """The incident's start is the earliest firing alert's startsAt."""
        payload = am_payload("firing", [am_alert("X", "firing", "eeee000000000001")])
        payload["alerts"][0]["startsAt"] = "2026-03-02T09:40:00+01:00"

        reply = api.alertmanager(payload).json()

        incident = api.get(f"/api/v1/incidents/{reply['incident_id']}")
        assert "2026-03-02T08:40:00Z" == incident["started_at"]
        assert clock.now().isoformat().replace("+00:00", "Z") == incident["declared_at"]
