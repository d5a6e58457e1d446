"""What AWS authorizes for each API operation the runtime uses: the IAM actions, the resource ARN each
is checked against, the condition keys the request carries, and which resource policy is in the way.

Sources: the Service Authorization Reference (actions, resource types, condition keys) and each
service's documentation, notably:
- S3: ``HeadObject`` is authorized as ``s3:GetObject``; ``ListObjectsV2`` as ``s3:ListBucket`` on the
  bucket with ``s3:prefix``; a write to an SSE-KMS bucket needs ``kms:GenerateDataKey`` and a read
  ``kms:Decrypt`` on the key that encrypts the object (the bucket default unless the request names
  another), checked with ``kms:ViaService`` = ``s3.<region>.amazonaws.com``; ``aws:kms`` without a key
  id means the AWS managed key ``aws/s3``.
- KMS: aliases are resolved to the key; the key policy must allow (directly or by deferring to IAM).
- AWS Backup: ``StartRestoreJob``/``DescribeRecoveryPoint`` are checked against the recovery point's
  own ARN (an RDS snapshot ARN for snapshots and their copies, ``arn:aws:backup:...:recovery-point:...``
  for continuous ones); ``StartRestoreJob`` and ``StartBackupJob`` pass a role (``iam:PassRole``).
- RDS: IAM database authentication is ``rds-db:connect`` on ``dbuser:<resource id>/<user>``.
  ``CreateDBSnapshot`` is checked on the instance and the new snapshot; ``RestoreDBInstanceFromDBSnapshot``
  on the new instance, the snapshot and the subnet group, and restoring an encrypted snapshot makes RDS
  describe its key and create a grant on it with the caller's credentials (``kms:DescribeKey``,
  ``kms:CreateGrant`` via ``rds.<region>``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.contracts.deployment import PARTITION, Deployment

AWS_MANAGED_S3_KEY = "alias/aws/s3"


@dataclass(frozen=True)
class Requirement:
    """One IAM authorization an operation needs."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    policy_kind: str | None = None  # "bucket", "key", "queue", "topic", "vault" or None
    policy_id: str | None = None  # the bucket name, key/queue/topic/vault ARN


@dataclass(frozen=True)
class CallContext:
    """Where the call is made: the function's account and the region of the client."""

    account: str
    region: str
    deployment: Deployment


Mapper = Callable[[Mapping[str, Any], CallContext], list[Requirement]]


def _bucket_key(ctx: CallContext, bucket: str) -> str | None:
    return ctx.deployment.bucket_keys.get(bucket)


def _bucket_region(ctx: CallContext, bucket: str) -> str:
    for model in ctx.deployment.stacks.values():
        for logical_id in model.of_type("AWS::S3::Bucket"):
            if ctx.deployment.physical(model, logical_id) == bucket:
                return model.region
    return ctx.region


def _kms_via(ctx: CallContext, service: str, region: str, key: str, action: str, **extra: Any) -> Requirement:
    arn = ctx.deployment.key_arn(key, region, ctx.account) or key
    context = {
        "kms:ViaService": f"{service}.{region}.amazonaws.com",
        "kms:CallerAccount": ctx.account,
        "kms:ResourceAliases": ctx.deployment.aliases_of(arn),
        **extra,
    }
    return Requirement(action, arn, context, "key", arn)


def _object(params: Mapping[str, Any]) -> str:
    return f"arn:{PARTITION}:s3:::{params['Bucket']}/{params['Key']}"


