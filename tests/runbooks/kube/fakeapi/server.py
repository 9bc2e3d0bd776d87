"""The HTTP face of the fake API server: real REST paths, JSON bodies, watches.

Paths follow the API server's layout::

    /api/v1/namespaces/{ns}/{plural}[/{name}[/{subresource}]]
    /apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/{subresource}]]

plus ``/version``, ``/api``, ``/apis`` and the group-version discovery documents.
Patches are accepted as kubectl sends them: JSON patch, merge patch, strategic
merge patch. ``?watch=true`` streams newline-delimited watch events.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.runbooks.kube.fakeapi import discovery
from tests.runbooks.kube.fakeapi.objects import (
    ApiError,
    Obj,
    json_patch,
    matches,
    merge_patch,
    selector_string,
    strategic_merge_patch,
)

if TYPE_CHECKING:
    from tests.runbooks.kube.fakeapi.cluster import FakeCluster


@dataclass
class Route:
    resource: discovery.Resource
    namespace: str | None
    name: str | None
    sub: str | None


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any


def parse_route(path: str) -> Route | None:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 2 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = discovery.resource_for(group, version, rest[0])
    if resource is None:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return Route(resource, namespace, name, sub)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = (self.headers.get("Content-Type") or "").split(";")[0]
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            self._send(400, ApiError(400, "BadRequest", "body is not JSON").status())
            return
        request = Request(method, url.path, query, content_type, body)
        self.server.cluster.requests.append(request)
        try:
            self._route(request)
        except ApiError as exc:
            self._send(exc.code, exc.status())
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, req: Request) -> None:
        cluster = self.server.cluster
        if req.path == "/version":
            self._send(200, discovery.version_info())
            return
        if req.path == "/api":
            self._send(200, discovery.api_versions(f"127.0.0.1:{cluster.port}"))
            return
        if req.path == "/apis":
            self._send(200, discovery.api_groups())
            return
        parts = [p for p in req.path.split("/") if p]
        if parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            doc = discovery.resource_list(group, version)
            if doc is None:
                raise ApiError(
                    404, "NotFound", "the server could not find the requested resource"
                )
            self._send(200, doc)
            return
        route = parse_route(req.path)
        if route is None:
            raise ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        if route.name is None:
            self._collection(req, route)
        elif route.sub is None:
            self._object(req, route)
        else:
            self._subresource(req, route)

    # -- collections ----------------------------------------------------------

    def _collection(self, req: Request, route: Route) -> None:
        res, store = route.resource, self.server.cluster.store
        if req.method == "POST":
            if route.namespace is None:
                raise ApiError(405, "MethodNotAllowed", "create needs a namespace")
            body = dict(req.body or {})
            body.setdefault("apiVersion", res.group_version)
            body.setdefault("kind", res.kind)
            if req.query.get("dryRun"):
                self._send(201, body)
                return
            self._send(201, store.create(res.group, res.plural, route.namespace, body))
            return
        if req.method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{req.method} on a collection")
        labels, fields = req.query.get("labelSelector"), req.query.get("fieldSelector")
        if req.query.get("watch") in ("true", "1"):
            self._watch(req, route, labels, fields)
            return
        with store.lock:
            items = store.list(res.group, res.plural, route.namespace, labels, fields)
            rv = str(store.rv)
        if self._wants_table():
            self._send(200, discovery.as_table(res.plural, items, rv))
            return
        self._send(
            200,
            {
                "kind": f"{res.kind}List",
                "apiVersion": res.group_version,
                "metadata": {"resourceVersion": rv},
                "items": items,
            },
        )

    def _watch(
        self, req: Request, route: Route, labels: str | None, fields: str | None
    ) -> None:
        res, store = route.resource, self.server.cluster.store
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        timeout = min(float(req.query.get("timeoutSeconds") or 60), 60.0)
        deadline = time.monotonic() + timeout
        since = req.query.get("resourceVersion") or "0"
        with store.lock:
            if since == "0":
                items = store.list(
                    res.group, res.plural, route.namespace, labels, fields
                )
                for obj in items:
                    self._chunk({"type": "ADDED", "object": obj})
                since = str(store.rv)
            last = int(since)
        while time.monotonic() < deadline:
            with store.changed:
                store.changed.wait_for(
                    functools.partial(self._woken, last), timeout=0.5
                )
                if store.stopped or self.server.closing:
                    break
                pending = [e for e in store.events if e.rv > last]
                last = store.rv
            for event in pending:
                if (event.group, event.plural) != (res.group, res.plural):
                    continue
                ns = event.obj["metadata"].get("namespace")
                if route.namespace and ns != route.namespace:
                    continue
                if matches(event.obj, labels, fields):
                    self._chunk({"type": event.type, "object": event.obj})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _woken(self, since: int) -> bool:
        store = self.server.cluster.store
        return store.rv > since or store.stopped or self.server.closing

    def _chunk(self, event: Obj) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    # -- single objects -------------------------------------------------------

    def _object(self, req: Request, route: Route) -> None:
        res, store, cluster = (
            route.resource,
            self.server.cluster.store,
            self.server.cluster,
        )
        ns, name = route.namespace or "", route.name or ""
        dry = bool(req.query.get("dryRun"))
        if req.method == "GET":
            obj = store.get(res.group, res.plural, ns, name)
            if self._wants_table():
                self._send(
                    200,
                    discovery.as_table(
                        res.plural, [obj], obj["metadata"]["resourceVersion"]
                    ),
                )
            else:
                self._send(200, obj)
            return
        if req.method == "PUT":
            if dry:
                self._send(200, req.body)
                return
            self._send(
                200, store.replace(res.group, res.plural, ns, req.body, status=False)
            )
            return
        if req.method == "PATCH":
            with store.lock:
                old = store.get(res.group, res.plural, ns, name)
                new = apply_patch(old, req)
                if dry:
                    self._send(200, new)
                    return
                self._send(
                    200, store.commit(res.group, res.plural, ns, old, new, status=False)
                )
            return
        if req.method == "DELETE":
            grace = (req.body or {}).get(
                "gracePeriodSeconds", req.query.get("gracePeriodSeconds")
            )
            self._send(200, cluster.delete_object(res, ns, name, grace=grace))
            return
        raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed")

    def _subresource(self, req: Request, route: Route) -> None:
        res, cluster = route.resource, self.server.cluster
        ns, name, sub = route.namespace or "", route.name or "", route.sub
        if sub == "scale" and res.plural in ("deployments", "replicasets"):
            self._scale(req, res, ns, name)
        elif sub == "status":
            self._status(req, res, ns, name)
        elif sub == "log" and res.plural == "pods" and req.method == "GET":
            text = cluster.pod_log(ns, name, req.query)
            self._send_text(200, text)
        elif sub == "eviction" and res.plural == "pods" and req.method == "POST":
            cluster.evict(ns, name, dry=bool(req.query.get("dryRun")))
            self._send(
                201,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "code": 201,
                },
            )
        else:
            raise ApiError(404, "NotFound", f"no subresource {sub} on {res.plural}")

    def _scale(self, req: Request, res: discovery.Resource, ns: str, name: str) -> None:
        store = self.server.cluster.store
        with store.lock:
            obj = store.get(res.group, res.plural, ns, name)
            scale = scale_of(obj)
            if req.method == "GET":
                self._send(200, scale)
                return
            if req.method == "PUT":
                sent = req.body or {}
                rv = sent.get("metadata", {}).get("resourceVersion")
                if rv and rv != obj["metadata"]["resourceVersion"]:
                    raise ApiError(409, "Conflict", "the object has been modified")
                new_scale = sent
            elif req.method == "PATCH":
                new_scale = apply_patch(scale, req)
            else:
                raise ApiError(405, "MethodNotAllowed", f"{req.method} on scale")
            replicas = int((new_scale.get("spec") or {}).get("replicas", 0))
            if replicas < 0:
                raise ApiError(
                    422, "Invalid", "spec.replicas: must be greater than or equal to 0"
                )
            if req.query.get("dryRun"):
                self._send(200, new_scale)
                return
            updated = dict(obj, spec=dict(obj["spec"], replicas=replicas))
            saved = store.commit(res.group, res.plural, ns, obj, updated, status=False)
            self._send(200, scale_of(saved))

    def _status(
        self, req: Request, res: discovery.Resource, ns: str, name: str
    ) -> None:
        store = self.server.cluster.store
        with store.lock:
            obj = store.get(res.group, res.plural, ns, name)
            if req.method == "GET":
                self._send(200, obj)
                return
            new = req.body if req.method == "PUT" else apply_patch(obj, req)
            self._send(
                200, store.commit(res.group, res.plural, ns, obj, new, status=True)
            )

    # -- responses ------------------------------------------------------------

    def _wants_table(self) -> bool:
        accept = self.headers.get("Accept") or ""
        return "as=Table" in accept

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_text(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def apply_patch(obj: Obj, req: Request) -> Obj:
    kind = req.content_type
    if kind == "application/json-patch+json":
        if not isinstance(req.body, list):
            raise ApiError(400, "BadRequest", "a JSON patch is a list of operations")
        return json_patch(obj, req.body)
    if not isinstance(req.body, dict):
        raise ApiError(400, "BadRequest", "a merge patch is a JSON object")
    if kind == "application/merge-patch+json":
        return merge_patch(obj, req.body)
    if kind == "application/strategic-merge-patch+json":
        return strategic_merge_patch(obj, req.body)
    raise ApiError(
        415, "UnsupportedMediaType", f"the patch type {kind!r} is not supported"
    )


def scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in (
                "name",
                "namespace",
                "uid",
                "resourceVersion",
                "creationTimestamp",
            )
            if k in meta
        },
        "spec": {"replicas": obj["spec"].get("replicas", 1)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": selector_string(obj["spec"]["selector"].get("matchLabels", {})),
        },
    }


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, cluster: FakeCluster) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.cluster = cluster
        self.closing = False
