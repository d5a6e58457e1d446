"""The runtime's Lambda functions: each one's handler and the settings it reads from its environment.

The constructs build each function from its entry here; what each handler module needs bundled is
declared in that module (``BUNDLE_DEPENDENCIES``), next to the handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from lambdas.contract.metrics import RPO_MONITOR, VALIDATOR
from lambdas.contract.settings import (
    DrillSettings,
    ExportSettings,
    HeartbeatSettings,
    MonitorSettings,
    RestoreSettings,
    Settings,
    ValidatorSettings,
)

CONFIG_EXPORT: Final = "config-export"
CONFIG_RESTORE: Final = "config-restore"
DRILL_STARTER: Final = "drill-starter"
SERVICE_LINKED_ROLE: Final = "service-linked-role"
HEARTBEAT: Final = "heartbeat"

__all__ = [
    "CONFIG_EXPORT",
    "CONFIG_RESTORE",
    "DRILL_STARTER",
    "FUNCTIONS",
    "HEARTBEAT",
    "RPO_MONITOR",
    "SERVICE_LINKED_ROLE",
    "VALIDATOR",
    "FunctionSpec",
]


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    settings: type[Settings] | None

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]


FUNCTIONS: Final = {
    spec.name: spec
    for spec in (
        FunctionSpec(CONFIG_EXPORT, "lambdas.config_backup.handlers.export_handler", ExportSettings),
        FunctionSpec(CONFIG_RESTORE, "lambdas.config_backup.handlers.restore_handler", RestoreSettings),
        FunctionSpec(VALIDATOR, "lambdas.restore_testing.handlers.validator_handler", ValidatorSettings),
        FunctionSpec(DRILL_STARTER, "lambdas.restore_testing.handlers.drill_start_handler", DrillSettings),
        FunctionSpec(RPO_MONITOR, "lambdas.rpo_monitor.handler.handler", MonitorSettings),
        FunctionSpec(SERVICE_LINKED_ROLE, "lambdas.service_linked_role.handler", None),
        FunctionSpec(HEARTBEAT, "lambdas.heartbeat.handler.handler", HeartbeatSettings),
    )
}
