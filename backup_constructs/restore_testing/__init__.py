"""The monthly restore test (:class:`RestoreTesting`) and the quarterly DR drill (:class:`DisasterRecoveryDrill`)
of the database, sharing :class:`~.validation.RestoreValidation`."""

from backup_constructs.restore_testing.drill import DisasterRecoveryDrill
from backup_constructs.restore_testing.monthly import RestoreTesting

__all__ = ["DisasterRecoveryDrill", "RestoreTesting"]
