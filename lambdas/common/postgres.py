"""PostgreSQL connections for the runtime functions that read or write a database (the restore
validator, the heartbeat writer, the DR exposure monitor): TLS always, credentials never shown.
Pure Python plus ``pg8000``."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pg8000.exceptions
import pg8000.native


class Connection(Protocol):
    """The part of ``pg8000.native.Connection`` the checks use."""

    def run(self, sql: str, stream: Any = None, types: Any = None, **params: Any) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Credentials:
    """One way to log in; ``label`` (e.g. "iam", "secret:AWSPREVIOUS") is all that is ever reported."""

    label: str
    username: str
    password: str = field(repr=False)


class DatabaseConnectionError(Exception):
    """Could not connect to the database. The message never contains a password."""

    def __init__(self, message: str, *, attempts: Sequence[tuple[str, str]] = (), sqlstate: str | None = None) -> None:
        super().__init__(message)
        #: The server's SQLSTATE when the server refused the login (``None`` for network/TLS failures).
        self.sqlstate = sqlstate
        #: ``(label, reason)`` per credential tried by :func:`connect_first`.
        self.attempts: list[tuple[str, str]] = list(attempts)


def error_message(error: BaseException) -> str:
    """The server's message (with SQLSTATE) for a ``pg8000`` DatabaseError, else ``str(error)``."""
    if isinstance(error, pg8000.exceptions.DatabaseError) and error.args and isinstance(error.args[0], dict):
        fields: dict[str, Any] = error.args[0]
        message = str(fields.get("M", error))
        code = fields.get("C")
        detail = fields.get("D")
        text = f"{message} (SQLSTATE {code})" if code else message
        return f"{text}: {detail}" if detail else text
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if isinstance(error, OSError | ssl.SSLError) else text


def _sqlstate(error: BaseException) -> str | None:
    if isinstance(error, pg8000.exceptions.DatabaseError) and error.args and isinstance(error.args[0], dict):
        code = error.args[0].get("C")
        return str(code) if code else None
    return None


def make_ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """TLS for the restored instance.

    With a CA bundle (the RDS CA PEM, RDS_CA_BUNDLE) the certificate and host name are verified. Without one
    TLS is still required (IAM auth tokens are only accepted over TLS, and nothing goes over the wire in clear
    text) but the certificate is not verified: the bundle is not part of the Lambda runtime, the restored
    instance is reached inside the VPC at the endpoint RDS itself just returned, and what is checked is the
    restored data, not the server's identity. Set RDS_CA_BUNDLE to verify.
    """
    if ca_bundle:
        context = ssl.create_default_context(cafile=ca_bundle)
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        return context
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _scrub(text: str, password: str) -> str:
    return text.replace(password, "***") if password else text


def connect(
    *,
    host: str,
    port: int,
    database: str,
    user: str,
    password: str,
    ssl_context: ssl.SSLContext,
    timeout_s: float = 10,
    application_name: str = "restore-validator",
) -> Connection:
    """Open a ``pg8000.native.Connection`` over verified TLS (``ssl_context``).

    Raises :class:`DatabaseConnectionError` naming host, port, database, user and the reason, never the password.
    (``pg8000`` treats a ``None`` context as unverified TLS, so one is required here.)
    """
    if not isinstance(ssl_context, ssl.SSLContext):
        raise TypeError(f"ssl_context must be an ssl.SSLContext, got {type(ssl_context).__name__}")
    try:
        connection: Connection = pg8000.native.Connection(
            user=user,
            host=host,
            port=port,
            database=database,
            password=password,
            ssl_context=ssl_context,
            timeout=timeout_s,
            application_name=application_name,
        )
    except Exception as error:
        reason = _scrub(error_message(error), password)
        raise DatabaseConnectionError(
            f"could not connect to {host}:{port} database {database!r} as {user!r}: {reason}",
            sqlstate=_sqlstate(error),
        ) from None
    return connection


def connect_first(
    candidates: Sequence[Credentials],
    *,
    host: str,
    port: int,
    database: str,
    ssl_context: ssl.SSLContext,
    timeout_s: float = 10,
) -> tuple[Connection, str]:
    """Try ``candidates`` in order; return the first connection and the label of the credentials that worked.

    Stops early when a failure did not come from the server (network, TLS): other credentials cannot help then.
    """
    if not candidates:
        raise DatabaseConnectionError(f"no credentials to connect to {host}:{port} database {database!r}")
    attempts: list[tuple[str, str]] = []
    for candidate in candidates:
        try:
            connection = connect(
                host=host,
                port=port,
                database=database,
                user=candidate.username,
                password=candidate.password,
                ssl_context=ssl_context,
                timeout_s=timeout_s,
            )
        except DatabaseConnectionError as error:
            reason = str(error)
            for other in candidates:  # never echo any candidate's secret
                reason = _scrub(reason, other.password)
            attempts.append((candidate.label, reason))
            if error.sqlstate is None:
                break
            continue
        return connection, candidate.label
    tried = {label for label, _ in attempts}
    skipped = [candidate.label for candidate in candidates if candidate.label not in tried]
    listing = "; ".join(f"{label}: {reason}" for label, reason in attempts)
    suffix = f"; not tried: {', '.join(skipped)}" if skipped else ""
    raise DatabaseConnectionError(
        f"none of the credentials ({', '.join(c.label for c in candidates)}) worked: {listing}{suffix}",
        attempts=attempts,
    )
