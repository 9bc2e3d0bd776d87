"""Replication lag, and failover by promoting a standby.

On a primary, ``pg_stat_replication`` lists each standby; the byte lag is the
distance from the primary's current WAL position to what the standby has
replayed, and the time lags are the server's own measurements (NULL once a
standby has been caught up for a while, shown as "caught up"). On a standby,
the receive and replay positions show what has arrived and what is applied.

Promotion (self-managed servers): check the standby is one, check its lag
(against the primary when it still answers), promote with ``pg_promote()``,
then prove the new primary takes writes. For Cloud SQL mgops cannot promote;
it prints the runbook's steps as a checklist and puts it on the incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mgops.audit import audited
from mgops.clock import Clock
from mgops.config import current_actor
from mgops.errors import ActionRefused, NotFound, TargetError
from mgops.runbooks.postgres.client import PgTarget
from mgops.store.db import Store
from mgops.store.models import Incident, TimelineEntry


def is_standby(target: PgTarget) -> bool:
    return bool(target.one("select pg_is_in_recovery() as r")["r"])


def replication_status(*, target: PgTarget) -> dict[str, Any]:
    """Lag per standby (on a primary) or receive/replay positions (on a standby)."""
    if is_standby(target):
        return {"target": target.where, "role": "standby", **_standby_positions(target)}
    standbys = target.rows(
        """
        select application_name, host(client_addr) as client_addr, state,
               sync_state, sent_lsn::text, write_lsn::text, flush_lsn::text,
               replay_lsn::text,
               pg_wal_lsn_diff(pg_current_wal_lsn(), sent_lsn)::bigint
                   as send_lag_bytes,
               pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint
                   as replay_lag_bytes,
               extract(epoch from write_lag)::float as write_lag_s,
               extract(epoch from flush_lag)::float as flush_lag_s,
               extract(epoch from replay_lag)::float as replay_lag_s,
               reply_time
        from pg_stat_replication order by application_name
        """
    )
    current = target.one("select pg_current_wal_lsn()::text as lsn")["lsn"]
    return {
        "target": target.where,
        "role": "primary",
        "current_lsn": current,
        "standbys": standbys,
    }


def _standby_positions(target: PgTarget) -> dict[str, Any]:
    row = target.one(
        """
        select pg_last_wal_receive_lsn()::text as receive_lsn,
               pg_last_wal_replay_lsn()::text as replay_lsn,
               pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
                   ::bigint as replay_backlog_bytes,
               pg_last_xact_replay_timestamp() as last_replayed_commit,
               extract(epoch from now() - pg_last_xact_replay_timestamp())::float
                   as since_last_replayed_commit_s,
               pg_is_wal_replay_paused() as replay_paused
        """
    )
    receiver = target.rows(
        "select status, sender_host, sender_port, "
        "latest_end_lsn::text, last_msg_receipt_time from pg_stat_wal_receiver"
    )
    row["wal_receiver"] = receiver[0] if receiver else None
    return row


@dataclass
class PromotionCheck:
    """What is known about the standby's lag just before promoting it."""

    standby: str
    replay_lsn: str | None
    replay_backlog_bytes: int
    replay_paused: bool
    primary: str | None = None
    primary_lsn: str | None = None
    lag_bytes: int | None = None

    @property
    def problems(self) -> list[str]:
        found = []
        if self.replay_paused:
            found.append("WAL replay is paused on the standby")
        if self.replay_backlog_bytes > 0:
            found.append(
                f"{self.replay_backlog_bytes} bytes of received WAL not replayed yet"
            )
        if self.lag_bytes:
            found.append(f"{self.lag_bytes} bytes behind the primary")
        return found

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "problems": self.problems}


def check_promotion(
    *, standby: PgTarget, primary: PgTarget | None = None
) -> PromotionCheck:
    """Lag facts for the promotion; refuses when ``standby`` is not a standby."""
    if not is_standby(standby):
        raise ActionRefused(f"{standby.where} is not a standby: nothing to promote.")
    pos = _standby_positions(standby)
    check = PromotionCheck(
        standby=standby.where,
        replay_lsn=pos["replay_lsn"],
        replay_backlog_bytes=int(pos["replay_backlog_bytes"] or 0),
        replay_paused=bool(pos["replay_paused"]),
    )
    if primary is not None:
        row = primary.one(
            "select pg_current_wal_lsn()::text as lsn, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::bigint as lag",
            (check.replay_lsn,),
        )
        check.primary, check.primary_lsn = primary.where, row["lsn"]
        check.lag_bytes = max(0, int(row["lag"]))
    return check


