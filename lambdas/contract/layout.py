"""Where things are stored: the configuration bucket's layout, backup ids, restore-test report keys,
and the database user the validator logs in as."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

# s3://<bucket>/<cluster>/<namespace>/<backup-id>/{configmaps.yaml, secrets.sops.yaml, manifest.json}
# and s3://<bucket>/<cluster>/<namespace>/last-run.json (the latest run, overwritten).
CONFIGMAPS_FILE: Final = "configmaps.yaml"
SECRETS_FILE: Final = "secrets.sops.yaml"
MANIFEST_FILE: Final = "manifest.json"
MARKER_FILE: Final = "last-run.json"

BACKUP_ID_FORMAT: Final = "%Y%m%dT%H%M%SZ"
BACKUP_ID_PATTERN: Final = r"\d{8}T\d{6}Z"
_BACKUP_ID_RE: Final = re.compile(BACKUP_ID_PATTERN)

REPORT_PREFIX: Final = "restore-tests"
PENDING_DRILL_PREFIX: Final = f"{REPORT_PREFIX}/drill/pending/"

# The read-only database user the validator connects as with IAM authentication.
VALIDATOR_USER: Final = "backup_validator"
# The heartbeat: a row a minute in a table of its own, so every copy of the database says how fresh it is.
HEARTBEAT_USER: Final = "backup_heartbeat"
HEARTBEAT_SCHEMA: Final = "backup_heartbeat"
HEARTBEAT_TABLE: Final = f"{HEARTBEAT_SCHEMA}.beats"
HEARTBEAT_COLUMN: Final = "beat_at"


def backup_prefix(cluster: str, namespace: str) -> str:
    return f"{cluster}/{namespace}/"


def backup_id_for(moment: datetime) -> str:
    """The backup id of a moment: its UTC time as ``YYYYMMDDTHHMMSSZ`` (timezone-aware required)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(UTC).strftime(BACKUP_ID_FORMAT)


def parse_backup_id(text: str) -> datetime:
    """Parse a ``YYYYMMDDTHHMMSSZ`` backup id into an aware UTC datetime."""
    if not _BACKUP_ID_RE.fullmatch(text):
        raise ValueError(f"invalid backup id {text!r}: expected UTC time as YYYYMMDDTHHMMSSZ, e.g. 20240131T235959Z")
    try:
        return datetime.strptime(text, BACKUP_ID_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"invalid backup id {text!r}: expected a real UTC time as YYYYMMDDTHHMMSSZ") from exc


def is_backup_id(text: str) -> bool:
    try:
        parse_backup_id(text)
    except ValueError:
        return False
    return True


def report_key(kind: str, moment: datetime, restore_job_id: str, extension: str) -> str:
    moment = moment.astimezone(UTC)
    return f"{REPORT_PREFIX}/{kind}/{moment:%Y}/{moment:%m}/{restore_job_id}.{extension}"


def pending_marker_key(restore_job_id: str) -> str:
    return f"{PENDING_DRILL_PREFIX}{restore_job_id}.json"
