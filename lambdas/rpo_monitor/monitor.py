"""Live RPO exposure of one environment, published to CloudWatch every few minutes so alarms can fire.

Run by a scheduled Lambda (``rate(5 minutes)``). Three sources, each checked per resource; a problem with
one resource is reported (in the report and as a metric) and never stops the others:

* RDS point-in-time recovery: ``now - LatestRestorableTime`` of each database -> ``RpoExposureMinutes``.
  A database that is missing, stopped or has no ``LatestRestorableTime`` publishes no exposure but
  ``DatabaseUnprotected`` = 1 (healthy ones publish 0, so alarms always have data).
* AWS Backup: the newest ``COMPLETED`` recovery point of each protected resource ARN ->
  ``RecoveryPointAgeMinutes``; none -> ``RecoveryPointMissing`` = 1 (else 0). A continuous recovery point's
  ``CreationDate`` is when continuous backup started, so for RDS the live exposure is ``RpoExposureMinutes``.
* Kubernetes config backups in S3 (``<cluster>/<namespace>/<YYYYMMDDTHHMMSSZ>/manifest.json``, complete only
  once manifest.json exists): the newest complete backup -> ``ConfigBackupAgeMinutes`` (from its id); none ->
  ``ConfigBackupMissing`` = 1 (else 0); the ``last-run.json`` marker's ``checkedAt`` ->
  ``ConfigBackupCheckAgeMinutes``, so an export that silently stopped running is visible.

Checks that fail for another reason (throttling, access denied, ...) are problems too and are counted in
``CheckErrors`` (dimension ``Environment`` only), since they say nothing about the resource's protection.

Metric dimensions (namespace ``METRIC_NAMESPACE``, default ``Ecommerce/Backup``):

* ``Environment`` + ``DBInstanceIdentifier``: ``RpoExposureMinutes``, ``DatabaseUnprotected``
* ``Environment`` + ``ResourceArn``: ``RecoveryPointAgeMinutes``, ``RecoveryPointMissing``
* ``Environment`` + ``Namespace``: ``ConfigBackupAgeMinutes``, ``ConfigBackupCheckAgeMinutes``,
  ``ConfigBackupMissing``
* ``Environment``: ``CheckErrors``

CloudWatch has no minutes unit: the ``...Minutes`` metrics are published with unit ``None`` (their name says
the unit), rounded to 0.1 and never negative (clock skew); the 0/1 flags and ``CheckErrors`` use ``Count``.

The settings (environment variables of :mod:`.handler`) are :class:`lambdas.contract.settings.MonitorSettings`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from lambdas.common.aws import error_code as _error_code
from lambdas.contract.layout import MANIFEST_FILE, MARKER_FILE, is_backup_id, parse_backup_id
from lambdas.contract.metrics import (
    CHECK_ERRORS,
    CONFIG_BACKUP_AGE,
    CONFIG_BACKUP_CHECK_AGE,
    CONFIG_BACKUP_MISSING,
    DATABASE_UNPROTECTED,
    RECOVERY_POINT_AGE,
    RECOVERY_POINT_MISSING,
    RPO_EXPOSURE,
    MetricDefinition,
)
from lambdas.contract.settings import MonitorSettings

__all__ = [
    "MAX_METRICS_PER_CALL",
    "ConfigBackupAge",
    "DatabaseExposure",
    "Metric",
    "MonitorError",
    "MonitorReport",
    "Problem",
    "PublishError",
    "RecoveryPointAge",
    "collect",
    "publish",
]

LOG = logging.getLogger(__name__)

MAX_METRICS_PER_CALL: Final = 20  # PutMetricData allows 1000 per call; small batches stay far below 1 MB
RECOVERY_POINT_PAGE_SIZE: Final = 100
_MISSING_CODES: Final = frozenset({"NoSuchKey", "404", "NotFound"})
_USABLE_STATUSES: Final = frozenset({"COMPLETED"})

ProblemKind = Literal["database", "recovery_point", "config_backup"]


class MonitorError(Exception):
    """Invalid configuration."""


class PublishError(MonitorError):
    """CloudWatch rejected at least one batch of metrics (the others were still sent)."""


# --------------------------------------------------------------------------
# Settings and report
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One CloudWatch datum of a contract metric: ``dimensions`` as (name, value) pairs, in order."""

    definition: MetricDefinition
    value: float
    dimension_values: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def unit(self) -> str:
        return self.definition.unit

    @property
    def dimensions(self) -> tuple[tuple[str, str], ...]:
        return tuple(self.definition.dimension_map(*self.dimension_values).items())

    def datum(self, timestamp: datetime) -> dict[str, Any]:
        return self.definition.datum(self.value, self.dimension_values, timestamp)


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    resource: str
    message: str
    check_error: bool = False
    """True when the check itself failed (the resource's state is unknown), not the resource's protection."""


