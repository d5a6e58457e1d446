"""Manual database backup and restore of the protected RDS instance, as the operator guide describes them.

The operator CLI (``backupctl``) runs these; they are pure functions over injected boto3 clients (``rds`` and
``backup``), report progress through a ``progress`` callback and take ``sleep`` / ``clock`` so waiting is testable.

* On-demand backup: :func:`start_on_demand_backup` starts an AWS Backup job into the vault (tagged
  ``backup-trigger=manual``, retained ``retention_days``); :func:`wait_for_backup` polls it to its end.
* Restore: :func:`plan_restore` checks everything that can be checked up front and returns a
  :class:`RestorePlan` (``describe()`` is the dry run); :func:`execute_restore` starts it and
  :func:`wait_for_restore` waits for the new instance, measuring the elapsed time against the RTO.
  A restore always creates a NEW instance: the source is only ever read.

  ``latest`` and ``time`` use RDS point-in-time recovery (``RestoreDBInstanceToPointInTime``);
  ``recovery_point`` restores a recovery point of the vault with an AWS Backup restore job. The restored
  instance is private, deletion-protected, copies tags to its snapshots and is tagged ``restored-from=<source>``
  (PITR; AWS Backup's RDS restore metadata has no key for tags). Subnet group and security groups default to
  the source's, so the restore lands next to the source rather than in the default VPC.

Error messages name identifiers, states and AWS status messages only; API responses are never dumped.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from lambdas.common.aws import error_code as _error_code

__all__ = [
    "BACKUP_FAILED_STATES",
    "INSTANCE_FAILED_STATES",
    "BackupJobRef",
    "BackupJobResult",
    "DbOperationError",
    "RestoreFinished",
    "RestoreMode",
    "RestorePlan",
    "RestoreRefused",
    "RestoreStarted",
    "execute_restore",
    "plan_restore",
    "restorable_window",
    "start_on_demand_backup",
    "valid_instance_identifier",
    "wait_for_backup",
    "wait_for_restore",
]

RestoreMode = Literal["latest", "time", "recovery_point"]
RESTORE_MODES: Final = ("latest", "time", "recovery_point")

BACKUP_PENDING_STATES: Final = frozenset({"CREATED", "PENDING", "RUNNING", "ABORTING"})
BACKUP_FAILED_STATES: Final = frozenset({"FAILED", "ABORTED", "EXPIRED", "PARTIAL"})
RESTORE_JOB_FAILED_STATES: Final = frozenset({"FAILED", "ABORTED"})
INSTANCE_FAILED_STATES: Final = frozenset(
    {
        "failed",
        "incompatible-restore",
        "incompatible-parameters",
        "incompatible-network",
        "inaccessible-encryption-credentials",
        "storage-full",
        "deleting",
    }
)
_INSTANCE_NOT_FOUND: Final = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"})
_AUTOMATED_BACKUP_NOT_FOUND: Final = frozenset(
    {"DBInstanceAutomatedBackupNotFound", "DBInstanceAutomatedBackupNotFoundFault"}
)
_RECOVERY_POINT_NOT_FOUND: Final = frozenset({"ResourceNotFoundException", "InvalidParameterValueException"})
_IDENTIFIER: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}")
_MAX_MESSAGE: Final = 500


class DbOperationError(Exception):
    """A backup or restore operation failed, timed out or cannot be done."""


class RestoreRefused(DbOperationError):
    """The restore was refused before anything was started (nothing changed in AWS)."""


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _optional_time(value: Any) -> datetime | None:
    return _utc(value) if isinstance(value, datetime) else None


def _truncate(text: str, limit: int = _MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def valid_instance_identifier(identifier: str) -> bool:
    """RDS DB instance identifier rules: 1-63 letters, digits or hyphens; first a letter; no trailing or
    double hyphen."""
    return bool(_IDENTIFIER.fullmatch(identifier)) and not identifier.endswith("-") and "--" not in identifier


def _describe_instance(rds: Any, identifier: str) -> dict[str, Any] | None:
    """The instance, or None when RDS does not know it."""
    try:
        found = rds.describe_db_instances(DBInstanceIdentifier=identifier).get("DBInstances") or []
    except Exception as exc:
        if _error_code(exc) in _INSTANCE_NOT_FOUND:
            return None
        raise
    for instance in found:
        if str(instance.get("DBInstanceIdentifier", "")).lower() == identifier.lower():
            return dict(instance)
    return None


# --------------------------------------------------------------------------
# On-demand backup
# --------------------------------------------------------------------------


def rds_restore_metadata(
    target_instance_id: str,
    *,
    subnet_group: str | None,
    security_group_ids: Sequence[str],
    instance_class: str | None,
    multi_az: bool,
    deletion_protection: bool,
    iam_database_authentication: bool,
) -> dict[str, str]:
    """The ``Metadata`` of an AWS Backup RDS restore job: a private copy, tags copied to snapshots.

    The keys are AWS Backup's RDS restore metadata (named after RestoreDBInstanceFromDBSnapshot's
    parameters), values as strings; lists are JSON.
    """
    metadata = {
        "DBInstanceIdentifier": target_instance_id,
        "MultiAZ": _bool_text(multi_az),
        "PubliclyAccessible": "false",
        "CopyTagsToSnapshot": "true",
        "DeletionProtection": _bool_text(deletion_protection),
        "EnableIAMDatabaseAuthentication": _bool_text(iam_database_authentication),
    }
    if subnet_group:
        metadata["DBSubnetGroupName"] = subnet_group
    if security_group_ids:
        metadata["VpcSecurityGroupIds"] = json.dumps(list(security_group_ids))
    if instance_class:
        metadata["DBInstanceClass"] = instance_class
    return metadata


@dataclass(frozen=True)
class BackupJobRef:
    """A started AWS Backup job."""

    job_id: str
    vault_name: str
    resource_arn: str
    recovery_point_arn: str | None
    idempotency_token: str
    started_at: datetime


@dataclass(frozen=True)
class BackupJobResult:
    """A backup job that COMPLETED."""

    job_id: str
    state: str
    recovery_point_arn: str
    completed_at: datetime | None
    backup_size_bytes: int | None
    elapsed_seconds: float


def backup_idempotency_token(vault_name: str, resource_arn: str, now: datetime) -> str:
    """Same vault, resource and minute -> same token, so a retried command starts no second job."""
    digest = hashlib.sha256(f"{vault_name}|{resource_arn}".encode()).hexdigest()[:16]
    return f"manual-{digest}-{_utc(now):%Y%m%dT%H%MZ}"


def start_on_demand_backup(
    *,
    backup: Any,
    vault_name: str,
    resource_arn: str,
    iam_role_arn: str,
    retention_days: int,
    now: datetime,
) -> BackupJobRef:
    """Start an on-demand AWS Backup job of ``resource_arn`` into ``vault_name``."""
    if retention_days < 1:
        raise DbOperationError(f"retention_days must be at least 1 (got {retention_days})")
    token = backup_idempotency_token(vault_name, resource_arn, now)
    response = backup.start_backup_job(
        BackupVaultName=vault_name,
        ResourceArn=resource_arn,
        IamRoleArn=iam_role_arn,
        IdempotencyToken=token,
        Lifecycle={"DeleteAfterDays": retention_days},
        RecoveryPointTags={"backup-trigger": "manual"},
    )
    point = response.get("RecoveryPointArn")
    return BackupJobRef(
        job_id=str(response["BackupJobId"]),
        vault_name=vault_name,
        resource_arn=resource_arn,
        recovery_point_arn=str(point) if point else None,
        idempotency_token=token,
        started_at=_optional_time(response.get("CreationDate")) or _utc(now),
    )


def wait_for_backup(
    *,
    backup: Any,
    job_id: str,
    progress: Callable[[str], None],
    timeout_s: float = 4 * 3600,
    poll_s: float = 30,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = _utcnow,
) -> BackupJobResult:
    """Poll ``describe_backup_job`` until the job ends; the recovery point on COMPLETED, else DbOperationError."""
    started = clock()
    last = ""
    while True:
        job = backup.describe_backup_job(BackupJobId=job_id)
        state = str(job.get("State") or "UNKNOWN")
        elapsed = (clock() - started).total_seconds()
        message = f"backup job {job_id}: {state}"
        if job.get("PercentDone"):
            message += f" ({job['PercentDone']}% done)"
        if message != last:
            progress(message)
            last = message
        if state == "COMPLETED":
            point = job.get("RecoveryPointArn")
            if not point:
                raise DbOperationError(f"backup job {job_id} COMPLETED without a recovery point ARN")
            size = job.get("BackupSizeInBytes")
            return BackupJobResult(
                job_id=job_id,
                state=state,
                recovery_point_arn=str(point),
                completed_at=_optional_time(job.get("CompletionDate")),
                backup_size_bytes=int(size) if isinstance(size, int) else None,
                elapsed_seconds=elapsed,
            )
        if state in BACKUP_FAILED_STATES or state not in BACKUP_PENDING_STATES:
            reason = _truncate(str(job.get("StatusMessage") or "no status message"))
            raise DbOperationError(f"backup job {job_id} ended in state {state}: {reason}")
        if elapsed >= timeout_s:
            raise DbOperationError(
                f"backup job {job_id} still {state} after {_duration(elapsed)}: stopped waiting, "
                "the job keeps running in AWS Backup (check it with describe-backup-job)"
            )
        sleep(max(0.0, min(poll_s, timeout_s - elapsed)))


# --------------------------------------------------------------------------
# Restore planning
# --------------------------------------------------------------------------


def _window_of(rds: Any, source: Mapping[str, Any], now: datetime) -> tuple[datetime, datetime]:
    identifier = str(source["DBInstanceIdentifier"])
    latest = _optional_time(source.get("LatestRestorableTime"))
    retention = int(source.get("BackupRetentionPeriod") or 0)
    if latest is None or retention < 1:
        raise RestoreRefused(
            f"source DB instance '{identifier}' has no point-in-time recovery window "
            f"(BackupRetentionPeriod {retention}, LatestRestorableTime "
            f"{'missing' if latest is None else _iso(latest)}): automated backups are off or not ready"
        )
    earliest = _earliest_from_automated_backups(rds, identifier, source.get("DbiResourceId"))
    if earliest is None:  # not in DescribeDBInstances' model today (DB clusters have it): read if AWS adds it
        earliest = _optional_time(source.get("EarliestRestorableTime"))
    if earliest is None:
        earliest = _utc(now) - timedelta(days=retention)
    return min(earliest, latest), latest


def _earliest_from_automated_backups(rds: Any, identifier: str, resource_id: Any) -> datetime | None:
    try:
        backups = rds.describe_db_instance_automated_backups(DBInstanceIdentifier=identifier).get(
            "DBInstanceAutomatedBackups"
        )
    except Exception as exc:
        if _error_code(exc) in _AUTOMATED_BACKUP_NOT_FOUND:
            return None
        raise
    candidates: list[datetime] = []
    for entry in backups or []:
        if resource_id and entry.get("DbiResourceId") and entry["DbiResourceId"] != resource_id:
            continue  # retained automated backups of an earlier instance of the same name
        if entry.get("Status") not in (None, "active"):
            continue
        earliest = _optional_time((entry.get("RestoreWindow") or {}).get("EarliestTime"))
        if earliest is not None:
            candidates.append(earliest)
    return min(candidates) if candidates else None


def restorable_window(rds: Any, source_instance_id: str, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(earliest, latest) restorable time of the source in UTC, for point-in-time recovery.

    Earliest: the automated backup's ``RestoreWindow.EarliestTime``, else the instance's
    ``EarliestRestorableTime``, else ``now - BackupRetentionPeriod`` days; latest: ``LatestRestorableTime``."""
    source = _describe_instance(rds, source_instance_id)
    if source is None:
        raise RestoreRefused(f"source DB instance '{source_instance_id}' not found")
    return _window_of(rds, source, now or _utcnow())


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True)
class RestorePlan:
    """A checked restore, ready to start. Nothing in it modifies the source."""

    mode: RestoreMode
    source_instance_id: str
    source_arn: str
    target_instance_id: str
    restore_time: datetime | None
    window: tuple[datetime, datetime] | None
    recovery_point_arn: str | None
    recovery_point_created: datetime | None
    vault_name: str | None
    iam_role_arn: str | None
    subnet_group: str | None
    security_group_ids: tuple[str, ...]
    instance_class: str | None
    multi_az: bool
    iam_database_authentication: bool

    @property
    def operation(self) -> str:
        """The boto3 operation that starts the restore."""
        return "start_restore_job" if self.mode == "recovery_point" else "restore_db_instance_to_point_in_time"

    def request(self) -> dict[str, Any]:
        """The parameters of :attr:`operation`."""
        if self.mode == "recovery_point":
            metadata = rds_restore_metadata(
                self.target_instance_id,
                subnet_group=self.subnet_group,
                security_group_ids=self.security_group_ids,
                instance_class=self.instance_class,
                multi_az=self.multi_az,
                deletion_protection=True,
                iam_database_authentication=self.iam_database_authentication,
            )
            return {
                "RecoveryPointArn": self.recovery_point_arn,
                "IamRoleArn": self.iam_role_arn,
                "ResourceType": "RDS",
                "Metadata": metadata,
            }
        params: dict[str, Any] = {
            "SourceDBInstanceIdentifier": self.source_instance_id,
            "TargetDBInstanceIdentifier": self.target_instance_id,
        }
        if self.mode == "time":
            assert self.restore_time is not None
            params["RestoreTime"] = self.restore_time
        else:
            params["UseLatestRestorableTime"] = True
        if self.subnet_group:
            params["DBSubnetGroupName"] = self.subnet_group
        if self.security_group_ids:
            params["VpcSecurityGroupIds"] = list(self.security_group_ids)
        params.update(
            MultiAZ=self.multi_az,
            PubliclyAccessible=False,
            CopyTagsToSnapshot=True,
            DeletionProtection=True,
            EnableIAMDatabaseAuthentication=self.iam_database_authentication,
            Tags=[{"Key": "restored-from", "Value": self.source_instance_id}],
        )
        if self.instance_class:
            params["DBInstanceClass"] = self.instance_class
        return params

    def describe(self) -> list[str]:
        """Human-readable lines (the dry run)."""
        if self.mode == "latest":
            what = "latest restorable time (RDS point-in-time recovery)"
        elif self.mode == "time":
            assert self.restore_time is not None
            what = f"point in time {_iso(self.restore_time)} (RDS point-in-time recovery)"
        else:
            created = f", created {_iso(self.recovery_point_created)}" if self.recovery_point_created else ""
            what = f"recovery point {self.recovery_point_arn} of vault {self.vault_name}{created} (AWS Backup)"
        lines = [
            f"source: {self.source_instance_id} ({self.source_arn}) - read only, never modified",
            f"target: {self.target_instance_id} (new instance)",
            f"mode: {self.mode} - {what}",
        ]
        if self.window is not None:
            lines.append(f"restorable window: {_iso(self.window[0])} .. {_iso(self.window[1])}")
        if self.iam_role_arn and self.mode == "recovery_point":
            lines.append(f"restore role: {self.iam_role_arn}")
        lines += [
            f"instance class: {self.instance_class or 'as the source/snapshot'}",
            f"subnet group: {self.subnet_group or 'default'}",
            f"security groups: {', '.join(self.security_group_ids) or 'VPC default'}",
            f"multi-AZ: {_bool_text(self.multi_az)}; IAM database authentication: "
            f"{_bool_text(self.iam_database_authentication)}",
            "publicly accessible: false; deletion protection: true; copy tags to snapshots: true",
        ]
        if self.mode != "recovery_point":
            lines.append(f"tag: restored-from={self.source_instance_id}")
        lines.append(f"starts: {self.operation}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times in ISO 8601 UTC)."""
        return {
            "mode": self.mode,
            "sourceInstanceId": self.source_instance_id,
            "sourceArn": self.source_arn,
            "targetInstanceId": self.target_instance_id,
            "restoreTime": _iso(self.restore_time) if self.restore_time else None,
            "window": [_iso(self.window[0]), _iso(self.window[1])] if self.window else None,
            "recoveryPointArn": self.recovery_point_arn,
            "recoveryPointCreated": _iso(self.recovery_point_created) if self.recovery_point_created else None,
            "vaultName": self.vault_name,
            "iamRoleArn": self.iam_role_arn,
            "subnetGroup": self.subnet_group,
            "securityGroupIds": list(self.security_group_ids),
            "instanceClass": self.instance_class,
            "multiAZ": self.multi_az,
            "iamDatabaseAuthentication": self.iam_database_authentication,
            "operation": self.operation,
        }


def plan_restore(
    *,
    rds: Any,
    backup: Any,
    source_instance_id: str,
    target_instance_id: str,
    mode: RestoreMode,
    to_time: datetime | None = None,
    recovery_point_arn: str | None = None,
    vault_name: str | None = None,
    subnet_group: str | None = None,
    security_group_ids: Sequence[str] = (),
    instance_class: str | None = None,
    iam_role_arn: str | None = None,
    now: datetime | None = None,
) -> RestorePlan:
    """Check a restore of ``source_instance_id`` into the NEW instance ``target_instance_id``; raise
    :class:`RestoreRefused` when it cannot or must not be done. Only reads: nothing is started.

    ``subnet_group`` / ``security_group_ids`` default to the source's; ``recovery_point`` needs ``vault_name``
    and ``iam_role_arn``; ``now`` (default: the current time) is only used for the window fallback."""
    if mode not in RESTORE_MODES:
        raise RestoreRefused(f"unknown restore mode {mode!r} (expected one of {', '.join(RESTORE_MODES)})")
    target = target_instance_id.strip().lower()
    if not valid_instance_identifier(target):
        raise RestoreRefused(
            f"target {target_instance_id!r} is not a valid DB instance identifier: 1-63 letters, digits or "
            "hyphens, starting with a letter, without a trailing or double hyphen"
        )
    if target == source_instance_id.strip().lower():
        raise RestoreRefused(
            f"target '{target}' is the source instance: a restore always creates a new instance, choose another name"
        )
    if mode == "time" and to_time is None:
        raise RestoreRefused("mode 'time' needs the point in time to restore to")
    if mode != "time" and to_time is not None:
        raise RestoreRefused(f"a point in time is only used by mode 'time' (mode is '{mode}')")
    if mode == "recovery_point":
        missing = [
            name
            for name, value in (
                ("recovery point ARN", recovery_point_arn),
                ("backup vault name", vault_name),
                ("restore IAM role ARN", iam_role_arn),
            )
            if not value
        ]
        if missing:
            raise RestoreRefused(f"mode 'recovery_point' needs the {', '.join(missing)}")

    source = _describe_instance(rds, source_instance_id)
    if source is None:
        raise RestoreRefused(f"source DB instance '{source_instance_id}' not found")
    source_id = str(source["DBInstanceIdentifier"])
    source_arn = str(source.get("DBInstanceArn") or "")
    existing = _describe_instance(rds, target)
    if existing is not None:
        raise RestoreRefused(
            f"target DB instance '{target}' already exists (status {existing.get('DBInstanceStatus', 'unknown')}): "
            "a restore never overwrites an instance, choose another name"
        )

    window: tuple[datetime, datetime] | None = None
    restore_time: datetime | None = None
    point_created: datetime | None = None
    if mode in ("latest", "time"):
        window = _window_of(rds, source, now or _utcnow())
        if to_time is not None:
            restore_time = _utc(to_time)
            if not window[0] <= restore_time <= window[1]:
                raise RestoreRefused(
                    f"{_iso(restore_time)} is outside the restorable window of '{source_id}': "
                    f"{_iso(window[0])} .. {_iso(window[1])} (UTC)"
                )
    else:
        assert recovery_point_arn is not None and vault_name is not None
        point_created = _check_recovery_point(backup, vault_name, recovery_point_arn, source_id, source_arn)

    if subnet_group is None:
        group = (source.get("DBSubnetGroup") or {}).get("DBSubnetGroupName")
        subnet_group = str(group) if group else None
    groups = tuple(security_group_ids) or tuple(
        str(g["VpcSecurityGroupId"])
        for g in source.get("VpcSecurityGroups") or []
        if g.get("VpcSecurityGroupId") and g.get("Status", "active") == "active"
    )
    return RestorePlan(
        mode=mode,
        source_instance_id=source_id,
        source_arn=source_arn,
        target_instance_id=target,
        restore_time=restore_time,
        window=window,
        recovery_point_arn=recovery_point_arn if mode == "recovery_point" else None,
        recovery_point_created=point_created,
        vault_name=vault_name,
        iam_role_arn=iam_role_arn,
        subnet_group=subnet_group,
        security_group_ids=groups,
        instance_class=instance_class,
        multi_az=bool(source.get("MultiAZ")),
        iam_database_authentication=bool(source.get("IAMDatabaseAuthenticationEnabled")),
    )


def _check_recovery_point(
    backup: Any, vault_name: str, recovery_point_arn: str, source_id: str, source_arn: str
) -> datetime | None:
    try:
        point = backup.describe_recovery_point(BackupVaultName=vault_name, RecoveryPointArn=recovery_point_arn)
    except Exception as exc:
        if _error_code(exc) in _RECOVERY_POINT_NOT_FOUND:
            raise RestoreRefused(
                f"recovery point {recovery_point_arn} not found in backup vault '{vault_name}'"
            ) from exc
        raise
    status = str(point.get("Status") or "UNKNOWN")
    if status != "COMPLETED":
        raise RestoreRefused(f"recovery point {recovery_point_arn} is {status}, not COMPLETED: it cannot be restored")
    resource = str(point.get("ResourceArn") or "")
    if resource != source_arn:
        raise RestoreRefused(
            f"recovery point {recovery_point_arn} is a backup of {resource or 'an unknown resource'}, "
            f"not of the source '{source_id}' ({source_arn})"
        )
    return _optional_time(point.get("CreationDate"))


# --------------------------------------------------------------------------
# Restore execution
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreStarted:
    """A restore that was started: the new instance's name and, for ``recovery_point``, the job id."""

    mode: RestoreMode
    source_instance_id: str
    target_instance_id: str
    started_at: datetime
    restore_job_id: str | None = None


@dataclass(frozen=True)
class RestoreFinished:
    """The restored instance is ``available``."""

    target_instance_id: str
    status: str
    elapsed_minutes: float
    rto_minutes: float
    within_rto: bool
    restore_job_id: str | None
    endpoint_address: str | None
    endpoint_port: int | None


def execute_restore(plan: RestorePlan, *, rds: Any, backup: Any, now: datetime | None = None) -> RestoreStarted:
    """Start the planned restore (``now``, default the current time, is when the RTO clock starts)."""
    started_at = _utc(now) if now is not None else _utcnow()
    if plan.mode == "recovery_point":
        response = backup.start_restore_job(**plan.request())
        job_id: str | None = str(response["RestoreJobId"])
    else:
        rds.restore_db_instance_to_point_in_time(**plan.request())
        job_id = None
    return RestoreStarted(
        mode=plan.mode,
        source_instance_id=plan.source_instance_id,
        target_instance_id=plan.target_instance_id,
        started_at=started_at,
        restore_job_id=job_id,
    )


def wait_for_restore(
    *,
    rds: Any,
    backup: Any,
    started: RestoreStarted,
    progress: Callable[[str], None],
    rto_minutes: float,
    timeout_s: float = 6 * 3600,
    poll_s: float = 30,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = _utcnow,
) -> RestoreFinished:
    """Wait until the restored instance is ``available`` (after the restore job COMPLETED, if there is one).

    The elapsed time counts from ``started.started_at``; ``timeout_s`` from the start of the wait."""
    target = started.target_instance_id
    job_id = started.restore_job_id
    job_done = job_id is None
    wait_start = clock()
    reported: list[str] = []

    def report(message: str) -> None:
        if not reported or reported[-1] != message:
            progress(message)
            reported.append(message)

    while True:
        if not job_done:
            assert job_id is not None
            job = backup.describe_restore_job(RestoreJobId=job_id)
            state = str(job.get("Status") or "UNKNOWN")
            message = f"restore job {job_id}: {state}"
            if job.get("PercentDone"):
                message += f" ({job['PercentDone']}% done)"
            report(message)
            if state in RESTORE_JOB_FAILED_STATES:
                reason = _truncate(str(job.get("StatusMessage") or "no status message"))
                raise DbOperationError(f"restore job {job_id} into '{target}' ended {state}: {reason}")
            job_done = state == "COMPLETED"
        if job_done:
            instance = _describe_instance(rds, target)
            state = "not visible yet" if instance is None else str(instance.get("DBInstanceStatus") or "unknown")
            report(f"{target}: {state}")
            if state in INSTANCE_FAILED_STATES:
                raise DbOperationError(f"restored instance '{target}' is in state '{state}': the restore failed")
            if state == "available" and instance is not None:
                elapsed = (clock() - started.started_at).total_seconds() / 60
                endpoint = instance.get("Endpoint") or {}
                port = endpoint.get("Port")
                return RestoreFinished(
                    target_instance_id=target,
                    status=state,
                    elapsed_minutes=round(elapsed, 2),
                    rto_minutes=rto_minutes,
                    within_rto=elapsed <= rto_minutes,
                    restore_job_id=job_id,
                    endpoint_address=str(endpoint["Address"]) if endpoint.get("Address") else None,
                    endpoint_port=int(port) if isinstance(port, int) else None,
                )
        waited = (clock() - wait_start).total_seconds()
        if waited >= timeout_s:
            what = f"restore job {job_id}" if not job_done else f"instance '{target}'"
            raise DbOperationError(
                f"stopped waiting after {_duration(waited)}: {what} is still {state}; "
                f"the restore continues in AWS and '{target}' will appear when it is done"
            )
        sleep(max(0.0, min(poll_s, timeout_s - waited)))
