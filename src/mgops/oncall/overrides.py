"""Overrides: somebody else on call for a while, applied on top of the rotation.

Two kinds, both bounded by a window ``[starts_at, ends_at)``:

- **Y covers X**: wherever the schedule would put X inside the window, Y goes
  instead, and only there. If X holds Monday and Tuesday 09:00–17:00 and Y
  covers X from Monday 08:00 to Tuesday 18:00, Y is on call Monday and Tuesday
  09:00–17:00 and nowhere else; whoever the rotation names Monday night keeps
  Monday night. When X is the secondary, Y becomes the secondary.
- **Y is on call for the window**: Y is primary for the whole window, outside
  active hours too. The rotation's secondary stays secondary; if that is Y, the
  displaced primary becomes secondary.

Overrides apply in the order they were created, each on the result of the ones
before it, so the newest wins where two overlap. Nobody is ever their own
secondary: when an override makes the two the same, the secondary is dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from mgops.errors import InputError
from mgops.oncall.rotation import Segment


@dataclass(frozen=True)
class Override:
    """``person`` replaces ``covers`` (or whoever is on call, when None)."""

    id: int | None
    person: str
    starts_at: datetime
    ends_at: datetime
    covers: str | None = None

    @property
    def kind(self) -> str:
        return "covers" if self.covers else "window"

    def describe(self) -> str:
        if self.covers:
            return f"{self.person} covers {self.covers}"
        return f"{self.person} is on call"


def check_override(override: Override) -> None:
    """Refuse windows that end before they start and people covering themselves."""
    if override.ends_at <= override.starts_at:
        raise InputError(
            f"The override ends ({override.ends_at.isoformat()}) before it starts "
            f"({override.starts_at.isoformat()}); swap --from and --to."
        )
    if override.covers == override.person:
        raise InputError(f"{override.person} cannot cover for themselves.")


def apply_overrides(
    segments: Sequence[Segment], overrides: Sequence[Override]
) -> list[Segment]:
    """The segments with every override applied, split where a window begins or ends."""
    ordered = sorted(overrides, key=lambda o: (o.id is None, o.id or 0))
    edges = sorted({t for o in ordered for t in (o.starts_at, o.ends_at)})
    result: list[Segment] = []
    for segment in segments:
        cuts = [segment.start]
        cuts += [t for t in edges if segment.start < t < segment.end]
        cuts.append(segment.end)
        for a, b in itertools.pairwise(cuts):
            piece = replace(segment, start=a, end=b)
            for override in ordered:
                if override.starts_at <= a < override.ends_at:
                    piece = _apply(piece, override)
            _extend(result, piece)
    return result


def _apply(piece: Segment, override: Override) -> Segment:
    primary, secondary = piece.primary, piece.secondary
    if override.covers is not None:
        if override.covers not in (primary, secondary):
            return piece
        if secondary == override.covers:
            secondary = override.person
        if primary != override.covers:
            return replace(piece, secondary=_distinct(primary, secondary))
        return replace(
            piece,
            primary=override.person,
            secondary=_distinct(override.person, secondary),
            via_override=True,
            override_id=override.id,
            covering=override.covers,
        )
    if secondary == override.person:
        secondary = primary
    return replace(
        piece,
        primary=override.person,
        secondary=_distinct(override.person, secondary),
        via_override=True,
        override_id=override.id,
        covering=primary,
    )


def _distinct(primary: str | None, secondary: str | None) -> str | None:
    return None if secondary == primary else secondary


def _extend(result: list[Segment], piece: Segment) -> None:
    if result and result[-1].end == piece.start and result[-1].same_holders(piece):
        result[-1] = replace(result[-1], end=piece.end)
    else:
        result.append(piece)
