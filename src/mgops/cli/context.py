"""What every command can reach: the store, the policy, the server client.

Options given before the command (``mgops --db FILE incident list``) land here.
Everything is opened lazily, so ``mgops --help`` touches nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import typer

from mgops.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from mgops.incidents.desk import Desk
    from mgops.policy import Policy
    from mgops.store.db import Store


@dataclass
class AppContext:
    db: str | None = None
    policy_path: str | None = None
    server: str | None = None
    token: str | None = None
    clock: Clock = field(default=SYSTEM_CLOCK)

    @cached_property
    def policy(self) -> Policy:
        from mgops.policy import load_policy

        return load_policy(self.policy_path or os.environ.get("MGOPS_POLICY"))

    @cached_property
    def store(self) -> Store:
        from mgops.store.db import open_store

        return open_store(self.db)

    @property
    def remote(self) -> bool:
        return bool(self.server)

    def require_local(self, what: str) -> None:
        """Refuse to act on the local store while a server is named.

        Limitation: apart from "who is on call" and overrides (under
        ``/api/v1/oncall``), on-call schedules and people have no REST API yet,
        so those commands cannot follow ``--server``; silently using a local
        file instead would page from a rotation the server never sees.
        """
        if self.server:
            from mgops.errors import InputError

            raise InputError(
                f"{what} work on the store directly and cannot go through "
                f"--server/MGOPS_SERVER ({self.server}) yet: run them where the "
                "server's store is (with --db), or unset MGOPS_SERVER."
            )


def app_context(ctx: typer.Context) -> AppContext:
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    return root.obj


def get_desk(ctx: typer.Context) -> Desk:
    """The local store's desk, or the server's when ``--server`` is given."""
    from mgops.config import current_actor
    from mgops.incidents.desk import ApiClient, LocalDesk, RemoteDesk

    app = app_context(ctx)
    if app.server:
        return RemoteDesk(ApiClient(app.server, app.token))
    return LocalDesk(app.store, app.policy, app.clock, current_actor())
