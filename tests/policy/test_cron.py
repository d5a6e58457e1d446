"""AWS cron expressions: parsing, rejection of what AWS or this model does not accept, and gaps."""

from __future__ import annotations

import pytest

from backup_constructs.policy.cron import CronError, CronSchedule, max_gap_minutes, min_gap_minutes


@pytest.mark.parametrize(
    ("expression", "gap"),
    [
        ("cron(0 * * * ? *)", 60),
        ("cron(0 2 * * ? *)", 1440),
        ("cron(0/15 * * * ? *)", 15),
        ("cron(0 */6 * * ? *)", 360),
        ("cron(30 3 ? * SUN *)", 7 * 1440),
        ("cron(0 1 ? * MON-FRI *)", 3 * 1440),
    ],
)
def test_max_gap_of_common_schedules(expression: str, gap: int) -> None:
    assert max_gap_minutes([CronSchedule.parse(expression)]) == gap


def test_monthly_schedule_gap_is_the_longest_month() -> None:
    assert max_gap_minutes([CronSchedule.parse("cron(0 4 1 * ? *)")]) == 31 * 1440


def test_union_of_schedules_takes_the_largest_gap_between_any_two_fires() -> None:
    twice_a_day = [CronSchedule.parse("cron(0 2 * * ? *)"), CronSchedule.parse("cron(0 14 * * ? *)")]
    assert max_gap_minutes(twice_a_day) == 720


def test_min_gap() -> None:
    assert min_gap_minutes(CronSchedule.parse("cron(0,30 * * * ? *)")) == 30


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(1 hour)", "not an AWS cron expression"),
        ("cron(0 2 * * *)", "has 5 fields"),
        ("cron(0 2 * * ? 2030)", "year field must be '*'"),
        ("cron(0 2 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 24 * * ? *)", "hours value 24 is outside 0-23"),
        ("cron(0 2 L * ? *)", "day-of-month value 'L' is not supported"),
        ("cron(0 5-2 * * ? *)", "runs backwards"),
    ],
)
def test_rejected_expressions_say_why(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        CronSchedule.parse(expression)
