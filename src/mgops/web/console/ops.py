"""Alert groups, the audit of runbook actions, and log search."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from mgops.alerts.views import list_groups, silence_group
from mgops.audit import list_actions
from mgops.errors import MgopsError
from mgops.web.console.base import (
    ConsoleState,
    Form,
    User,
    Writer,
    act,
    render,
    text_field,
)

router = APIRouter(include_in_schema=False)
GroupId = Annotated[int, Path(ge=1, le=2**31 - 1)]
LogRunner = Callable[..., Any]


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request, state: ConsoleState, who: User, open: bool = False
) -> Response:
    with state.store.session() as session:
        groups = list_groups(session, open_only=open)
    return render(
        request,
        "alerts.html",
        {"groups": groups, "open_only": open, "now": state.clock.now()},
    )


@router.post("/alerts/groups/{group_id}/silence")
def silence(
    group_id: GroupId, request: Request, state: ConsoleState, who: Writer, form: Form
) -> Response:
    raw = text_field(form, "minutes")
    minutes = int(raw) if raw.isdigit() else -1

    def change() -> None:
        with state.store.session() as session:
            silence_group(session, group_id, minutes=minutes, now=state.clock.now())

    done = f"Group {group_id} " + (
        "unsilenced." if minutes == 0 else f"silenced for {minutes} minutes."
    )
    return act(request, "/alerts", done, change)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    state: ConsoleState,
    who: User,
    kind: Annotated[str, Query(max_length=60)] = "",
    incident: Annotated[str, Query(max_length=12)] = "",
    outcome: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    rows = list_actions(
        state.store,
        kind=kind or None,
        incident_id=int(incident) if incident.isdigit() else None,
        outcome=outcome or None,
        limit=200,
    )
    return render(
        request,
        "audit.html",
        {
            "actions": rows,
            "filters": {"kind": kind, "incident": incident, "outcome": outcome},
        },
    )


def log_runner() -> LogRunner | None:
    """``mgops.logs.run_query`` over configured paths, or None without log search."""
    try:
        module = importlib.import_module("mgops.logs")
    except ImportError:
        return None
    run_query = module.run_query
    sources_from_args = module.sources_from_args

    def run(query: str, sources: list[str]) -> Any:
        # A page of results is what a browser can show; the CLI has no cap.
        return run_query(query, sources_from_args(sources), limit=1000)

    return run


@router.get("/logs", response_class=HTMLResponse)
def logs_page(
    request: Request,
    state: ConsoleState,
    who: User,
    q: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    runner: LogRunner | None = getattr(request.app.state, "log_runner", None)
    sources: list[str] = list(getattr(request.app.state, "log_sources", []))
    context: dict[str, Any] = {
        "q": q,
        "available": runner is not None and bool(sources),
        "searchable": runner is not None,
        "sources": sources,
        "table": None,
        "chart": None,
        "error": None,
    }
    if runner is not None and sources and q.strip():
        try:
            result = runner(q, sources)
        except MgopsError as exc:
            context["error"] = str(exc)
        else:
            columns, rows = tabulate(result)
            context["table"] = {"columns": columns, "rows": rows}
            context["chart"] = timechart(columns, rows)
    return render(request, "logs.html", context)


def tabulate(result: Any) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows from whatever shape the log core returns."""
    columns = getattr(result, "columns", None)
    rows = getattr(result, "rows", None)
    if columns is not None and rows is not None:
        names = [str(getattr(c, "name", c)) for c in columns]
        return names, [_row(r, names) for r in rows]
    records = list(result or [])
    names = []
    for record in records:
        for key in record if isinstance(record, Mapping) else ():
            if key not in names:
                names.append(str(key))
    return names, [_row(r, names) for r in records]


def _row(row: Any, names: list[str]) -> list[Any]:
    if isinstance(row, Mapping):
        return [row.get(n) for n in names]
    if isinstance(row, Sequence) and not isinstance(row, str):
        return list(row)
    return [row]


def timechart(columns: list[str], rows: list[list[Any]]) -> dict[str, Any] | None:
    """A series for the chart when the first column holds time buckets."""
    if len(columns) < 2 or not rows:
        return None
    points = []
    for row in rows:
        at, value = row[0], row[-1]
        if isinstance(at, str):
            try:
                at = datetime.fromisoformat(at.replace("Z", "+00:00"))
            except ValueError:
                return None
        if not isinstance(at, datetime) or not isinstance(value, int | float):
            return None
        points.append({"at": at.isoformat(), "value": value})
    return {"label": columns[-1], "points": points}
