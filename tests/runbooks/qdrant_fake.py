"""A fake Qdrant server on loopback that holds itself to Qdrant's OpenAPI document.

There is no Qdrant server on these machines. This fake answers the endpoints
mgops uses, with state (collections, optimizer status, snapshots), and checks
every request it receives and every response it sends against the published
contract: the method and path must exist in ``paths``, query parameters must be
declared, and bodies must validate against the referenced component schemas
(OpenAPI 3.0 ``nullable`` translated to JSON Schema). Anything else is recorded
in ``violations``; the fixture fails the test when that list is not empty.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema_rs


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema: ``nullable: true`` becomes a null type."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k not in ("example",)}
    if out.pop("nullable", None) is not True:
        return out
    if "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    if any(k in out for k in ("$ref", "anyOf", "oneOf", "allOf")):
        return {"anyOf": [out, {"type": "null"}]}
    return {"type": "null"}  # a bare {"nullable": true} branch of an anyOf


@dataclass
class Operation:
    template: str
    method: str
    spec: dict[str, Any]

    @property
    def query_params(self) -> dict[str, dict[str, Any]]:
        return {
            p["name"]: p for p in self.spec.get("parameters", []) if p["in"] == "query"
        }


class Contract:
    """Qdrant's OpenAPI document, ready to check requests and responses."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.components = {"schemas": to_json_schema(spec["components"]["schemas"])}
        self.routes: list[tuple[re.Pattern[str], str]] = []
        for template in spec["paths"]:
            segments = [
                "[^/]+" if seg.startswith("{") else re.escape(seg)
                for seg in template.split("/")
            ]
            self.routes.append((re.compile("^" + "/".join(segments) + "$"), template))
        # Literal segments win over parameters (/collections/aliases vs {name}).
        self.routes.sort(key=lambda r: r[1].count("{"))
        self._validators: dict[str, Any] = {}

    def operation(self, method: str, path: str) -> Operation | None:
        for regex, template in self.routes:
            if regex.match(path):
                op = self.spec["paths"][template].get(method.lower())
                if op is not None:
                    return Operation(template, method.lower(), op)
        return None

    def errors(self, schema: dict[str, Any], value: Any) -> list[str]:
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            root = {"allOf": [to_json_schema(schema)], "components": self.components}
            validator = jsonschema_rs.Draft4Validator(root, validate_formats=True)
            self._validators[key] = validator
        return [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(value)]

    def check_request(
        self, op: Operation, query: dict[str, list[str]], body: Any
    ) -> list[str]:
        problems = [
            f"query parameter {name!r} is not in the contract"
            for name in query
            if name not in op.query_params
        ]
        for name, values in query.items():
            declared = op.query_params.get(name, {}).get("schema", {})
            if declared.get("type") == "boolean" and values[0] not in ("true", "false"):
                problems.append(f"query parameter {name!r} is not a boolean")
        content = (op.spec.get("requestBody") or {}).get("content", {})
        schema = (content.get("application/json") or {}).get("schema")
        if body is not None and schema is None:
            problems.append("a body was sent where the contract takes none")
        if schema is not None:
            problems += [f"request {e}" for e in self.errors(schema, body)]
        return problems

    def check_binary(self, op: Operation, status: int) -> list[str]:
        declared = op.spec["responses"].get(str(status), {}).get("content", {})
        if "application/octet-stream" in declared:
            return []
        return [f"status {status} is not declared as a file download"]

    def check_response(self, op: Operation, status: int, body: Any) -> list[str]:
        responses = op.spec["responses"]
        declared = (
            responses.get(str(status))
            or responses.get(f"{str(status)[0]}XX")
            or responses.get("default")
        )
        if declared is None:
            return [f"status {status} is not in the contract"]
        content = declared.get("content", {})
        if "application/json" not in content:
            return [] if body is None else ["a JSON body where the contract has none"]
        return [
            f"response {e}"
            for e in self.errors(content["application/json"]["schema"], body)
        ]


