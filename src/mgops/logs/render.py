"""Show a ``QueryResult``: a Rich table, JSON, CSV, and charts for timechart."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from mgops.logs.engine import QueryResult

FORMATS = ("table", "json", "csv")


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def to_json(result: QueryResult) -> str:
    records = [{k: jsonable(v) for k, v in r.items()} for r in result.records()]
    body = {"rows": records, "count": len(records), "notes": result.notes}
    # ensure_ascii keeps the output valid whatever the input bytes were.
    return json.dumps(body, ensure_ascii=True, indent=2)


def stream_lines(result: QueryResult, output: str) -> list[str]:
    """One line per row, for ``--follow``: JSON lines or tab-separated text."""
    if output == "json":
        return [
            json.dumps({k: jsonable(v) for k, v in r.items()}, ensure_ascii=True)
            for r in result.records()
        ]
    return [
        "\t".join("" if v is None else str(jsonable(v)) for v in row)
        for row in result.rows
    ]


def to_csv(result: QueryResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(["" if v is None else jsonable(v) for v in row])
    return buffer.getvalue()


def render_table(result: QueryResult, console: Any) -> None:
    from rich.table import Table

    if not result.rows:
        console.print("[dim]No matching entries.[/dim]")
        return
    grid = Table(header_style="bold", show_lines=False)
    for column in result.columns:
        grid.add_column(column, overflow="fold")
    for row in result.rows:
        grid.add_row(*("" if v is None else str(jsonable(v)) for v in row))
    console.print(grid)


def chart_series(result: QueryResult) -> tuple[list[str], dict[str, list[float]]]:
    labels = [str(jsonable(row[0])) for row in result.rows]
    series = {
        name: [float(row[i + 1] or 0) for row in result.rows]
        for i, name in enumerate(result.columns[1:])
    }
    return labels, series


def terminal_chart(result: QueryResult, out: TextIO) -> None:
    """A plotext bar chart of a timechart result (first aggregate per bucket)."""
    import plotext

    labels, series = chart_series(result)
    if not labels:
        return
    name, values = next(iter(series.items()))
    figure = plotext.figure
    figure.clear()
    figure.theme("colorless")  # plain text: safe in pipes and logs
    figure.plot_size(100, 20)
    ticks = [label[5:16].replace("T", " ") for label in labels]
    # plotext 6: bar() makes a signal, draw() registers it; bars stand on zero.
    figure.draw(figure.bar(ticks, [0.0] * len(values), values))
    figure.title(f"{name} per bucket")
    out.write(figure.build().string() + "\n")


def plot_png(result: QueryResult, path: Path) -> None:
    """Write the timechart as an image with matplotlib (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [row[0] for row in result.rows]
    figure, axes = plt.subplots(figsize=(10, 4))
    for i, name in enumerate(result.columns[1:]):
        axes.plot(times, [float(row[i + 1] or 0) for row in result.rows], label=name)
    axes.set_title(result.query.text)
    axes.legend()
    figure.autofmt_xdate()
    figure.savefig(path, dpi=100)
    plt.close(figure)
