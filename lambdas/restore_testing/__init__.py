"""Restore testing and DR drills of the protected RDS database.

- :mod:`.validation`: validate a completed restore job (monthly restore test or drill) and record it;
- :mod:`.drill`: the quarterly DR drill's start (restore the newest copy, or snapshot the read replica and
  restore the snapshot; run the configuration drill);
- :mod:`.reports`: what a test records (check outcomes, the JSON and Markdown report);
- :mod:`.integrity`: the data-integrity checks against a real PostgreSQL copy;
- :mod:`.handlers`: the Lambda entry points.
"""

from lambdas.common.postgres import make_ssl_context
from lambdas.contract.layout import pending_marker_key, report_key
from lambdas.contract.settings import DrillSettings, ValidatorSettings
from lambdas.restore_testing.connection import Checker, ConnectionTarget, Credentials
from lambdas.restore_testing.drill import (
    continue_replica_drill,
    drill_identifier,
    drill_restore_metadata,
    run_config_drill,
    start_drill,
    start_replica_drill,
)
from lambdas.restore_testing.reports import (
    MAX_STATUS_MESSAGE,
    CheckOutcome,
    DrillStart,
    RestoreTestingError,
    ValidationReport,
)
from lambdas.restore_testing.validation import (
    credential_candidates,
    integrity_checker,
    validate_drill_instance,
    validate_restore_job,
)

__all__ = [
    "MAX_STATUS_MESSAGE",
    "CheckOutcome",
    "Checker",
    "ConnectionTarget",
    "Credentials",
    "DrillSettings",
    "DrillStart",
    "RestoreTestingError",
    "ValidationReport",
    "ValidatorSettings",
    "continue_replica_drill",
    "credential_candidates",
    "drill_identifier",
    "drill_restore_metadata",
    "integrity_checker",
    "make_ssl_context",
    "pending_marker_key",
    "report_key",
    "run_config_drill",
    "start_drill",
    "start_replica_drill",
    "validate_drill_instance",
    "validate_restore_job",
]
