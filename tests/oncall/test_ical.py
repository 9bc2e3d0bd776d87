"""The iCalendar feed: RFC 5545 structure, folding, UTC times, stable UIDs."""

from __future__ import annotations

from datetime import UTC, datetime

import icalendar

from mgops.oncall.ical import escape_text, fold, person_feed, schedule_feed
from mgops.oncall.schedule import ScheduleState, timeline
from tests.oncall.conftest import MakeState

STAMP = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)
START = datetime(2026, 3, 16, tzinfo=UTC)
END = datetime(2026, 4, 13, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def feed(state: ScheduleState, **names: str) -> str:
    segments = timeline(state, START, END)
    return schedule_feed("r4", segments, stamp=STAMP, names=names)


def uids(text: str) -> list[str]:
    return [str(e["UID"]) for e in icalendar.Calendar.from_ical(text).walk("VEVENT")]


class TestStructure:
    def test_parses_with_one_event_per_shift(self, make_state: MakeState) -> None:
        """A VCALENDAR 2.0 with PRODID and a VEVENT per primary stretch, in UTC."""
        text = feed(make_state())

        calendar = icalendar.Calendar.from_ical(text)
        events = list(calendar.walk("VEVENT"))

        assert str(calendar["VERSION"]) == "2.0"
        assert "mgops" in str(calendar["PRODID"])
        assert len(events) == 5
        assert utc("2026-03-30T07:00") == events[3].decoded("DTSTART")
        assert utc("2026-03-23T08:00") == events[2].decoded("DTSTART")
        assert all(e.decoded("DTSTAMP") == STAMP for e in events)
        assert "DTSTART:20260330T070000Z\r\n" in text

    def test_lines_end_in_crlf_and_fit_75_octets(self, make_state: MakeState) -> None:
        """Every line ends in CRLF and none is longer than 75 octets."""
        long_name = "Émilie Ünterberger-Søndergaard 🚀 " * 4
        text = feed(make_state(), A=long_name, B=long_name)

        raw = text.encode("utf-8")
        lines = raw.split(b"\r\n")

        assert raw.endswith(b"\r\n")
        assert b"\n" not in raw.replace(b"\r\n", b"")
        assert max(len(line) for line in lines) <= 75
        assert any(line.startswith(b" ") for line in lines)
        summaries = [
            str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(text).walk("VEVENT")
        ]
        assert any(long_name in s for s in summaries)

    def test_uids_are_stable_and_unique(self, make_state: MakeState) -> None:
        """Fetches at different times give the same UIDs; no two events share one."""
        state = make_state()
        later = schedule_feed(
            "r4", timeline(state, START, END), stamp=utc("2026-03-19T00:00")
        )

        first = [
            str(e["UID"])
            for e in icalendar.Calendar.from_ical(feed(state)).walk("VEVENT")
        ]
        second = [
            str(e["UID"]) for e in icalendar.Calendar.from_ical(later).walk("VEVENT")
        ]

        assert first == second
        assert len(set(first)) == len(first)


class TestPersonFeed:
    def test_only_that_persons_shifts(self, make_state: MakeState) -> None:
        """A's feed holds A's primary week and the secondary week before it."""
        segments = timeline(make_state(), START, END)

        text = person_feed("r4", "A", segments, stamp=STAMP)
        events = list(icalendar.Calendar.from_ical(text).walk("VEVENT"))

        assert [
            ("On call (r4): secondary", utc("2026-03-23T08:00")),
            ("On call (r4): primary", utc("2026-03-30T07:00")),
        ] == [(str(e["SUMMARY"]), e.decoded("DTSTART")) for e in events]


class TestFold:
    def test_never_splits_a_character(self) -> None:
        """Folded pieces decode on their own and unfold to the original line."""
        line = "SUMMARY:" + "ü€🚀x" * 40

        folded = fold(line)
        pieces = folded.encode("utf-8").split(b"\r\n")

        assert all(len(p) <= 75 for p in pieces)
        assert all(p.decode("utf-8") for p in pieces)
        assert line == folded.replace("\r\n ", "")

    def test_short_lines_are_left_alone(self) -> None:
        """A line of 75 octets exactly is not folded."""
        line = "X" * 75

        assert line == fold(line)

    def test_text_escaping(self) -> None:
        """Commas, semicolons, backslashes and newlines are escaped."""
        assert escape_text("a, b; c\\ d\ne") == "a\\, b\\; c\\\\ d\\ne"
