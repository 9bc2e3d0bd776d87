"""Write a deterministic Cloud Logging export shaped like the Media Gateway's.

Seven services, mixed severities, and a ``jsonPayload`` with requestId, userId,
traceId, latencyMs, status, method, path, error and (for the database-backed
services) dbLatencyMs. The same seed and size always give the same bytes.

    python bench/logs/generate.py --gb 1 --out bench/out/logs-1g.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

SERVICES = (
    "api-gateway",
    "auth-service",
    "stream-service",
    "transcoder",
    "catalog-service",
    "billing-service",
    "notification-service",
)
DB_SERVICES = {"auth-service", "catalog-service", "billing-service"}
PATHS = (
    "/api/v1/streams",
    "/api/v1/streams/{id}",
    "/api/v1/users/me",
    "/api/v1/catalog/search",
    "/api/v1/playback/start",
    "/api/v1/playback/heartbeat",
    "/api/v1/billing/invoices",
    "/api/v1/auth/token",
    "/healthz",
)
METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")
ERRORS = (
    "upstream timeout",
    "connection refused",
    "database deadlock detected",
    "token expired",
    "rate limit exceeded",
    "segment not found",
)
# Weights: mostly INFO, some DEBUG and WARNING, a few errors.
SEVERITIES = ("DEBUG",) * 10 + ("INFO",) * 75 + ("WARNING",) * 9 + ("ERROR",) * 5
SEVERITIES += ("CRITICAL",)
START = datetime(2024, 12, 6, 0, 0, tzinfo=UTC)


def entry(rng: random.Random, n: int) -> str:
    """One LogEntry line; ``n`` is its position, so timestamps only move forward."""
    service = SERVICES[n % 7]
    severity = rng.choice(SEVERITIES)
    status = 200
    if severity in ("ERROR", "CRITICAL"):
        status = rng.choice((500, 502, 503, 504))
    elif severity == "WARNING":
        status = rng.choice((400, 401, 404, 429))
    trace = f"{rng.getrandbits(128):032x}"
    when = START + timedelta(milliseconds=n * 7)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    payload: dict[str, object] = {
        "message": f"{rng.choice(METHODS)} request handled",
        "requestId": f"req-{rng.getrandbits(48):012x}",
        "userId": f"u-{rng.randrange(1, 200_000)}",
        "traceId": trace,
        "latencyMs": int(rng.expovariate(1 / 120)),
        "status": status,
        "method": rng.choice(METHODS),
        "path": rng.choice(PATHS),
    }
    if status >= 500:
        payload["error"] = rng.choice(ERRORS)
        payload["downstream"] = rng.random() < 0.4
    if service in DB_SERVICES:
        payload["dbLatencyMs"] = round(rng.expovariate(1 / 30), 1)
    record = {
        "insertId": f"{n:016x}",
        "jsonPayload": payload,
        "resource": {
            "type": "k8s_container",
            "labels": {
                "project_id": "media-gateway",
                "location": "europe-west1",
                "cluster_name": "prod",
                "namespace_name": "production",
                "pod_name": f"{service}-7f8b9c6d4-{n % 5:05d}",
                "container_name": service,
            },
        },
        "timestamp": stamp,
        "severity": severity,
        "logName": "projects/media-gateway/logs/stdout",
        "trace": f"projects/media-gateway/traces/{trace}",
        "receiveTimestamp": stamp,
    }
    return json.dumps(record, separators=(",", ":"))


def generate(out: Path, size_bytes: int, seed: int = 42) -> int:
    """Write lines until ``size_bytes`` is reached; return how many were written."""
    rng = random.Random(seed)
    written = 0
    lines = 0
    with out.open("w", encoding="utf-8") as handle:
        while written < size_bytes:
            chunk = "".join(entry(rng, lines + i) + "\n" for i in range(10_000))
            handle.write(chunk)
            written += len(chunk)
            lines += 10_000
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=Path("bench/out/logs-1g.jsonl"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    lines = generate(args.out, int(args.gb * 1_000_000_000), args.seed)
    sys.stdout.write(f"{args.out}: {lines} lines\n")


if __name__ == "__main__":
    main()
