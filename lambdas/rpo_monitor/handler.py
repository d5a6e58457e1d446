"""Lambda entry point of the live RPO monitor (every 5 minutes): settings from the environment, then
:func:`.monitor.collect` and :func:`.monitor.publish`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from lambdas.common.aws import cached_client, clear_clients
from lambdas.common.logs import configure_logging
from lambdas.contract.settings import MonitorSettings
from lambdas.rpo_monitor.monitor import collect, publish

BUNDLE_DEPENDENCIES: Final = {"handler": ()}

configure_logging()


def aws_client(service: str) -> Any:
    """A cached boto3 client (created on first use); the seam tests replace."""
    return cached_client(service)


def reset_clients() -> None:
    clear_clients()


def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Collect and publish; per-resource problems are metrics, a failed publish raises (Lambda error alarm)."""
    settings = MonitorSettings.from_env(os.environ)
    report = collect(
        rds=aws_client("rds") if settings.databases else None,
        backup=aws_client("backup") if settings.protected_resource_arns else None,
        s3=aws_client("s3") if settings.config_namespaces else None,
        settings=settings,
        now=datetime.now(UTC),
    )
    sent = publish(aws_client("cloudwatch"), report, settings)
    result = report.to_dict()
    result["metricsPublished"] = sent
    return result
