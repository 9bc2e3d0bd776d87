"""The Prometheus side of scaling: the CPU guard before, the watch after.

Metric names are the ones a standard cluster exposes:

- CPU per pod, in percent of its CPU request: cAdvisor's
  ``container_cpu_usage_seconds_total`` over kube-state-metrics'
  ``kube_pod_container_resource_requests{resource="cpu"}``; pods are the
  deployment's (``<deployment>-<replicaset hash>-<pod hash>``).
- Error ratio: ``http_requests_total`` with ``status=~"5.."`` over all, labelled
  ``namespace`` and ``service``.
- Latency: p99 of ``http_request_duration_seconds_bucket``, same labels.

Scale-down guard (runbook 1.2): the CPU the pods use now, spread over N pods,
must stay at or under 70% of a pod's request: ``sum(per-pod %) / N <= 70``.

After a scale (runbook 1.2, "watch for 15 minutes"): the error ratio is stable if
it never exceeds 1.5 x its value at the start plus 0.5 percentage points; latency
is stable if p99 never exceeds the start by more than 25% (at least 50 ms); CPU
must stay under 80% on every pod. A check without data fails: mgops cannot say
it was fine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mgops.clock import Clock
from mgops.runbooks.prometheus import PrometheusClient

SCALE_DOWN_CPU_LIMIT = 70.0
WATCH_CPU_LIMIT = 80.0


@dataclass(frozen=True)
class ServiceQueries:
    namespace: str
    deployment: str
    service: str
    window: str = "5m"

    @property
    def _pods(self) -> str:
        # Deployment names are DNS labels: nothing in them needs escaping.
        return (
            f'namespace="{self.namespace}",pod=~"{self.deployment}-[a-z0-9]+-[a-z0-9]+"'
        )

    @property
    def _http(self) -> str:
        return f'namespace="{self.namespace}",service="{self.service}"'

    def cpu_percent_by_pod(self) -> str:
        used = (
            "sum by (pod) (rate(container_cpu_usage_seconds_total"
            f'{{{self._pods},container!="",container!="POD"}}[{self.window}]))'
        )
        requested = (
            "sum by (pod) (kube_pod_container_resource_requests"
            f'{{{self._pods},resource="cpu"}})'
        )
        return f"100 * {used} / {requested}"

    def error_ratio(self) -> str:
        failed = f'{self._http},status=~"5.."'
        errors = f"sum(rate(http_requests_total{{{failed}}}[{self.window}]))"
        total = f"sum(rate(http_requests_total{{{self._http}}}[{self.window}]))"
        return f"({errors} or vector(0)) / {total}"

    def latency_p99(self) -> str:
        return (
            "histogram_quantile(0.99, sum by (le) (rate("
            f"http_request_duration_seconds_bucket{{{self._http}}}[{self.window}])))"
        )


@dataclass
class CpuProjection:
    per_pod: dict[str, float]
    replicas: int

    @property
    def total(self) -> float:
        return sum(self.per_pod.values())

    @property
    def projected(self) -> float:
        return self.total / self.replicas if self.replicas else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {
            "pods_measured": len(self.per_pod),
            "per_pod_percent": {
                k: round(v, 1) for k, v in sorted(self.per_pod.items())
            },
            "target_replicas": self.replicas,
            "projected_percent": round(self.projected, 1),
            "limit_percent": SCALE_DOWN_CPU_LIMIT,
        }


def project_cpu(
    prom: PrometheusClient, queries: ServiceQueries, replicas: int
) -> CpuProjection:
    samples = prom.query(queries.cpu_percent_by_pod())
    per_pod = {s.labels.get("pod", "?"): s.value for s in samples}
    return CpuProjection(per_pod, replicas)


@dataclass
class WatchSample:
    seconds: float
    error_ratio: float | None
    latency_p99: float | None
    cpu_max: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "t": round(self.seconds, 1),
            "error_ratio": self.error_ratio,
            "latency_p99_s": self.latency_p99,
            "cpu_max_percent": self.cpu_max,
        }


@dataclass
class WatchReport:
    samples: list[WatchSample] = field(default_factory=list)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": self.checks,
            "samples": [s.as_dict() for s in self.samples],
        }


def sample_now(
    prom: PrometheusClient, queries: ServiceQueries, seconds: float
) -> WatchSample:
    cpu = [s.value for s in prom.query(queries.cpu_percent_by_pod())]
    return WatchSample(
        seconds=seconds,
        error_ratio=prom.value(queries.error_ratio()),
        latency_p99=prom.value(queries.latency_p99()),
        cpu_max=max(cpu) if cpu else None,
    )


def watch_service(
    prom: PrometheusClient,
    queries: ServiceQueries,
    *,
    clock: Clock,
    duration: float,
    interval: float,
    on_sample: Callable[[WatchSample], None] | None = None,
) -> WatchReport:
    """Sample until ``duration`` has passed, then judge the three checks."""
    report = WatchReport()
    started = clock.now()
    while True:
        elapsed = (clock.now() - started).total_seconds()
        sample = sample_now(prom, queries, elapsed)
        report.samples.append(sample)
        if on_sample:
            on_sample(sample)
        if elapsed >= duration:
            break
        clock.sleep(min(interval, max(0.0, duration - elapsed)) or interval)
    report.checks = judge(report.samples)
    return report


def judge(samples: list[WatchSample]) -> dict[str, dict[str, Any]]:
    return {
        "error_rate_stable": _stable(
            [s.error_ratio for s in samples], lambda base: base * 0.5 + 0.005
        ),
        "latency_stable": _stable(
            [s.latency_p99 for s in samples], lambda base: max(base * 0.25, 0.05)
        ),
        "cpu_below_80": _below([s.cpu_max for s in samples], WATCH_CPU_LIMIT),
    }


def _stable(
    values: list[float | None], tolerance: Callable[[float], float]
) -> dict[str, Any]:
    seen = [v for v in values if v is not None]
    if not seen:
        return {"ok": False, "detail": "no data in Prometheus"}
    baseline, worst = seen[0], max(seen)
    limit = baseline + tolerance(baseline)
    return {
        "ok": worst <= limit and len(seen) == len(values),
        "baseline": baseline,
        "worst": worst,
        "limit": limit,
        "missing_samples": len(values) - len(seen),
    }


def _below(values: list[float | None], limit: float) -> dict[str, Any]:
    seen = [v for v in values if v is not None]
    if not seen:
        return {"ok": False, "detail": "no data in Prometheus"}
    worst = max(seen)
    return {
        "ok": worst < limit and len(seen) == len(values),
        "worst": worst,
        "limit": limit,
        "missing_samples": len(values) - len(seen),
    }
