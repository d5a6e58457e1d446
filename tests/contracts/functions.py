"""The runtime's Lambda functions as the permission contract sees them: the entry points whose calls are
each function's calls, where the function is deployed (production, the superset), and the settings
class that reads its environment (so the test world's settings translate into the deployed ones)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdas.contract import functions as contract
from lambdas.contract.settings import Settings
from tests.contracts.recorder import EntryPoint


@dataclass(frozen=True)
class RuntimeFunction:
    name: str
    entries: tuple[EntryPoint, ...]
    stack: str
    logical_prefix: str
    settings: type[Settings] | None
    aliases: Mapping[str, str] = field(default_factory=dict)
    """A captured local variable -> the settings field it holds."""
    applies: Callable[[Mapping[str, Any]], bool] = lambda settings: True
    check_unused: bool = True
    """Whether every grant must be used by a recorded call (off for a variant deployed only to check
    one optional feature's calls)."""


def _spec(name: str) -> type[Settings] | None:
    return contract.FUNCTIONS[name].settings


# The app does not enable the optional git mirror: its calls are checked against this variant.
GIT_MIRROR_STACK = "contract-git-mirror"
_DR = "ecommerce-production-backup-dr"
_EKS = EntryPoint("eks-connection", "lambdas.kubernetes.client", "eks_connection", ("cluster_name",))
_VALIDATE = EntryPoint("restore-validator", "lambdas.restore_testing.validation", "validate_restore_job")

FUNCTIONS: tuple[RuntimeFunction, ...] = (
    RuntimeFunction(
        "config-export",
        (
            EntryPoint("config-export", "lambdas.config_backup.export", "export_namespace"),
            EntryPoint("config-export", "lambdas.config_backup.export", "record_failure"),
            EntryPoint("config-export", "lambdas.config_backup.handlers", "export_handler"),
            _EKS,
        ),
        "ecommerce-production-config-backup",
        "ConfigBackupExportFunction",
        _spec(contract.CONFIG_EXPORT),
        {"cluster_name": "cluster"},
    ),
    RuntimeFunction(
        "config-export (git mirror)",
        (EntryPoint("git-mirror", "lambdas.config_backup.git_mirror", "credentials_from_secret", ("secret_id",)),),
        GIT_MIRROR_STACK,
        "ConfigBackupExportFunction",
        _spec(contract.CONFIG_EXPORT),
        {"secret_id": "git_mirror_secret_arn"},
        check_unused=False,
    ),
    RuntimeFunction(
        "config-restore",
        (EntryPoint("config-restore", "lambdas.config_backup.restore", "restore_namespace"), _EKS),
        "ecommerce-production-config-backup",
        "ConfigBackupRestoreFunction",
        _spec(contract.CONFIG_RESTORE),
        {"cluster_name": "cluster"},
        applies=lambda settings: not settings.get("target_cluster"),
    ),
    RuntimeFunction(
        "config-restore (DR region)",
        (EntryPoint("config-restore", "lambdas.config_backup.restore", "restore_namespace"), _EKS),
        _DR,
        "ConfigReplicaRestoreFunction",
        _spec(contract.CONFIG_RESTORE),
        {"cluster_name": "target_cluster"},
        # Its restores (RestoreSettings with a target cluster), and the cluster connection, which is the
        # same code for both restore functions (captured as just the cluster name): checked against both.
        applies=lambda settings: bool(settings.get("target_cluster")) or set(settings) == {"cluster_name"},
    ),
    RuntimeFunction(
        "config-restore (DR drill)",
        (EntryPoint("config-restore", "lambdas.config_backup.restore", "restore_namespace"), _EKS),
        _DR,
        "ConfigReplicaDrillRestoreFunction",
        _spec(contract.CONFIG_RESTORE),
        {"cluster_name": "target_cluster"},
        # The same code as the failover's restore with the drill namespace as its only target.
        applies=lambda settings: bool(settings.get("target_cluster")) or set(settings) == {"cluster_name"},
    ),
    RuntimeFunction(
        "restore-validator (monthly)",
        (_VALIDATE,),
        "ecommerce-production-data",
        "RestoreTestingValidationValidator",
        _spec(contract.VALIDATOR),
        # The app's monthly validator signs in with IAM only (no master secret): the calls of tests
        # that give a validator the secret are an adopter's option, not this deployment's.
        applies=lambda settings: settings.get("kind") != "drill" and not settings.get("source_secret_arn"),
    ),
    RuntimeFunction(
        "restore-validator (drill)",
        (_VALIDATE, EntryPoint("restore-validator", "lambdas.restore_testing.validation", "validate_drill_instance")),
        _DR,
        "DrillValidationValidator",
        _spec(contract.VALIDATOR),
        applies=lambda settings: settings.get("kind") == "drill",
    ),
    RuntimeFunction(
        "drill-starter",
        (
            EntryPoint("drill-starter", "lambdas.restore_testing.drill", "start_drill"),
            EntryPoint("drill-starter", "lambdas.restore_testing.drill", "start_replica_drill"),
            EntryPoint("drill-starter", "lambdas.restore_testing.drill", "continue_replica_drill"),
            EntryPoint("drill-starter", "lambdas.restore_testing.drill", "run_config_drill", ("function_arn",)),
        ),
        _DR,
        "DrillStarter",
        _spec(contract.DRILL_STARTER),
        {"function_arn": "config_restore_function_arn"},
    ),
    RuntimeFunction(
        "rpo-monitor",
        (
            EntryPoint("rpo-monitor", "lambdas.rpo_monitor.monitor", "collect"),
            EntryPoint("rpo-monitor", "lambdas.rpo_monitor.monitor", "publish"),
        ),
        "ecommerce-production-monitoring",
        "MonitoringRpoMonitor",
        _spec(contract.RPO_MONITOR),
    ),
    RuntimeFunction(
        "heartbeat",
        (EntryPoint("heartbeat", "lambdas.heartbeat.handler", "handler"),),
        "ecommerce-production-data",
        "HeartbeatWriter",
        _spec(contract.HEARTBEAT),
    ),
    RuntimeFunction(
        "service-linked-role",
        (EntryPoint("service-linked-role", "lambdas.service_linked_role", "ensure_service_linked_role", ()),),
        "ecommerce-production-monitoring",
        "MonitoringReportsServiceRoleEnsure",
        None,
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
