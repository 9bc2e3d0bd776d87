"""Prometheus metrics of the server itself, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Histogram(
    "mgops_http_request_duration_seconds",
    "HTTP requests by route and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
INTAKE = Counter(
    "mgops_intake_events_total",
    "Alert intake deliveries by source and outcome.",
    ["source", "outcome"],
    registry=REGISTRY,
)
INCIDENTS = Counter(
    "mgops_incidents_declared_total",
    "Incidents declared, by severity and source.",
    ["severity", "source"],
    registry=REGISTRY,
)