@dataclass(frozen=True)
class DatabaseExposure:
    identifier: str
    status: str | None = None
    latest_restorable_time: datetime | None = None
    exposure_minutes: float | None = None
    problem: Problem | None = None

    @property
    def unprotected(self) -> bool | None:
        """True/False when known; None when the check failed."""
        if self.problem is not None and self.problem.check_error:
            return None
        return self.exposure_minutes is None


@dataclass(frozen=True)
class RecoveryPointAge:
    resource_arn: str
    recovery_point_arn: str | None = None
    created_at: datetime | None = None
    age_minutes: float | None = None
    problem: Problem | None = None

    @property
    def missing(self) -> bool | None:
        if self.problem is not None and self.problem.check_error:
            return None
        return self.age_minutes is None


@dataclass(frozen=True)
class ConfigBackupAge:
    namespace: str
    backup_id: str | None = None
    age_minutes: float | None = None
    checked_at: datetime | None = None
    check_age_minutes: float | None = None
    last_result: str | None = None
    backup_problem: Problem | None = None
    marker_problem: Problem | None = None

    @property
    def missing(self) -> bool | None:
        if self.backup_problem is not None and self.backup_problem.check_error:
            return None
        return self.backup_id is None


@dataclass(frozen=True)
class MonitorReport:
    environment: str
    checked_at: datetime
    databases: tuple[DatabaseExposure, ...] = ()
    recovery_points: tuple[RecoveryPointAge, ...] = ()
    config_backups: tuple[ConfigBackupAge, ...] = ()
    problems: tuple[Problem, ...] = field(init=False)

    def __post_init__(self) -> None:
        found: list[Problem | None] = [d.problem for d in self.databases]
        found += [r.problem for r in self.recovery_points]
        for c in self.config_backups:
            found += [c.backup_problem, c.marker_problem]
        object.__setattr__(self, "problems", tuple(p for p in found if p is not None))

    @property
    def check_errors(self) -> int:
        return sum(1 for p in self.problems if p.check_error)

    def metrics(self) -> list[Metric]:
        """Every datum :func:`publish` sends, in a stable order."""
        env = self.environment
        out: list[Metric] = []
        for d in self.databases:
            if d.exposure_minutes is not None:
                out.append(Metric(RPO_EXPOSURE, d.exposure_minutes, (env, d.identifier)))
            if d.unprotected is not None:
                out.append(Metric(DATABASE_UNPROTECTED, 1.0 if d.unprotected else 0.0, (env, d.identifier)))
        for r in self.recovery_points:
            if r.age_minutes is not None:
                out.append(Metric(RECOVERY_POINT_AGE, r.age_minutes, (env, r.resource_arn)))
            if r.missing is not None:
                out.append(Metric(RECOVERY_POINT_MISSING, 1.0 if r.missing else 0.0, (env, r.resource_arn)))
        for c in self.config_backups:
            if c.age_minutes is not None:
                out.append(Metric(CONFIG_BACKUP_AGE, c.age_minutes, (env, c.namespace)))
            if c.missing is not None:
                out.append(Metric(CONFIG_BACKUP_MISSING, 1.0 if c.missing else 0.0, (env, c.namespace)))
            if c.check_age_minutes is not None:
                out.append(Metric(CONFIG_BACKUP_CHECK_AGE, c.check_age_minutes, (env, c.namespace)))
        out.append(Metric(CHECK_ERRORS, float(self.check_errors), (env,)))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable (times as RFC 3339)."""

        def problem(p: Problem | None) -> dict[str, Any] | None:
            if p is None:
                return None
            return {"kind": p.kind, "resource": p.resource, "message": p.message, "checkError": p.check_error}

        return {
            "environment": self.environment,
            "checkedAt": _rfc3339(self.checked_at),
            "databases": [
                {
                    "identifier": d.identifier,
                    "status": d.status,
                    "latestRestorableTime": _rfc3339(d.latest_restorable_time),
                    "exposureMinutes": d.exposure_minutes,
                    "unprotected": d.unprotected,
                    "problem": problem(d.problem),
                }
                for d in self.databases
            ],
            "recoveryPoints": [
                {
                    "resourceArn": r.resource_arn,
                    "recoveryPointArn": r.recovery_point_arn,
                    "createdAt": _rfc3339(r.created_at),
                    "ageMinutes": r.age_minutes,
                    "missing": r.missing,
                    "problem": problem(r.problem),
                }
                for r in self.recovery_points
            ],
            "configBackups": [
                {
                    "namespace": c.namespace,
                    "backupId": c.backup_id,
                    "ageMinutes": c.age_minutes,
                    "missing": c.missing,
                    "checkedAt": _rfc3339(c.checked_at),
                    "checkAgeMinutes": c.check_age_minutes,
                    "lastResult": c.last_result,
                    "problems": [problem(p) for p in (c.backup_problem, c.marker_problem) if p is not None],
                }
                for c in self.config_backups
            ],
            "problems": [problem(p) for p in self.problems],
            "checkErrors": self.check_errors,
        }


# --------------------------------------------------------------------------
# Collect
# --------------------------------------------------------------------------


def collect(*, rds: Any, backup: Any, s3: Any, settings: MonitorSettings, now: datetime) -> MonitorReport:
    """Measure every configured resource at ``now`` (timezone-aware). Never raises for a resource's problem."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise MonitorError("now must be a timezone-aware datetime")
    now = now.astimezone(UTC)
    databases = tuple(_database(rds, name, now) for name in settings.databases)
    points = tuple(_recovery_point(backup, arn, now) for arn in settings.protected_resource_arns)
    configs = tuple(
        _config_backup(s3, settings.config_bucket or "", settings.config_cluster or "", ns, now)
        for ns in settings.config_namespaces
    )
    report = MonitorReport(settings.environment, now, databases, points, configs)
    for p in report.problems:
        LOG.warning("%s %s: %s", p.kind, p.resource, p.message)
    return report


