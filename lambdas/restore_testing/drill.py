"""The DR drill's start: restore the newest copy in the DR vault, run the configuration drill, leave
the pending marker the validator looks for."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from lambdas.common.aws import error_code as _error_code
from lambdas.contract.layout import pending_marker_key
from lambdas.contract.settings import DrillSettings
from lambdas.database.operations import rds_restore_metadata
from lambdas.restore_testing.reports import (
    DrillStart,
    RestoreTestingError,
    describe_error,
    iso,
    parse_time,
    put_object,
    truncate,
)

LOG = logging.getLogger(__name__)
_IDENTIFIER_PREFIX = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


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
            created = parse_time(point.get("CreationDate"))
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
    marker: dict[str, Any] = {
        "restoreJobId": job_id,
        "instanceId": instance_id,
        "environment": settings.environment,
        "recoveryPointArn": point_arn,
        "recoveryPointCreated": iso(created),
        "startedAt": iso(now),
    }
    if config_drill is not None:
        marker["configDrill"] = _run_config_drill_safely(config_drill)
    marker_key = _write_marker(
        s3, settings, job_id, marker, started=f"restore job {job_id} started", leftover=f"instance {instance_id}"
    )
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
    return [truncate(f, 300) for f in failures]


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
        return {"ok": False, "backupId": None, "counts": {}, "failures": [truncate(message, 500)]}
    if not isinstance(payload, Mapping):
        return {"ok": False, "backupId": None, "counts": {}, "failures": ["the config restore returned no report"]}
    failures = _config_failures(payload)
    ok = payload.get("ok") is True and not failures
    if payload.get("ok") is not True and not failures:
        failures = ["the config restore reported not ok"]
    counts = payload.get("counts") if isinstance(payload.get("counts"), Mapping) else {}
    return {"ok": ok, "backupId": payload.get("backupId"), "counts": dict(counts or {}), "failures": failures}


# --------------------------------------------------------------------------


def _run_config_drill_safely(config_drill: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return config_drill()
    except Exception as exc:
        return {"ok": False, "backupId": None, "counts": {}, "failures": [f"config drill: {describe_error(exc)}"]}


# C. DR drill from the read replica: snapshot it, restore the snapshot as a new instance
# --------------------------------------------------------------------------


def start_replica_drill(
    *,
    rds: Any,
    s3: Any,
    settings: DrillSettings,
    now: datetime,
    config_drill: Callable[[], dict[str, Any]] | None = None,
) -> DrillStart:
    """First step of a drill with a read replica: a manual snapshot of the replica (the live replica is
    never promoted or modified), and the pending marker; the snapshot's completion event continues it."""
    replica = settings.replica_identifier
    if not replica:
        raise RestoreTestingError("the drill has no read replica to snapshot (REPLICA_IDENTIFIER)")
    if not settings.security_group_ids:
        raise RestoreTestingError("the drill needs at least one security group id")
    drill_id = drill_identifier(settings.identifier_prefix, now)
    try:
        response = rds.create_db_snapshot(DBSnapshotIdentifier=drill_id, DBInstanceIdentifier=replica)
        snapshot_arn = str(response["DBSnapshot"]["DBSnapshotArn"])
    except Exception as exc:
        if _error_code(exc) != "DBSnapshotAlreadyExists":  # a retried start in the same minute
            raise RestoreTestingError(f"cannot snapshot the read replica {replica}: {describe_error(exc)}") from exc
        found = rds.describe_db_snapshots(DBSnapshotIdentifier=drill_id)["DBSnapshots"]
        snapshot_arn = str(found[0]["DBSnapshotArn"])
    marker: dict[str, Any] = {
        "restoreJobId": drill_id,
        "instanceId": drill_id,
        "snapshotId": drill_id,
        "source": f"snapshot of the read replica {replica}",
        "environment": settings.environment,
        "recoveryPointArn": snapshot_arn,
        "startedAt": iso(now),
    }
    if config_drill is not None:
        marker["configDrill"] = _run_config_drill_safely(config_drill)
    key = _write_marker(
        s3, settings, drill_id, marker, started=f"drill {drill_id}: snapshot {drill_id} of {replica} is being taken"
    )
    LOG.info("drill %s: snapshot of %s requested", drill_id, replica)
    return DrillStart(drill_id, snapshot_arn, now, drill_id, key)


