"""The one door to the Kubernetes API: official client, short timeouts, typed errors.

Configuration is explicit. ``KubeClient.connect`` reads the kubeconfig file it is
given (``--kubeconfig`` or ``$KUBECONFIG``) and the context it is told (or that
file's current context), or the pod's service account when ``in_cluster`` is set.
It never falls back to ``~/.kube/config`` on its own: a runbook action aimed at
the wrong cluster is worse than an error that asks which one.

Objects travel as the API's own JSON (plain dicts), so what mgops reads is exactly
what ``kubectl get -o json`` shows. Foreign errors become ``mgops.errors`` types:
404 ``NotFound``, 409 ``Conflict``, 401/403 ``Unauthorized``/``Forbidden``, 400/422
``InputError``, an unreachable server ``TargetUnreachable``, anything else
``TargetError``. Reads are retried once when the server could not be reached.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgops.errors import (
    ActionRefused,
    Conflict,
    Forbidden,
    InputError,
    MgopsError,
    NotFound,
    TargetError,
    TargetUnreachable,
    Unauthorized,
)

logger = logging.getLogger("mgops.kube")

Obj = dict[str, Any]

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0


class DisruptionBudgetBlocks(ActionRefused):
    code = "disruption_budget"


@dataclass(frozen=True)
class KubeTarget:
    """Where to connect: a kubeconfig file and context, or the in-cluster account."""

    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False


class KubeClient:
    def __init__(
        self,
        api_client: Any,
        *,
        context: str,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    ) -> None:
        from kubernetes import client as k8s

        self.api_client = api_client
        self.context = context
        self.timeout = timeout
        self.core = k8s.CoreV1Api(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        self.autoscaling = k8s.AutoscalingV2Api(api_client)
        self.policy = k8s.PolicyV1Api(api_client)
        self.custom = k8s.CustomObjectsApi(api_client)

    @classmethod
    def connect(cls, target: KubeTarget) -> KubeClient:
        from kubernetes import client as k8s
        from kubernetes import config as k8s_config
        from kubernetes.config.config_exception import ConfigException

        configuration = k8s.Configuration()
        try:
            if target.in_cluster:
                k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                context = "in-cluster"
            else:
                path = _kubeconfig_path(target.kubeconfig)
                context = target.context or _current_context(path)
                k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=str(path),
                    context=context,
                    client_configuration=configuration,
                    persist_config=False,
                )
        except ConfigException as exc:
            raise InputError(
                f"The Kubernetes configuration is not usable: {exc}."
            ) from None
        # Retries are ours (reads only, see _call); urllib3's would retry writes too.
        configuration.retries = 0
        return cls(k8s.ApiClient(configuration), context=context)

    def close(self) -> None:
        self.api_client.close()

    # -- the boundary -----------------------------------------------------------------

    def _call(
        self,
        what: str,
        fn: Callable[..., Any],
        *args: Any,
        read: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Call one API method for its raw response (a urllib3 response)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        kwargs.setdefault("_request_timeout", self.timeout)
        kwargs["_preload_content"] = False
        attempts = 2 if read else 1
        for attempt in range(1, attempts + 1):
            try:
                return fn(*args, **kwargs)
            except ApiException as exc:
                raise _translate(what, exc.status, exc.body) from None
            except HTTPError as exc:
                if attempt < attempts:
                    time.sleep(0.3)
                    continue
                raise TargetUnreachable(
                    f"The Kubernetes API did not answer while trying to {what} "
                    f"(context {self.context}): {type(exc).__name__}."
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(
        self,
        what: str,
        fn: Callable[..., Any],
        *args: Any,
        read: bool = False,
        **kwargs: Any,
    ) -> Obj:
        response = self._call(what, fn, *args, read=read, **kwargs)
        data = response.data
        try:
            body = json.loads(data) if data else {}
        except ValueError:
            raise TargetError(
                f"The Kubernetes API answered without JSON while trying to {what}."
            ) from None
        if not isinstance(body, dict):
            raise TargetError(
                f"The Kubernetes API sent a non-object while trying to {what}."
            )
        return body

    # -- deployments and replica sets ------------------------------------------------

    def get_deployment(self, namespace: str, name: str) -> Obj:
        return self._json(
            f"read deployment {namespace}/{name}",
            self.apps.read_namespaced_deployment,
            name,
            namespace,
            read=True,
        )

    def list_deployments(self, namespace: str) -> list[Obj]:
        return self._items(
            f"list deployments in {namespace}",
            self.apps.list_namespaced_deployment,
            namespace,
        )

    def patch_deployment(
        self, namespace: str, name: str, body: Any, *, content_type: str = MERGE
    ) -> Obj:
        return self._json(
            f"patch deployment {namespace}/{name}",
            self.apps.patch_namespaced_deployment,
            name,
            namespace,
            body,
            _content_type=content_type,
        )

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> Obj:
        return self._json(
            f"scale deployment {namespace}/{name}",
            self.apps.patch_namespaced_deployment_scale,
            name,
            namespace,
            {"spec": {"replicas": replicas}},
            _content_type=MERGE,
        )

    def list_replicasets(self, namespace: str, selector: str) -> list[Obj]:
        return self._items(
            f"list replica sets in {namespace}",
            self.apps.list_namespaced_replica_set,
            namespace,
            label_selector=selector,
        )

    # -- pods ------------------------------------------------------------------

    def get_pod(self, namespace: str, name: str) -> Obj:
        return self._json(
            f"read pod {namespace}/{name}",
            self.core.read_namespaced_pod,
            name,
            namespace,
            read=True,
        )

    def list_pods(self, namespace: str, selector: str) -> list[Obj]:
        return self._items(
            f"list pods in {namespace}",
            self.core.list_namespaced_pod,
            namespace,
            label_selector=selector,
        )

    def evict_pod(self, namespace: str, name: str) -> None:
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        try:
            self._call(
                f"evict pod {namespace}/{name}",
                self.core.create_namespaced_pod_eviction,
                name,
                namespace,
                body,
            )
        except TargetError as exc:
            if exc.detail.get("status") == 429:
                raise DisruptionBudgetBlocks(
                    f"Evicting pod {name} would break its disruption budget "
                    f"({exc.detail.get('reason_text', 'no budget left')}); nothing was "
                    "done. Wait for the other pods to be Ready, or use --force to "
                    "delete the pod regardless of the budget."
                ) from None
            raise

    def delete_pod(self, namespace: str, name: str) -> None:
        self._call(
            f"delete pod {namespace}/{name}",
            self.core.delete_namespaced_pod,
            name,
            namespace,
        )

    def pod_log(
        self,
        namespace: str,
        name: str,
        *,
        since_seconds: int | None = None,
        container: str | None = None,
    ) -> Iterator[str]:
        """The pod's log, line by line as the container wrote it."""
        kwargs: dict[str, Any] = {}
        if since_seconds is not None:
            kwargs["since_seconds"] = max(1, since_seconds)
        if container:
            kwargs["container"] = container
        response = self._call(
            f"read the log of pod {namespace}/{name}",
            self.core.read_namespaced_pod_log,
            name,
            namespace,
            read=True,
            _request_timeout=(self.timeout[0], 60.0),
            **kwargs,
        )
        pending = b""
        try:
            for chunk in response.stream(64 * 1024):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
            if pending:
                yield pending.decode("utf-8", "replace")
        finally:
            response.release_conn()

    # -- autoscalers, budgets, events, config maps, external secrets -------------------

    def list_hpas(self, namespace: str) -> list[Obj]:
        return self._items(
            f"list autoscalers in {namespace}",
            self.autoscaling.list_namespaced_horizontal_pod_autoscaler,
            namespace,
        )

    def patch_hpa(self, namespace: str, name: str, body: Obj) -> Obj:
        return self._json(
            f"patch autoscaler {namespace}/{name}",
            self.autoscaling.patch_namespaced_horizontal_pod_autoscaler,
            name,
            namespace,
            body,
            _content_type=MERGE,
        )

    def list_events(self, namespace: str) -> list[Obj]:
        return self._items(
            f"list events in {namespace}", self.core.list_namespaced_event, namespace
        )

    def get_configmap(self, namespace: str, name: str) -> Obj | None:
        try:
            return self._json(
                f"read config map {namespace}/{name}",
                self.core.read_namespaced_config_map,
                name,
                namespace,
                read=True,
            )
        except NotFound:
            return None

    def create_configmap(self, namespace: str, body: Obj) -> Obj:
        return self._json(
            f"create config map in {namespace}",
            self.core.create_namespaced_config_map,
            namespace,
            body,
        )

    def replace_configmap(self, namespace: str, name: str, body: Obj) -> Obj:
        return self._json(
            f"replace config map {namespace}/{name}",
            self.core.replace_namespaced_config_map,
            name,
            namespace,
            body,
        )

    def get_external_secret(self, namespace: str, name: str) -> Obj:
        return self._json(
            f"read external secret {namespace}/{name}",
            self.custom.get_namespaced_custom_object,
            "external-secrets.io",
            "v1beta1",
            namespace,
            "externalsecrets",
            name,
            read=True,
        )

    def patch_external_secret(self, namespace: str, name: str, body: Obj) -> Obj:
        return self._json(
            f"patch external secret {namespace}/{name}",
            self.custom.patch_namespaced_custom_object,
            "external-secrets.io",
            "v1beta1",
            namespace,
            "externalsecrets",
            name,
            body,
            _content_type=MERGE,
        )

    def _items(
        self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> list[Obj]:
        body = self._json(what, fn, *args, read=True, **kwargs)
        return list(body.get("items") or [])


def _kubeconfig_path(explicit: str | None) -> Path:
    raw = explicit or os.environ.get("KUBECONFIG")
    if not raw:
        raise InputError(
            "No kubeconfig given: pass --kubeconfig FILE or set KUBECONFIG (mgops does "
            "not fall back to ~/.kube/config), or use --in-cluster inside a pod."
        )
    # KUBECONFIG may list several files; mgops reads the first, as a Limitation
    # until merged kubeconfigs are needed.
    path = Path(raw.split(os.pathsep)[0]).expanduser()
    if not path.is_file():
        raise InputError(f"The kubeconfig {path} does not exist.")
    return path


def _current_context(path: Path) -> str:
    from kubernetes import config as k8s_config

    _, active = k8s_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
        config_file=str(path)
    )
    if not active:
        raise InputError(
            f"The kubeconfig {path} has no current context: pass --context."
        )
    return str(active["name"])


def _translate(what: str, status: int | None, body: str | None) -> MgopsError:
    reason = ""
    try:
        reason = str(json.loads(body or "{}").get("message") or "")
    except ValueError:
        reason = (body or "").strip()[:200]
    said = f": {reason}" if reason else ""
    message = f"Kubernetes refused to {what}{said}."
    detail = {"status": status, "reason_text": reason}
    if status == 404:
        return NotFound(
            f"Kubernetes has no such object while trying to {what}{said}.",
            detail=detail,
        )
    if status == 409:
        return Conflict(
            message + " Someone changed it meanwhile; run the command again.",
            detail=detail,
        )
    if status == 401:
        return Unauthorized(
            message + " Check the kubeconfig's credentials.", detail=detail
        )
    if status == 403:
        return Forbidden(message + " The account lacks permission.", detail=detail)
    if status in (400, 422):
        return InputError(message, detail=detail)
    return TargetError(
        f"Kubernetes failed to {what} (HTTP {status}){said}.", detail=detail
    )