def _database(rds: Any, identifier: str, now: datetime) -> DatabaseExposure:
    try:
        instances = rds.describe_db_instances(DBInstanceIdentifier=identifier).get("DBInstances") or []
    except Exception as exc:
        if _error_code(exc) == "DBInstanceNotFound":
            return DatabaseExposure(identifier, problem=Problem("database", identifier, "database not found"))
        return DatabaseExposure(identifier, problem=_check_failed("database", identifier, exc))
    if not instances:
        return DatabaseExposure(identifier, problem=Problem("database", identifier, "database not found"))
    instance = instances[0]
    status = str(instance.get("DBInstanceStatus") or "") or None
    restorable = instance.get("LatestRestorableTime")
    if status == "stopped":
        message = "database is stopped: no point-in-time recovery"
        since = _utc(restorable) if isinstance(restorable, datetime) else None
        return DatabaseExposure(identifier, status, since, problem=Problem("database", identifier, message))
    if not isinstance(restorable, datetime):
        message = f"database (status {status}) has no LatestRestorableTime: automated backups are off or pending"
        return DatabaseExposure(identifier, status, problem=Problem("database", identifier, message))
    restorable = _utc(restorable)
    return DatabaseExposure(identifier, status, restorable, _minutes(now, restorable))


def _recovery_point(backup: Any, arn: str, now: datetime) -> RecoveryPointAge:
    newest: Mapping[str, Any] | None = None
    try:
        for point in _recovery_points(backup, arn):
            created = point.get("CreationDate")
            if point.get("Status") not in _USABLE_STATUSES or not isinstance(created, datetime):
                continue
            if newest is None or _utc(created) > _utc(newest["CreationDate"]):
                newest = point
    except Exception as exc:
        return RecoveryPointAge(arn, problem=_check_failed("recovery_point", arn, exc))
    if newest is None:
        return RecoveryPointAge(arn, problem=Problem("recovery_point", arn, "no COMPLETED recovery point"))
    created = _utc(newest["CreationDate"])
    return RecoveryPointAge(arn, str(newest.get("RecoveryPointArn") or "") or None, created, _minutes(now, created))


