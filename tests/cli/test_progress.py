"""Progress on long waits: timestamped lines with the elapsed time against the RTO when stderr is not a
terminal, one live line (rich) on a terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from backup_constructs.cli.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_carry_a_utc_timestamp_and_the_elapsed_time_against_the_rto() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(
        rto_minutes=60, stream=out, terminal=False, clock=clock, now=lambda: datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    )
    progress("restore job r-1: RUNNING")
    clock.t += 45 * 60
    progress("restore job r-1: COMPLETED")
    assert out.getvalue().splitlines() == [
        "2026-12-02T05:00:00Z backupctl: restore job r-1: RUNNING [0.0 min elapsed of the 1 h RTO (0%)]",
        "2026-12-02T05:00:00Z backupctl: restore job r-1: COMPLETED [45.0 min elapsed of the 1 h RTO (75%)]",
    ]


def test_without_an_rto_only_the_elapsed_time_is_shown() -> None:
    out, clock = io.StringIO(), Clock()
    Progress(stream=out, terminal=False, clock=clock)("backup job b-1: CREATED")
    assert out.getvalue().rstrip().endswith("backup job b-1: CREATED [0.0 min elapsed]")


def test_on_a_terminal_a_live_line_is_drawn_with_rich_and_each_step_is_logged() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(rto_minutes=60, stream=out, terminal=True, clock=clock)
    progress("restore job r-1: RUNNING")
    clock.t += 90 * 60
    progress("restore job r-1: still RUNNING")
    progress.close()
    text = out.getvalue()
    assert "\x1b[" in text  # terminal control sequences: a live display, not plain lines
    assert "restore job r-1: still RUNNING" in text and "150%" in text


def test_the_rto_clock_can_start_before_this_process_at_the_outage() -> None:
    out = io.StringIO()
    outage = datetime(2026, 12, 2, 4, 30, tzinfo=UTC)
    progress = Progress(
        rto_minutes=60, stream=out, terminal=False, since=outage, now=lambda: datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    )
    progress("failover step promote ...")
    assert out.getvalue().rstrip().endswith("failover step promote ... [30.0 min elapsed of the 1 h RTO (50%)]")
