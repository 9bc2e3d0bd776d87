"""Benchmark: delete 1 million matching keys out of 3 million, two ways.

    .venv/bin/python bench/redis_delete.py [--total 3000000 --matching 1000000]

Starts its own redis-server on loopback (no persistence), fills it with
``DEBUG POPULATE``, and for each round runs, on the same data:

  A. ``redis-cli --scan --pattern 'content:*' | xargs redis-cli unlink``
  B. ``mgops redis delete-pattern 'content:*' --apply --yes`` (a real process)

While each runs, a separate probe process sends PING in a loop and records the
round-trip times; the server's own view comes from LATENCY (threshold 1 ms) and
SLOWLOG (commands slower than 1 ms). Prints a Markdown table of ratios.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


PATTERN = "content:*"


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    from tests.servers import free_port, wait_for_port

    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--enable-debug-command",
            "local",
            "--latency-monitor-threshold",
            "1",
            "--slowlog-log-slower-than",
            "1000",
            "--slowlog-max-len",
            "10000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process, port


def fill(client: redis.Redis, total: int, matching: int) -> None:
    """``matching`` keys content:N and the rest split between two other prefixes."""
    client.execute_command("DEBUG", "POPULATE", matching, "content")
    others = total - matching
    client.execute_command("DEBUG", "POPULATE", others // 2, "user")
    client.execute_command("DEBUG", "POPULATE", others - others // 2, "session")
    assert client.dbsize() == total, client.dbsize()


def probe(port: int, stop: Any, out: Any) -> None:
    """PING in a loop until told to stop; send back the round-trip times (ms)."""
    client = redis.Redis(port=port, socket_timeout=30)
    times: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        client.ping()
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.0005)
    out.put(times)


def server_view(client: redis.Redis) -> dict[str, float]:
    """The worst command time from SLOWLOG and the worst LATENCY event, in ms."""
    slow = client.slowlog_get(10000)
    worst_slow = max((e["duration"] for e in slow), default=0) / 1000
    latest = client.execute_command("LATENCY", "LATEST")
    worst_event = max((int(row[3]) for row in latest), default=0)
    return {
        "slowlog_max_ms": worst_slow,
        "slowlog_entries": len(slow),
        "latency_max_ms": float(worst_event),
    }


def run_measured(port: int, client: redis.Redis, command: str) -> dict[str, Any]:
    client.slowlog_reset()
    client.execute_command("LATENCY", "RESET")
    stop, out = mp.Event(), mp.Queue()
    prober = mp.Process(target=probe, args=(port, stop, out))
    prober.start()
    time.sleep(0.3)
    started = time.perf_counter()
    done = subprocess.run(
        command, shell=True, check=True, stdout=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - started
    # The library run reports its own time, without the interpreter's start-up.
    for line in done.stdout.splitlines():
        if line.startswith("elapsed="):
            elapsed = float(line.split("=", 1)[1])
    time.sleep(0.3)
    stop.set()
    pings = out.get()
    prober.join()
    pings.sort()
    return {
        "seconds": elapsed,
        "ping_max_ms": pings[-1],
        "ping_p99_ms": pings[int(len(pings) * 0.99) - 1],
        "ping_median_ms": statistics.median(pings),
        "pings": len(pings),
        **server_view(client),
    }


def library_delete(url: str) -> None:
    """The library path of one run: the core delete with the CLI's defaults."""
    from mgops.runbooks.redis.client import connect
    from mgops.runbooks.redis.delete import delete_matching
    from mgops.runbooks.redis.keys import Throttle

    started = time.perf_counter()
    delete_matching(connect(url), PATTERN, throttle=Throttle())
    print(f"elapsed={time.perf_counter() - started:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=3_000_000)
    parser.add_argument("--matching", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--library", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.library:
        library_delete(args.library)
        return
    for binary in ("redis-server", "redis-cli"):
        if not shutil.which(binary):
            sys.exit(f"{binary} is missing: install the Debian package redis-server")

    workdir = Path(tempfile.mkdtemp(prefix="mgops-bench-redis-"))
    server, port = start_server(workdir)
    client = redis.Redis(port=port, socket_timeout=60)
    url = f"redis://127.0.0.1:{port}/0"
    commands = {
        "redis-cli | xargs": (
            f"redis-cli -p {port} --scan --pattern '{PATTERN}' "
            f"| xargs redis-cli -p {port} unlink"
        ),
        "mgops": (
            f"MGOPS_DATABASE_URL=sqlite:///{workdir}/mgops.db "
            f"{sys.executable} -m mgops redis delete-pattern '{PATTERN}' "
            f"--apply --yes --url {url}"
        ),
        # The same core function, timed inside the process: no start-up.
        "mgops library": f"{sys.executable} {__file__} --library {url}",
    }
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in commands}
    try:
        fill(client, args.total, args.matching)
        for _round in range(args.rounds):
            for name, command in commands.items():
                result = run_measured(port, client, command)
                left = client.dbsize()
                assert left == args.total - args.matching, (name, left)
                results[name].append(result)
                print(name, {k: round(v, 3) for k, v in result.items()}, flush=True)
                client.execute_command("DEBUG", "POPULATE", args.matching, "content")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    report(results, args)


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    names = list(results)
    base = names[0]
    print()
    print(
        f"{args.matching:,} of {args.total:,} keys, {args.rounds} rounds: best time, "
        f"worst latency; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print()
    print("| measure | " + " | ".join(n.replace("|", "\\|") for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    rows = [
        ("wall time (s)", "seconds", min),
        ("worst PING round trip (ms)", "ping_max_ms", max),
        ("p99 PING round trip (ms)", "ping_p99_ms", max),
        ("worst command in SLOWLOG (ms)", "slowlog_max_ms", max),
        ("commands ≥ 1 ms in SLOWLOG", "slowlog_entries", max),
        ("worst LATENCY event (ms)", "latency_max_ms", max),
    ]
    for label, key, pick in rows:
        values = [pick(r[key] for r in results[n]) for n in names]
        cells = [f"{values[0]:.3g}"]
        for value in values[1:]:
            ratio = f" ({value / values[0]:.2f}×)" if values[0] else ""
            cells.append(f"{value:.3g}{ratio}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    print(f"Ratios are against {base}.")


if __name__ == "__main__":
    main()