def promote(
    *,
    standby: PgTarget,
    store: Store,
    clock: Clock,
    check: PromotionCheck,
    max_lag_bytes: int = 0,
    force: bool = False,
    incident_id: int | None = None,
    wait_seconds: int = 60,
) -> dict[str, Any]:
    """``pg_promote()`` after the lag check, then verify the server takes writes."""
    with audited(
        store,
        kind="pg.promote",
        target=standby.where,
        params={
            "max_lag_bytes": max_lag_bytes,
            "force": force,
            "check": check.as_dict(),
        },
        incident_id=incident_id,
        clock=clock,
    ) as action:
        lag = max(check.replay_backlog_bytes, check.lag_bytes or 0)
        if (lag > max_lag_bytes or check.replay_paused) and not force:
            raise ActionRefused(
                "Not promoting: "
                + "; ".join(check.problems)
                + f" (allowed: {max_lag_bytes} bytes). Wait, or pass --force "
                "and accept losing those transactions."
            )
        # pg_promote waits up to wait_seconds: lift mgops's 10 s statement
        # timeout for this one statement so the wait is the server's, not ours.
        with standby.conn.transaction():
            standby.rows(f"set local statement_timeout = '{int(wait_seconds) + 5}s'")
            row = standby.one("select pg_promote(true, %s) as ok", (wait_seconds,))
        promoted = row["ok"]
        if not promoted:
            raise TargetError(
                f"pg_promote() on {standby.where} did not finish in {wait_seconds}s."
            )
        verified = verify_writable(standby)
        action.result.update(promoted=True, verified=verified)
        return {"target": standby.where, "promoted": True, "verified": verified}


def verify_writable(target: PgTarget) -> dict[str, Any]:
    """Prove the server is a primary that takes writes, leaving nothing behind."""
    if is_standby(target):
        raise TargetError(f"{target.where} is still in recovery after promotion.")
    with target.conn.transaction(force_rollback=True):
        row = target.one(
            "select pg_current_xact_id()::text as xid, "
            "current_setting('transaction_read_only') as read_only"
        )
        target.rows("create temporary table mgops_promote_check (at timestamptz)")
        target.rows("insert into mgops_promote_check values (now())")
    if row["read_only"] == "on":
        raise TargetError(f"{target.where} accepts transactions only read-only.")
    return {"in_recovery": False, "xid": row["xid"], "write": "ok"}


def cloud_sql_checklist(*, replica: str, project: str | None = None) -> list[str]:
    """The runbook's Cloud SQL failover, as steps with the exact commands."""
    flag = f" --project {project}" if project else ""
    return [
        "Stop writes: put the application in maintenance mode or scale writers to 0 "
        "(mgops service scale SERVICE 0), so nothing is lost in the switch.",
        f"Check the replica can take over: gcloud sql instances describe {replica}"
        f"{flag} --format='value(replicaConfiguration.failoverTarget)' (expect True).",
        "Check replication lag is zero: Cloud Monitoring metric "
        "cloudsql.googleapis.com/database/replication/replica_lag for "
        f"{replica}, or mgops pg replication --url <replica URL>.",
        f"Promote (breaks replication, cannot be undone): "
        f"gcloud sql instances promote-replica {replica}{flag}",
        "Update the connection secrets to the new primary: gcloud secrets versions "
        "add <secret> --data-file=<file>, then force an External Secrets refresh.",
        "Restart the services so they reconnect: mgops service restart SERVICE "
        "(the runbook's kubectl rollout restart deployment --all -n production).",
        "Verify writes on the new primary: mgops pg connections and a test write.",
    ]


def attach_checklist(
    *, store: Store, clock: Clock, incident_id: int, title: str, steps: list[str]
) -> None:
    """Put a checklist on the incident's timeline as one entry."""
    with store.session() as session:
        if session.get(Incident, incident_id) is None:
            raise NotFound(f"Incident {incident_id} does not exist.")
        session.add(
            TimelineEntry(
                incident_id=incident_id,
                at=clock.now(),
                actor=current_actor(),
                kind="checklist",
                message=title,
                data={"steps": [{"text": s, "done": False} for s in steps]},
            )
        )
