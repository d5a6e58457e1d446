"""Opt-in extras: the AWS Config recorder Backup Audit Manager needs, and the metric archive beyond
CloudWatch's fixed 15 months."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_config as config
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from constructs import Construct

from backup_constructs.core.buckets import access_log_bucket, protected_bucket
from backup_constructs.core.keys import rotating_key
from backup_constructs.core.nag import acknowledge, logical_id
from backup_constructs.core.service_linked_roles import CONFIG_ROLE, CONFIG_SERVICE, ServiceLinkedRole
from backup_constructs.policy import BackupPolicy
from lambdas.contract.metrics import METRIC_NAMESPACE


def config_recording(scope: Construct, policy: BackupPolicy) -> config.CfnConfigurationRecorder:
    """An AWS Config recorder for the AWS Backup resource types Backup Audit Manager evaluates."""
    stack = Stack.of(scope)
    bucket = protected_bucket(
        scope,
        "ConfigHistory",
        encryption_key=rotating_key(
            scope,
            "ConfigHistoryKey",
            description="Encrypts AWS Config history of the backup resources",
        ),
        retention_days=policy.restore_testing.report_retention_days,
        access_logs=access_log_bucket(scope, "ConfigHistoryAccessLogs"),
    )
    # Most accounts have AWS Config's role already: create it only where it is missing.
    role = ServiceLinkedRole(scope, "ConfigRole", policy=policy, service_name=CONFIG_SERVICE, role_name=CONFIG_ROLE)
    recorder = config.CfnConfigurationRecorder(
        scope,
        "Recorder",
        role_arn=role.role_arn,
        recording_group=config.CfnConfigurationRecorder.RecordingGroupProperty(
            all_supported=False,
            resource_types=[
                "AWS::Backup::BackupPlan",
                "AWS::Backup::BackupSelection",
                "AWS::Backup::BackupVault",
                "AWS::Backup::RecoveryPoint",
            ],
        ),
    )
    recorder.node.add_dependency(role.resource)
    channel = config.CfnDeliveryChannel(scope, "Delivery", s3_bucket_name=bucket.bucket_name)
    channel.add_dependency(recorder)
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="ConfigDelivery",
            principals=[iam.ServicePrincipal("config.amazonaws.com")],
            actions=["s3:PutObject", "s3:GetBucketAcl", "s3:ListBucket"],
            resources=[bucket.bucket_arn, bucket.arn_for_objects("AWSLogs/*")],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
        )
    )
    acknowledge(
        bucket,
        "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
        "AWS Config history is re-derivable from the recorder; it is not backup data.",
    )
    return recorder


def metric_stream_archive(scope: Construct, policy: BackupPolicy) -> firehose.CfnDeliveryStream:
    """A metric stream of the backup namespaces through Firehose into an encrypted bucket."""
    key = rotating_key(
        scope,
        "ArchiveKey",
        description="Encrypts archived backup metrics",
    )
    bucket = protected_bucket(
        scope,
        "MetricArchive",
        encryption_key=key,
        retention_days=5 * 365,
        access_logs=access_log_bucket(scope, "MetricArchiveAccessLogs"),
    )
    acknowledge(
        bucket,
        "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
        "Archived metrics are a long-term copy of CloudWatch data, not backup data.",
    )
    delivery_role = iam.Role(scope, "ArchiveDeliveryRole", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"))
    delivery_policy = iam.ManagedPolicy(
        scope,
        "ArchiveDeliveryPolicy",
        roles=[delivery_role],
        statements=[
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:GetBucketLocation", "s3:ListBucket", "s3:AbortMultipartUpload"],
                resources=[bucket.bucket_arn, bucket.arn_for_objects("metrics/*")],
            ),
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]),
        ],
    )
    acknowledge(
        delivery_policy,
        f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/metrics/*]",
        "Firehose names the archive objects by time under metrics/.",
    )
    stream = firehose.CfnDeliveryStream(
        scope,
        "Archive",
        delivery_stream_type="DirectPut",
        delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
            key_type="AWS_OWNED_CMK"
        ),
        extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
            bucket_arn=bucket.bucket_arn,
            role_arn=delivery_role.role_arn,
            prefix="metrics/",
            error_output_prefix="errors/",
            compression_format="GZIP",
            encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(awskms_key_arn=key.key_arn)
            ),
        ),
    )
    stream.node.add_dependency(delivery_policy)
    stream_role = iam.Role(
        scope, "MetricStreamRole", assumed_by=iam.ServicePrincipal("streams.metrics.cloudwatch.amazonaws.com")
    )
    iam.ManagedPolicy(
        scope,
        "MetricStreamPolicy",
        roles=[stream_role],
        statements=[
            iam.PolicyStatement(actions=["firehose:PutRecord", "firehose:PutRecordBatch"], resources=[stream.attr_arn])
        ],
    )
    cw.CfnMetricStream(
        scope,
        "MetricStream",
        firehose_arn=stream.attr_arn,
        role_arn=stream_role.role_arn,
        output_format="json",
        include_filters=[
            cw.CfnMetricStream.MetricStreamFilterProperty(namespace="AWS/Backup"),
            cw.CfnMetricStream.MetricStreamFilterProperty(namespace=METRIC_NAMESPACE),
        ],
    )
    return stream
