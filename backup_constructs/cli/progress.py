"""Progress on long waits: on a terminal one live line (rich) with the elapsed time against the RTO; when
stderr is not a terminal (CI, a log file) plain lines, each with a UTC timestamp and the same figures."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from backup_constructs.policy.rpo import format_minutes


class Progress:
    """Report steps of a long wait. ``rto_minutes``: the target the elapsed time is shown against."""

    def __init__(
        self,
        *,
        rto_minutes: float | None = None,
        stream: IO[str] | None = None,
        terminal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        since: datetime | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.rto_minutes = rto_minutes
        self._clock, self._now = clock, now
        self._started = clock()
        # Where the RTO clock starts when it started before this process (an outage, a resumed run).
        self._since = since
        self._status: Any = None

    def elapsed_text(self) -> str:
        if self._since is not None:
            minutes = (self._now() - self._since).total_seconds() / 60
        else:
            minutes = (self._clock() - self._started) / 60
        text = f"{minutes:.1f} min elapsed"
        if self.rto_minutes is not None:
            share = minutes / self.rto_minutes if self.rto_minutes else 0.0
            text += f" of the {format_minutes(int(self.rto_minutes))} RTO ({share:.0%})"
        return text

    def __call__(self, message: str) -> None:
        line = f"{message} [{self.elapsed_text()}]"
        if not self.terminal:
            print(f"{self._now().strftime('%Y-%m-%dT%H:%M:%SZ')} backupctl: {line}", file=self.stream, flush=True)
            return
        if self._status is None:
            from rich.console import Console

            self._status = Console(file=self.stream, force_terminal=True).status(line)
            self._status.start()
        else:
            self._status.update(line)
        self._status.console.log(message)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
