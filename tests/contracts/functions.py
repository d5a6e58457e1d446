"""The runtime's Lambda functions as the permission contract sees them: the entry points whose calls
are each function's calls, where the function is deployed (production, the superset), and which
setting of the test world corresponds to which environment variable of the deployed function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.contracts.recorder import EntryPoint


@dataclass(frozen=True)
class RuntimeFunction:
    name: str
    entries: tuple[EntryPoint, ...]
    stack: str
    logical_prefix: str
    env: Mapping[str, str] = field(default_factory=dict)
    """Captured setting -> the deployed function's environment variable holding the same value."""
    lists: frozenset[str] = frozenset()
    """Settings that are lists (comma-separated in the environment)."""
    defaults: Mapping[str, str] = field(default_factory=dict)
    """What the runtime uses for an environment variable the deployed function does not set."""
    applies: Callable[[Mapping[str, Any]], bool] = lambda settings: True
    check_unused: bool = True
    """Whether every grant must be used by a recorded call (off for a variant deployed only to check
    one optional feature's calls)."""


_EXPORT_ENV = {
    "cluster": "CLUSTER_NAME",
    "bucket": "BUCKET",
    "sops_key_arns": "SOPS_KMS_KEYS",
    "digest_key_arn": "DIGEST_KMS_KEY",
    "event_bus_name": "EVENT_BUS_NAME",
    "event_source": "EVENT_SOURCE",
}
_VALIDATOR_ENV = {
    "environment": "ENVIRONMENT",
    "reports_bucket": "REPORTS_BUCKET",
    "validator_user": "VALIDATOR_USER",
    "database": "DATABASE_NAME",
    "plan_arn": "PLAN_ARN",
    "source_secret_arn": "SOURCE_SECRET_ARN",
    "metric_namespace": "METRIC_NAMESPACE",
    "event_bus_name": "EVENT_BUS_NAME",
    "reports_kms_key": "REPORTS_KMS_KEY",
    "identifier_prefix": "IDENTIFIER_PREFIX",
}
# The app does not enable the optional git mirror: its calls are checked against this variant.
GIT_MIRROR_STACK = "contract-git-mirror"
_VALIDATOR_DEFAULTS = {"EVENT_BUS_NAME": "default"}
_DR = "ecommerce-production-backup-dr"
_EKS = EntryPoint("eks-connection", "lambdas.kubernetes.client", "eks_connection", ("cluster_name",))

FUNCTIONS: tuple[RuntimeFunction, ...] = (
    RuntimeFunction(
        "config-export",
        (
            EntryPoint("config-export", "lambdas.config_backup", "export_namespace"),
            EntryPoint("config-export", "lambdas.config_backup", "record_failure"),
            EntryPoint("config-export", "lambdas.config_backup.handlers", "export_handler"),
            _EKS,
        ),
        "ecommerce-production-config-backup",
        "ConfigBackupExportFunction",
        {**_EXPORT_ENV, "cluster_name": "CLUSTER_NAME"},
        frozenset({"sops_key_arns"}),
    ),
    RuntimeFunction(
        "config-export (git mirror)",
        (EntryPoint("git-mirror", "lambdas.config_backup.git_mirror", "credentials_from_secret", ("secret_id",)),),
        GIT_MIRROR_STACK,
        "ConfigBackupExportFunction",
        {"secret_id": "GIT_MIRROR_SECRET_ARN"},
        check_unused=False,
    ),
    RuntimeFunction(
        "config-restore",
        (EntryPoint("config-restore", "lambdas.config_backup", "restore_namespace"), _EKS),
        "ecommerce-production-config-backup",
        "ConfigBackupRestoreFunction",
        {
            "cluster": "CLUSTER_NAME",
            "cluster_name": "CLUSTER_NAME",
            "bucket": "BUCKET",
            "digest_key_arn": "DIGEST_KMS_KEY",
        },
    ),
    RuntimeFunction(
        "restore-validator (monthly)",
        (EntryPoint("restore-validator", "lambdas.restore_testing", "validate_restore_job"),),
        "ecommerce-production-data",
        "RestoreTestingValidationValidator",
        _VALIDATOR_ENV,
        defaults=_VALIDATOR_DEFAULTS,
        applies=lambda settings: settings.get("kind") != "drill",
    ),
    RuntimeFunction(
        "restore-validator (drill)",
        (EntryPoint("restore-validator", "lambdas.restore_testing", "validate_restore_job"),),
        _DR,
        "DrillValidationValidator",
        _VALIDATOR_ENV,
        defaults=_VALIDATOR_DEFAULTS,
        applies=lambda settings: settings.get("kind") == "drill",
    ),
    RuntimeFunction(
        "drill-starter",
        (
            EntryPoint("drill-starter", "lambdas.restore_testing", "start_drill"),
            EntryPoint("drill-starter", "lambdas.restore_testing", "run_config_drill", ("function_arn",)),
        ),
        _DR,
        "DrillStarter",
        {
            "dr_vault_name": "DR_VAULT_NAME",
            "source_db_arn": "SOURCE_DB_ARN",
            "restore_role_arn": "RESTORE_ROLE_ARN",
            "db_subnet_group": "DB_SUBNET_GROUP",
            "security_group_ids": "SECURITY_GROUP_IDS",
            "reports_bucket": "REPORTS_BUCKET",
            "identifier_prefix": "IDENTIFIER_PREFIX",
            "reports_kms_key": "REPORTS_KMS_KEY",
            "function_arn": "CONFIG_RESTORE_FUNCTION_ARN",
        },
        frozenset({"security_group_ids"}),
    ),
    RuntimeFunction(
        "rpo-monitor",
        (
            EntryPoint("rpo-monitor", "lambdas.rpo_monitor", "collect"),
            EntryPoint("rpo-monitor", "lambdas.rpo_monitor", "publish"),
        ),
        "ecommerce-production-monitoring",
        "MonitoringRpoMonitor",
        {
            "environment": "ENVIRONMENT",
            "databases": "DATABASES",
            "protected_resource_arns": "PROTECTED_RESOURCE_ARNS",
            "config_bucket": "CONFIG_BUCKET",
            "config_cluster": "CONFIG_CLUSTER",
            "config_namespaces": "CONFIG_NAMESPACES",
            "metric_namespace": "METRIC_NAMESPACE",
        },
        frozenset({"databases", "protected_resource_arns", "config_namespaces"}),
    ),
    RuntimeFunction(
        "service-linked-role",
        (EntryPoint("service-linked-role", "lambdas.service_linked_role", "ensure_service_linked_role", ()),),
        "ecommerce-production-monitoring",
        "MonitoringReportsServiceRoleEnsure",
    ),
)


def entry_points() -> list[EntryPoint]:
    seen: dict[tuple[str, str], EntryPoint] = {}
    for function in FUNCTIONS:
        for entry in function.entries:
            seen[(entry.module, entry.function)] = entry
    return list(seen.values())


def functions_of(entry: str, settings: Mapping[str, Any]) -> list[RuntimeFunction]:
    return [f for f in FUNCTIONS if any(e.name == entry for e in f.entries) and f.applies(settings)]
