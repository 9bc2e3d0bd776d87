"""Side by side, in one run: mgops, jq, a hand-written DuckDB query, grep -c.

    python bench/logs/run.py bench/out/logs-1g.jsonl [--repeat 3] [--skip-jq]
    python bench/logs/run.py bench/out/logs-1g.jsonl --memory bench/out/logs-5g.jsonl

Each tool answers the same questions over the same file with a warm page
cache. The tools run interleaved, ``--repeat`` times, and the best wall-clock
and CPU (user + system) times are kept: the machine is shared, and the best of
several runs is the least disturbed one. mgops runs through
``bench/logs/mgops_query.py`` (the CLI's core call and CSV renderer); the CLI's
own start-up is measured on its own. ``--memory`` reports mgops's peak RSS
(``/usr/bin/time -v``) for each task on a larger file.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MGOPS = [sys.executable, str(HERE / "mgops_query.py")]
USER = "u-4242"
TRACE = "projects/media-gateway/traces/6150b67d7495d9097e00b8ef366d457d"
LINES = (
    "read_csv({f}, columns={{'line': 'VARCHAR'}}, delim=E'\\x01', quote='', "
    "escape='', header=false, auto_detect=false)"
)
STRUCT = (
    "read_json({f}, format='newline_delimited', columns={{severity: 'VARCHAR', "
    "jsonPayload: 'STRUCT(path VARCHAR)'}})"
)
SEVERE = "('ERROR','CRITICAL','ALERT','EMERGENCY')"


def tasks(path: str) -> dict[str, dict[str, str]]:
    f = "'" + path.replace("'", "''") + "'"
    lines = LINES.format(f=f)
    return {
        "errors by path": {
            "mgops": "severity>=ERROR | groupBy jsonPayload.path | count",
            # jq groups too: -n with reduce over inputs.
            "jq": 'reduce (inputs | select(.severity == "ERROR" or .severity == '
            '"CRITICAL" or .severity == "ALERT" or .severity == "EMERGENCY") '
            "| .jsonPayload.path) as $p ({}; .[$p] += 1)",
            "duckdb": f"SELECT jsonPayload.path, count(*) FROM {STRUCT.format(f=f)} "
            f"WHERE severity IN {SEVERE} GROUP BY 1 ORDER BY 2 DESC",
        },
        "slow requests ordered": {
            "mgops": "jsonPayload.latencyMs>1000 | orderBy jsonPayload.latencyMs desc",
            "jq": "select(.jsonPayload.latencyMs > 1000)",
            "duckdb": f"SELECT line FROM {lines} WHERE "
            "TRY_CAST(line->>'$.jsonPayload.latencyMs' AS DOUBLE) > 1000 "
            "ORDER BY TRY_CAST(line->>'$.jsonPayload.latencyMs' AS DOUBLE) DESC",
        },
        "one user's entries": {
            "mgops": f'jsonPayload.userId="{USER}"',
            "jq": f'select(.jsonPayload.userId == "{USER}")',
            "duckdb": f"SELECT line FROM {lines} WHERE "
            f"line->>'$.jsonPayload.userId' = '{USER}'",
            "grep": f'"{USER}"',
        },
        "one trace": {
            "mgops": f'trace="{TRACE}"',
            "jq": f'select(.trace == "{TRACE}")',
            "duckdb": f"SELECT line FROM {lines} WHERE line->>'$.trace' = '{TRACE}'",
            "grep": TRACE,
        },
    }


def measure(command: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # A pipe, not /dev/null: GNU grep stops at the first match when it sees
    # its output discarded, which would make grep -c look 10x faster.
    subprocess.run(command, check=True, stdout=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def commands(task: dict[str, str], path: str, skip_jq: bool) -> dict[str, list[str]]:
    duck = "import duckdb,sys; c=duckdb.connect(); c.execute(sys.argv[1]).fetchall()"
    found = {
        "mgops": [*MGOPS, task["mgops"], path],
        "duckdb": [sys.executable, "-c", duck, task["duckdb"]],
    }
    if not skip_jq:
        flags = ["-n"] if task["jq"].startswith("reduce") else []
        found["jq"] = ["jq", *flags, "-c", task["jq"], path]
    if "grep" in task:
        found["grep"] = ["grep", "-c", task["grep"], path]
    return found


def peak_rss_mb(command: list[str]) -> float:
    run = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr)
    return int(match.group(1)) / 1024 if match else float("nan")


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-jq", action="store_true")
    parser.add_argument("--memory", type=Path, default=None)
    args = parser.parse_args()

    path = str(args.file)
    subprocess.run(["cat", path], check=True, stdout=subprocess.DEVNULL)
    print(f"input: {path} ({args.file.stat().st_size / 1e9:.2f} GB)")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    startup = min(
        measure([sys.executable, "-m", "mgops", "logs", "--help"])[0] for _ in range(3)
    )
    print(f"mgops CLI start-up (mgops logs --help): {startup:.2f} s wall")
    print()
    print(
        "| task | jq / mgops CPU | jq / mgops wall | mgops / DuckDB CPU "
        "| mgops / DuckDB wall | mgops / grep -c CPU | mgops / grep -c wall |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, task in tasks(path).items():
        runs = commands(task, path, args.skip_jq)
        best: dict[str, tuple[float, float]] = {}
        for attempt in range(args.repeat):
            for tool, command in runs.items():
                if tool == "jq" and attempt > 0:
                    continue  # jq takes a minute; once is enough for its ratio
                wall, cpu = measure(command)
                old = best.get(tool, (float("inf"), float("inf")))
                best[tool] = (min(old[0], wall), min(old[1], cpu))
        m, d = best["mgops"], best["duckdb"]
        j, g = best.get("jq"), best.get("grep")
        print(
            f"| {name} | {ratio(j[1] if j else None, m[1])} | "
            f"{ratio(j[0] if j else None, m[0])} | {ratio(m[1], d[1])} | "
            f"{ratio(m[0], d[0])} | {ratio(m[1], g[1] if g else None)} | "
            f"{ratio(m[0], g[0] if g else None)} |"
        )
        times = ", ".join(f"{t} {w:.2f}s/{c:.2f}s" for t, (w, c) in best.items())
        print(f"<!-- {name}: wall/cpu {times} -->")

    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.memory is not None:
        size = args.memory.stat().st_size / 1e9
        print()
        for name, task in tasks(str(args.memory)).items():
            rss = peak_rss_mb([*MGOPS, task["mgops"], str(args.memory)])
            print(f"peak RSS, {name}, {size:.1f} GB input: {rss:.0f} MB")


if __name__ == "__main__":
    main()
