"""The project's CloudWatch metrics: namespace, names, dimensions and the function that publishes each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

METRIC_NAMESPACE: Final = "Ecommerce/Backup"

# The publishing functions (names of lambdas.contract.functions.FUNCTIONS).
VALIDATOR: Final = "restore-validator"
RPO_MONITOR: Final = "rpo-monitor"


@dataclass(frozen=True)
class MetricDefinition:
    """A metric the runtime publishes in :data:`METRIC_NAMESPACE`: its name, the names of its
    dimensions (in the order they are sent) and the function that publishes it (in that
    function's own region)."""

    name: str
    dimensions: tuple[str, ...]
    publisher: str
    unit: str = "None"


METRICS: Final = (
    MetricDefinition("ValidationFailures", ("Environment", "Kind"), VALIDATOR, "Count"),
    MetricDefinition("RestoreTimeMinutes", ("Environment", "Kind"), VALIDATOR),
    MetricDefinition("RecoveryPointAgeMinutes", ("Environment", "Kind"), VALIDATOR),
    MetricDefinition("DrillSucceeded", ("Environment", "Kind"), VALIDATOR, "Count"),
    MetricDefinition("RpoExposureMinutes", ("Environment", "DBInstanceIdentifier"), RPO_MONITOR),
    MetricDefinition("DatabaseUnprotected", ("Environment", "DBInstanceIdentifier"), RPO_MONITOR, "Count"),
    MetricDefinition("RecoveryPointAgeMinutes", ("Environment", "ResourceArn"), RPO_MONITOR),
    MetricDefinition("RecoveryPointMissing", ("Environment", "ResourceArn"), RPO_MONITOR, "Count"),
    MetricDefinition("ConfigBackupAgeMinutes", ("Environment", "Namespace"), RPO_MONITOR),
    MetricDefinition("ConfigBackupCheckAgeMinutes", ("Environment", "Namespace"), RPO_MONITOR),
    MetricDefinition("ConfigBackupMissing", ("Environment", "Namespace"), RPO_MONITOR, "Count"),
    MetricDefinition("CheckErrors", ("Environment",), RPO_MONITOR, "Count"),
)


def metric_definition(name: str, dimensions: tuple[str, ...] | list[str]) -> MetricDefinition | None:
    """The definition of metric ``name`` with exactly these dimension names (any order), if any."""
    wanted = sorted(dimensions)
    return next((m for m in METRICS if m.name == name and sorted(m.dimensions) == wanted), None)
