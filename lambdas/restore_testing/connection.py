"""How the validator reaches a restored copy: the credentials to try (never shown) and where to connect.
Shared by :mod:`.validation` (which builds them) and :mod:`.integrity` (which connects)."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdas.common.postgres import Credentials

__all__ = ["Checker", "ConnectionTarget", "Credentials"]


@dataclass(frozen=True)
class ConnectionTarget:
    """Where and how the checker connects to the restored database."""

    host: str
    port: int
    database: str
    candidates: tuple[Credentials, ...]
    ssl_context: ssl.SSLContext | None
    timeout_s: float


# A checker connects with the first working candidate, runs the checks and returns (label of the credentials
# used, check results as dicts or objects with name/kind/passed/expected/found/message/duration_ms). It raises
# when no candidate can connect.
Checker = Callable[[ConnectionTarget, datetime | None], tuple[str, Sequence[Any]]]