@dataclass
class FakeCollection:
    name: str
    status: str = "green"
    indexing_threshold: int | None = 20_000
    points: int = 1000
    segments: int = 4
    snapshots: dict[str, bytes] = field(default_factory=dict)
    snapshot_times: dict[str, str] = field(default_factory=dict)
    recovered_from: list[dict[str, Any]] = field(default_factory=list)
    gets_until_green: int = 0
    settle_after_gets: int = 2

    def info(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "optimizer_status": "ok",
            "indexed_vectors_count": 0 if self.indexing_threshold == 0 else self.points,
            "points_count": self.points,
            "segments_count": self.segments,
            "payload_schema": {},
            "config": {
                "params": {
                    "vectors": {"size": 4, "distance": "Cosine"},
                    "shard_number": 1,
                    "replication_factor": 1,
                    "write_consistency_factor": 1,
                    "on_disk_payload": True,
                },
                "hnsw_config": {
                    "m": 16,
                    "ef_construct": 100,
                    "full_scan_threshold": 10000,
                    "max_indexing_threads": 0,
                    "on_disk": False,
                },
                "optimizer_config": {
                    "deleted_threshold": 0.2,
                    "vacuum_min_vector_number": 1000,
                    "default_segment_number": 0,
                    "max_segment_size": None,
                    "memmap_threshold": None,
                    "indexing_threshold": self.indexing_threshold,
                    "flush_interval_sec": 5,
                    "max_optimization_threads": None,
                },
                "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
                "quantization_config": None,
            },
        }


def ok(result: Any) -> dict[str, Any]:
    return {"result": result, "status": "ok", "time": 0.001}


def not_found(what: str) -> tuple[int, dict[str, Any]]:
    return 404, {"status": {"error": f"Not found: {what}"}, "time": 0.0, "result": None}