def continue_replica_drill(*, event: Mapping[str, Any], rds: Any, s3: Any, settings: DrillSettings) -> dict[str, Any]:
    """On the drill snapshot's "manual snapshot created" event: restore it as the drill instance, with
    the isolation the copies get (single-AZ, private, the drill's subnets and security group)."""
    detail = event.get("detail") if isinstance(event.get("detail"), Mapping) else {}
    assert isinstance(detail, Mapping)
    snapshot_id = _resource_name(detail, "snapshot")
    if not snapshot_id or not snapshot_id.startswith(f"{settings.identifier_prefix}-drill-"):
        return {"skipped": f"snapshot {snapshot_id or 'unknown'} is not a drill snapshot"}
    marker = _load_marker(s3, settings, snapshot_id)
    if marker is None or marker.get("snapshotId") != snapshot_id:
        return {"skipped": f"no pending drill for snapshot {snapshot_id}"}
    snapshots = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id).get("DBSnapshots") or []
    created = parse_time(snapshots[0].get("SnapshotCreateTime")) if snapshots else None
    instance_id = str(marker["instanceId"])
    try:
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=instance_id,
            DBSnapshotIdentifier=snapshot_id,
            DBInstanceClass=settings.instance_class,
            DBSubnetGroupName=settings.db_subnet_group,
            VpcSecurityGroupIds=list(settings.security_group_ids),
            MultiAZ=False,
            PubliclyAccessible=False,
            DeletionProtection=False,  # the validator deletes the drill instance
            EnableIAMDatabaseAuthentication=True,  # the validator logs in with an IAM token
            BackupRetentionPeriod=0,
        )
    except Exception as exc:
        if _error_code(exc) != "DBInstanceAlreadyExists":  # a redelivered event
            raise RestoreTestingError(f"cannot restore drill snapshot {snapshot_id}: {describe_error(exc)}") from exc
    marker["recoveryPointCreated"] = iso(created)
    _write_marker(
        s3, settings, snapshot_id, marker, started=f"drill {snapshot_id}: instance {instance_id} is being restored"
    )
    LOG.info("drill %s: restoring %s from %s", snapshot_id, instance_id, snapshot_id)
    return {"drill": snapshot_id, "instanceId": instance_id, "snapshotCreated": iso(created)}


def _resource_name(detail: Mapping[str, Any], kind: str) -> str | None:
    """The name in an RDS event's ``SourceArn`` (``arn:...:snapshot:NAME``), else its ``SourceIdentifier``."""
    arn = str(detail.get("SourceArn") or "")
    marker = f":{kind}:"
    if marker in arn:
        return arn.split(marker, 1)[1] or None
    identifier = str(detail.get("SourceIdentifier") or "")
    return identifier.removeprefix("rds:") or None


def _load_marker(s3: Any, settings: DrillSettings, drill_id: str) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=settings.reports_bucket, Key=pending_marker_key(drill_id))["Body"].read()
        loaded = json.loads(body)
    except Exception as exc:
        if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise RestoreTestingError(f"cannot read the pending marker of drill {drill_id}: {describe_error(exc)}") from exc
    return loaded if isinstance(loaded, dict) else None


def _write_marker(
    s3: Any,
    settings: DrillSettings,
    drill_id: str,
    marker: Mapping[str, Any],
    *,
    started: str,
    leftover: str = "what it created",
) -> str:
    """Write the drill's pending marker; without it the drill is never validated, so a failed write
    says what was already started and what must be deleted by hand."""
    key = pending_marker_key(drill_id)
    try:
        put_object(
            s3,
            settings.reports_bucket,
            key,
            json.dumps(marker, indent=2).encode(),
            "application/json",
            settings.reports_kms_key,
        )
    except Exception as exc:
        raise RestoreTestingError(
            f"{started} but its marker could not be written ({describe_error(exc)}): "
            f"the drill will not be validated and {leftover} must be deleted by hand"
        ) from exc
    return key
