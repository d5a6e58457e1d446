"""The monthly restore test: an AWS Backup restore testing plan that restores the latest recovery point of
the database as a small, isolated copy the validator checks."""

from __future__ import annotations

from aws_cdk import Fn
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from backup_constructs.policy import BackupPolicy
from backup_constructs.policy.environments import DATABASE_NAME as DEFAULT_DATABASE_NAME
from backup_constructs.restore_testing.validation import RestoreValidation
from lambdas.contract.settings import ValidatorSettings


class RestoreTesting(Construct):
    """The monthly restore test: an AWS Backup restore testing plan picking the latest snapshot or
    continuous recovery point of the database within a window, restored as a small, single-AZ,
    private copy that only the validator can reach; the validator checks the data, records the
    validation result, the report and the measured restore time.

    Parameters
    ----------
    policy:
        ``restore_testing`` gives schedule, windows, instance class, checks and report retention.
    vault:
        The vault whose recovery points are tested.
    database:
        The protected database instance (in this stack, or imported by attributes).
    database_secret:
        The source's master secret: its current and previous versions are the fallback credentials
        (a restored snapshot keeps the password of its time). Default: IAM authentication only.
    vpc, vpc_subnets:
        Where copies are restored and the validator runs (private subnets).
    database_name:
        The database the checks run in. Default: ``ecommerce``, the platform's database.
    create_vpc_endpoints:
        Interface endpoints for the AWS APIs the validator calls (isolated subnets have no other
        route). Default: true.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        vault: backup.IBackupVault,
        database: rds.IDatabaseInstance,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        database_secret: secretsmanager.ISecret | None = None,
        database_name: str = DEFAULT_DATABASE_NAME,
        create_vpc_endpoints: bool = True,
    ) -> None:
        super().__init__(scope, id_)
        spec = policy.restore_testing
        plan_name = f"{policy.environment}-monthly-restore-test".replace("-", "_")
        self.validation = RestoreValidation(
            self,
            "Validation",
            policy=policy,
            kind="monthly",
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            database_name=database_name,
            source_secret_arn=database_secret.secret_arn if database_secret is not None else None,
            identifier_prefix=None,
            create_vpc_endpoints=create_vpc_endpoints,
        )
        self.restore_testing_plan = backup.CfnRestoreTestingPlan(
            self,
            "Plan",
            restore_testing_plan_name=plan_name,
            schedule_expression=spec.schedule,
            schedule_expression_timezone="Etc/UTC",
            start_window_hours=spec.start_window_hours,
            recovery_point_selection=backup.CfnRestoreTestingPlan.RestoreTestingRecoveryPointSelectionProperty(
                algorithm="LATEST_WITHIN_WINDOW",
                include_vaults=[vault.backup_vault_arn],
                recovery_point_types=["SNAPSHOT", "CONTINUOUS"],
                selection_window_days=spec.selection_window_days,
            ),
        )
        self.restore_testing_selection = backup.CfnRestoreTestingSelection(
            self,
            "Selection",
            restore_testing_plan_name=self.restore_testing_plan.restore_testing_plan_name,
            restore_testing_selection_name=f"{plan_name}_database",
            protected_resource_type="RDS",
            protected_resource_arns=[database.instance_arn],
            iam_role_arn=self.validation.restore_role.role_arn,
            restore_metadata_overrides={
                "dbInstanceClass": spec.instance_class,
                "multiAz": "false",
                "publiclyAccessible": "false",
                "dbSubnetGroupName": self.validation.subnet_group.subnet_group_name,
                # The validator logs in with an IAM token for its read-only user, never the master secret.
                "enableIamDatabaseAuthentication": "true",
                # A JSON list, as the restore metadata carries it.
                "vpcSecurityGroupIds": Fn.join(
                    "", ['["', self.validation.restored_security_group.security_group_id, '"]']
                ),
            },
            validation_window_hours=spec.validation_window_hours,
        )
        self.restore_testing_selection.add_resource_dependency(self.restore_testing_plan)
        self.validation.validator_function.add_environment(
            ValidatorSettings.variables()["plan_arn"], self.restore_testing_plan.attr_restore_testing_plan_arn
        )
        self.validation.finish()
        self.reports_bucket: s3.Bucket = self.validation.reports_bucket
        self.validator_function = self.validation.validator_function
