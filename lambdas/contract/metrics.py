"""The project's CloudWatch metrics: namespace, names, dimensions and the function that publishes each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

METRIC_NAMESPACE: Final = "Ecommerce/Backup"

# The publishing functions (names of lambdas.contract.functions.FUNCTIONS).
VALIDATOR: Final = "restore-validator"
RPO_MONITOR: Final = "rpo-monitor"


@dataclass(frozen=True)
class MetricDefinition:
    """A metric the runtime publishes in :data:`METRIC_NAMESPACE`: its name, the names of its
    dimensions (in the order they are sent) and the function that publishes it (in that
    function's own region). Publishers and alarms both go through it, so the name, the
    dimension names and the unit are spelled here only."""

    name: str
    dimensions: tuple[str, ...]
    publisher: str
    unit: str = "None"

    def dimension_map(self, *values: str) -> dict[str, str]:
        """Dimension name -> value, in the definition's order; one value per dimension."""
        if len(values) != len(self.dimensions):
            expected = ", ".join(self.dimensions)
            raise ValueError(f"metric {self.name} has dimensions {expected}; got {len(values)} values")
        return dict(zip(self.dimensions, values, strict=True))

    def datum(self, value: float, dimension_values: Sequence[str], timestamp: datetime) -> dict[str, Any]:
        """One ``PutMetricData`` datum."""
        return {
            "MetricName": self.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimension_map(*dimension_values).items()],
            "Timestamp": timestamp,
            "Value": value,
            "Unit": self.unit,
        }


# Published by the restore validator, per environment and kind (monthly or drill).
VALIDATION_FAILURES: Final = MetricDefinition("ValidationFailures", ("Environment", "Kind"), VALIDATOR, "Count")
RESTORE_TIME: Final = MetricDefinition("RestoreTimeMinutes", ("Environment", "Kind"), VALIDATOR)
RESTORED_RECOVERY_POINT_AGE: Final = MetricDefinition("RecoveryPointAgeMinutes", ("Environment", "Kind"), VALIDATOR)
DRILL_SUCCEEDED: Final = MetricDefinition("DrillSucceeded", ("Environment", "Kind"), VALIDATOR, "Count")
DATA_LOSS: Final = MetricDefinition("DataLossMinutes", ("Environment", "Kind"), VALIDATOR)
# Published by the RPO monitor every few minutes.
RPO_EXPOSURE: Final = MetricDefinition("RpoExposureMinutes", ("Environment", "DBInstanceIdentifier"), RPO_MONITOR)
DATABASE_UNPROTECTED: Final = MetricDefinition(
    "DatabaseUnprotected", ("Environment", "DBInstanceIdentifier"), RPO_MONITOR, "Count"
)
RECOVERY_POINT_AGE: Final = MetricDefinition("RecoveryPointAgeMinutes", ("Environment", "ResourceArn"), RPO_MONITOR)
RECOVERY_POINT_MISSING: Final = MetricDefinition(
    "RecoveryPointMissing", ("Environment", "ResourceArn"), RPO_MONITOR, "Count"
)
CONFIG_BACKUP_AGE: Final = MetricDefinition("ConfigBackupAgeMinutes", ("Environment", "Namespace"), RPO_MONITOR)
CONFIG_BACKUP_CHECK_AGE: Final = MetricDefinition(
    "ConfigBackupCheckAgeMinutes", ("Environment", "Namespace"), RPO_MONITOR
)
CONFIG_BACKUP_MISSING: Final = MetricDefinition(
    "ConfigBackupMissing", ("Environment", "Namespace"), RPO_MONITOR, "Count"
)
CHECK_ERRORS: Final = MetricDefinition("CheckErrors", ("Environment",), RPO_MONITOR, "Count")

METRICS: Final = (
    VALIDATION_FAILURES,
    RESTORE_TIME,
    RESTORED_RECOVERY_POINT_AGE,
    DRILL_SUCCEEDED,
    DATA_LOSS,
    RPO_EXPOSURE,
    DATABASE_UNPROTECTED,
    RECOVERY_POINT_AGE,
    RECOVERY_POINT_MISSING,
    CONFIG_BACKUP_AGE,
    CONFIG_BACKUP_CHECK_AGE,
    CONFIG_BACKUP_MISSING,
    CHECK_ERRORS,
)


def metric_definition(name: str, dimensions: tuple[str, ...] | list[str]) -> MetricDefinition | None:
    """The definition of metric ``name`` with exactly these dimension names (any order), if any."""
    wanted = sorted(dimensions)
    return next((m for m in METRICS if m.name == name and sorted(m.dimensions) == wanted), None)
