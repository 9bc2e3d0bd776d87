"""Real servers for the tests, started on loopback on free ports.

Each starter returns a handle with the URL and a ``stop()``; fixtures in
``conftest.py`` own their lifetime. A server whose package is missing is a test
failure that names the package (``make test`` installs them), never a skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout:.0f}s")


def require_binary(path: str | Path, package: str) -> Path:
    found = Path(path) if Path(path).is_absolute() else shutil.which(str(path))
    if not found or not Path(found).exists():
        pytest.fail(
            f"{path} is missing: install the Debian package {package} "
            "(make test-deps does)."
        )
    return Path(found)


def _as_postgres_user() -> list[str]:
    """Run as ``postgres`` when we are root: initdb and postgres refuse root."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _chown_for_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(path, pw.pw_uid, pw.pw_gid)


@dataclass
class PostgresServer:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(os.devnull))
    cleanup: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def postmaster_pid(self) -> int | None:
        """The server's own pid: ``self.process`` may be runuser, which does not
        pass SIGINT on, so signals go to the pid in ``postmaster.pid``."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, *, remove: bool = True) -> None:
        if self.process and self.process.poll() is None:
            pid = self.postmaster_pid() or self.process.pid
            _signal(pid, signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal(pid, signal.SIGQUIT)  # immediate shutdown
                self.process.kill()
                self.process.wait()
        if remove:
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)
            for path in self.cleanup:
                shutil.rmtree(path, ignore_errors=True)


def _signal(pid: int | None, sig: signal.Signals) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def start_postgres(
    *,
    base: Path | None = None,
    extra_conf: dict[str, str] | None = None,
    data_dir: Path | None = None,
    initdb: bool = True,
) -> PostgresServer:
    """A PostgreSQL 15 cluster owned by ``postgres`` when run as root, trust auth."""
    require_binary(PG_BIN / "postgres", "postgresql-15")
    # Not under pytest's tmp_path: its parents are private to the caller, and the
    # server runs as ``postgres`` when the tests run as root.
    root = Path(tempfile.mkdtemp(prefix="mgops-pg-", dir=base))
    root.chmod(0o755)
    _chown_for_postgres(root)
    data = data_dir or root / "data"
    port = free_port()
    if initdb:
        subprocess.run(
            [
                *_as_postgres_user(),
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
    conf = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{root}'",
        "fsync": "off",
        "shared_preload_libraries": "'pg_stat_statements'",
        "max_connections": "100",
    }
    conf.update(extra_conf or {})
    with (data / "postgresql.auto.conf").open("a") as fh:
        for key, value in conf.items():
            fh.write(f"{key} = {value}\n")
    log = root / f"postgres-{port}.log"
    log.touch()
    _chown_for_postgres(log)
    process = subprocess.Popen(
        [*_as_postgres_user(), str(PG_BIN / "postgres"), "-D", str(data)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    server = PostgresServer(data_dir=data, port=port, process=process, log=log)
    try:
        _wait_ready(server)
    except Exception:
        server.stop()
        raise RuntimeError(
            f"PostgreSQL did not start:\n{log.read_text()[-2000:]}"
        ) from None
    return server


def _wait_ready(server: PostgresServer, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process and server.process.poll() is not None:
            raise RuntimeError("postgres exited")
        try:
            with psycopg.connect(server.url, connect_timeout=2) as conn:
                conn.execute("select 1")
                return
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise TimeoutError("PostgreSQL did not accept connections")


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self, *, remove: bool = True) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if remove:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis(*, cluster: bool = False, workdir: Path | None = None) -> RedisServer:
    """A redis-server on loopback, no persistence; cluster-enabled when asked."""
    binary = require_binary("redis-server", "redis-server")
    root = workdir or Path(tempfile.mkdtemp(prefix="mgops-redis-"))
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        str(binary),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--dir", str(root),
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--latency-monitor-threshold", "1",
    ]  # fmt: skip
    if cluster:
        args += [
            "--cluster-enabled", "yes",
            "--cluster-config-file", f"nodes-{port}.conf",
            "--cluster-node-timeout", "5000",
            # The bus port defaults to port + 10000, which may be taken or
            # above 65535; name a free one.
            "--cluster-port", str(free_port()),
        ]  # fmt: skip
    log = (root / f"redis-{port}.log").open("ab")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=15)
    except TimeoutError:
        process.kill()
        process.wait()
        raise RuntimeError(f"redis-server did not start on {port}") from None
    return RedisServer(port=port, process=process, workdir=root)


@dataclass
class RedisCluster:
    nodes: list[RedisServer]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def stop(self) -> None:
        for node in self.nodes:
            node.stop(remove=False)
        if self.nodes:
            shutil.rmtree(self.nodes[0].workdir, ignore_errors=True)


def start_redis_cluster(size: int = 3) -> RedisCluster:
    """``size`` primaries, no replicas, all 16384 slots assigned, state ok."""
    cli = require_binary("redis-cli", "redis-tools")
    root = Path(tempfile.mkdtemp(prefix="mgops-redis-cluster-"))
    cluster = RedisCluster([])
    try:
        for _ in range(size):
            cluster.nodes.append(start_redis(cluster=True, workdir=root))
        nodes = cluster.nodes
        subprocess.run(
            [
                str(cli),
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        _wait_cluster_ok(cli, nodes)
    except Exception:
        cluster.stop()
        raise
    return cluster


def _wait_cluster_ok(cli: Path, nodes: list[RedisServer], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [
            subprocess.run(
                [str(cli), "-p", str(n.port), "cluster", "info"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            for n in nodes
        ]
        if all("cluster_state:ok" in s for s in states):
            return
        time.sleep(0.2)
    raise TimeoutError("the Redis cluster never reached cluster_state:ok")


def start_standby(primary: PostgresServer) -> PostgresServer:
    """A streaming replica of ``primary``, cloned with pg_basebackup -R."""
    require_binary(PG_BIN / "pg_basebackup", "postgresql-15")
    root = Path(tempfile.mkdtemp(prefix="mgops-pg-standby-"))
    root.chmod(0o755)
    _chown_for_postgres(root)
    data = root / "data"
    subprocess.run(
        [
            *_as_postgres_user(),
            str(PG_BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(data),
            "-R",
            "-X",
            "stream",
            "--no-sync",
            "--checkpoint=fast",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    standby = start_postgres(data_dir=data, initdb=False)
    # start_postgres made its own directory for the socket and the log.
    standby.cleanup = [standby.log.parent]
    return standby


@dataclass
class Process:
    """A server process with its port and log; ``stop()`` ends it."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        path = self.workdir / f"{self.name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _spawn(name: str, argv: list[str], workdir: Path, port: int) -> Process:
    log = (workdir / f"{name}.log").open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    handle = Process(name=name, port=port, process=process, workdir=workdir)
    try:
        wait_for_port(port, timeout=30)
    except TimeoutError:
        handle.stop()
        raise RuntimeError(f"{name} did not start:\n{handle.log()}") from None
    return handle


def start_prometheus(config: str, rules: str | None = None) -> Process:
    """Prometheus on loopback; ``config`` may use ``{rules}`` for the rule file path.

    Alerts are resent every second (``--rules.alert.resend-delay=1s``): Prometheus
    drops what it evaluates before it has found its Alertmanager and would
    otherwise wait a minute to send it again.
    """
    binary = require_binary("/usr/bin/prometheus", "prometheus")
    workdir = Path(tempfile.mkdtemp(prefix="mgops-prom-"))
    rules_path = workdir / "rules.yml"
    if rules is not None:
        rules_path.write_text(rules)
    (workdir / "prometheus.yml").write_text(config.replace("{rules}", str(rules_path)))
    port = free_port()
    return _spawn(
        "prometheus",
        [
            str(binary),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s",
            "--log.level=warn",
        ],
        workdir,
        port,
    )


def start_alertmanager(config: str) -> Process:
    """Alertmanager on loopback, alone (no cluster gossip)."""
    binary = require_binary(
        "/usr/bin/prometheus-alertmanager", "prometheus-alertmanager"
    )
    workdir = Path(tempfile.mkdtemp(prefix="mgops-am-"))
    (workdir / "alertmanager.yml").write_text(config)
    port = free_port()
    return _spawn(
        "alertmanager",
        [
            str(binary),
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        workdir,
        port,
    )
