"""The reports' timeline: milestones against the RTO, as a table and a Mermaid Gantt chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lambdas.restore_testing.reports import ValidationReport, timeline_markdown

START = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_each_milestone_has_its_elapsed_time_and_share_of_the_rto() -> None:
    lines = timeline_markdown(
        [("started", START), ("available", _at(42)), ("validated", _at(45))], 60, judged="available"
    )
    assert "| available | 2026-11-01T03:42:00Z | 42 min | 70% |" in lines
    assert "| validated | 2026-11-01T03:45:00Z | 45 min | 75% |" in lines
    assert "Service back (available) 42 min after started: within the RTO of 60 min." in lines
    assert lines[lines.index("```mermaid") + 1] == "gantt" and lines[-1] == "```"
    assert "    started to available : done, 2026-11-01 03:00:00, 2026-11-01 03:42:00" in lines
    assert "    RTO 60 min : crit, 2026-11-01 03:00:00, 2026-11-01 04:00:00" in lines


def test_a_late_recovery_is_over_the_rto_and_an_unreached_one_is_not_met() -> None:
    late = timeline_markdown([("started", START), ("available", _at(75))], 60, judged="available")
    assert "| available | 2026-11-01T04:15:00Z | 75 min | 125% |" in late
    assert "Service back (available) 75 min after started: OVER the RTO of 60 min." in late
    never = timeline_markdown([("started", START), ("available", None)], 60, judged="available")
    assert "| available | not reached | | |" in never
    assert "Service not back (available not reached): the RTO of 60 min is not met." in never
    assert "```mermaid" not in never  # one point is no chart
    assert timeline_markdown([("started", None)], 60, judged="available")[-1] == "Not started: no timeline."


def test_names_that_would_break_a_gantt_line_are_cleaned() -> None:
    lines = timeline_markdown([("a: start", START), ("b; #1", _at(5))], None, judged="b; #1")
    assert "    a start to b 1 : done, 2026-11-01 03:00:00, 2026-11-01 03:05:00" in lines
    assert "| b; #1 | 2026-11-01T03:05:00Z | 5 min | no target |" in lines
    assert not any(line.startswith("    section Target") for line in lines)


def test_the_restore_test_report_shows_the_timeline() -> None:
    report = ValidationReport(
        environment="production",
        kind="monthly",
        restore_job_id="job-1",
        validated_at=_at(50),
        rto_minutes=60,
        rpo_minutes=15,
        status="SUCCESSFUL",
        restore_started=START,
        restore_completed=_at(40),
        restore_minutes=40,
    )
    text = report.to_markdown()
    assert "| database available | 2026-11-01T03:40:00Z | 40 min | 67% |" in text
    assert "| validated | 2026-11-01T03:50:00Z | 50 min | 83% |" in text
    assert "Service back (database available) 40 min after restore started: within the RTO of 60 min." in text
    failed = ValidationReport(**{**report.__dict__, "status": "FAILED", "checks": []})
    assert "| validated | not reached | | |" in failed.to_markdown()
