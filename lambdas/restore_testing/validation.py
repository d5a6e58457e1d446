"""Validation of a completed restore job of the protected RDS database.

Two kinds of restore are validated by :func:`validate_restore_job`, run on AWS Backup's
``Restore Job State Change`` event:

* ``monthly``: jobs of the AWS Backup restore testing plan (``CreatedBy.RestoreTestingPlanArn``). The result is
  reported back with ``PutRestoreValidationResult``; AWS Backup deletes the restored instance itself.
* ``drill``: the DR Region's quarterly drill (:mod:`.drill` starts the restore and leaves a pending marker).
  Only jobs with such a marker are validated, checked against the RTO, and their restored instance (named by
  the marker) deleted afterwards.

The database checks run through an injectable ``checker`` (default: :func:`integrity_checker`, which imports
:mod:`.integrity` lazily), so this module does not depend on how the checks are implemented.

Passwords, IAM auth tokens and secret values are never logged, stored or put in an event: they only travel in
:class:`Credentials` (whose ``repr`` hides them) to the checker, and every error message taken from the checker
is scrubbed of them. The settings (environment variables) are :class:`lambdas.contract.settings.ValidatorSettings`.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from lambdas.common.aws import error_code as _error_code
from lambdas.common.postgres import DatabaseConnectionError, make_ssl_context
from lambdas.contract.checks import HEARTBEAT_CHECK
from lambdas.contract.events import RDS_INSTANCE_CREATED, RESTORE_JOB_STATE_CHANGE, RESTORE_TEST_DETAIL_TYPES
from lambdas.contract.layout import pending_marker_key, report_key
from lambdas.contract.metrics import (
    DATA_LOSS,
    DRILL_SUCCEEDED,
    RESTORE_TIME,
    RESTORED_RECOVERY_POINT_AGE,
    VALIDATION_FAILURES,
    MetricDefinition,
)
from lambdas.contract.settings import ValidatorSettings
from lambdas.restore_testing.connection import Checker, ConnectionTarget, Credentials
from lambdas.restore_testing.reports import (
    MAX_STATUS_MESSAGE,
    CheckOutcome,
    RestoreTestingError,
    ValidationReport,
    describe_error,
    instance_id_of,
    iso,
    minutes_between,
    minutes_text,
    parse_time,
    put_object,
    redact,
    truncate,
    vault_name_of,
)

LOG = logging.getLogger(__name__)


# --------------------------------------------------------------------------
# Credentials and the default checker
# --------------------------------------------------------------------------


def credential_candidates(
    *, rds: Any, secrets: Any, settings: ValidatorSettings, host: str, port: int
) -> tuple[list[Credentials], list[str]]:
    """(candidates in the order to try, notes on candidates that could not be had).

    An IAM auth token for the validator user first, then the source secret's AWSCURRENT and AWSPREVIOUS
    versions: a restored snapshot keeps the password it had at snapshot time, which a rotation since may have
    moved to AWSPREVIOUS. A missing AWSPREVIOUS is normal and not noted.
    """
    candidates: list[Credentials] = []
    notes: list[str] = []
    region = settings.region or getattr(getattr(rds, "meta", None), "region_name", None)
    try:
        token = rds.generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=settings.validator_user, Region=region
        )
        candidates.append(Credentials("iam", settings.validator_user, str(token)))
    except Exception as exc:
        notes.append(f"iam: {describe_error(exc)}")
    if settings.source_secret_arn:
        for stage in ("AWSCURRENT", "AWSPREVIOUS"):
            label = f"secret:{stage}"
            try:
                value = secrets.get_secret_value(SecretId=settings.source_secret_arn, VersionStage=stage)
            except Exception as exc:
                if stage == "AWSPREVIOUS" and _error_code(exc) == "ResourceNotFoundException":
                    continue
                notes.append(f"{label}: {describe_error(exc)}")
                continue
            try:
                parsed = json.loads(value.get("SecretString") or "")
                username, password = parsed["username"], parsed["password"]
                if not isinstance(username, str) or not isinstance(password, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                notes.append(f"{label}: not a JSON object with string username and password")
                continue
            candidates.append(Credentials(label, username, password))
    return candidates, notes


def integrity_checker(check_specs: str | Sequence[Any], rpo_minutes: float) -> Checker:
    """The production checker: :mod:`.integrity` (imported on first use) connects and runs the checks.

    ``check_specs`` is the CHECKS list, or its JSON text (parsed when the checker runs, so that a bad
    configuration becomes a FAILED result instead of a crash without one).
    """

    def check(target: ConnectionTarget, recovery_point_time: datetime | None) -> tuple[str, Sequence[Any]]:
        integrity: Any = importlib.import_module("lambdas.restore_testing.integrity")
        specs = json.loads(check_specs) if isinstance(check_specs, str) else check_specs
        if not isinstance(specs, list):
            raise RestoreTestingError("CHECKS must be a JSON list of check specifications")
        checks = integrity.parse_checks(specs)
        conn, label = integrity.connect_first(
            target.candidates,
            host=target.host,
            port=target.port,
            database=target.database,
            ssl_context=target.ssl_context,
            timeout_s=target.timeout_s,
        )
        try:
            results = integrity.run_checks(
                conn, checks, recovery_point_time=recovery_point_time, rpo_minutes=rpo_minutes
            )
        finally:
            close = getattr(conn, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    LOG.debug("closing the validator connection failed", exc_info=False)
        return str(label), list(results)

    return check


def check_outcome(raw: Any) -> CheckOutcome:
    def get(name: str, *alternatives: str) -> Any:
        for key in (name, *alternatives):
            if isinstance(raw, Mapping):
                if key in raw:
                    return raw[key]
            elif hasattr(raw, key):
                return getattr(raw, key)
        return None

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    duration = get("duration_ms", "durationMs")
    return CheckOutcome(
        name=text(get("name")) or "unnamed",
        passed=get("passed") is True,
        kind=text(get("kind")),
        expected=truncate(text(get("expected")), 500),
        found=truncate(text(get("found")), 500),
        message=truncate(text(get("message")), 500),
        duration_ms=float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None,
    )


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, DatabaseConnectionError | ConnectionError | TimeoutError)


# --------------------------------------------------------------------------
# A. Validation of a completed restore job
# --------------------------------------------------------------------------


def validate_restore_job(
    *,
    event: Mapping[str, Any],
    backup: Any,
    rds: Any,
    secrets: Any,
    s3: Any,
    cloudwatch: Any,
    events: Any,
    settings: ValidatorSettings,
    checker: Checker,
    now: datetime,
) -> ValidationReport:
    """Validate the restore job of ``event`` and record the result; never raises for a job it handles.

    Returns a SKIPPED report (and records nothing) for events that are not ours: another restore testing plan,
    a restore that no plan started (monthly), or a drill job without the starter's pending marker.
    """
    detail = event.get("detail") if isinstance(event.get("detail"), Mapping) else {}
    assert isinstance(detail, Mapping)
    job_id = str(detail.get("restoreJobId") or "")
    report = ValidationReport(
        environment=settings.environment,
        kind=settings.kind,
        restore_job_id=job_id or "unknown",
        validated_at=now,
        rto_minutes=settings.rto_minutes,
        rpo_minutes=settings.rpo_minutes,
    )
    if event.get("detail-type") not in (None, RESTORE_JOB_STATE_CHANGE) or not job_id:
        report.message = "not a restore job state change event with a restoreJobId"
        LOG.info("restore validation skipped: %s", report.message)
        return report

    marker: dict[str, Any] | None = None
    job: Mapping[str, Any] = {}
    try:
        job = backup.describe_restore_job(RestoreJobId=job_id)
    except Exception as exc:
        # Whose job it is cannot be told for sure: record a failure (the event's own fields say what they can).
        report.restore_testing_plan_arn = str(detail.get("restoreTestingPlanArn") or "") or None
        if settings.kind == "drill":
            marker = _read_marker(s3, settings, job_id, report)
            if marker is None:
                report.message = "describe_restore_job failed and no drill marker exists: not ours"
                LOG.warning("restore validation of %s skipped: %s", job_id, report.message)
                return report
        elif report.restore_testing_plan_arn is None or (
            settings.plan_arn and report.restore_testing_plan_arn != settings.plan_arn
        ):
            report.message = f"describe_restore_job failed ({describe_error(exc)}) for a job of no known plan"
            LOG.warning("restore validation of %s skipped: %s", job_id, report.message)
            return report
        _fail(report, f"cannot describe restore job: {describe_error(exc)}")
        _record(
            report,
            backup=backup,
            rds=rds,
            s3=s3,
            cloudwatch=cloudwatch,
            events=events,
            settings=settings,
            marker=marker,
        )
        return report

    created_by = job.get("CreatedBy") if isinstance(job.get("CreatedBy"), Mapping) else {}
    assert isinstance(created_by, Mapping)
    plan_arn = created_by.get("RestoreTestingPlanArn") or job.get("RestoreTestingPlanArn") or None
    report.restore_testing_plan_arn = str(plan_arn) if plan_arn else None
    report.recovery_point_arn = job.get("RecoveryPointArn") or None
    report.restored_resource_arn = job.get("CreatedResourceArn") or detail.get("createdResourceArn") or None
    report.db_instance_id = instance_id_of(report.restored_resource_arn)

    skip = _skip_reason(settings, report.restore_testing_plan_arn)
    status = str(job.get("Status") or detail.get("status") or "")
    if skip is None and status in ("PENDING", "RUNNING"):
        skip = f"restore job is {status}, not finished"
    elif skip is None and settings.kind == "monthly" and status != "COMPLETED":
        skip = f"restore job ended {status or 'in an unknown state'}: AWS Backup reports failed restores itself"
    if skip is None and settings.kind == "drill":
        marker = _read_marker(s3, settings, job_id, report)
        if marker is None:
            skip = "no drill marker for this restore job: not started by the drill starter"
    if skip is not None:
        report.message = skip
        LOG.info("restore validation of %s skipped: %s", job_id, skip)
        return report

    try:
        _validate(
            report, job, detail, marker, backup=backup, rds=rds, secrets=secrets, settings=settings, checker=checker
        )
        if settings.kind == "drill" and marker is not None and isinstance(marker.get("configDrill"), dict):
            # The starter ran the configuration drill (it has the network path to the cluster's region).
            report.config_drill = marker["configDrill"]
        _conclude(report, settings)
    except Exception as exc:  # a result is recorded whatever happened
        LOG.error("restore validation of %s failed unexpectedly: %s", job_id, type(exc).__name__)
        code = _error_code(exc)
        _fail(report, f"validation failed unexpectedly: {type(exc).__name__}" + (f" ({code})" if code else ""))
    _record(
        report, backup=backup, rds=rds, s3=s3, cloudwatch=cloudwatch, events=events, settings=settings, marker=marker
    )
    return report


def validate_drill_instance(
    *,
    event: Mapping[str, Any],
    backup: Any,
    rds: Any,
    secrets: Any,
    s3: Any,
    cloudwatch: Any,
    events: Any,
    settings: ValidatorSettings,
    checker: Checker,
    now: datetime,
) -> ValidationReport:
    """Validate a drill instance restored from a snapshot of the read replica (on its "DB instance
    created" event): the same checks and records as a restore job's, timed from the drill's start
    (the RTO clock: snapshot, restore, validation) with the snapshot's time as the point in time."""
    detail = event.get("detail") if isinstance(event.get("detail"), Mapping) else {}
    assert isinstance(detail, Mapping)
    arn = str(detail.get("SourceArn") or "")
    instance_id = instance_id_of(arn) or str(detail.get("SourceIdentifier") or "").removeprefix("rds:")
    report = ValidationReport(
        environment=settings.environment,
        kind=settings.kind,
        restore_job_id=instance_id or "unknown",
        validated_at=now,
        rto_minutes=settings.rto_minutes,
        rpo_minutes=settings.rpo_minutes,
    )
    prefix = f"{settings.identifier_prefix}-drill-" if settings.identifier_prefix else None
    if settings.kind != "drill" or detail.get("EventID") != RDS_INSTANCE_CREATED or not instance_id:
        report.message = "not the creation of a drill instance"
        return report
    if prefix is None or not instance_id.startswith(prefix):
        report.message = f"{instance_id} is not a drill instance ({prefix or 'no prefix'}*)"
        return report
    marker = _read_marker(s3, settings, instance_id, report)
    if marker is None or not marker.get("snapshotId"):
        report.message = f"no pending snapshot drill for {instance_id}: not started by the drill starter"
        LOG.info("drill validation of %s skipped: %s", instance_id, report.message)
        return report
    job = {
        "Status": "COMPLETED",
        "CreationDate": marker.get("startedAt"),
        "CompletionDate": iso(now),
        "RecoveryPointCreationDate": marker.get("recoveryPointCreated"),
        "RecoveryPointArn": marker.get("recoveryPointArn"),
        "CreatedResourceArn": arn or None,
    }
    report.recovery_point_arn = str(marker.get("recoveryPointArn") or "") or None
    report.restored_resource_arn = arn or None
    report.db_instance_id = instance_id
    report.source = str(marker.get("source") or "snapshot of the read replica")
    report.promotion = (
        "not exercised: the drill restores a snapshot of the replica as a standalone instance and never "
        "promotes the live replica (backupctl dr failover promotes it)"
    )
    try:
        _validate(report, job, {}, marker, backup=backup, rds=rds, secrets=secrets, settings=settings, checker=checker)
        if isinstance(marker.get("configDrill"), dict):
            report.config_drill = marker["configDrill"]
        _conclude(report, settings)
    except Exception as exc:
        LOG.error("drill validation of %s failed unexpectedly: %s", instance_id, type(exc).__name__)
        _fail(report, f"validation failed unexpectedly: {type(exc).__name__}")
    _record(
        report, backup=backup, rds=rds, s3=s3, cloudwatch=cloudwatch, events=events, settings=settings, marker=marker
    )
    return report


def _skip_reason(settings: ValidatorSettings, plan_arn: str | None) -> str | None:
    if settings.kind == "monthly":
        if plan_arn is None:
            return "not started by a restore testing plan"
        if settings.plan_arn and plan_arn != settings.plan_arn:
            return f"restore testing plan {plan_arn} is not {settings.plan_arn}"
        return None
    if plan_arn is not None:
        return f"started by restore testing plan {plan_arn}, not by the drill"
    return None


def _read_marker(s3: Any, settings: ValidatorSettings, job_id: str, report: ValidationReport) -> dict[str, Any] | None:
    key = pending_marker_key(job_id)
    try:
        body = s3.get_object(Bucket=settings.reports_bucket, Key=key)["Body"].read()
    except Exception as exc:
        if _error_code(exc) not in ("NoSuchKey", "404", "NotFound"):
            report.steps["marker"] = f"failed: {describe_error(exc)}"
        return None
    try:
        marker = json.loads(body)
    except ValueError:
        report.steps["marker"] = f"failed: {key} is not JSON"
        return None
    if not isinstance(marker, dict) or marker.get("restoreJobId") != job_id:
        report.steps["marker"] = f"failed: {key} does not name this restore job"
        return None
    return marker


def _validate(
    report: ValidationReport,
    job: Mapping[str, Any],
    detail: Mapping[str, Any],
    marker: Mapping[str, Any] | None,
    *,
    backup: Any,
    rds: Any,
    secrets: Any,
    settings: ValidatorSettings,
    checker: Checker,
) -> None:
    report.restore_started = parse_time(job.get("CreationDate")) or parse_time(detail.get("creationDate"))
    report.restore_completed = parse_time(job.get("CompletionDate")) or parse_time(detail.get("completionDate"))
    report.restore_minutes = minutes_between(report.restore_started, report.restore_completed)
    report.recovery_point_created = _recovery_point_created(report, job, detail, marker, backup)
    report.recovery_point_age_minutes = minutes_between(report.recovery_point_created, report.restore_started)

    status = str(job.get("Status") or detail.get("status") or "")
    if status != "COMPLETED":
        message = str(job.get("StatusMessage") or detail.get("statusMessage") or "")
        _fail(report, f"restore job ended {status or 'in an unknown state'}" + (f": {message}" if message else ""))
        return
    if report.db_instance_id is None:
        _fail(report, f"the restore job created no RDS DB instance (CreatedResourceArn {report.restored_resource_arn})")
        return

    instances = rds.describe_db_instances(DBInstanceIdentifier=report.db_instance_id).get("DBInstances") or []
    instance = instances[0] if instances else {}
    endpoint = instance.get("Endpoint") or {}
    host, port = endpoint.get("Address"), endpoint.get("Port") or instance.get("DbInstancePort")
    if not host or not port:
        _fail(
            report,
            f"restored instance {report.db_instance_id} has no endpoint "
            f"(status {instance.get('DBInstanceStatus', 'unknown')})",
        )
        return

    candidates, notes = credential_candidates(rds=rds, secrets=secrets, settings=settings, host=host, port=int(port))
    if notes:
        report.steps["credentials"] = "; ".join(notes)
    secret_values = [c.password for c in candidates]
    if not candidates:
        _fail(report, "no credentials to try: " + ("; ".join(notes) or "no IAM token and no source secret"))
        return
    target = ConnectionTarget(
        host=str(host),
        port=int(port),
        database=settings.database,
        candidates=tuple(candidates),
        ssl_context=make_ssl_context(settings.ca_bundle),
        timeout_s=settings.connect_timeout_s,
    )
    try:
        label, results = checker(target, report.recovery_point_created)
    except Exception as exc:
        tried = ", ".join(c.label for c in candidates)
        if _is_connection_error(exc):
            _fail(
                report,
                f"cannot connect to {report.db_instance_id} (tried {tried}): {describe_error(exc, secret_values)}",
            )
        else:
            _fail(report, f"checks could not run: {describe_error(exc, secret_values)}")
        return
    report.credentials = label
    report.checks = [check_outcome(r) for r in results]
    report.data_loss_minutes = _data_loss(report)
    for check in report.checks:  # a check's text must never carry a credential either
        if any(v and len(v) >= 4 and v in (check.expected + check.found + check.message) for v in secret_values):
            report.checks = [
                CheckOutcome(
                    c.name,
                    c.passed,
                    c.kind,
                    redact(c.expected, secret_values),
                    redact(c.found, secret_values),
                    redact(c.message, secret_values),
                    c.duration_ms,
                )
                for c in report.checks
            ]
            break


def _data_loss(report: ValidationReport) -> float | None:
    """The copy's point in time minus its newest heartbeat, from the heartbeat freshness check."""
    heartbeat = next((c for c in report.checks if c.name == HEARTBEAT_CHECK), None)
    if heartbeat is None or report.recovery_point_created is None:
        return None
    newest = parse_time(heartbeat.found)
    if newest is None:
        return None
    return max(0.0, round((report.recovery_point_created - newest).total_seconds() / 60, 1))


def _recovery_point_created(
    report: ValidationReport,
    job: Mapping[str, Any],
    detail: Mapping[str, Any],
    marker: Mapping[str, Any] | None,
    backup: Any,
) -> datetime | None:
    found = parse_time(job.get("RecoveryPointCreationDate"))
    if found is not None:
        return found
    vault = vault_name_of(job.get("BackupVaultArn"))
    if vault and report.recovery_point_arn:
        try:
            point = backup.describe_recovery_point(BackupVaultName=vault, RecoveryPointArn=report.recovery_point_arn)
            found = parse_time(point.get("CreationDate"))
        except Exception as exc:
            report.steps["recoveryPoint"] = f"failed: {describe_error(exc)}"
        if found is not None:
            return found
    for candidate in ((marker or {}).get("recoveryPointCreated"), detail.get("recoveryPointCreationDate")):
        found = parse_time(candidate)
        if found is not None:
            return found
    return None


def _fail(report: ValidationReport, message: str) -> None:
    report.status = "FAILED"
    report.error = message
    report.message = message


def _conclude(report: ValidationReport, settings: ValidatorSettings) -> None:
    """Overall status and message once the checks ran (or failed to)."""
    if report.error is not None:
        return
    problems: list[str] = []
    failed = [c for c in report.checks if not c.passed]
    for check in failed:
        problems.append(
            f"check {check.name} failed: {check.message or f'expected {check.expected}, found {check.found}'}"
        )
    if not report.checks:
        problems.append("no check ran")
    if settings.kind == "drill":
        if report.restore_minutes is None:
            problems.append("restore time unknown: RTO not proven")
        elif report.restore_minutes > settings.rto_minutes:
            problems.append(
                f"restore took {report.restore_minutes:g} min, over the RTO of {settings.rto_minutes:g} min"
            )
        if report.config_drill is not None and not report.config_drill.get("ok"):
            failures = "; ".join(str(f) for f in report.config_drill.get("failures") or []) or "not ok"
            problems.append(f"configuration drill failed: {failures}")
    passed = len(report.checks) - len(failed)
    timing = f"restore {minutes_text(report.restore_minutes)} (RTO {settings.rto_minutes:g} min)"
    if problems:
        report.status = "FAILED"
        report.message = f"{passed}/{len(report.checks)} checks passed; {timing}; " + "; ".join(problems)
    else:
        report.status = "SUCCESSFUL"
        report.message = f"{passed}/{len(report.checks)} checks passed with {report.credentials}; {timing}"


def _record(
    report: ValidationReport,
    *,
    backup: Any,
    rds: Any,
    s3: Any,
    cloudwatch: Any,
    events: Any,
    settings: ValidatorSettings,
    marker: Mapping[str, Any] | None,
) -> None:
    """Every side effect of a result, each independent of the others' failures (recorded in ``report.steps``)."""

    def step(name: str, action: Callable[[], str]) -> None:
        try:
            report.steps[name] = action()
        except Exception as exc:
            report.steps[name] = f"failed: {describe_error(exc)}"
            LOG.error("restore validation of %s: %s failed: %s", report.restore_job_id, name, report.steps[name])

    if report.restore_testing_plan_arn and settings.kind == "monthly":
        step("validationResult", lambda: _put_validation_result(backup, report))
    step("metrics", lambda: _put_metrics(cloudwatch, settings, report))
    if settings.kind == "drill":
        step("cleanup", lambda: _cleanup_drill(rds, s3, settings, report, marker))
    json_key = report_key(settings.kind, report.validated_at, report.restore_job_id, "json")
    report.report_key = json_key
    step("report", lambda: _write_report(s3, settings, report, json_key))
    if not report.steps["report"].startswith("written"):
        report.report_key = None
    step("event", lambda: _put_event(events, settings, report))
    log = LOG.info if report.ok else LOG.error
    log("restore validation of %s: %s: %s", report.restore_job_id, report.status, report.message)


def _put_validation_result(backup: Any, report: ValidationReport) -> str:
    backup.put_restore_validation_result(
        RestoreJobId=report.restore_job_id,
        ValidationStatus="SUCCESSFUL" if report.ok else "FAILED",
        ValidationStatusMessage=truncate(report.message, MAX_STATUS_MESSAGE),
    )
    return "put"


def _put_metrics(cloudwatch: Any, settings: ValidatorSettings, report: ValidationReport) -> str:
    dimensions = (settings.environment, settings.kind)
    measured: list[tuple[MetricDefinition, float | None]] = [
        (VALIDATION_FAILURES, float(report.failed_checks)),
        (RESTORE_TIME, report.restore_minutes),
        (RESTORED_RECOVERY_POINT_AGE, report.recovery_point_age_minutes),
        (DRILL_SUCCEEDED, (1.0 if report.ok else 0.0) if settings.kind == "drill" else None),
        (DATA_LOSS, report.data_loss_minutes),
    ]
    data = [m.datum(value, dimensions, report.validated_at) for m, value in measured if value is not None]
    cloudwatch.put_metric_data(Namespace=settings.metric_namespace, MetricData=data)
    return "put " + ", ".join(d["MetricName"] for d in data)


def _cleanup_drill(
    rds: Any, s3: Any, settings: ValidatorSettings, report: ValidationReport, marker: Mapping[str, Any] | None
) -> str:
    """Delete the drill's restored instance: only the one its pending marker names (and with our prefix)."""
    instance = report.db_instance_id
    if marker is None or not instance:
        return "skipped: no pending marker or no restored instance"
    if marker.get("instanceId") != instance:
        return f"skipped: the marker names {marker.get('instanceId')!r}, not {instance!r}"
    if settings.identifier_prefix and not instance.startswith(f"{settings.identifier_prefix}-drill-"):
        return f"skipped: {instance} does not start with {settings.identifier_prefix}-drill-"
    try:
        rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
    except Exception as exc:
        if _error_code(exc) != "DBInstanceNotFound":
            raise
        outcome = f"{instance} was already gone"
    else:
        outcome = f"deleted {instance}"
    snapshot = marker.get("snapshotId")
    if isinstance(snapshot, str) and snapshot == instance:  # the drill's own snapshot of the replica
        try:
            rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot)
        except Exception as exc:
            if _error_code(exc) != "DBSnapshotNotFound":
                raise
        outcome += f" and snapshot {snapshot}"
    s3.delete_object(Bucket=settings.reports_bucket, Key=pending_marker_key(report.restore_job_id))
    return outcome