class FakeQdrant:
    """State and behaviour; ``handle`` is called for every HTTP request."""

    def __init__(
        self, contract: Contract, snapshots_dir: str = "/qdrant/snapshots"
    ) -> None:
        self.contract = contract
        self.snapshots_dir = snapshots_dir
        self.collections: dict[str, FakeCollection] = {}
        self.requests: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.base_url = ""
        self.cluster_enabled = False
        self.lock = threading.Lock()

    def add(self, name: str, **state: Any) -> FakeCollection:
        self.collections[name] = FakeCollection(name=name, **state)
        return self.collections[name]

    def handle(
        self, method: str, raw_path: str, body_bytes: bytes
    ) -> tuple[int, str, bytes]:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        body = json.loads(body_bytes) if body_bytes else None
        with self.lock:
            self.requests.append(
                {"method": method, "path": path, "query": query, "body": body}
            )
            op = self.contract.operation(method, path)
            if op is None:
                self.violations.append(f"{method} {path} is not in the Qdrant API")
                return (
                    405,
                    "application/json",
                    b'{"status":{"error":"method not allowed"}}',
                )
            self.violations += [
                f"{method} {path}: {p}"
                for p in self.contract.check_request(op, query, body)
            ]
            status, payload = self._route(method, op.template, path, body)
            if isinstance(payload, bytes):
                self.violations += [
                    f"{method} {path}: {p}"
                    for p in self.contract.check_binary(op, status)
                ]
                return status, "application/octet-stream", payload
            self.violations += [
                f"{method} {path}: {p}"
                for p in self.contract.check_response(op, status, payload)
            ]
            return status, "application/json", json.dumps(payload).encode()

    def _route(
        self, method: str, template: str, path: str, body: Any
    ) -> tuple[int, Any]:
        segments = [unquote(s) for s in path.strip("/").split("/")]
        if template == "/collections":
            return 200, ok(
                {"collections": [{"name": n} for n in sorted(self.collections)]}
            )
        if template == "/cluster":
            return 200, ok(self._cluster())
        name = segments[1]
        coll = self.collections.get(name)
        if coll is None:
            return not_found(f"Collection `{name}` doesn't exist!")
        if template == "/collections/{collection_name}" and method == "GET":
            return 200, ok(self._get_info(coll))
        if template == "/collections/{collection_name}" and method == "PATCH":
            return 200, ok(self._patch(coll, body or {}))
        if template == "/collections/{collection_name}/snapshots":
            return (
                (200, ok(self._create_snapshot(coll)))
                if method == "POST"
                else (200, ok(self._list_snapshots(coll)))
            )
        if template == "/collections/{collection_name}/snapshots/{snapshot_name}":
            data = coll.snapshots.get(segments[3])
            return (200, data) if data is not None else not_found(segments[3])
        if template == "/collections/{collection_name}/snapshots/recover":
            return self._recover(coll, body)
        return 500, {
            "status": {"error": f"fake has no behaviour for {template}"},
            "time": 0,
        }

    def _cluster(self) -> dict[str, Any]:
        if not self.cluster_enabled:
            return {"status": "disabled"}
        return {
            "status": "enabled",
            "peer_id": 1,
            "peers": {
                "1": {"uri": "http://qdrant-0.qdrant-headless:6335/"},
                "2": {"uri": "http://qdrant-1.qdrant-headless:6335/"},
            },
            "raft_info": {
                "term": 3,
                "commit": 120,
                "pending_operations": 0,
                "leader": 1,
                "role": "Leader",
                "is_voter": True,
            },
            "consensus_thread_status": {
                "consensus_thread_status": "working",
                "last_update": "2026-03-02T10:00:00.000000Z",
            },
            "message_send_failures": {},
        }

    def _get_info(self, coll: FakeCollection) -> dict[str, Any]:
        if coll.status == "yellow":
            coll.gets_until_green -= 1
            if coll.gets_until_green <= 0:
                coll.status = "green"
        return coll.info()

    def _patch(self, coll: FakeCollection, body: dict[str, Any]) -> bool:
        diff = body.get("optimizers_config")
        if diff is not None:
            if diff.get("indexing_threshold") is not None:
                coll.indexing_threshold = diff["indexing_threshold"]
            # Any update wakes optimizers that were pending (grey).
            if coll.status == "grey":
                coll.status = "yellow"
                coll.gets_until_green = coll.settle_after_gets
        return True

    def _create_snapshot(self, coll: FakeCollection) -> dict[str, Any]:
        number = len(coll.snapshots) + 1
        name = f"{coll.name}-{number}-2026-03-02-10-00-0{number}.snapshot"
        coll.snapshots[name] = hashlib.sha256(name.encode()).digest() * 4096
        coll.snapshot_times[name] = f"2026-03-02T10:00:0{number}"
        return self._describe(coll, name)

    def _describe(self, coll: FakeCollection, name: str) -> dict[str, Any]:
        data = coll.snapshots[name]
        return {
            "name": name,
            "creation_time": coll.snapshot_times[name],
            "size": len(data),
            "checksum": hashlib.sha256(data).hexdigest(),
        }

    def _list_snapshots(self, coll: FakeCollection) -> list[dict[str, Any]]:
        return [self._describe(coll, n) for n in sorted(coll.snapshots)]

    def _recover(self, coll: FakeCollection, body: dict[str, Any]) -> tuple[int, Any]:
        location = body.get("location", "")
        prefix_file = f"file://{self.snapshots_dir}/{coll.name}/"
        prefix_url = f"{self.base_url}/collections/{coll.name}/snapshots/"
        name = None
        for prefix in (prefix_file, prefix_url):
            if location.startswith(prefix):
                name = unquote(location[len(prefix) :])
        if name is None or name not in coll.snapshots:
            error = f"Bad request: snapshot location {location!r} cannot be read"
            return 400, {"status": {"error": error}, "time": 0.0, "result": None}
        checksum = body.get("checksum")
        if checksum and checksum != self._describe(coll, name)["checksum"]:
            return 400, {
                "status": {"error": "checksum mismatch"},
                "time": 0.0,
                "result": None,
            }
        coll.recovered_from.append(body)
        return 200, ok(True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        status, content_type, payload = self.server.app.handle(
            self.command, self.path, body
        )
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: FakeQdrant


def serve(app: FakeQdrant) -> tuple[_Server, str]:
    """Start the fake on a free loopback port; returns the server and its URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.app = app
    url = f"http://127.0.0.1:{server.server_address[1]}"
    app.base_url = url
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server, url


def load_contract(path: Path) -> Contract:
    return Contract(json.loads(path.read_text("utf-8")))
