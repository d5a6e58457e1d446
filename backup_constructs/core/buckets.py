"""S3 buckets for backup data: versioned, SSE-KMS, TLS-only, private, access-logged, object-locked
for their retention, and the access-log buckets they log into."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from backup_constructs.core.exclusion import exclude_from_backup
from backup_constructs.core.keys import deployment_role_arn
from backup_constructs.core.nag import acknowledge_all
from backup_constructs.policy.scp import BUCKET_ACTIONS, OBJECT_ACTIONS

ACCESS_LOG_RETENTION_DAYS = 365
# Log delivery by bucket policy rather than ACLs, so log buckets can enforce bucket ownership.
SERVER_ACCESS_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"


def access_logs_by_bucket_policy(scope: Construct) -> None:
    """Make the access-log buckets under ``scope`` admit log delivery by bucket policy (not ACLs),
    whatever the adopting app's feature flags."""
    scope.node.set_context(SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, True)


def access_log_bucket(scope: Construct, id_: str) -> s3.Bucket:
    """A bucket that receives S3 server access logs (SSE-S3: log delivery cannot use SSE-KMS)."""
    bucket = s3.Bucket(
        scope,
        id_,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        lifecycle_rules=[
            s3.LifecycleRule(
                expiration=Duration.days(ACCESS_LOG_RETENTION_DAYS),
                noncurrent_version_expiration=Duration.days(1),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )
    reason = "This bucket is the destination of S3 server access logs; logging it into itself would loop."
    acknowledge_all(
        bucket,
        [
            ("AwsSolutions::AwsSolutions-S1", reason),
            ("PCI.DSS.321::PCI.DSS.321-S3BucketLoggingEnabled", reason),
            (
                "PCI.DSS.321::PCI.DSS.321-S3DefaultEncryptionKMS",
                "S3 server access log delivery only supports SSE-S3 on the target bucket; the logs hold no "
                "backup data.",
            ),
            (
                "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
                "Access logs are kept where they are written; the backup data itself is replicated.",
            ),
        ],
    )
    exclude_from_backup(bucket, "S3 server access logs")
    return bucket


def protected_bucket(
    scope: Construct,
    id_: str,
    *,
    encryption_key: kms.IKey,
    retention_days: int,
    access_logs: s3.IBucket,
    bucket_name: str | None = None,
    compliance_lock: bool = False,
) -> s3.Bucket:
    """Versioned, KMS-encrypted, TLS-only, private, access-logged; every object version is locked for
    ``retention_days`` (governance mode, or compliance mode with ``compliance_lock``: then nobody, the
    root user included, can delete it or shorten its retention) and expires after it. Writes that would
    be encrypted with any key but ``encryption_key`` are refused (see :func:`deny_other_encryption_keys`)."""
    lock = s3.ObjectLockRetention.compliance if compliance_lock else s3.ObjectLockRetention.governance
    bucket = s3.Bucket(
        scope,
        id_,
        bucket_name=bucket_name,
        versioned=True,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=encryption_key,
        bucket_key_enabled=True,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=f"{Stack.of(scope).stack_name}/{id_}/",
        object_lock_enabled=True,
        object_lock_default_retention=lock(Duration.days(retention_days)),
        lifecycle_rules=[
            s3.LifecycleRule(
                expiration=Duration.days(retention_days),
                noncurrent_version_expiration=Duration.days(1),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )
    deny_other_encryption_keys(bucket, encryption_key)
    exclude_from_backup(bucket, "a backup store of its own: versioned and object-locked for its retention")
    return bucket


# Bucket configuration an attacker would change before destroying the data: denied to all but the
# exempt principals (break-glass, the exact deploy role, which updates them on deploy) - the same
# actions the organization's service control policy denies on these buckets.
TAMPER_ACTIONS = (*OBJECT_ACTIONS, *BUCKET_ACTIONS)


def deny_tampering(bucket: s3.IBucket, exempt_principal_arns: Sequence[str]) -> None:
    """Deny :data:`TAMPER_ACTIONS` on ``bucket`` and its objects to everyone but ``exempt_principal_arns``
    and the stack's CloudFormation execution role (by its exact ARN). This raises the cost and makes
    every attempt a CloudTrail event; it does not stop an account admin (S3 always lets the account's
    root user change a bucket policy) — the compliance-mode Object Lock does."""
    deployer = deployment_role_arn(bucket)
    exempt = [*([deployer] if deployer else []), *exempt_principal_arns]
    statement = iam.PolicyStatement(
        sid="DenyTamperingExceptBreakGlass",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=list(TAMPER_ACTIONS),
        resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
    )
    if exempt:
        statement.add_condition("ArnNotLike", {"aws:PrincipalArn": exempt})
    bucket.add_to_resource_policy(statement)


def deny_other_encryption_keys(bucket: s3.IBucket, key: kms.IKey) -> None:
    """Refuse ``PutObject`` that names another KMS key, or ``aws:kms`` with no key (S3 would then use
    the AWS managed ``aws/s3`` key, not the bucket's). A write without encryption headers stays
    allowed and gets the bucket default, this key.

    Not ``StringNotEqualsIfExists``: an ``...IfExists`` condition holds when the key is absent, so that
    Deny would refuse every write relying on the bucket default. ``Null: false`` limits the Deny to
    requests that do send a key id.
    """
    objects = bucket.arn_for_objects("*")
    key_id = "s3:x-amz-server-side-encryption-aws-kms-key-id"
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyOtherEncryptionKeys",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions={"Null": {key_id: "false"}, "StringNotEquals": {key_id: key.key_arn}},
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyAwsManagedKey",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions={"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}, "Null": {key_id: "true"}},
        )
    )