def _recovery_points(backup: Any, arn: str) -> Iterator[Mapping[str, Any]]:
    paginator = backup.get_paginator("list_recovery_points_by_resource")
    pages = paginator.paginate(ResourceArn=arn, PaginationConfig={"PageSize": RECOVERY_POINT_PAGE_SIZE})
    for page in pages:
        yield from page.get("RecoveryPoints") or []


def _config_backup(s3: Any, bucket: str, cluster: str, namespace: str, now: datetime) -> ConfigBackupAge:
    prefix = f"{cluster}/{namespace}/"
    resource = f"s3://{bucket}/{prefix}"
    backup_id: str | None = None
    backup_problem: Problem | None = None
    try:
        backup_id = _newest_complete_backup(s3, bucket, prefix)
        if backup_id is None:
            backup_problem = Problem("config_backup", resource, "no complete backup (with manifest.json)")
    except Exception as exc:
        backup_problem = _check_failed("config_backup", resource, exc)

    checked_at: datetime | None = None
    last_result: str | None = None
    marker_problem: Problem | None = None
    marker_resource = f"{resource}{MARKER_FILE}"
    try:
        marker = _get_json(s3, bucket, prefix + MARKER_FILE)
        if marker is None:
            marker_problem = Problem("config_backup", marker_resource, "no marker: the export never ran")
        else:
            checked_at = _parse_time(marker.get("checkedAt"))
            last_result = str(marker["result"]) if marker.get("result") is not None else None
            if checked_at is None:
                marker_problem = Problem("config_backup", marker_resource, "marker has no valid checkedAt")
    except Exception as exc:
        marker_problem = _check_failed("config_backup", marker_resource, exc)

    return ConfigBackupAge(
        namespace,
        backup_id,
        None if backup_id is None else _minutes(now, parse_backup_id(backup_id)),
        checked_at,
        None if checked_at is None else _minutes(now, checked_at),
        last_result,
        backup_problem,
        marker_problem,
    )


def _newest_complete_backup(s3: Any, bucket: str, prefix: str) -> str | None:
    ids: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes") or []:
            name = str(common.get("Prefix", ""))[len(prefix) :].rstrip("/")
            if is_backup_id(name):
                ids.append(name)
    for backup_id in sorted(ids, reverse=True):
        try:
            s3.head_object(Bucket=bucket, Key=f"{prefix}{backup_id}/{MANIFEST_FILE}")
        except Exception as exc:
            if _error_code(exc) in _MISSING_CODES:
                LOG.info("config backup %s%s is incomplete (no %s)", prefix, backup_id, MANIFEST_FILE)
                continue
            raise
        return backup_id
    return None


def _get_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        if _error_code(exc) in _MISSING_CODES:
            return None
        raise
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------
# Publish
# --------------------------------------------------------------------------


def publish(cloudwatch: Any, report: MonitorReport, settings: MonitorSettings) -> int:
    """Put the report's metrics (timestamped ``report.checked_at``) in batches of at most
    :data:`MAX_METRICS_PER_CALL`; returns the number sent. Every batch is tried; :class:`PublishError` if any failed.
    """
    data = [m.datum(report.checked_at) for m in report.metrics()]
    failures: list[BaseException] = []
    sent = 0
    for batch in _batches(data, MAX_METRICS_PER_CALL):
        try:
            cloudwatch.put_metric_data(Namespace=settings.metric_namespace, MetricData=batch)
            sent += len(batch)
        except Exception as exc:
            LOG.error("put_metric_data of %d metric(s) failed: %s", len(batch), exc)
            failures.append(exc)
    if failures:
        raise PublishError(
            f"{len(failures)} put_metric_data call(s) failed; {sent} of {len(data)} metrics sent: {failures[0]}"
        ) from failures[0]
    LOG.info("published %d metric(s) to %s", sent, settings.metric_namespace)
    return sent


def _batches(items: Sequence[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _minutes(now: datetime, then: datetime) -> float:
    return max(0.0, round((now - then).total_seconds() / 60.0, 1))


def _utc(value: datetime) -> datetime:
    """Aware UTC (botocore parses timestamps as aware; a naive one is taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _rfc3339(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return None if parsed.tzinfo is None else parsed.astimezone(UTC)


def _check_failed(kind: ProblemKind, resource: str, exc: BaseException) -> Problem:
    code = _error_code(exc)
    detail = f"{code}: {exc}" if code else f"{type(exc).__name__}: {exc}"
    return Problem(kind, resource, f"check failed ({detail[:500]})", check_error=True)
