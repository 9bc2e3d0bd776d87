"""iCalendar feeds (RFC 5545) of a schedule, or of one person's shifts.

One ``VEVENT`` per stretch of on-call duty, in UTC (``20260330T070000Z``), so a
calendar client never has to guess the zone. Lines end in CRLF and are folded
before 75 octets (RFC 5545 §3.1), never inside a UTF-8 character. A UID is
derived from the schedule, the person, the role and the start instant, so the
same shift keeps its UID across fetches and a client updates it in place.
The API serves the text as ``text/calendar; charset=utf-8``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from mgops import __version__
from mgops.clock import as_utc
from mgops.oncall.rotation import Segment

CONTENT_TYPE = "text/calendar; charset=utf-8"
PRODID = f"-//Media Gateway//mgops {__version__}//EN"
LINE_OCTETS = 75
DEFAULT_PAST = timedelta(days=28)
DEFAULT_FUTURE = timedelta(days=90)


def schedule_feed(
    schedule: str,
    segments: Iterable[Segment],
    *,
    stamp: datetime,
    names: dict[str, str] | None = None,
) -> str:
    """The schedule's calendar: one event per primary stretch."""
    names = names or {}
    events = []
    for s in segments:
        if s.primary is None:
            continue
        who = names.get(s.primary, s.primary)
        summary = f"On call ({schedule}): {who}"
        if s.secondary:
            summary += f", secondary {names.get(s.secondary, s.secondary)}"
        if s.via_override and s.covering:
            summary += f" (covering {names.get(s.covering, s.covering)})"
        uid = _uid(schedule, s.primary, "primary", s.start)
        events.append(_event(uid, s.start, s.end, summary, stamp, schedule))
    return _calendar(f"mgops on-call: {schedule}", events)


def person_feed(
    schedule: str,
    person: str,
    segments: Iterable[Segment],
    *,
    stamp: datetime,
    names: dict[str, str] | None = None,
) -> str:
    """One person's calendar: their primary and secondary stretches."""
    names = names or {}
    stretches: list[tuple[int, str, datetime, datetime]] = []
    for s in segments:
        if person not in (s.primary, s.secondary):
            continue
        role = "primary" if s.primary == person else "secondary"
        last = stretches[-1] if stretches else None
        if last and last[:2] == (s.shift, role) and last[3] == s.start:
            stretches[-1] = (s.shift, role, last[2], s.end)
        else:
            stretches.append((s.shift, role, s.start, s.end))
    events = []
    for _, role, start, end in stretches:
        summary = f"On call ({schedule}): {role}"
        uid = _uid(schedule, person, role, start)
        events.append(_event(uid, start, end, summary, stamp, schedule))
    title = f"mgops on-call: {names.get(person, person)} ({schedule})"
    return _calendar(title, events)


def feed_text(
    session: Session,
    schedule: str,
    *,
    now: datetime,
    person: str | None = None,
    past: timedelta = DEFAULT_PAST,
    future: timedelta = DEFAULT_FUTURE,
) -> str:
    """The feed served at ``/api/v1/oncall/{schedule}.ics`` (``?person=`` for one)."""
    from mgops.oncall.people import get_person, list_people
    from mgops.oncall.service import schedule_timeline

    now = as_utc(now)
    segments = schedule_timeline(session, schedule, now - past, now + future)
    names = {p.handle: p.name for p in list_people(session)}
    if person is None:
        return schedule_feed(schedule, segments, stamp=now, names=names)
    get_person(session, person)
    return person_feed(schedule, person, segments, stamp=now, names=names)


def _uid(schedule: str, person: str, role: str, start: datetime) -> str:
    key = f"{schedule}|{person}|{role}|{_utc(start)}"
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@mgops"


def _event(
    uid: str,
    start: datetime,
    end: datetime,
    summary: str,
    stamp: datetime,
    schedule: str,
) -> list[str]:
    return [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        f"SUMMARY:{escape_text(summary)}",
        f"CATEGORIES:{escape_text(schedule)}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]


def _calendar(title: str, events: list[list[str]]) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(title)}",
    ]
    for event in events:
        lines.extend(event)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def _utc(value: datetime) -> str:
    return as_utc(value).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    """TEXT escaping (RFC 5545 §3.3.11): backslash, semicolon, comma, newline."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Split a content line into pieces of at most 75 octets joined by CRLF+space."""
    pieces: list[str] = []
    current, size = "", 0
    limit = LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append(current)
            # Continuation lines start with a space, which counts as an octet.
            current, size, limit = char, width, LINE_OCTETS - 1
        else:
            current += char
            size += width
    pieces.append(current)
    return "\r\n ".join(pieces)
