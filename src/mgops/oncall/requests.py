"""Request bodies shared by the on-call API and the CLI that calls it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OverrideIn(BaseModel):
    """Y covers X (``covers``) or Y is on call from ``starts_at`` to ``ends_at``."""

    person: str = Field(min_length=1, max_length=100)
    covers: str | None = Field(default=None, min_length=1, max_length=100)
    starts_at: str = Field(
        min_length=1,
        max_length=64,
        description="ISO 8601; without an offset, read in the schedule's zone",
    )
    ends_at: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=500)
    schedule: str | None = Field(default=None, max_length=80)
