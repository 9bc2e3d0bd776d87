"""Terminal rendering for ``mgops oncall``: local times and the schedule chart."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rich.table import Table
from rich.text import Text

from mgops.oncall.rotation import Segment

PRIMARY = "█"
SECONDARY = "▒"
NOBODY = "·"


def local(value: datetime | None, zone: ZoneInfo) -> str:
    """``Mon 2026-03-30 09:00 CEST``: how an on-call engineer reads a time."""
    if value is None:
        return "-"
    shown = value.astimezone(zone)
    return shown.strftime("%a %Y-%m-%d %H:%M ") + (shown.tzname() or "")


def plain(value: Any) -> Any:
    """Dataclasses (nested too) as dicts, for ``--json``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def segment_rows(
    segments: Sequence[Segment],
    zone: ZoneInfo,
    changes: dict[datetime, str] | None = None,
) -> list[tuple[str, str, str, str, str, str]]:
    """Table rows; ``changes`` maps an instant to the membership change made then."""
    rows = []
    for s in segments:
        notes = []
        if s.via_override:
            extra = f", covering {s.covering}" if s.covering else ""
            notes.append(f"override #{s.override_id}{extra}")
        if changes and s.start in changes:
            notes.append(changes[s.start])
        note = "; ".join(notes)
        rows.append(
            (
                local(s.start, zone),
                local(s.end, zone),
                _hours(s.end - s.start),
                s.primary or "(nobody)",
                s.secondary or "-",
                note,
            )
        )
    return rows


def _hours(delta: timedelta) -> str:
    hours = round(delta.total_seconds() / 3600, 1)
    return f"{hours:g}h"


def chart(
    segments: Sequence[Segment],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    *,
    width: int,
    people: Sequence[str],
) -> Table:
    """A timeline bar per person: █ primary, ▒ secondary, one cell per slice."""
    cells = max(12, width)
    step = (end - start) / cells
    grid = Table(
        title=f"█ primary  ▒ secondary   one cell = {_hours(step)}",
        title_justify="left",
        show_header=True,
        header_style="bold",
        box=None,
        pad_edge=False,
    )
    grid.add_column("person", no_wrap=True)
    grid.add_column(_axis(start, end, zone, cells), no_wrap=True)
    for person in people:
        bar = Text()
        for index in range(cells):
            role = _role_in(segments, person, start + step * index, step) or ""
            bar.append(
                {"primary": PRIMARY, "secondary": SECONDARY}.get(role, NOBODY),
                style={"primary": "green", "secondary": "yellow"}.get(role, "dim"),
            )
        grid.add_row(person, bar)
    return grid


def _role_in(
    segments: Sequence[Segment], person: str, lo: datetime, step: timedelta
) -> str | None:
    """The role ``person`` holds for most of the slice ``[lo, lo + step)``."""
    hi = lo + step
    primary = secondary = timedelta()
    for s in segments:
        overlap = min(s.end, hi) - max(s.start, lo)
        if overlap <= timedelta():
            continue
        if s.primary == person:
            primary += overlap
        elif s.secondary == person:
            secondary += overlap
    if primary == secondary == timedelta():
        return None
    return "primary" if primary >= secondary else "secondary"


def _axis(start: datetime, end: datetime, zone: ZoneInfo, cells: int) -> str:
    """Day labels placed over the cells where each local day begins."""
    axis = [" "] * cells
    step = (end - start) / cells
    last_day = None
    for index in range(cells):
        day = (start + step * index).astimezone(zone).date()
        if day != last_day:
            label = day.strftime("%d.%m")
            free = index == 0 or axis[index - 1] == " "
            if free and all(c == " " for c in axis[index : index + len(label) + 1]):
                axis[index : index + len(label)] = list(label)
            last_day = day
    return "".join(axis[:cells])
