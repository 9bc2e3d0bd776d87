"""schemathesis against the served OpenAPI document: no 5xx, no schema violation.

The app is built at import time because schemathesis generates one test per
operation while collecting; its store lives in a temporary directory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from mgops.access import create_integration, create_token
from mgops.clock import SYSTEM_CLOCK
from mgops.incidents.desk import LocalDesk
from mgops.incidents.requests import DeclareRequest
from mgops.policy import default_policy
from mgops.store.db import Store
from mgops.web.app import create_app


def _app() -> tuple[Any, dict[str, str], dict[str, str]]:
    path = Path(tempfile.mkdtemp(prefix="mgops-schemathesis-")) / "mgops.db"
    store = Store(f"sqlite:///{path}")
    policy = default_policy()
    with store.session() as session:
        _, secret = create_token(
            session, name="fuzz", role="admin", now=SYSTEM_CLOCK.now()
        )
        _, am_key = create_integration(
            session, name="am", kind="alertmanager", now=SYSTEM_CLOCK.now()
        )
        _, ev_key = create_integration(
            session, name="ev", kind="events-v2", now=SYSTEM_CLOCK.now()
        )
    desk = LocalDesk(store, policy, SYSTEM_CLOCK, "fuzz")
    for severity in ("P1", "P2"):
        desk.declare(DeclareRequest(title="seed", severity=severity))  # type: ignore[arg-type]
    auth = {"Authorization": f"Bearer {secret}"}
    return (
        create_app(store, policy, events_per_minute=0),
        auth,
        {"alertmanager": am_key, "events-v2": ev_key},
    )


APP, AUTH, KEYS = _app()
# A schema-valid request may still break a rule the schema cannot state (a
# service the policy does not know, a phase that cannot be left yet); mgops
# answers those 422 (semantic) or 409 (state), with a sentence.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
            }
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: Any) -> None:
    """Every operation answers within its documented codes and schemas."""
    # Integration keys are credentials, like the token: use real ones so that the
    # generated bodies reach the intake logic instead of stopping at the key check.
    # Only a well-formed key is swapped, so a generated invalid one stays invalid.
    body = case.body
    if case.path == "/v2/enqueue" and isinstance(body, dict):
        key = body.get("routing_key")
        if isinstance(key, str) and len(key) == 32:
            body["routing_key"] = KEYS["events-v2"]
    if case.path.startswith("/api/v1/integrations/alertmanager/"):
        case.path_parameters["key"] = KEYS["alertmanager"]
    case.call_and_validate(headers=AUTH)
