"""Backup and restore of a namespace's ConfigMaps and Secrets to S3 (Secrets SOPS-encrypted with KMS).

S3 layout (one prefix per backup, ``backup-id`` = UTC ``YYYYMMDDTHHMMSSZ``)::

    s3://<bucket>/<cluster>/<namespace>/<backup-id>/configmaps.yaml    v1 List, plain
    s3://<bucket>/<cluster>/<namespace>/<backup-id>/secrets.sops.yaml  v1 List, SOPS (every sops key a recipient)
    s3://<bucket>/<cluster>/<namespace>/<backup-id>/manifest.json      object digests + file sha256, written LAST
    s3://<bucket>/<cluster>/<namespace>/last-run.json                  marker of the latest run (overwritten)

Every backup file is written with ``IfNoneMatch="*"``: an export owns a backup id once its first file
is stored, so concurrent exports never mix files (the loser moves on to the next second's id). A backup
without ``manifest.json`` is incomplete: it is never listed, compared against or restored.

Every export ends with one EventBridge event (``Config Backup Completed`` / ``Config Backup Failed``).
Secret values never leave this module in plain text: logs, errors, events and markers carry counts,
names and ids only.
"""

from lambdas.config_backup.export import export_namespace, record_failure
from lambdas.config_backup.model import (
    BackupFiles,
    BackupIntegrityError,
    BackupNotFoundError,
    BackupRef,
    ConfigBackupError,
    ExportResult,
    KmsFactory,
    NamespaceNotFoundError,
    ObjectResult,
    RestartResult,
    RestoreError,
    RestoreReport,
    SelectionError,
)
from lambdas.config_backup.restore import restore_namespace
from lambdas.config_backup.storage import choose_backup, list_backups
from lambdas.contract.layout import CONFIGMAPS_FILE, MANIFEST_FILE, MARKER_FILE, SECRETS_FILE
from lambdas.contract.settings import FIELD_MANAGER, ExportSettings, RestoreSettings

__all__ = [
    "CONFIGMAPS_FILE",
    "FIELD_MANAGER",
    "MANIFEST_FILE",
    "MARKER_FILE",
    "SECRETS_FILE",
    "BackupFiles",
    "BackupIntegrityError",
    "BackupNotFoundError",
    "BackupRef",
    "ConfigBackupError",
    "ExportResult",
    "ExportSettings",
    "KmsFactory",
    "NamespaceNotFoundError",
    "ObjectResult",
    "RestartResult",
    "RestoreError",
    "RestoreReport",
    "RestoreSettings",
    "SelectionError",
    "choose_backup",
    "export_namespace",
    "list_backups",
    "record_failure",
    "restore_namespace",
]
