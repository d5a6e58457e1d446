"""Lambda entry point of the heartbeat writer (every minute, in the database's VPC): an IAM auth
token for the heartbeat user, a TLS connection, one row."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Final

from lambdas.common.aws import cached_client
from lambdas.common.logs import configure_logging
from lambdas.common.postgres import connect, make_ssl_context
from lambdas.contract.settings import HeartbeatSettings
from lambdas.heartbeat.writer import write_heartbeat

BUNDLE_DEPENDENCIES: Final = {"handler": ("pg8000", "scramp", "asn1crypto", "python-dateutil", "six")}

LOG = logging.getLogger(__name__)
configure_logging()


def aws_client(service: str) -> Any:
    """A cached boto3 client (created on first use); the seam tests replace."""
    return cached_client(service)


def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Write one heartbeat; any failure raises (the function's Errors metric is alarmed)."""
    settings = HeartbeatSettings.from_env(os.environ)
    rds = aws_client("rds")
    # Signed locally (no API call); valid for 15 minutes, accepted only over TLS.
    token = rds.generate_db_auth_token(DBHostname=settings.host, Port=settings.port, DBUsername=settings.user)
    conn = connect(
        host=settings.host,
        port=settings.port,
        database=settings.database,
        user=settings.user,
        password=token,
        ssl_context=make_ssl_context(settings.ca_bundle),
        timeout_s=settings.connect_timeout_s,
        application_name="backup-heartbeat",
    )
    try:
        beat = write_heartbeat(conn, keep_days=settings.keep_days)
    finally:
        conn.close()
    LOG.info("heartbeat %s written to %s/%s", beat.isoformat(), settings.host, settings.database)
    return {"beatAt": beat.isoformat()}
