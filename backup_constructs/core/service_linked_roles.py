"""Service-linked roles that policies name as principals, made to exist before those policies.

A service-linked role exists only after the service's first use; a bucket or key policy naming a
missing one is rejected, and ``AWS::IAM::ServiceLinkedRole`` fails where the role already exists. So
a small custom resource creates the role only when it is absent and never deletes it.
"""

from __future__ import annotations

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from backup_constructs.core.functions import FunctionIds, attach_policy, outside_vpc, project_function
from backup_constructs.core.statements import write_own_logs
from backup_constructs.policy import BackupPolicy
from lambdas.contract.functions import FUNCTIONS, SERVICE_LINKED_ROLE

BACKUP_REPORTS_SERVICE = "reports.backup.amazonaws.com"
BACKUP_REPORTS_ROLE = "AWSServiceRoleForBackupReports"
CONFIG_SERVICE = "config.amazonaws.com"
CONFIG_ROLE = "AWSServiceRoleForConfig"


def service_linked_role_arn(scope: Construct, service_name: str, role_name: str) -> str:
    stack = Stack.of(scope)
    return f"arn:{stack.partition}:iam::{stack.account}:role/aws-service-role/{service_name}/{role_name}"


class ServiceLinkedRole(Construct):
    """Makes sure ``role_name``, the service-linked role of ``service_name``, exists.

    Make whatever names the role depend on :attr:`resource`. Deleting the stack keeps the role
    (other stacks, environments and the service itself may use it).
    """

    def __init__(self, scope: Construct, id_: str, *, policy: BackupPolicy, service_name: str, role_name: str) -> None:
        super().__init__(scope, id_)
        self.role_arn = service_linked_role_arn(self, service_name, role_name)
        made = project_function(
            self,
            FunctionIds.named("Ensure"),
            policy=policy,
            handler=FUNCTIONS[SERVICE_LINKED_ROLE].handler,
            description=f"Creates the service-linked role {role_name} if it does not exist yet",
            role_description=f"Reads and, if absent, creates the service-linked role {role_name}",
            timeout=Duration.minutes(2),
        )
        outside_vpc(made.function, "The function only calls the IAM API; it opens no connection into a VPC.")
        permissions = attach_policy(
            self,
            "EnsurePolicy",
            made,
            [
                write_own_logs(made.log_group),
                iam.PolicyStatement(sid="ReadRole", actions=["iam:GetRole"], resources=[self.role_arn]),
                iam.PolicyStatement(
                    sid="CreateRoleIfAbsent",
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[self.role_arn],
                    conditions={"StringEquals": {"iam:AWSServiceName": service_name}},
                ),
            ],
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=made.function.function_arn,
            resource_type="Custom::ServiceLinkedRole",
            properties={"ServiceName": service_name, "RoleName": role_name},
        )
        self.resource.node.add_dependency(permissions)
        self.function = made.function
