"""The quarterly DR drill in the DR region: restore the newest copy in the DR vault on the drill's own
schedule, validate it against the RTO, restore the configuration into the drill namespace, alarm."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from backup_constructs.core.alarms import policy_alarm, restore_test_alarms
from backup_constructs.core.functions import FunctionIds, attach_policy, outside_vpc, project_function
from backup_constructs.core.nag import acknowledge_all, logical_id, nag_partition
from backup_constructs.core.statements import key_use_through, send_dead_letters, write_own_logs
from backup_constructs.policy import BackupPolicy, PolicyError
from backup_constructs.policy.environments import DATABASE_NAME as DEFAULT_DATABASE_NAME
from backup_constructs.restore_testing.validation import (
    COLON,
    RestoreValidation,
    recovery_point_arns,
    recovery_point_findings,
)
from lambdas.contract.events import (
    RDS_INSTANCE_CREATED,
    RDS_INSTANCE_EVENT,
    RDS_MANUAL_SNAPSHOT_CREATED,
    RDS_SNAPSHOT_EVENT,
    RDS_SOURCE,
)
from lambdas.contract.functions import DRILL_STARTER, FUNCTIONS
from lambdas.contract.layout import PENDING_DRILL_PREFIX
from lambdas.contract.settings import DrillSettings


class DisasterRecoveryDrill(Construct):
    """The quarterly DR drill, deployed in the DR region. AWS documentation does not confirm that a
    restore testing plan can select cross-region copies, so the drill starts its own restore job of
    the newest copy in the DR vault on the policy's ``drill_schedule``; the same validator checks
    the data, fails the drill when the measured restore time exceeds the RTO, restores the latest
    Kubernetes configuration into the drill namespace (optional), reports, and deletes the copy.

    Parameters
    ----------
    policy:
        ``restore_testing.drill_schedule`` and the RTO/RPO targets.
    source_database_arn:
        The protected database in the primary region (the copies are filed under it).
    vpc, vpc_subnets:
        The DR region's network for the restored copy and the validator.
    config_restore_function_arn, source_namespace, drill_namespace:
        The configuration part of the drill: this restore function restores the latest backup of
        ``source_namespace`` into ``drill_namespace``. Default: no configuration drill.
    alert_topic:
        The DR region's alert topic: alarms on the drill's restore time against the RTO, failed checks,
        the starter's and validator's errors and dead letters notify it. Default: no alarms.
    replica_identifier, replica_key_arn:
        The database's cross-Region read replica in this region and its storage key: the drill then
        restores a manual snapshot of the replica (never promoting or touching the replica) instead of
        the newest copy, and holds it to the region-loss targets. Default: copies.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        source_database_arn: str,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        database_secret_arn: str | None = None,
        database_name: str = DEFAULT_DATABASE_NAME,
        config_restore_function_arn: str | None = None,
        source_namespace: str | None = None,
        drill_namespace: str | None = None,
        create_vpc_endpoints: bool = True,
        alert_topic: sns.ITopic | None = None,
        replica_identifier: str | None = None,
        replica_key_arn: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        spec = policy.restore_testing
        if spec.drill_schedule is None or policy.dr_region is None:
            raise PolicyError(
                "restore_testing.drill_schedule: got None; a DR drill needs a drill schedule and a dr_region"
            )
        if (config_restore_function_arn is None) != (drill_namespace is None) or (
            drill_namespace is not None and source_namespace is None
        ):
            raise PolicyError(
                "config_restore_function_arn, source_namespace, drill_namespace: set all three for the "
                "configuration drill, or none"
            )
        stack = Stack.of(self)
        prefix = f"{policy.environment}-drill"
        self.validation = RestoreValidation(
            self,
            "Validation",
            policy=policy,
            kind="drill",
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            database_name=database_name,
            source_secret_arn=database_secret_arn,
            identifier_prefix=prefix,
            create_vpc_endpoints=create_vpc_endpoints,
        )
        validation = self.validation
        self._delete_pattern = f"Resource::arn:{nag_partition(stack)}:rds:{stack.region}:{stack.account}:db:{prefix}-*"
        pending = validation.reports_bucket.arn_for_objects(f"{PENDING_DRILL_PREFIX}*")
        validation.statements += [
            iam.PolicyStatement(
                sid="DeleteOwnDrillCopies",
                actions=["rds:DeleteDBInstance"],
                resources=[
                    stack.format_arn(service="rds", resource="db", resource_name=f"{prefix}-*", arn_format=COLON)
                ],
            ),
            iam.PolicyStatement(sid="ReadPendingDrill", actions=["s3:GetObject"], resources=[pending]),
            *(
                [
                    iam.PolicyStatement(
                        sid="DeleteOwnDrillSnapshots",
                        actions=["rds:DeleteDBSnapshot"],
                        resources=[
                            stack.format_arn(
                                service="rds", resource="snapshot", resource_name=f"{prefix}-*", arn_format=COLON
                            )
                        ],
                    )
                ]
                if replica_identifier
                else []
            ),
            key_use_through(
                "s3",
                stack,
                sid="ReadPendingDrillEncrypted",
                actions=["kms:Decrypt"],
                key_arn=validation.reports_key.key_arn,
            ),
            # The bucket is versioned and object-locked: this adds a delete marker, the marker's
            # versions stay for the report retention.
            iam.PolicyStatement(sid="ClearPendingDrill", actions=["s3:DeleteObject"], resources=[pending]),
        ]
        validator_policy = validation.finish()
        validator_findings = [
            (
                f"AwsSolutions::AwsSolutions-IAM5[{self._delete_pattern}]",
                f"The drill deletes only its own copies, named {prefix}-<time>; the function also checks the "
                "pending-drill marker before deleting.",
            )
        ]
        if replica_identifier:
            validator_findings.append(
                (
                    f"AwsSolutions::AwsSolutions-IAM5[{self._delete_pattern.replace(':db:', ':snapshot:')}]",
                    f"The drill deletes only its own snapshots of the replica, named {prefix}-<time>, as its "
                    "pending-drill marker names them.",
                )
            )
        validator_findings.append(
            (
                f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(validation.reports_bucket)}.Arn>/"
                f"{PENDING_DRILL_PREFIX}*]",
                "Pending-drill markers are named by restore job id; the validator clears the one it validated.",
            )
        )
        acknowledge_all(validator_policy, validator_findings)

        dr_vault_arn = stack.format_arn(
            service="backup", resource="backup-vault", resource_name=policy.dr_backup_vault_name, arn_format=COLON
        )
        starter = project_function(
            self,
            FunctionIds.named("Starter"),
            policy=policy,
            handler=FUNCTIONS[DRILL_STARTER].handler,
            description=f"Starts a restore of the newest {policy.environment} copy in the DR vault",
            role_description=f"Starts the quarterly {policy.environment} DR drill restore",
            environment=DrillSettings.env(
                environment=policy.environment,
                dr_vault_name=policy.dr_backup_vault_name,
                source_db_arn=source_database_arn,
                restore_role_arn=validation.restore_role.role_arn,
                instance_class=spec.instance_class,
                db_subnet_group=validation.subnet_group.subnet_group_name,
                security_group_ids=(validation.restored_security_group.security_group_id,),
                reports_bucket=validation.reports_bucket.bucket_name,
                identifier_prefix=prefix,
                config_restore_function_arn=config_restore_function_arn,
                source_namespace=source_namespace if config_restore_function_arn else None,
                drill_namespace=drill_namespace if config_restore_function_arn else None,
                replica_identifier=replica_identifier,
            ),
            # The configuration drill (a synchronous restore in the primary region) runs in here.
            timeout=Duration.minutes(12),
            reserved_concurrent_executions=1,
            dead_letter_queue=validation.dead_letter_queue,
        )
        self.starter_function = starter.function
        starter_logs = starter.log_group
        outside_vpc(
            self.starter_function,
            "The starter calls the AWS Backup API and, for the configuration drill, the restore function in "
            "the primary region; it touches no database and needs no network path into the VPC.",
        )
        starter_policy = attach_policy(
            self,
            "StarterPolicy",
            starter,
            [
                write_own_logs(starter_logs),
                iam.PolicyStatement(
                    sid="FindNewestCopy", actions=["backup:ListRecoveryPointsByBackupVault"], resources=[dr_vault_arn]
                ),
                # IAM evaluates StartRestoreJob against the recovery point's own ARN: an RDS snapshot
                # ARN for snapshot copies, an AWS Backup ARN for continuous recovery points.
                iam.PolicyStatement(
                    sid="StartDrillRestore",
                    actions=["backup:StartRestoreJob"],
                    resources=recovery_point_arns(stack),
                ),
                iam.PolicyStatement(
                    sid="PassRestoreRole",
                    actions=["iam:PassRole"],
                    resources=[validation.restore_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="RecordPendingDrill",
                    actions=["s3:PutObject"],
                    resources=[validation.reports_bucket.arn_for_objects(f"{PENDING_DRILL_PREFIX}*")],
                ),
                key_use_through(
                    "s3",
                    stack,
                    sid="ReportsEncrypted",
                    actions=["kms:GenerateDataKey"],
                    key_arn=validation.reports_key.key_arn,
                ),
                *send_dead_letters(validation.dead_letter_queue),
                *(self._replica_statements(stack, prefix, replica_identifier, replica_key_arn, validation)),
                *(
                    [
                        iam.PolicyStatement(
                            sid="ConfigurationDrill",
                            actions=["lambda:InvokeFunction"],
                            resources=[config_restore_function_arn],
                        )
                    ]
                    if config_restore_function_arn
                    else []
                ),
            ],
        )
        starter_findings = recovery_point_findings(stack) | {
            f"Resource::<{logical_id(validation.reports_bucket)}.Arn>/{PENDING_DRILL_PREFIX}*": (
                "Pending-drill markers are named by restore job id."
            ),
        }
        if replica_identifier:
            partition = nag_partition(stack)
            own = f"arn:{partition}:rds:{stack.region}:{stack.account}"
            starter_findings |= {
                f"Resource::{own}:snapshot:{prefix}-*": f"The drill's snapshots are named {prefix}-<time>.",
                f"Resource::{own}:db:{prefix}-*": f"The drill's instances are named {prefix}-<time>.",
            }
        starter_rules = [(f"AwsSolutions::AwsSolutions-IAM5[{f}]", reason) for f, reason in starter_findings.items()]
        acknowledge_all(starter_policy, starter_rules)
        if replica_identifier:
            snapshots = stack.format_arn(
                service="rds", resource="snapshot", resource_name=f"{prefix}-", arn_format=COLON
            )
            instances = stack.format_arn(service="rds", resource="db", resource_name=f"{prefix}-", arn_format=COLON)
            self.snapshot_rule = events.Rule(
                self,
                "SnapshotTaken",
                description=f"The {policy.environment} drill's snapshot of the read replica is ready: restore it",
                event_pattern=events.EventPattern(
                    source=[RDS_SOURCE],
                    detail_type=[RDS_SNAPSHOT_EVENT],
                    detail={
                        "EventID": [RDS_MANUAL_SNAPSHOT_CREATED],
                        "SourceArn": [{"prefix": snapshots}],
                    },
                ),
                targets=[targets.LambdaFunction(self.starter_function, retry_attempts=2)],
            )
            self.instance_rule = events.Rule(
                self,
                "InstanceRestored",
                description=f"The {policy.environment} drill instance exists: validate it",
                event_pattern=events.EventPattern(
                    source=[RDS_SOURCE],
                    detail_type=[RDS_INSTANCE_EVENT],
                    detail={"EventID": [RDS_INSTANCE_CREATED], "SourceArn": [{"prefix": instances}]},
                ),
                targets=[targets.LambdaFunction(validation.validator_function, retry_attempts=2)],
            )
        self.schedule_rule = events.Rule(
            self,
            "Quarterly",
            description=f"Quarterly {policy.environment} DR drill",
            schedule=events.Schedule.expression(spec.drill_schedule),
            targets=[targets.LambdaFunction(self.starter_function, retry_attempts=2)],
        )
        self.reports_bucket = validation.reports_bucket
        self.validator_function = validation.validator_function
        self.alarms: dict[str, cw.Alarm] = {}
        if alert_topic is not None:
            self._alarms(policy, cw_actions.SnsAction(alert_topic))

    @staticmethod
    def _replica_statements(
        stack: Stack,
        prefix: str,
        replica_identifier: str | None,
        replica_key_arn: str | None,
        validation: RestoreValidation,
    ) -> list[iam.PolicyStatement]:
        """What the starter needs to snapshot the replica and restore the snapshot (nothing without one)."""
        if not replica_identifier:
            return []
        snapshots = stack.format_arn(service="rds", resource="snapshot", resource_name=f"{prefix}-*", arn_format=COLON)
        instances = stack.format_arn(service="rds", resource="db", resource_name=f"{prefix}-*", arn_format=COLON)
        replica = stack.format_arn(service="rds", resource="db", resource_name=replica_identifier, arn_format=COLON)
        subnet_group = stack.format_arn(
            service="rds",
            resource="subgrp",
            resource_name=validation.subnet_group.subnet_group_name,
            arn_format=COLON,
        )
        statements = [
            # IAM checks CreateDBSnapshot on both the instance and the new snapshot.
            iam.PolicyStatement(
                sid="SnapshotTheReplica", actions=["rds:CreateDBSnapshot"], resources=[replica, snapshots]
            ),
            iam.PolicyStatement(sid="ReadDrillSnapshots", actions=["rds:DescribeDBSnapshots"], resources=[snapshots]),
            iam.PolicyStatement(
                sid="RestoreDrillSnapshot",
                actions=["rds:RestoreDBInstanceFromDBSnapshot"],
                resources=[instances, snapshots, subnet_group],
            ),
            iam.PolicyStatement(
                sid="ReadPendingDrill",
                actions=["s3:GetObject"],
                resources=[validation.reports_bucket.arn_for_objects(f"{PENDING_DRILL_PREFIX}*")],
            ),
            key_use_through(
                "s3",
                stack,
                sid="ReadPendingDrillEncrypted",
                actions=["kms:Decrypt"],
                key_arn=validation.reports_key.key_arn,
            ),
        ]
        if replica_key_arn:
            # Restoring an encrypted snapshot: RDS creates a grant on its key for the new instance.
            statements.append(
                iam.PolicyStatement(
                    sid="RestoreEncryptedSnapshot",
                    actions=["kms:CreateGrant", "kms:DescribeKey"],
                    resources=[replica_key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"rds.{stack.region}.amazonaws.com"}},
                )
            )
        return statements

    def _alarms(self, policy: BackupPolicy, action: cw.IAlarmAction) -> None:
        """The drill's alarms, in the DR region where its functions run and its validator publishes."""

        def alarm(id_: str, metric: cw.IMetric, **kwargs: Any) -> cw.Alarm:
            self.alarms[id_] = policy_alarm(self, id_, metric, environment=policy.environment, action=action, **kwargs)
            return self.alarms[id_]

        restore_test_alarms(policy, kind="drill", alarm=alarm)
        quiet = cw.TreatMissingData.NOT_BREACHING
        alarm(
            "DrillStarterErrors",
            self.starter_function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            description="The DR drill could not start its restore (see the starter's log)",
            missing=quiet,
        )
        alarm(
            "DrillValidatorErrors",
            self.validator_function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            description="The DR drill's validator failed without recording a result",
            missing=quiet,
        )
        alarm(
            "DrillDeadLetters",
            self.validation.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            description="A DR drill event gave up after its retries (dead letter)",
            missing=quiet,
        )