def _write_report(s3: Any, settings: ValidatorSettings, report: ValidationReport, json_key: str) -> str:
    md_key = json_key[: -len(".json")] + ".md"
    body = json.dumps(report.to_dict(), indent=2, sort_keys=True).encode()
    put_object(s3, settings.reports_bucket, json_key, body, "application/json", settings.reports_kms_key)
    markdown = report.to_markdown().encode()
    put_object(s3, settings.reports_bucket, md_key, markdown, "text/markdown; charset=utf-8", settings.reports_kms_key)
    return f"written s3://{settings.reports_bucket}/{json_key} and .md"


def _put_event(events: Any, settings: ValidatorSettings, report: ValidationReport) -> str:
    detail = {
        "environment": settings.environment,
        "kind": settings.kind,
        "restoreJobId": report.restore_job_id,
        "status": report.status,
        "restoreMinutes": report.restore_minutes,
        "rtoMinutes": settings.rto_minutes,
        "recoveryPointAgeMinutes": report.recovery_point_age_minutes,
        "failedChecks": report.failed_checks,
        "reportKey": report.report_key,
    }
    response = events.put_events(
        Entries=[
            {
                "Source": settings.event_source,
                "DetailType": RESTORE_TEST_DETAIL_TYPES[settings.kind],
                "Detail": json.dumps(detail),
                "EventBusName": settings.event_bus_name,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        entry = (response.get("Entries") or [{}])[0]
        raise RestoreTestingError(f"event rejected: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")
    return "put"


# --------------------------------------------------------------------------
