"""Pod logs as one more source for ``mgops logs query ... --service SERVICE``.

``pod_log_lines`` yields the raw lines the service's pods wrote (the pods its
deployment selects, in name order), read through the API's ``pods/log``
subresource. The log query engine parses them like any other JSON-lines input.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from mgops.errors import InputError, NotFound
from mgops.runbooks.kube.client import KubeClient
from mgops.runbooks.kube.scope import selector_of


def pod_log_lines(
    client: KubeClient,
    service: str,
    namespace: str,
    *,
    since: timedelta | None = None,
    container: str | None = None,
) -> Iterator[str]:
    """Every log line of the service's pods; ``service`` names its deployment."""
    try:
        selector = selector_of(client.get_deployment(namespace, service))
    except NotFound:
        raise NotFound(
            f"There is no deployment {service} in namespace {namespace} to read "
            "logs from."
        ) from None
    seconds = int(since.total_seconds()) if since is not None else None
    pods = sorted(
        client.list_pods(namespace, selector), key=lambda p: p["metadata"]["name"]
    )
    for pod in pods:
        try:
            yield from client.pod_log(
                namespace,
                pod["metadata"]["name"],
                since_seconds=seconds,
                container=container,
            )
        except InputError:
            # The API answers 400 for a pod whose container has not started yet:
            # it has no log, which is not an error of the query.
            continue
