"""Alembic environment: runs against the engine mgops hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

import mgops.oncall.models
import mgops.oncall.paging_models  # noqa: F401  (registers the paging tables)
from mgops.store.models import Base

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if isinstance(engine, Engine):
        return engine
    return create_engine(config.get_main_option("sqlalchemy.url") or "")


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