def _s3_put(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    bucket = params["Bucket"]
    context: dict[str, Any] = {}
    if "ServerSideEncryption" in params:
        context["s3:x-amz-server-side-encryption"] = params["ServerSideEncryption"]
    if "SSEKMSKeyId" in params:
        context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = params["SSEKMSKeyId"]
    if "ACL" in params:
        context["s3:x-amz-acl"] = params["ACL"]
    needs = [Requirement("s3:PutObject", _object(params), context, "bucket", bucket)]
    if params.get("ServerSideEncryption") == "aws:kms" and not params.get("SSEKMSKeyId"):
        key: str | None = AWS_MANAGED_S3_KEY
    else:
        key = params.get("SSEKMSKeyId") or _bucket_key(ctx, bucket)
    if key is not None:
        needs.append(
            _kms_via(
                ctx,
                "s3",
                _bucket_region(ctx, bucket),
                key,
                "kms:GenerateDataKey",
                **{"kms:EncryptionContext:aws:s3:arn": f"arn:{PARTITION}:s3:::{bucket}"},
            )
        )
    return needs


def _s3_get(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    bucket = params["Bucket"]
    needs = [Requirement("s3:GetObject", _object(params), {}, "bucket", bucket)]
    key = _bucket_key(ctx, bucket)
    if key is not None:
        # With S3 Bucket Keys (every bucket here) the encryption context is the bucket's ARN.
        context = {"kms:EncryptionContext:aws:s3:arn": f"arn:{PARTITION}:s3:::{bucket}"}
        needs.append(_kms_via(ctx, "s3", _bucket_region(ctx, bucket), key, "kms:Decrypt", **context))
    return needs


def _s3_head(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    return [Requirement("s3:GetObject", _object(params), {}, "bucket", params["Bucket"])]


def _s3_delete(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    action = "s3:DeleteObjectVersion" if params.get("VersionId") else "s3:DeleteObject"
    return [Requirement(action, _object(params), {}, "bucket", params["Bucket"])]


def _s3_list(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    context = {"s3:prefix": params.get("Prefix", "")}
    if "Delimiter" in params:
        context["s3:delimiter"] = params["Delimiter"]
    bucket = params["Bucket"]
    return [Requirement("s3:ListBucket", f"arn:{PARTITION}:s3:::{bucket}", context, "bucket", bucket)]


def _s3_list_versions(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    bucket = params["Bucket"]
    context = {"s3:prefix": params.get("Prefix", "")}
    return [Requirement("s3:ListBucketVersions", f"arn:{PARTITION}:s3:::{bucket}", context, "bucket", bucket)]


def _kms(action: str) -> Mapper:
    def mapper(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
        key = str(params["KeyId"])
        arn = ctx.deployment.key_arn(key, ctx.region, ctx.account) or key
        context = {"kms:CallerAccount": ctx.account, "kms:ResourceAliases": ctx.deployment.aliases_of(arn)}
        return [Requirement(action, arn, context, "key", arn)]

    return mapper


def _arn(service: str, resource: str) -> Callable[[CallContext], str]:
    return lambda ctx: f"arn:{PARTITION}:{service}:{ctx.region}:{ctx.account}:{resource}"


def _vault(ctx: CallContext, name: str) -> str:
    return f"arn:{PARTITION}:backup:{ctx.region}:{ctx.account}:backup-vault:{name}"


def _pass_role(role: str, service: str) -> Requirement:
    return Requirement("iam:PassRole", role, {"iam:PassedToService": service})


def _backup_start_restore(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    return [
        Requirement("backup:StartRestoreJob", params["RecoveryPointArn"]),
        _pass_role(params["IamRoleArn"], "backup.amazonaws.com"),
    ]


def _backup_start_backup(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    vault = _vault(ctx, params["BackupVaultName"])
    return [
        Requirement("backup:StartBackupJob", vault, {}, "vault", vault),
        _pass_role(params["IamRoleArn"], "backup.amazonaws.com"),
    ]


def _backup_describe_point(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    vault = _vault(ctx, params["BackupVaultName"])
    return [Requirement("backup:DescribeRecoveryPoint", params["RecoveryPointArn"], {}, "vault", vault)]


def _backup_list_by_vault(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    vault = _vault(ctx, params["BackupVaultName"])
    return [Requirement("backup:ListRecoveryPointsByBackupVault", vault, {}, "vault", vault)]


def _unscoped(action: str) -> Mapper:
    """An action with no resource type in the Service Authorization Reference: Resource "*"."""
    return lambda params, ctx: [Requirement(action, "*")]


def _rds_db(action: str) -> Mapper:
    # Without an identifier, DescribeDBInstances lists every instance: IAM checks db:*.
    return lambda params, ctx: [
        Requirement(
            action, f"arn:{PARTITION}:rds:{ctx.region}:{ctx.account}:db:{params.get('DBInstanceIdentifier', '*')}"
        )
    ]


def _rds_arn(ctx: CallContext, kind: str, name: str) -> str:
    return f"arn:{PARTITION}:rds:{ctx.region}:{ctx.account}:{kind}:{name}"


def _rds_create_snapshot(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    return [
        Requirement("rds:CreateDBSnapshot", _rds_arn(ctx, "db", params["DBInstanceIdentifier"])),
        Requirement("rds:CreateDBSnapshot", _rds_arn(ctx, "snapshot", params["DBSnapshotIdentifier"])),
    ]


def _rds_snapshot(action: str) -> Mapper:
    # Without an identifier, DescribeDBSnapshots lists every snapshot: IAM checks snapshot:*.
    return lambda params, ctx: [
        Requirement(action, _rds_arn(ctx, "snapshot", str(params.get("DBSnapshotIdentifier", "*"))))
    ]


def _rds_restore_snapshot(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    required = [
        Requirement("rds:RestoreDBInstanceFromDBSnapshot", _rds_arn(ctx, "db", params["DBInstanceIdentifier"])),
        Requirement("rds:RestoreDBInstanceFromDBSnapshot", _rds_arn(ctx, "snapshot", params["DBSnapshotIdentifier"])),
    ]
    if "DBSubnetGroupName" in params:
        required.append(
            Requirement("rds:RestoreDBInstanceFromDBSnapshot", _rds_arn(ctx, "subgrp", params["DBSubnetGroupName"]))
        )
    # The snapshot is of an instance in this region: its key is one of theirs.
    via = {"kms:ViaService": f"rds.{ctx.region}.amazonaws.com", "kms:CallerAccount": ctx.account}
    # RDS's documentation for customer managed keys: the caller needs kms:CreateGrant and kms:DescribeKey.
    for key in ctx.deployment.instance_keys(ctx.region, ctx.account):
        context = {**via, "kms:ResourceAliases": ctx.deployment.aliases_of(key)}
        required += [Requirement(action, key, context, "key", key) for action in ("kms:CreateGrant", "kms:DescribeKey")]
    return required


def _rds_connect(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    # A deployed instance (found by its endpoint) has its resource id; a restored copy's is only
    # known at run time ("db-ABC..."), where any id is realistic.
    resource_id = ctx.deployment.instance_resource_id(str(params.get("DBHostname") or "")) or "db-RESTOREDCOPY"
    return [
        Requirement(
            "rds-db:connect",
            f"arn:{PARTITION}:rds-db:{ctx.region}:{ctx.account}:dbuser:{resource_id}/{params['DBUsername']}",
        )
    ]


def _events_put(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    buses = {entry.get("EventBusName", "default") for entry in params["Entries"]}
    return [
        Requirement("events:PutEvents", bus if bus.startswith("arn:") else _arn("events", f"event-bus/{bus}")(ctx))
        for bus in sorted(buses)
    ]


def _metrics(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    return [Requirement("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": params["Namespace"]})]


def _secret(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    return [Requirement("secretsmanager:GetSecretValue", params["SecretId"])]


def _invoke(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    name = str(params["FunctionName"])
    arn = name if name.startswith("arn:") else _arn("lambda", f"function:{name}")(ctx)
    return [Requirement("lambda:InvokeFunction", arn)]


def _iam_role(action: str) -> Mapper:
    def mapper(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
        if "AWSServiceName" in params:
            service = params["AWSServiceName"]
            name = {
                "reports.backup.amazonaws.com": "AWSServiceRoleForBackupReports",
                "config.amazonaws.com": "AWSServiceRoleForConfig",
            }[service]
            arn = f"arn:{PARTITION}:iam::{ctx.account}:role/aws-service-role/{service}/{name}"
            return [Requirement(action, arn, {"iam:AWSServiceName": service})]
        # GetRole names no path; IAM checks the role's full ARN (with its path).
        role = params["RoleName"]
        service = {
            "AWSServiceRoleForBackupReports": "reports.backup.amazonaws.com",
            "AWSServiceRoleForConfig": "config.amazonaws.com",
        }.get(role)
        path = f"/aws-service-role/{service}/" if service else "/"
        return [Requirement(action, f"arn:{PARTITION}:iam::{ctx.account}:role{path}{role}")]

    return mapper


def _eks_cluster(params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    return [Requirement("eks:DescribeCluster", _arn("eks", f"cluster/{params['name']}")(ctx))]


OPERATIONS: Mapping[tuple[str, str], Mapper] = {
    ("s3", "PutObject"): _s3_put,
    ("s3", "GetObject"): _s3_get,
    ("s3", "HeadObject"): _s3_head,
    ("s3", "DeleteObject"): _s3_delete,
    ("s3", "ListObjectsV2"): _s3_list,
    ("s3", "ListObjectVersions"): _s3_list_versions,
    ("kms", "Encrypt"): _kms("kms:Encrypt"),
    ("kms", "Decrypt"): _kms("kms:Decrypt"),
    ("kms", "GenerateMac"): _kms("kms:GenerateMac"),
    ("kms", "VerifyMac"): _kms("kms:VerifyMac"),
    ("kms", "DescribeKey"): _kms("kms:DescribeKey"),
    ("kms", "GenerateDataKey"): _kms("kms:GenerateDataKey"),
    ("events", "PutEvents"): _events_put,
    ("cloudwatch", "PutMetricData"): _metrics,
    ("backup", "StartRestoreJob"): _backup_start_restore,
    ("backup", "StartBackupJob"): _backup_start_backup,
    ("backup", "DescribeRecoveryPoint"): _backup_describe_point,
    ("backup", "ListRecoveryPointsByBackupVault"): _backup_list_by_vault,
    ("backup", "ListRecoveryPointsByResource"): _unscoped("backup:ListRecoveryPointsByResource"),
    ("backup", "DescribeRestoreJob"): _unscoped("backup:DescribeRestoreJob"),
    ("backup", "PutRestoreValidationResult"): _unscoped("backup:PutRestoreValidationResult"),
    ("backup", "DescribeBackupJob"): _unscoped("backup:DescribeBackupJob"),
    ("rds", "DescribeDBInstances"): _rds_db("rds:DescribeDBInstances"),
    ("rds", "DeleteDBInstance"): _rds_db("rds:DeleteDBInstance"),
    ("rds", "CreateDBSnapshot"): _rds_create_snapshot,
    ("rds", "DescribeDBSnapshots"): _rds_snapshot("rds:DescribeDBSnapshots"),
    ("rds", "DeleteDBSnapshot"): _rds_snapshot("rds:DeleteDBSnapshot"),
    ("rds", "RestoreDBInstanceFromDBSnapshot"): _rds_restore_snapshot,
    ("rds-db", "connect"): _rds_connect,
    ("secretsmanager", "GetSecretValue"): _secret,
    ("lambda", "Invoke"): _invoke,
    ("iam", "GetRole"): _iam_role("iam:GetRole"),
    ("iam", "CreateServiceLinkedRole"): _iam_role("iam:CreateServiceLinkedRole"),
    ("eks", "DescribeCluster"): _eks_cluster,
}


def requirements(service: str, operation: str, params: Mapping[str, Any], ctx: CallContext) -> list[Requirement]:
    """The authorizations of one call; KeyError for an operation the table does not know."""
    return OPERATIONS[(service, operation)](params, ctx)
