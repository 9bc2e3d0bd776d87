"""Side by side, in one run: mgops, jq, a hand-written DuckDB query, grep -c.

    python bench/logs/run.py bench/out/logs-1g.jsonl [--skip-jq] [--memory FILE]

Every tool answers the same questions over the same file with a warm page
cache; each timing is the best of ``--repeat`` runs, in wall-clock seconds,
and includes process start-up (mgops runs through its CLI). ``--memory`` runs
mgops under ``/usr/bin/time -v`` on that (large) file and reports peak RSS.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

MGOPS = [sys.executable, "-m", "mgops"]
USER = "u-4242"
TRACE = "projects/media-gateway/traces/6150b67d7495d9097e00b8ef366d457d"
LINES = (
    "read_csv({f}, columns={{'line': 'VARCHAR'}}, delim=E'\\x01', quote='', "
    "escape='', header=false, auto_detect=false)"
)
STRUCT = (
    "read_json({f}, format='newline_delimited', columns={{severity: 'VARCHAR', "
    "jsonPayload: 'STRUCT(path VARCHAR, latencyMs DOUBLE, userId VARCHAR)', "
    "trace: 'VARCHAR'}})"
)


def tasks(path: str) -> dict[str, dict[str, list[str] | str]]:
    f = "'" + path.replace("'", "''") + "'"
    lines = LINES.format(f=f)
    struct = STRUCT.format(f=f)
    return {
        "errors by path": {
            "mgops": "severity>=ERROR | groupBy jsonPayload.path | count",
            "jq": 'select(.severity == "ERROR" or .severity == "CRITICAL" or '
            '.severity == "ALERT" or .severity == "EMERGENCY") '
            "| .jsonPayload.path",
            "duckdb": f"SELECT jsonPayload.path, count(*) FROM {struct} WHERE "
            "severity IN ('ERROR','CRITICAL','ALERT','EMERGENCY') GROUP BY 1 "
            "ORDER BY 2 DESC",
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


def timed(command: list[str], repeat: int, **kwargs: object) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
        best = min(best, time.perf_counter() - start)
    return best


def duckdb_time(sql: str, repeat: int) -> float:
    script = (
        "import duckdb,sys; c=duckdb.connect(); c.execute(\"SET TimeZone='UTC'\"); "
        "c.execute(sys.argv[1]).fetchall()"
    )
    return timed([sys.executable, "-c", script, sql], repeat)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-jq", action="store_true")
    parser.add_argument("--memory", type=Path, default=None)
    args = parser.parse_args()

    path = str(args.file)
    subprocess.run(["cat", path], check=True, stdout=subprocess.DEVNULL)  # warm cache
    size_gb = args.file.stat().st_size / 1e9
    print(f"input: {path} ({size_gb:.2f} GB)")
    print(
        "| task | mgops s | jq s | duckdb s | grep -c s | jq/mgops | mgops/duckdb | mgops/grep |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, task in tasks(path).items():
        mgops = timed(
            [*MGOPS, "logs", "query", str(task["mgops"]), path, "--format", "csv"],
            args.repeat,
        )
        jq = float("nan")
        if not args.skip_jq:
            jq = timed(["jq", "-c", str(task["jq"]), path], 1)
        duck = duckdb_time(str(task["duckdb"]), args.repeat)
        grep = float("nan")
        if "grep" in task:
            grep = timed(["grep", "-c", str(task["grep"]), path], args.repeat)
        print(
            f"| {name} | {mgops:.2f} | {jq:.1f} | {duck:.2f} | {grep:.2f} | "
            f"{jq / mgops:.1f}x | {mgops / duck:.2f}x | {mgops / grep:.2f}x |"
        )

    if args.memory is not None:
        size = args.memory.stat().st_size / 1e9
        for name, task in tasks(str(args.memory)).items():
            command = [
                *MGOPS,
                "logs",
                "query",
                str(task["mgops"]),
                str(args.memory),
                "--format",
                "csv",
            ]
            print(f"peak RSS, {name}, {size:.1f} GB: {peak_rss_mb(command):.0f} MB")


if __name__ == "__main__":
    main()
