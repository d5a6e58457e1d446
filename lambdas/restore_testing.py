"""Restore testing and DR drills of the protected RDS database: validate a completed restore, start a drill.

Two kinds of restore are validated by :func:`validate_restore_job`, run on AWS Backup's
``Restore Job State Change`` event:

* ``monthly``: jobs of the AWS Backup restore testing plan (``CreatedBy.RestoreTestingPlanArn``). The result is
  reported back with ``PutRestoreValidationResult``; AWS Backup deletes the restored instance itself.
* ``drill``: the DR Region's quarterly drill. Restore testing plans are not documented to select cross-Region
  copies, so :func:`start_drill` starts its own restore job from the newest copy in the DR vault and leaves a
  marker ``restore-tests/drill/pending/<restoreJobId>.json`` in the reports bucket. Only jobs with such a marker
  are validated, checked against the RTO, and their restored instance (named by the marker) deleted afterwards.

The database checks run through an injectable ``checker`` (default: :func:`integrity_checker`, which imports
``lambdas.integrity`` lazily), so this module does not depend on how the checks are implemented.

Passwords, IAM auth tokens and secret values are never logged, stored or put in an event: they only travel in
:class:`Credentials` (whose ``repr`` hides them) to the checker, and every error message taken from the checker
is scrubbed of them.

``validator_handler`` environment: ENVIRONMENT, KIND (monthly|drill), PLAN_ARN (optional), REPORTS_BUCKET,
REPORTS_KMS_KEY (optional), VALIDATOR_USER, DATABASE_NAME, SOURCE_SECRET_ARN (optional), RTO_MINUTES,
RPO_MINUTES, CHECKS (JSON list of check specs), METRIC_NAMESPACE ("Ecommerce/Backup"), EVENT_BUS_NAME
("default"), IDENTIFIER_PREFIX (optional, drills), CONFIG_RESTORE_FUNCTION_ARN / SOURCE_NAMESPACE /
DRILL_NAMESPACE (optional, drills), RDS_CA_BUNDLE (optional PEM path), CONNECT_TIMEOUT_SECONDS (10).

``drill_start_handler`` environment: ENVIRONMENT, DR_VAULT_NAME, SOURCE_DB_ARN, RESTORE_ROLE_ARN,
INSTANCE_CLASS, DB_SUBNET_GROUP, SECURITY_GROUP_IDS (comma-separated), REPORTS_BUCKET, REPORTS_KMS_KEY
(optional), IDENTIFIER_PREFIX.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from lambdas.aws import cached_client, clear_clients
from lambdas.aws import error_code as _error_code
from lambdas.db_operations import rds_restore_metadata

__all__ = [
    "DEFAULT_EVENT_SOURCE",
    "DEFAULT_METRIC_NAMESPACE",
    "MAX_STATUS_MESSAGE",
    "CheckOutcome",
    "Checker",
    "ConnectionTarget",
    "Credentials",
    "DrillSettings",
    "DrillStart",
    "RestoreTestingError",
    "ValidationReport",
    "ValidatorSettings",
    "aws_client",
    "credential_candidates",
    "drill_identifier",
    "drill_start_handler",
    "integrity_checker",
    "make_ssl_context",
    "pending_marker_key",
    "report_key",
    "reset_clients",
    "run_config_drill",
    "start_drill",
    "validate_restore_job",
    "validator_handler",
]

LOG = logging.getLogger(__name__)
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # the Lambda runtime's root logger defaults to WARNING
    logging.getLogger("lambdas").setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())

Kind = Literal["monthly", "drill"]
Status = Literal["SUCCESSFUL", "FAILED", "SKIPPED"]

DEFAULT_METRIC_NAMESPACE = "Ecommerce/Backup"
DEFAULT_EVENT_SOURCE = "ecommerce.restore-testing"
MAX_STATUS_MESSAGE = 1000  # PutRestoreValidationResult's ValidationStatusMessage
REPORT_PREFIX = "restore-tests"
DETAIL_TYPES: dict[str, str] = {"monthly": "Restore Test Completed", "drill": "DR Drill Completed"}
_IDENTIFIER_PREFIX = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class RestoreTestingError(Exception):
    """A drill cannot be started, or the configuration is invalid."""


# --------------------------------------------------------------------------
# Settings and results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidatorSettings:
    """What the validator of one environment and kind needs (see the module docstring for the env contract)."""

    environment: str
    kind: Kind
    reports_bucket: str
    validator_user: str
    database: str
    rto_minutes: float
    rpo_minutes: float
    plan_arn: str | None = None
    source_secret_arn: str | None = None
    metric_namespace: str = DEFAULT_METRIC_NAMESPACE
    event_bus_name: str = "default"
    event_source: str = DEFAULT_EVENT_SOURCE
    reports_kms_key: str | None = None
    identifier_prefix: str | None = None
    ca_bundle: str | None = None
    connect_timeout_s: float = 10.0
    region: str | None = None  # of the IAM auth token; default: the RDS client's


@dataclass(frozen=True)
class DrillSettings:
    """What the DR drill starter needs."""

    environment: str
    dr_vault_name: str
    source_db_arn: str
    restore_role_arn: str
    instance_class: str
    db_subnet_group: str
    security_group_ids: tuple[str, ...]
    reports_bucket: str
    identifier_prefix: str
    reports_kms_key: str | None = None


@dataclass(frozen=True)
class Credentials:
    """One way to log in; ``label`` (e.g. "iam", "secret:AWSPREVIOUS") is all that is ever reported."""

    label: str
    username: str
    password: str = field(repr=False)


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


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    kind: str = ""
    expected: str = ""
    found: str = ""
    message: str = ""
    duration_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "expected": self.expected,
            "found": self.found,
            "message": self.message,
            "durationMs": self.duration_ms,
        }


@dataclass
class ValidationReport:
    """The evidence of one restore test or drill (stored as JSON and Markdown, summarized in the event)."""

    environment: str
    kind: Kind
    restore_job_id: str
    validated_at: datetime
    rto_minutes: float
    rpo_minutes: float
    status: Status = "SKIPPED"
    message: str = ""
    recovery_point_arn: str | None = None
    recovery_point_created: datetime | None = None
    recovery_point_age_minutes: float | None = None
    restored_resource_arn: str | None = None
    db_instance_id: str | None = None
    restore_testing_plan_arn: str | None = None
    restore_started: datetime | None = None
    restore_completed: datetime | None = None
    restore_minutes: float | None = None
    credentials: str | None = None
    checks: list[CheckOutcome] = field(default_factory=list)
    error: str | None = None
    config_drill: dict[str, Any] | None = None
    steps: dict[str, str] = field(default_factory=dict)
    report_key: str | None = None

    @property
    def skipped(self) -> bool:
        return self.status == "SKIPPED"

    @property
    def ok(self) -> bool:
        return self.status == "SUCCESSFUL"

    @property
    def failed_checks(self) -> int:
        """Failed checks; a run that never got to the checks (connection or other error) counts as one."""
        failed = sum(1 for c in self.checks if not c.passed)
        return failed if failed or self.error is None else 1

    @property
    def within_rto(self) -> bool | None:
        return None if self.restore_minutes is None else self.restore_minutes <= self.rto_minutes

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "kind": self.kind,
            "restoreJobId": self.restore_job_id,
            "status": self.status,
            "message": self.message,
            "validatedAt": _iso(self.validated_at),
            "recoveryPointArn": self.recovery_point_arn,
            "recoveryPointCreated": _iso(self.recovery_point_created),
            "recoveryPointAgeMinutes": self.recovery_point_age_minutes,
            "restoredResourceArn": self.restored_resource_arn,
            "dbInstanceId": self.db_instance_id,
            "restoreTestingPlanArn": self.restore_testing_plan_arn,
            "restoreStarted": _iso(self.restore_started),
            "restoreCompleted": _iso(self.restore_completed),
            "restoreMinutes": self.restore_minutes,
            "rtoMinutes": self.rto_minutes,
            "rpoMinutes": self.rpo_minutes,
            "withinRto": self.within_rto,
            "credentials": self.credentials,
            "failedChecks": self.failed_checks if not self.skipped else 0,
            "checks": [c.to_dict() for c in self.checks],
            "error": self.error,
            "configDrill": self.config_drill,
            "steps": dict(self.steps),
            "reportKey": self.report_key,
        }

    def to_markdown(self) -> str:
        title = "DR drill" if self.kind == "drill" else "Restore test"
        lines = [
            f"# {title} {self.restore_job_id}: {self.status}",
            "",
            f"{_md(self.message)}",
            "",
            "| | |",
            "| --- | --- |",
            f"| Environment | {_md(self.environment)} |",
            f"| Kind | {self.kind} |",
            f"| Restore job | {_md(self.restore_job_id)} |",
            f"| Recovery point | {_md(self.recovery_point_arn or 'unknown')} |",
            f"| Recovery point created | {_iso(self.recovery_point_created) or 'unknown'} |",
            f"| Recovery point age at restore | {_minutes(self.recovery_point_age_minutes)} "
            f"(RPO {self.rpo_minutes:g} min) |",
            f"| Restored instance | {_md(self.db_instance_id or 'unknown')} |",
            f"| Restore started | {_iso(self.restore_started) or 'unknown'} |",
            f"| Restore completed | {_iso(self.restore_completed) or 'unknown'} |",
            f"| Restore time | {_minutes(self.restore_minutes)} ({_rto_verdict(self.within_rto)}, "
            f"RTO {self.rto_minutes:g} min) |",
            f"| Credentials used | {_md(self.credentials or 'none')} |",
            f"| Validated at | {_iso(self.validated_at)} |",
        ]
        if self.error:
            lines += ["", f"**Error:** {_md(self.error)}"]
        lines += ["", "## Checks", ""]
        if self.checks:
            lines += ["| Check | Result | Expected | Found | Message |", "| --- | --- | --- | --- | --- |"]
            for c in self.checks:
                result = "PASS" if c.passed else "FAIL"
                lines.append(f"| {_md(c.name)} | {result} | {_md(c.expected)} | {_md(c.found)} | {_md(c.message)} |")
        else:
            lines.append("No check ran.")
        if self.config_drill is not None:
            drill = self.config_drill
            lines += [
                "",
                "## Configuration drill",
                "",
                f"- Result: {'OK' if drill.get('ok') else 'FAILED'}",
                f"- Backup: {_md(str(drill.get('backupId') or 'unknown'))}",
                f"- Objects: {_md(json.dumps(drill.get('counts') or {}, sort_keys=True))}",
            ]
            lines += [f"- Failure: {_md(str(f))}" for f in drill.get("failures") or []]
        if self.steps:
            lines += ["", "## Steps", ""] + [f"- {name}: {_md(outcome)}" for name, outcome in self.steps.items()]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DrillStart:
    restore_job_id: str
    recovery_point_arn: str
    recovery_point_created: datetime
    instance_id: str
    marker_key: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "restoreJobId": self.restore_job_id,
            "recoveryPointArn": self.recovery_point_arn,
            "recoveryPointCreated": _iso(self.recovery_point_created),
            "instanceId": self.instance_id,
            "markerKey": self.marker_key,
        }


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _minutes(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g} min"


def _rto_verdict(within: bool | None) -> str:
    return "unknown" if within is None else ("within" if within else "OVER")


def _minutes_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60.0, 1)


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return None


def _describe_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """``Type: message`` (or ``Type (Code)`` for AWS errors), bounded and scrubbed of every secret value."""
    code = _error_code(exc)
    text = f"{type(exc).__name__} ({code})" if code else f"{type(exc).__name__}: {exc}"
    return _truncate(_redact(text, secrets), 300)


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _instance_id(arn: str | None) -> str | None:
    """``arn:aws:rds:<region>:<account>:db:<id>`` -> ``<id>``."""
    if not arn:
        return None
    parts = arn.split(":")
    if len(parts) == 7 and parts[2] == "rds" and parts[5] == "db" and parts[6]:
        return parts[6]
    return None


def _arn_region(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[3] if len(parts) >= 6 and parts[0] == "arn" and parts[3] else None


def _vault_name(vault_arn: str | None) -> str | None:
    """``arn:aws:backup:<region>:<account>:backup-vault:<name>`` -> ``<name>``."""
    parts = (vault_arn or "").split(":")
    return parts[6] if len(parts) == 7 and parts[5] == "backup-vault" and parts[6] else None


def report_key(kind: str, moment: datetime, restore_job_id: str, extension: str) -> str:
    moment = moment.astimezone(UTC)
    return f"{REPORT_PREFIX}/{kind}/{moment:%Y}/{moment:%m}/{restore_job_id}.{extension}"


def pending_marker_key(restore_job_id: str) -> str:
    return f"{REPORT_PREFIX}/drill/pending/{restore_job_id}.json"


def _put_object(s3: Any, bucket: str, key: str, body: bytes, content_type: str, kms_key: str | None) -> None:
    """Write with the bucket's default encryption (its own KMS key), or with ``kms_key`` when given.

    ``ServerSideEncryption="aws:kms"`` without ``SSEKMSKeyId`` would not mean "the bucket's key": S3
    then uses the AWS managed key ``aws/s3``. So the header is sent only together with a key.
    """
    extra: dict[str, str] = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra)


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
        notes.append(f"iam: {_describe_error(exc)}")
    if settings.source_secret_arn:
        for stage in ("AWSCURRENT", "AWSPREVIOUS"):
            label = f"secret:{stage}"
            try:
                value = secrets.get_secret_value(SecretId=settings.source_secret_arn, VersionStage=stage)
            except Exception as exc:
                if stage == "AWSPREVIOUS" and _error_code(exc) == "ResourceNotFoundException":
                    continue
                notes.append(f"{label}: {_describe_error(exc)}")
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
    """The production checker: ``lambdas.integrity`` (imported on first use) connects and runs the checks.

    ``check_specs`` is the CHECKS list, or its JSON text (parsed when the checker runs, so that a bad
    configuration becomes a FAILED result instead of a crash without one).
    """

    def check(target: ConnectionTarget, recovery_point_time: datetime | None) -> tuple[str, Sequence[Any]]:
        integrity: Any = importlib.import_module("lambdas.integrity")
        specs = json.loads(check_specs) if isinstance(check_specs, str) else check_specs
        if not isinstance(specs, list):
            raise RestoreTestingError("CHECKS must be a JSON list of check specifications")
        checks = integrity.parse_checks(specs)
        make = getattr(integrity, "Credentials", None)
        candidates = [
            make(label=c.label, username=c.username, password=c.password) if make is not None else c
            for c in target.candidates
        ]
        conn, label = integrity.connect_first(
            candidates,
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


def _check_outcome(raw: Any) -> CheckOutcome:
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
        expected=_truncate(text(get("expected")), 500),
        found=_truncate(text(get("found")), 500),
        message=_truncate(text(get("message")), 500),
        duration_ms=float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None,
    )


def _is_connection_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "ValidatorConnectionError" or isinstance(exc, ConnectionError | TimeoutError)


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
    if event.get("detail-type") not in (None, "Restore Job State Change") or not job_id:
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
            report.message = f"describe_restore_job failed ({_describe_error(exc)}) for a job of no known plan"
            LOG.warning("restore validation of %s skipped: %s", job_id, report.message)
            return report
        _fail(report, f"cannot describe restore job: {_describe_error(exc)}")
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
    report.db_instance_id = _instance_id(report.restored_resource_arn)

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
            report.steps["marker"] = f"failed: {_describe_error(exc)}"
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
    report.restore_started = _parse_time(job.get("CreationDate")) or _parse_time(detail.get("creationDate"))
    report.restore_completed = _parse_time(job.get("CompletionDate")) or _parse_time(detail.get("completionDate"))
    report.restore_minutes = _minutes_between(report.restore_started, report.restore_completed)
    report.recovery_point_created = _recovery_point_created(report, job, detail, marker, backup)
    report.recovery_point_age_minutes = _minutes_between(report.recovery_point_created, report.restore_started)

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
                f"cannot connect to {report.db_instance_id} (tried {tried}): {_describe_error(exc, secret_values)}",
            )
        else:
            _fail(report, f"checks could not run: {_describe_error(exc, secret_values)}")
        return
    report.credentials = label
    report.checks = [_check_outcome(r) for r in results]
    for check in report.checks:  # a check's text must never carry a credential either
        if any(v and len(v) >= 4 and v in (check.expected + check.found + check.message) for v in secret_values):
            report.checks = [
                CheckOutcome(
                    c.name,
                    c.passed,
                    c.kind,
                    _redact(c.expected, secret_values),
                    _redact(c.found, secret_values),
                    _redact(c.message, secret_values),
                    c.duration_ms,
                )
                for c in report.checks
            ]
            break


def _recovery_point_created(
    report: ValidationReport,
    job: Mapping[str, Any],
    detail: Mapping[str, Any],
    marker: Mapping[str, Any] | None,
    backup: Any,
) -> datetime | None:
    found = _parse_time(job.get("RecoveryPointCreationDate"))
    if found is not None:
        return found
    vault = _vault_name(job.get("BackupVaultArn"))
    if vault and report.recovery_point_arn:
        try:
            point = backup.describe_recovery_point(BackupVaultName=vault, RecoveryPointArn=report.recovery_point_arn)
            found = _parse_time(point.get("CreationDate"))
        except Exception as exc:
            report.steps["recoveryPoint"] = f"failed: {_describe_error(exc)}"
        if found is not None:
            return found
    for candidate in ((marker or {}).get("recoveryPointCreated"), detail.get("recoveryPointCreationDate")):
        found = _parse_time(candidate)
        if found is not None:
            return found
    return None


def _run_config_drill_safely(config_drill: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return config_drill()
    except Exception as exc:
        return {"ok": False, "backupId": None, "counts": {}, "failures": [f"config drill: {_describe_error(exc)}"]}


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
    timing = f"restore {_minutes(report.restore_minutes)} (RTO {settings.rto_minutes:g} min)"
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
            report.steps[name] = f"failed: {_describe_error(exc)}"
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
        ValidationStatusMessage=_truncate(report.message, MAX_STATUS_MESSAGE),
    )
    return "put"


def _put_metrics(cloudwatch: Any, settings: ValidatorSettings, report: ValidationReport) -> str:
    dimensions = [{"Name": "Environment", "Value": settings.environment}, {"Name": "Kind", "Value": settings.kind}]

    def datum(name: str, value: float, unit: str) -> dict[str, Any]:
        return {
            "MetricName": name,
            "Dimensions": dimensions,
            "Timestamp": report.validated_at,
            "Value": value,
            "Unit": unit,
        }

    data = [datum("ValidationFailures", float(report.failed_checks), "Count")]
    if report.restore_minutes is not None:
        data.append(datum("RestoreTimeMinutes", report.restore_minutes, "None"))
    if report.recovery_point_age_minutes is not None:
        data.append(datum("RecoveryPointAgeMinutes", report.recovery_point_age_minutes, "None"))
    if settings.kind == "drill":
        data.append(datum("DrillSucceeded", 1.0 if report.ok else 0.0, "Count"))
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
    s3.delete_object(Bucket=settings.reports_bucket, Key=pending_marker_key(report.restore_job_id))
    return outcome


def _write_report(s3: Any, settings: ValidatorSettings, report: ValidationReport, json_key: str) -> str:
    md_key = json_key[: -len(".json")] + ".md"
    body = json.dumps(report.to_dict(), indent=2, sort_keys=True).encode()
    _put_object(s3, settings.reports_bucket, json_key, body, "application/json", settings.reports_kms_key)
    markdown = report.to_markdown().encode()
    _put_object(s3, settings.reports_bucket, md_key, markdown, "text/markdown; charset=utf-8", settings.reports_kms_key)
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
                "DetailType": DETAIL_TYPES[settings.kind],
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
# B. DR drill: start the restore, and the configuration drill
# --------------------------------------------------------------------------


def drill_identifier(prefix: str, now: datetime) -> str:
    """``<prefix>-drill-<yyyymmddhhmm>`` (a valid DB instance identifier for a valid prefix)."""
    if not _IDENTIFIER_PREFIX.match(prefix):
        raise RestoreTestingError(
            f"identifier prefix {prefix!r} must start with a letter and hold only lowercase letters, digits and "
            "single hyphens"
        )
    identifier = f"{prefix}-drill-{now.astimezone(UTC):%Y%m%d%H%M}"
    if len(identifier) > 63:
        raise RestoreTestingError(f"DB instance identifier {identifier!r} is longer than 63 characters")
    return identifier


def _newest_completed_point(backup: Any, vault: str, resource_arn: str) -> tuple[Mapping[str, Any], datetime] | None:
    """The newest COMPLETED recovery point of ``resource_arn`` in ``vault`` (every page), with its creation time."""
    newest: tuple[Mapping[str, Any], datetime] | None = None
    kwargs: dict[str, Any] = {"BackupVaultName": vault, "ByResourceArn": resource_arn}
    while True:
        page = backup.list_recovery_points_by_backup_vault(**kwargs)
        for point in page.get("RecoveryPoints") or []:
            created = _parse_time(point.get("CreationDate"))
            if point.get("Status") != "COMPLETED" or created is None:
                continue
            if point.get("ResourceArn", resource_arn) != resource_arn or not point.get("RecoveryPointArn"):
                continue
            if newest is None or created > newest[1]:
                newest = (point, created)
        token = page.get("NextToken")
        if not token:
            return newest
        kwargs["NextToken"] = token


def drill_restore_metadata(settings: DrillSettings, instance_id: str) -> dict[str, str]:
    """The ``Metadata`` of the drill's StartRestoreJob.

    The keys are those of AWS Backup's RDS restore metadata (what GetRecoveryPointRestoreMetadata returns,
    named after RestoreDBInstanceFromDBSnapshot's parameters). They are set explicitly rather than merged
    from GetRecoveryPointRestoreMetadata: a cross-Region copy's metadata names the source Region's subnet
    group, security groups and availability zone, which do not exist in the DR Region. Engine, storage and
    encryption come from the snapshot. There is no documented metadata key for tags, so drill instances are
    recognized by their identifier and the pending marker instead.
    """
    return rds_restore_metadata(
        instance_id,
        subnet_group=settings.db_subnet_group,
        security_group_ids=settings.security_group_ids,
        instance_class=settings.instance_class,
        multi_az=False,
        deletion_protection=False,  # the validator deletes the drill instance
        iam_database_authentication=True,  # the validator logs in with an IAM token first
    )


def start_drill(
    *,
    backup: Any,
    s3: Any,
    settings: DrillSettings,
    now: datetime,
    config_drill: Callable[[], dict[str, Any]] | None = None,
) -> DrillStart:
    """Start a restore job of the newest COMPLETED copy of the database in the DR vault and, with
    ``config_drill``, restore the configuration into the drill namespace meanwhile; leave a marker
    (with the configuration result) that the validator reads when the restore completes."""
    instance_id = drill_identifier(settings.identifier_prefix, now)
    if not settings.security_group_ids:
        raise RestoreTestingError("the drill needs at least one security group id")
    newest = _newest_completed_point(backup, settings.dr_vault_name, settings.source_db_arn)
    if newest is None:
        raise RestoreTestingError(
            f"no COMPLETED recovery point of {settings.source_db_arn} in backup vault {settings.dr_vault_name}: "
            "nothing to drill (are the cross-Region copies running?)"
        )
    point, created = newest
    point_arn = str(point["RecoveryPointArn"])
    response = backup.start_restore_job(
        RecoveryPointArn=point_arn,
        IamRoleArn=settings.restore_role_arn,
        ResourceType="RDS",
        IdempotencyToken=instance_id,  # a retried invocation in the same minute starts no second restore
        Metadata=drill_restore_metadata(settings, instance_id),
    )
    job_id = str(response["RestoreJobId"])
    marker_key = pending_marker_key(job_id)
    marker: dict[str, Any] = {
        "restoreJobId": job_id,
        "instanceId": instance_id,
        "environment": settings.environment,
        "recoveryPointArn": point_arn,
        "recoveryPointCreated": _iso(created),
        "startedAt": _iso(now),
    }
    if config_drill is not None:
        marker["configDrill"] = _run_config_drill_safely(config_drill)
    try:
        _put_object(
            s3,
            settings.reports_bucket,
            marker_key,
            json.dumps(marker, indent=2).encode(),
            "application/json",
            settings.reports_kms_key,
        )
    except Exception as exc:
        raise RestoreTestingError(
            f"restore job {job_id} started but its marker could not be written ({_describe_error(exc)}): "
            f"the drill will not be validated and instance {instance_id} must be deleted by hand"
        ) from exc
    LOG.info("drill restore job %s started from %s into %s", job_id, point_arn, instance_id)
    return DrillStart(job_id, point_arn, created, instance_id, marker_key)


def _config_failures(report: Mapping[str, Any]) -> list[str]:
    failures = [
        f"{o.get('kind')}/{o.get('name')}: {o.get('reason')}"
        for o in report.get("objects") or []
        if isinstance(o, Mapping) and o.get("outcome") == "failed"
    ]
    failures += [
        f"deployment/{r.get('deployment')}: {r.get('reason')}"
        for r in report.get("restarts") or []
        if isinstance(r, Mapping) and r.get("outcome") in ("failed", "skipped")
    ]
    return [_truncate(f, 300) for f in failures]


def run_config_drill(*, lambda_client: Any, function_arn: str, namespace: str, drill_namespace: str) -> dict[str, Any]:
    """Restore the newest config backup of ``namespace`` into ``drill_namespace`` with the config-restore
    function (synchronously); returns ``{ok, backupId, counts, failures}``."""
    response = lambda_client.invoke(
        FunctionName=function_arn,
        InvocationType="RequestResponse",
        Payload=json.dumps({"namespace": namespace, "toNamespace": drill_namespace}).encode(),
    )
    raw = response["Payload"].read() if response.get("Payload") is not None else b""
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = None
    if response.get("FunctionError"):
        error = payload if isinstance(payload, Mapping) else {}
        message = f"{error.get('errorType') or response['FunctionError']}: {error.get('errorMessage') or 'no message'}"
        return {"ok": False, "backupId": None, "counts": {}, "failures": [_truncate(message, 500)]}
    if not isinstance(payload, Mapping):
        return {"ok": False, "backupId": None, "counts": {}, "failures": ["the config restore returned no report"]}
    failures = _config_failures(payload)
    ok = payload.get("ok") is True and not failures
    if payload.get("ok") is not True and not failures:
        failures = ["the config restore reported not ok"]
    counts = payload.get("counts") if isinstance(payload.get("counts"), Mapping) else {}
    return {"ok": ok, "backupId": payload.get("backupId"), "counts": dict(counts or {}), "failures": failures}


# --------------------------------------------------------------------------
# C. Lambda handlers
# --------------------------------------------------------------------------


def aws_client(service: str, region: str | None = None) -> Any:
    """A cached boto3 client (created on first use); the seam tests replace."""
    return cached_client(service, region)


def reset_clients() -> None:
    clear_clients()


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value.strip() == "":
        raise RestoreTestingError(f"environment variable {name} is not set")
    return value.strip()


def _env_optional(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _env_float(name: str, default: str | None = None) -> float:
    try:
        return float(_env(name, default))
    except ValueError:
        raise RestoreTestingError(f"environment variable {name} must be a number") from None


def validator_settings_from_env() -> ValidatorSettings:
    kind = _env("KIND", "monthly")
    if kind not in ("monthly", "drill"):
        raise RestoreTestingError(f"KIND must be monthly or drill, got {kind!r}")
    return ValidatorSettings(
        environment=_env("ENVIRONMENT"),
        kind="drill" if kind == "drill" else "monthly",
        reports_bucket=_env("REPORTS_BUCKET"),
        validator_user=_env("VALIDATOR_USER"),
        database=_env("DATABASE_NAME"),
        rto_minutes=_env_float("RTO_MINUTES"),
        rpo_minutes=_env_float("RPO_MINUTES"),
        plan_arn=_env_optional("PLAN_ARN"),
        source_secret_arn=_env_optional("SOURCE_SECRET_ARN"),
        metric_namespace=_env("METRIC_NAMESPACE", DEFAULT_METRIC_NAMESPACE),
        event_bus_name=_env("EVENT_BUS_NAME", "default"),
        reports_kms_key=_env_optional("REPORTS_KMS_KEY"),
        identifier_prefix=_env_optional("IDENTIFIER_PREFIX"),
        ca_bundle=_env_optional("RDS_CA_BUNDLE"),
        connect_timeout_s=_env_float("CONNECT_TIMEOUT_SECONDS", "10"),
    )


def validator_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Validate the restore job of an AWS Backup event; returns the report (a failure is recorded, not raised)."""
    settings = validator_settings_from_env()
    checker = integrity_checker(os.environ.get("CHECKS", "[]"), settings.rpo_minutes)
    started = time.monotonic()
    report = validate_restore_job(
        event=event or {},
        backup=aws_client("backup"),
        rds=aws_client("rds"),
        secrets=aws_client("secretsmanager", _arn_region(settings.source_secret_arn)),
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


def drill_settings_from_env() -> DrillSettings:
    return DrillSettings(
        environment=_env("ENVIRONMENT"),
        dr_vault_name=_env("DR_VAULT_NAME"),
        source_db_arn=_env("SOURCE_DB_ARN"),
        restore_role_arn=_env("RESTORE_ROLE_ARN"),
        instance_class=_env("INSTANCE_CLASS"),
        db_subnet_group=_env("DB_SUBNET_GROUP"),
        security_group_ids=tuple(p.strip() for p in _env("SECURITY_GROUP_IDS").split(",") if p.strip()),
        reports_bucket=_env("REPORTS_BUCKET"),
        identifier_prefix=_env("IDENTIFIER_PREFIX"),
        reports_kms_key=_env_optional("REPORTS_KMS_KEY"),
    )


def drill_start_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Start the quarterly DR drill's restore job (raises when there is nothing to restore)."""
    settings = drill_settings_from_env()
    config_drill: Callable[[], dict[str, Any]] | None = None
    function_arn = _env_optional("CONFIG_RESTORE_FUNCTION_ARN")
    if function_arn:
        namespace, drill_namespace = _env("SOURCE_NAMESPACE"), _env("DRILL_NAMESPACE")

        def config_drill() -> dict[str, Any]:
            return run_config_drill(
                lambda_client=aws_client("lambda", _arn_region(function_arn)),
                function_arn=function_arn,
                namespace=namespace,
                drill_namespace=drill_namespace,
            )

    start = start_drill(
        backup=aws_client("backup"),
        s3=aws_client("s3"),
        settings=settings,
        now=datetime.now(UTC),
        config_drill=config_drill,
    )
    return start.to_dict()
