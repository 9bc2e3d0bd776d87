"""The audit of runbook actions: recorded before they start and when they end.

    with audited(store, kind="redis.delete-pattern", target="redis://…/0",
                 params={"pattern": "content:*"}, incident_id=7) as action:
        ...
        action.result["deleted"] = 1200

The "running" row is committed before the body runs, so an action whose process
dies still leaves a trace. An ``ActionRefused`` raised inside is recorded as
``refused``; any other exception as ``failed``; a dry run as ``dry-run``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from mgops.clock import SYSTEM_CLOCK, Clock
from mgops.config import current_actor
from mgops.errors import ActionRefused, MgopsError, NotFound
from mgops.store.db import Store
from mgops.store.models import Action, Incident, TimelineEntry


@dataclass
class ActionRecord:
    id: int
    kind: str
    target: str
    dry_run: bool
    result: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None


@contextmanager
def audited(
    store: Store,
    *,
    kind: str,
    target: str,
    params: dict[str, Any] | None = None,
    incident_id: int | None = None,
    dry_run: bool = False,
    actor: str | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Iterator[ActionRecord]:
    who = actor or current_actor()
    record = _start(store, kind, target, params or {}, incident_id, dry_run, who, clock)
    try:
        yield record
    except ActionRefused as exc:
        _finish(store, record, "refused", str(exc), incident_id, who, clock)
        raise
    except (MgopsError, Exception) as exc:
        _finish(
            store,
            record,
            "failed",
            str(exc) or type(exc).__name__,
            incident_id,
            who,
            clock,
        )
        raise
    except BaseException:
        _finish(store, record, "interrupted", "interrupted", incident_id, who, clock)
        raise
    else:
        outcome = record.outcome or ("dry-run" if dry_run else "succeeded")
        _finish(store, record, outcome, None, incident_id, who, clock)


def _start(
    store: Store,
    kind: str,
    target: str,
    params: dict[str, Any],
    incident_id: int | None,
    dry_run: bool,
    actor: str,
    clock: Clock,
) -> ActionRecord:
    with store.session() as session:
        if incident_id is not None and session.get(Incident, incident_id) is None:
            raise NotFound(f"Incident {incident_id} does not exist; nothing was done.")
        row = Action(
            kind=kind,
            target=target,
            actor=actor,
            params=params,
            dry_run=dry_run,
            incident_id=incident_id,
            started_at=clock.now(),
            outcome="running",
        )
        session.add(row)
        session.flush()
        if incident_id is not None:
            _note(
                session,
                incident_id,
                clock.now(),
                actor,
                "action-started",
                f"{'Dry run of' if dry_run else 'Started'} {kind} on {target}",
                {"action_id": row.id, "params": params},
            )
        return ActionRecord(id=row.id, kind=kind, target=target, dry_run=dry_run)


def _finish(
    store: Store,
    record: ActionRecord,
    outcome: str,
    error: str | None,
    incident_id: int | None,
    actor: str,
    clock: Clock,
) -> None:
    with store.session() as session:
        row = session.get(Action, record.id)
        if row is None:  # pragma: no cover - the row was committed in _start
            return
        row.finished_at = clock.now()
        row.outcome = outcome
        row.result = _jsonable(record.result)
        row.error = error
        if incident_id is not None:
            text = f"{record.kind} on {record.target}: {outcome}"
            if error:
                text += f" ({error})"
            _note(
                session,
                incident_id,
                clock.now(),
                actor,
                "action-finished",
                text,
                {"action_id": record.id, "outcome": outcome},
            )


def _note(
    session: Any,
    incident_id: int,
    at: datetime,
    actor: str,
    kind: str,
    message: str,
    data: dict[str, Any],
) -> None:
    session.add(
        TimelineEntry(
            incident_id=incident_id,
            at=at,
            actor=actor,
            kind=kind,
            message=message,
            data=_jsonable(data),
        )
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def list_actions(
    store: Store,
    *,
    kind: str | None = None,
    incident_id: int | None = None,
    outcome: str | None = None,
    limit: int = 100,
) -> list[Action]:
    with store.session() as session:
        query = select(Action).order_by(Action.id.desc()).limit(limit)
        if kind:
            query = query.where(Action.kind.startswith(kind))
        if incident_id is not None:
            query = query.where(Action.incident_id == incident_id)
        if outcome:
            query = query.where(Action.outcome == outcome)
        return list(session.scalars(query))
