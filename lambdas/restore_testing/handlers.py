"""Lambda entry points of the restore validator and the drill starter: settings from the environment
(:mod:`lambdas.contract.settings`), cached clients, then the logic of :mod:`.validation` and :mod:`.drill`."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from lambdas.common.aws import cached_client, clear_clients
from lambdas.common.logs import configure_logging
from lambdas.contract.events import RDS_INSTANCE_EVENT, RDS_SNAPSHOT_EVENT
from lambdas.contract.settings import DrillSettings, ValidatorSettings, arn_region
from lambdas.restore_testing.drill import continue_replica_drill, run_config_drill, start_drill, start_replica_drill
from lambdas.restore_testing.validation import integrity_checker, validate_drill_instance, validate_restore_job

# What the bundler installs next to the package for these handlers (the validator's PostgreSQL driver).
BUNDLE_DEPENDENCIES: Final = {
    "validator_handler": ("pg8000", "scramp", "asn1crypto", "python-dateutil", "six"),
    "drill_start_handler": (),
}

LOG = logging.getLogger(__name__)
configure_logging()


def aws_client(service: str, region: str | None = None) -> Any:
    """A cached boto3 client (created on first use); the seam tests replace."""
    return cached_client(service, region)


def reset_clients() -> None:
    clear_clients()


def validator_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Validate the restore job of an AWS Backup event; returns the report (a failure is recorded, not raised)."""
    settings = ValidatorSettings.from_env(os.environ)
    checker = integrity_checker(settings.checks_json, settings.rpo_minutes)
    started = time.monotonic()
    validate = (
        validate_drill_instance if (event or {}).get("detail-type") == RDS_INSTANCE_EVENT else validate_restore_job
    )
    report = validate(
        event=event or {},
        backup=aws_client("backup"),
        rds=aws_client("rds"),
        secrets=aws_client("secretsmanager", arn_region(settings.source_secret_arn)),
        s3=aws_client("s3"),
        cloudwatch=aws_client("cloudwatch"),
        events=aws_client("events"),
        settings=settings,
        checker=checker,
        now=datetime.now(UTC),
    )
    result = report.to_dict()
    LOG.info("restore validation took %.1f s", time.monotonic() - started)
    if report.status == "FAILED":
        LOG.error("restore validation report: %s", json.dumps(result, sort_keys=True))
    return result


def drill_start_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Start the quarterly DR drill's restore job (raises when there is nothing to restore)."""
    settings = DrillSettings.from_env(os.environ)
    config_drill: Callable[[], dict[str, Any]] | None = None
    function_arn, namespace, drill_namespace = (
        settings.config_restore_function_arn,
        settings.source_namespace,
        settings.drill_namespace,
    )
    if function_arn and namespace and drill_namespace:

        def config_drill() -> dict[str, Any]:
            return run_config_drill(
                lambda_client=aws_client("lambda", arn_region(function_arn)),
                function_arn=function_arn,
                namespace=namespace,
                drill_namespace=drill_namespace,
            )

    if (event or {}).get("detail-type") == RDS_SNAPSHOT_EVENT:
        return continue_replica_drill(event=event, rds=aws_client("rds"), s3=aws_client("s3"), settings=settings)
    if settings.replica_identifier:
        start = start_replica_drill(
            rds=aws_client("rds"),
            s3=aws_client("s3"),
            settings=settings,
            now=datetime.now(UTC),
            config_drill=config_drill,
        )
        return start.to_dict()
    start = start_drill(
        backup=aws_client("backup"),
        s3=aws_client("s3"),
        settings=settings,
        now=datetime.now(UTC),
        config_drill=config_drill,
    )
    return start.to_dict()
