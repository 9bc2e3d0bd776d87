"""A small Prometheus query client for the runbooks' guards (HTTP API v1, httpx).

    prom = PrometheusClient("http://127.0.0.1:9090")
    for sample in prom.query('up{job="api"}'):
        print(sample.labels["instance"], sample.value)

Only instant queries are needed: a guard asks "what is it now?". Errors become
``mgops.errors`` types: no answer ``TargetUnreachable``, a query Prometheus
rejects ``InputError``, anything else ``TargetError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx

from mgops.errors import InputError, TargetError, TargetUnreachable


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class PrometheusClient:
    def __init__(
        self, base_url: str, *, http: httpx.Client | None = None, timeout: float = 5.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.Client(timeout=timeout)
        self._owns_http = http is None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def query(self, promql: str) -> list[Sample]:
        """An instant vector (or scalar) as samples; NaN values are dropped."""
        data = self._get("/api/v1/query", {"query": promql})
        kind, result = data.get("resultType"), data.get("result")
        if kind == "vector":
            samples = [
                Sample(dict(item.get("metric") or {}), float(item["value"][1]))
                for item in result or []
            ]
        elif kind == "scalar" and result:
            samples = [Sample({}, float(result[1]))]
        else:
            raise TargetError(
                f"Prometheus answered a {kind} where mgops expected a vector."
            )
        return [s for s in samples if not math.isnan(s.value)]

    def value(self, promql: str) -> float | None:
        """The single value of a query that aggregates to one series, or None."""
        samples = self.query(promql)
        return samples[0].value if samples else None

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._http.get(self.base_url + path, params=params)
        except httpx.HTTPError as exc:
            raise TargetUnreachable(
                f"Prometheus at {self.base_url} did not answer ({type(exc).__name__})."
            ) from None
        try:
            body = response.json()
        except ValueError:
            raise TargetError(
                f"Prometheus at {self.base_url} answered HTTP {response.status_code} "
                "without JSON."
            ) from None
        if body.get("status") != "success":
            message = body.get("error") or f"HTTP {response.status_code}"
            if body.get("errorType") == "bad_data":
                raise InputError(f"Prometheus rejected the query: {message}.")
            raise TargetError(f"Prometheus failed the query: {message}.")
        return dict(body.get("data") or {})
