"""AWS cron expressions (`cron(min hour dom month dow year)`): parsing, validation and fire times.

Pure Python and free of aws_cdk so that the policy, the CLI and the docs generator can use it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

_CRON_RE = re.compile(r"^cron\((?P<body>[^()]*)\)$")
_DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTH_NAMES = {
    name: i + 1
    for i, name in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
}
# (name, lowest, highest, names) of the first five fields; the year field only accepts "*".
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTH_NAMES),
    ("day-of-week", 1, 7, _DAY_NAMES),
)
# Gaps are measured over eight real calendar years (two leap days among them), so weekly, monthly,
# year-end and 29 February gaps are exact.
_REFERENCE_START = dt.date(2028, 1, 1)
_REFERENCE_DAYS = (dt.date(2036, 1, 1) - _REFERENCE_START).days


class CronError(ValueError):
    """An expression that is not an AWS cron expression this project can evaluate."""


@dataclass(frozen=True)
class CronSchedule:
    """A parsed AWS cron expression."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None: "?" (day-of-week decides)
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # None: "?" (day-of-month decides); 1 = Sunday

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        match = _CRON_RE.match(expression.strip())
        if not match:
            raise CronError(
                f"{expression!r} is not an AWS cron expression; expected "
                "'cron(minutes hours day-of-month month day-of-week year)', e.g. 'cron(0 2 * * ? *)'"
            )
        parts = match.group("body").split()
        if len(parts) != 6:
            raise CronError(f"{expression!r} has {len(parts)} fields; AWS cron expressions have 6")
        if parts[5] != "*":
            raise CronError(f"{expression!r}: the year field must be '*' (schedules repeat every year)")
        if (parts[2] == "?") == (parts[4] == "?"):
            raise CronError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
        values = [
            None if part == "?" else _parse_field(part, *spec, expression)
            for part, spec in zip(parts[:5], _FIELDS, strict=True)
        ]
        minutes, hours, dom, months, dow = values
        if minutes is None or hours is None or months is None:
            raise CronError(f"{expression!r}: '?' is only allowed in day-of-month or day-of-week")
        return cls(expression, minutes, hours, dom, months, dow)

    def fires_on(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        if self.days_of_month is not None:
            return day.day in self.days_of_month
        assert self.days_of_week is not None
        return (day.isoweekday() % 7) + 1 in self.days_of_week

    def fire_minutes(self) -> tuple[int, ...]:
        """Minutes since the start of the reference period at which the schedule fires, sorted (computed
        once per schedule: policies are validated often)."""
        return _fire_minutes(self)


@cache
def _fire_minutes(schedule: CronSchedule) -> tuple[int, ...]:
    times_of_day = sorted(h * 60 + m for h in schedule.hours for m in schedule.minutes)
    out: list[int] = []
    for offset in range(_REFERENCE_DAYS):
        if schedule.fires_on(_REFERENCE_START + dt.timedelta(days=offset)):
            out.extend(offset * 1440 + t for t in times_of_day)
    return tuple(out)


def max_gap_minutes(schedules: list[CronSchedule]) -> int:
    """The longest time between two consecutive fires of any of ``schedules``."""
    return _max_gap(tuple(schedules))


@cache
def _max_gap(schedules: tuple[CronSchedule, ...]) -> int:
    fires = sorted({t for s in schedules for t in s.fire_minutes()})
    named = ", ".join(repr(s.expression) for s in schedules)
    if not fires:
        raise CronError(f"{named} never fires: no day matches both its day-of-month (or day-of-week) and month")
    if len(fires) < 2:
        raise CronError(f"{named} fires once in eight years: too rarely to compute a gap")
    return max(b - a for a, b in pairwise(fires))


@cache
def min_gap_minutes(schedule: CronSchedule) -> int:
    """The shortest time between two consecutive fires of one schedule."""
    fires = schedule.fire_minutes()
    if len(fires) < 2:
        return _REFERENCE_DAYS * 1440
    return min(b - a for a, b in pairwise(fires))


def _parse_field(text: str, name: str, low: int, high: int, names: dict[str, int], expression: str) -> frozenset[int]:
    out: set[int] = set()
    for item in text.split(","):
        step = 1
        if "/" in item:
            item, step_text = item.split("/", 1)
            step = _number(step_text, name, 1, high, {}, expression)
        if item == "*":
            first, last = low, high
        elif "-" in item:
            a, b = item.split("-", 1)
            first = _number(a, name, low, high, names, expression)
            last = _number(b, name, low, high, names, expression)
            if last < first:
                raise CronError(f"{expression!r}: {name} range {item!r} runs backwards")
        else:
            first = _number(item, name, low, high, names, expression)
            last = high if step != 1 else first
        out.update(range(first, last + 1, step))
    return frozenset(out)


def _number(text: str, name: str, low: int, high: int, names: dict[str, int], expression: str) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not (text.isascii() and text.isdigit()):
        raise CronError(
            f"{expression!r}: {name} value {text!r} is not supported "
            f"(allowed: numbers {low}-{high}, '*', lists, ranges and steps"
            + (", or names like " + "/".join(list(names)[:3]) if names else "")
            + ")"
        )
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{expression!r}: {name} value {value} is outside {low}-{high}")
    return value
