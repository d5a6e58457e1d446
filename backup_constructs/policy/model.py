"""The backup policy as code: one environment's whole strategy as typed, validated, frozen dataclasses.

Never imports aws_cdk: the CLI, the docs generator and the synth-time checks all read the same object,
and the constructs translate it into CloudFormation. The integrity checks' schema is the runtime
contract's (:mod:`lambdas.contract.checks`), so the validator accepts every check the policy does.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from backup_constructs.policy.cron import CronError, CronSchedule, max_gap_minutes, min_gap_minutes
from backup_constructs.policy.regions import is_known_region
from lambdas.contract.checks import DEFAULT_ECOMMERCE_CHECKS, IntegrityCheck, check_unique
from lambdas.contract.errors import PolicyError
from lambdas.contract.errors import fail as _fail

# CloudWatch Logs accepts only these retention periods (days); 0 means "never expire".
CLOUDWATCH_LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
# CloudWatch keeps metrics for 15 months by itself; the retention is not configurable.
CLOUDWATCH_METRIC_RETENTION_MONTHS = 15
# Point-in-time recovery (AWS Backup continuous backup or RDS automated backups) restores to any
# second up to about five minutes ago: the transaction logs are shipped every five minutes.
PITR_RPO_MINUTES = 5
# AWS Backup requires at least this long between two scheduled backups of a rule.
MIN_BACKUP_INTERVAL_MINUTES = 60
_WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_MAINTENANCE_RE = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$"
)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_VAULT_PREFIX = "ecommerce-backup"
# A resource of a protected type that carries this tag is left out of the plan on purpose; the value
# says why (the synth summary and ``backupctl check`` list it as excluded, with the reason).
EXCLUDE_TAG_KEY = "backup-policy-exclude"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")


# Strict types for the Python API as for cdk.json ----------------------------------------------------


def check_types(obj: Any, prefix: str) -> None:
    """Refuse a field whose value is not of its declared type (``continuous="false"`` is not true, ``True``
    is not a number of hours), naming the field; turn a known enum value given as a string into the enum
    and a list into a tuple. Strings with surrounding whitespace are refused: they would reach AWS."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        checked = _checked(hints[f.name], value, f"{prefix}{f.name}")
        if checked is not value:
            object.__setattr__(obj, f.name, checked)


def _checked(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _checked(inner[0], value, where) if len(inner) == 1 else value
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            _fail(where, value, "expected a list")
        items = tuple(_checked(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        same = isinstance(value, tuple) and all(a is b for a, b in zip(items, value, strict=True))
        return value if same else items
    if isinstance(hint, type) and issubclass(hint, Enum):
        if isinstance(value, hint):
            return value
        if isinstance(value, str):
            try:
                return hint(value)
            except ValueError:
                pass
        _fail(where, value, f"allowed: {', '.join(str(m.value) for m in hint)}")
    if hint is bool:
        if not isinstance(value, bool):
            _fail(where, value, "expected true or false")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(where, value, "expected a whole number")
    elif hint is str:
        if not isinstance(value, str):
            _fail(where, value, "expected a string")
        if value != value.strip():
            _fail(where, value, "surrounding whitespace is not allowed")
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint) and not isinstance(value, hint):
        _fail(where, value, f"expected a {hint.__name__}")
    return value


class ResourceType(StrEnum):
    """Resource types AWS Backup protects, as AWS Backup names them."""

    RDS = "RDS"
    AURORA = "Aurora"
    EBS = "EBS"
    EC2 = "EC2"
    EFS = "EFS"
    DYNAMODB = "DynamoDB"
    S3 = "S3"

    @property
    def supports_continuous_backup(self) -> bool:
        return self in (ResourceType.RDS, ResourceType.AURORA, ResourceType.S3)

    @property
    def has_native_pitr(self) -> bool:
        """RDS and Aurora keep transaction logs for their own automated-backup retention; DynamoDB has
        point-in-time recovery of its own (any second of the last 1-35 days), which
        ``EnforceBackupPolicy`` turns on for every protected table."""
        return self in (ResourceType.RDS, ResourceType.AURORA, ResourceType.DYNAMODB)

    @classmethod
    def of_arn(cls, arn: str) -> ResourceType | None:
        """The resource type an ARN names, as AWS Backup counts it (None when it is not one of them)."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            return None
        service, resource = parts[2], parts[5]
        kind = resource.split("/", 1)[0].split(":", 1)[0]
        return _ARN_TYPES.get((service, kind)) or (cls.S3 if service == "s3" else None)


_ARN_TYPES = {
    ("rds", "db"): ResourceType.RDS,
    ("rds", "cluster"): ResourceType.AURORA,
    ("ec2", "volume"): ResourceType.EBS,
    ("ec2", "instance"): ResourceType.EC2,
    ("elasticfilesystem", "file-system"): ResourceType.EFS,
    ("dynamodb", "table"): ResourceType.DYNAMODB,
}


class LogRetentionMode(StrEnum):
    """How the policy's log retention applies to log groups it did not create: ``floor`` raises a shorter
    retention and never shortens a longer one (CloudWatch deletes events older than a new, shorter
    retention at once); ``exact`` sets the value either way, for a policy that wants a cap."""

    FLOOR = "floor"
    EXACT = "exact"


class VaultLockMode(StrEnum):
    GOVERNANCE = "governance"
    COMPLIANCE = "compliance"


@dataclass(frozen=True)
class BackupRule:
    """One row of the guide's backup table as an AWS Backup plan rule."""

    name: str
    purpose: str
    schedule: str
    retention_days: int
    continuous: bool = False
    copy_to_dr: bool = False
    dr_retention_days: int | None = None
    start_window_minutes: int = 60
    completion_window_minutes: int = 180

    def __post_init__(self) -> None:
        check_types(self, f"rules[{self.name}].")
        where = f"rules[{self.name}]"
        if not _NAME_RE.match(self.name):
            _fail(f"{where}.name", self.name, "allowed: 1-50 letters, digits, '.', '_' or '-'")
        cron = _schedule(f"{where}.schedule", self.schedule)
        if min_gap_minutes(cron) < MIN_BACKUP_INTERVAL_MINUTES:
            _fail(
                f"{where}.schedule",
                self.schedule,
                f"AWS Backup allows at most one backup every {MIN_BACKUP_INTERVAL_MINUTES} minutes",
            )
        if self.continuous:
            _check_range(f"{where}.retention_days", self.retention_days, 1, 35, "continuous backup")
        else:
            _check_range(f"{where}.retention_days", self.retention_days, 1, 36500, "snapshots")
        if self.start_window_minutes < 60:
            _fail(f"{where}.start_window_minutes", self.start_window_minutes, "AWS Backup needs at least 60")
        if self.completion_window_minutes <= self.start_window_minutes:
            _fail(
                f"{where}.completion_window_minutes",
                self.completion_window_minutes,
                f"must be longer than start_window_minutes ({self.start_window_minutes})",
            )
        if self.copy_to_dr:
            if self.dr_retention_days is None:
                _fail(f"{where}.dr_retention_days", None, "a rule that copies to the DR region needs a retention")
            _check_range(f"{where}.dr_retention_days", self.dr_retention_days, 1, 36500, "copies")
        elif self.dr_retention_days is not None:
            _fail(f"{where}.dr_retention_days", self.dr_retention_days, "only allowed with copy_to_dr: true")

    @property
    def cron(self) -> CronSchedule:
        return CronSchedule.parse(self.schedule)

    @property
    def interval_minutes(self) -> int:
        """The longest gap between two scheduled runs of this rule."""
        return max_gap_minutes([self.cron])


@dataclass(frozen=True)
class DatabaseBackupSpec:
    """The guide's RDS settings (backup window in UTC, retention, Multi-AZ, point-in-time recovery)."""

    backup_window: str = "02:00-04:00"
    backup_retention_days: int = 30
    pitr_days: int = 7
    multi_az: bool = True
    maintenance_window: str = "sun:04:30-sun:05:30"
    deletion_protection: bool = True

    def __post_init__(self) -> None:
        check_types(self, "database.")
        start, end = _parse_window("database.backup_window", self.backup_window)
        if (end - start) % 1440 < 30:
            _fail("database.backup_window", self.backup_window, "RDS needs a window of at least 30 minutes")
        _check_range("database.backup_retention_days", self.backup_retention_days, 1, 35, "RDS automated backups")
        _check_range("database.pitr_days", self.pitr_days, 1, 35, "point-in-time recovery")
        if self.pitr_days > self.backup_retention_days:
            _fail(
                "database.pitr_days",
                self.pitr_days,
                f"cannot exceed database.backup_retention_days ({self.backup_retention_days})",
            )
        m_start, m_end = _parse_maintenance_window(self.maintenance_window)
        if (m_end - m_start) % (7 * 1440) < 30:
            _fail("database.maintenance_window", self.maintenance_window, "RDS needs at least 30 minutes")
        for day in range(7):
            if _overlaps(start + day * 1440, end + day * 1440, m_start, m_end):
                _fail(
                    "database.maintenance_window",
                    self.maintenance_window,
                    f"must not overlap the daily backup window {self.backup_window} (RDS rejects it)",
                )


@dataclass(frozen=True)
class ConfigBackupSpec:
    """Kubernetes ConfigMaps and Secrets: exported on every deploy and on a schedule."""

    retention_days: int = 90
    on_deploy: bool = True
    schedule: str = "cron(0 */6 * * ? *)"
    refresh_interval_days: int = 7
    # Optional: the worst configuration RPO (either scope, either kind of change) the synth accepts.
    rpo_target_minutes: int | None = None
    # S3 Object Lock of the bucket and its replica: governance (privileged users may bypass it) or
    # compliance (nobody, root included, can delete or shorten a locked version before retention_days).
    object_lock_mode: VaultLockMode = VaultLockMode.GOVERNANCE

    def __post_init__(self) -> None:
        check_types(self, "config_backup.")
        _check_range("config_backup.retention_days", self.retention_days, 1, 36500, "configuration backups")
        if self.rpo_target_minutes is not None:
            _check_range(
                "config_backup.rpo_target_minutes", self.rpo_target_minutes, 1, 7 * 1440, "an RPO target", "minutes"
            )
        _schedule("config_backup.schedule", self.schedule)
        if not 1 <= self.refresh_interval_days < self.retention_days:
            _fail(
                "config_backup.refresh_interval_days",
                self.refresh_interval_days,
                f"must be at least 1 and shorter than retention_days ({self.retention_days}), "
                "or a namespace could be left without a backup",
            )


@dataclass(frozen=True)
class RestoreTestSpec:
    """Monthly restore tests and quarterly DR drills (the guide's testing section)."""

    schedule: str = "cron(0 6 1 * ? *)"
    selection_window_days: int = 7
    start_window_hours: int = 2
    validation_window_hours: int = 4
    instance_class: str = "db.t4g.medium"
    report_retention_days: int = 365
    checks: tuple[IntegrityCheck, ...] = DEFAULT_ECOMMERCE_CHECKS
    drill_schedule: str | None = None

    def __post_init__(self) -> None:
        check_types(self, "restore_testing.")
        for field_name in ("schedule", "drill_schedule"):
            value = getattr(self, field_name)
            if value is None:
                continue
            _schedule(f"restore_testing.{field_name}", value)
        _check_range("restore_testing.selection_window_days", self.selection_window_days, 1, 365, "restore testing")
        if not isinstance(self.start_window_hours, int) or not 1 <= self.start_window_hours <= 168:
            _fail("restore_testing.start_window_hours", self.start_window_hours, "allowed: 1 to 168 hours")
        if not isinstance(self.validation_window_hours, int) or not 1 <= self.validation_window_hours <= 168:
            _fail("restore_testing.validation_window_hours", self.validation_window_hours, "allowed: 1 to 168 hours")
        if not re.match(r"^db\.[a-z0-9]+\.[a-z0-9]+$", self.instance_class):
            _fail("restore_testing.instance_class", self.instance_class, "expected an RDS class like db.t4g.medium")
        _check_range("restore_testing.report_retention_days", self.report_retention_days, 1, 36500, "reports")
        check_unique(self.checks)


class RegionLossMechanism(StrEnum):
    """How a resource type's data reaches the DR region, which sets what losing the primary costs."""

    REPLICA = "replica"
    """A cross-Region read replica (RDS): asynchronous streaming, data loss = its replica lag."""
    BACKUP_REPLICATION = "backup-replication"
    """RDS cross-Region automated backups replication: point-in-time recovery in the DR region."""
    COPIES = "copies"
    """AWS Backup cross-Region copies: data loss up to the largest gap between copied backups."""


# What each mechanism can serve (AWS Backup copies serve every type AWS Backup protects).
REGION_LOSS_SUPPORT: Mapping[RegionLossMechanism, frozenset[ResourceType]] = {
    RegionLossMechanism.REPLICA: frozenset({ResourceType.RDS}),
    RegionLossMechanism.BACKUP_REPLICATION: frozenset({ResourceType.RDS}),
    RegionLossMechanism.COPIES: frozenset(ResourceType),
}


@dataclass(frozen=True)
class RegionLossChoice:
    """The mechanism that carries one resource type's data to the DR region."""

    resource_type: ResourceType
    mechanism: RegionLossMechanism

    def __post_init__(self) -> None:
        check_types(self, "region_loss.mechanisms[].")


@dataclass(frozen=True)
class RegionLossSpec:
    """The guide's DR targets for the loss of the primary region (maxima, like the in-region ones)
    and, per protected resource type, the mechanism behind them (types not named use ``copies``).
    A target of ``None`` is reported but not held: set it only where the region-loss gap is accepted."""

    rpo_target_minutes: int | None = 15
    rto_target_minutes: int | None = 60
    mechanisms: tuple[RegionLossChoice, ...] = (RegionLossChoice(ResourceType.RDS, RegionLossMechanism.REPLICA),)

    def __post_init__(self) -> None:
        check_types(self, "region_loss.")
        for name in ("rpo_target_minutes", "rto_target_minutes"):
            value = getattr(self, name)
            if value is not None:
                _check_range(f"region_loss.{name}", value, 1, 7 * 1440, "a region-loss target", "minutes")
        seen: set[ResourceType] = set()
        for index, choice in enumerate(self.mechanisms):
            where = f"region_loss.mechanisms[{index}]"
            if choice.resource_type in seen:
                _fail(f"{where}.resource_type", choice.resource_type.value, "each resource type once")
            seen.add(choice.resource_type)
            if choice.resource_type not in REGION_LOSS_SUPPORT[choice.mechanism]:
                allowed = ", ".join(
                    m.value for m, types in REGION_LOSS_SUPPORT.items() if choice.resource_type in types
                )
                _fail(
                    f"{where}.mechanism",
                    choice.mechanism.value,
                    f"allowed for {choice.resource_type.value}: {allowed}",
                )

    def mechanism_for(self, resource_type: ResourceType) -> RegionLossMechanism:
        for choice in self.mechanisms:
            if choice.resource_type is resource_type:
                return choice.mechanism
        return RegionLossMechanism.COPIES

    def index_of(self, resource_type: ResourceType) -> int | None:
        """Where ``resource_type``'s choice stands in ``mechanisms`` (for messages), if it does."""
        return next((i for i, c in enumerate(self.mechanisms) if c.resource_type is resource_type), None)


@dataclass(frozen=True)
class VaultLock:
    """AWS Backup Vault Lock. Governance mode can be removed by privileged users; compliance mode
    becomes immutable once ``changeable_for_days`` (the cooling-off period, at least 3) have passed."""

    mode: VaultLockMode = VaultLockMode.GOVERNANCE
    min_retention_days: int = 7
    max_retention_days: int = 365
    changeable_for_days: int | None = None

    def __post_init__(self) -> None:
        check_types(self, "vault_lock.")
        _check_range("vault_lock.min_retention_days", self.min_retention_days, 1, 36500, "vault lock")
        _check_range("vault_lock.max_retention_days", self.max_retention_days, 1, 36500, "vault lock")
        if self.max_retention_days < self.min_retention_days:
            _fail(
                "vault_lock.max_retention_days",
                self.max_retention_days,
                f"must be at least min_retention_days ({self.min_retention_days})",
            )
        if self.mode is VaultLockMode.COMPLIANCE:
            if self.changeable_for_days is None or self.changeable_for_days < 3:
                _fail(
                    "vault_lock.changeable_for_days",
                    self.changeable_for_days,
                    "compliance mode needs a cooling-off period of at least 3 days",
                )
        elif self.changeable_for_days is not None:
            _fail("vault_lock.changeable_for_days", self.changeable_for_days, "only allowed in compliance mode")


class IsolatedVaultKind(StrEnum):
    """Where the copy outside the account lives."""

    VAULT = "vault"
    """A backup vault in a separate backup account (cross-account copy, same region)."""
    LOGICALLY_AIR_GAPPED = "logically-air-gapped"
    """An AWS Backup logically air-gapped vault (AWS-owned key, compliance-locked by AWS)."""


# Resource types a logically air-gapped vault accepts copies of, as far as this project relies on it.
# RDS and Aurora are not among them: no AWS source this project has checked confirms that they are.
LOGICALLY_AIR_GAPPED_TYPES = frozenset(
    {ResourceType.EBS, ResourceType.EC2, ResourceType.EFS, ResourceType.DYNAMODB, ResourceType.S3}
)


@dataclass(frozen=True)
class AccountIsolationSpec:
    """An immutable copy outside the account's reach: a snapshot on ``schedule`` (a rule set of its own,
    apart from the DR copies) copied, in the same region, into a compliance-locked vault of a separate
    backup account (or a logically air-gapped vault) and kept there ``retention_days``. Against a
    compromised account: its admins have no credentials in the backup account, and the lock keeps even
    that account's admins from deleting a copy early."""

    schedule: str = "cron(0 4 * * ? *)"
    retention_days: int = 35
    vault_kind: IsolatedVaultKind = IsolatedVaultKind.VAULT
    vault_name: str | None = None
    lock_min_retention_days: int = 7
    lock_max_retention_days: int = 365
    changeable_for_days: int = 3
    start_window_minutes: int = 60
    completion_window_minutes: int = 240

    def __post_init__(self) -> None:
        check_types(self, "account_isolation.")
        where = "account_isolation"
        # The same checks as a plan rule's (schedule, windows, retention).
        try:
            BackupRule(
                name="isolated-copy",
                purpose="copy outside the account",
                schedule=self.schedule,
                retention_days=self.retention_days,
                start_window_minutes=self.start_window_minutes,
                completion_window_minutes=self.completion_window_minutes,
            )
        except PolicyError as err:
            raise PolicyError(str(err).replace("rules[isolated-copy]", where)) from None
        _check_range(f"{where}.lock_min_retention_days", self.lock_min_retention_days, 1, 36500, "vault lock")
        if not self.lock_min_retention_days <= self.retention_days <= self.lock_max_retention_days:
            _fail(
                f"{where}.retention_days",
                self.retention_days,
                f"must lie within the isolated vault's lock ({self.lock_min_retention_days}-"
                f"{self.lock_max_retention_days} d); AWS Backup fails copies outside it",
            )
        if self.changeable_for_days < 3:
            _fail(
                f"{where}.changeable_for_days",
                self.changeable_for_days,
                "the isolated vault is compliance-locked: a cooling-off period of at least 3 days",
            )
        if self.vault_name is not None and not re.match(r"^[a-zA-Z0-9\-_]{2,50}$", self.vault_name):
            _fail(f"{where}.vault_name", self.vault_name, "AWS Backup vault names are 2-50 letters, digits, '-' or '_'")

    @property
    def interval_minutes(self) -> int:
        return max_gap_minutes([CronSchedule.parse(self.schedule)])


@dataclass(frozen=True)
class SelectionTag:
    """The tag that puts a resource under the backup plan."""

    key: str = "backup-policy"
    value: str = "production"

    def __post_init__(self) -> None:
        check_types(self, "selection_tag.")
        if not 1 <= len(self.key) <= 128 or self.key.lower().startswith("aws:"):
            _fail("selection_tag.key", self.key, "a tag key of 1-128 characters not starting with 'aws:' (reserved)")
        if len(self.value) > 256:
            _fail("selection_tag.value", self.value, "a tag value of at most 256 characters")


@dataclass(frozen=True)
class BackupPolicy:
    """One environment's whole backup and restore strategy."""

    environment: str
    rules: tuple[BackupRule, ...]
    database: DatabaseBackupSpec = field(default_factory=DatabaseBackupSpec)
    log_retention_days: int = 90
    log_retention_mode: LogRetentionMode = LogRetentionMode.FLOOR
    metric_retention_months: int = CLOUDWATCH_METRIC_RETENTION_MONTHS
    config_backup: ConfigBackupSpec = field(default_factory=ConfigBackupSpec)
    rpo_target_minutes: int = 15
    rto_target_minutes: int = 60
    dr_region: str | None = None
    # Default (None): names derived from the environment, so two environments in one account and
    # region never share a vault (vault names are unique per account and region).
    vault_name: str | None = None
    dr_vault_name: str | None = None
    vault_lock: VaultLock | None = None
    selection_tag: SelectionTag = field(default_factory=SelectionTag)
    protected_resource_types: tuple[ResourceType, ...] = (ResourceType.RDS,)
    restore_testing: RestoreTestSpec = field(default_factory=RestoreTestSpec)
    region_loss: RegionLossSpec | None = None
    account_isolation: AccountIsolationSpec | None = None

    def __post_init__(self) -> None:
        check_types(self, "")
        if not _NAME_RE.match(self.environment):
            _fail("environment", self.environment, "allowed: 1-50 letters, digits, '.', '_' or '-'")
        if not self.rules:
            _fail("rules", self.rules, "a policy needs at least one backup rule")
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            _fail("rules", names, "rule names must be unique")
        if self.log_retention_days not in CLOUDWATCH_LOG_RETENTION_DAYS:
            _fail(
                "log_retention_days",
                self.log_retention_days,
                f"CloudWatch Logs accepts {', '.join(map(str, CLOUDWATCH_LOG_RETENTION_DAYS))}",
            )
        if self.metric_retention_months != CLOUDWATCH_METRIC_RETENTION_MONTHS:
            _fail(
                "metric_retention_months",
                self.metric_retention_months,
                f"CloudWatch keeps metrics {CLOUDWATCH_METRIC_RETENTION_MONTHS} months and this is not "
                "configurable; archive metrics with a metric stream to keep them longer",
            )
        _check_range("rpo_target_minutes", self.rpo_target_minutes, 1, 7 * 1440, "an RPO target", "minutes")
        _check_range("rto_target_minutes", self.rto_target_minutes, 1, 7 * 1440, "an RTO target", "minutes")
        if self.dr_region is not None and not (_REGION_RE.match(self.dr_region) and is_known_region(self.dr_region)):
            _fail("dr_region", self.dr_region, "expected an AWS region name such as 'us-west-2'")
        for name_field in ("vault_name", "dr_vault_name"):
            value = getattr(self, name_field)
            if value is not None and not (isinstance(value, str) and re.match(r"^[a-zA-Z0-9\-_]{2,50}$", value)):
                _fail(name_field, value, "AWS Backup vault names are 2-50 letters, digits, '-' or '_'")
        if not self.protected_resource_types:
            _fail("protected_resource_types", (), "name at least one resource type")
        copying = [r for r in self.rules if r.copy_to_dr]
        if copying and self.dr_region is None:
            _fail(
                f"rules[{copying[0].name}].copy_to_dr",
                True,
                "copying needs dr_region to be set",
            )
        if self.vault_lock is not None:
            self._check_vault_lock(self.vault_lock)
        if self.restore_testing.drill_schedule is not None and self.dr_region is None:
            _fail("restore_testing.drill_schedule", self.restore_testing.drill_schedule, "DR drills need dr_region")
        if self.region_loss is not None:
            if self.dr_region is None:
                _fail("region_loss", "set", "region-loss targets need dr_region (or remove region_loss)")
            uses_backup_replication = any(
                c.mechanism is RegionLossMechanism.BACKUP_REPLICATION for c in self.region_loss.mechanisms
            )
            if uses_backup_replication and self.continuous_rules:
                index = next(
                    i
                    for i, c in enumerate(self.region_loss.mechanisms)
                    if c.mechanism is RegionLossMechanism.BACKUP_REPLICATION
                )
                _fail(
                    f"region_loss.mechanisms[{index}].mechanism",
                    RegionLossMechanism.BACKUP_REPLICATION.value,
                    "AWS documents no combination of RDS cross-Region automated backups replication with an "
                    f"AWS Backup continuous rule ({self.continuous_rules[0].name}) managing the instance's "
                    "automated backups, so it is not used with one; allowed here: replica, copies",
                )
        if self.account_isolation is not None:
            self._check_account_isolation(self.account_isolation)

    def _check_account_isolation(self, spec: AccountIsolationSpec) -> None:
        if spec.vault_kind is IsolatedVaultKind.LOGICALLY_AIR_GAPPED:
            refused = [t.value for t in self.protected_resource_types if t not in LOGICALLY_AIR_GAPPED_TYPES]
            if refused:
                _fail(
                    "account_isolation.vault_kind",
                    spec.vault_kind.value,
                    f"a logically air-gapped vault is not documented to accept {', '.join(refused)}; "
                    f"allowed for these protected types: {IsolatedVaultKind.VAULT.value}",
                )

    @property
    def isolated_vault_name(self) -> str | None:
        """The vault outside the account that the isolated copies go to (``None`` without one)."""
        if self.account_isolation is None:
            return None
        return self.account_isolation.vault_name or f"{self.backup_vault_name}-isolated"

    def region_loss_mechanism(self, resource_type: ResourceType) -> RegionLossMechanism | None:
        """The mechanism carrying ``resource_type`` to the DR region (``copies`` unless the region-loss
        part names another); ``None`` without a DR region."""
        if self.dr_region is None:
            return None
        if self.region_loss is None:
            return RegionLossMechanism.COPIES
        return self.region_loss.mechanism_for(resource_type)

    def restore_test_targets(self, kind: str) -> tuple[int, int]:
        """(RPO, RTO) in minutes that a restore test of ``kind`` is held to: the DR drill measures
        the region-loss targets (where set), the monthly test the in-region ones."""
        if kind == "drill" and self.region_loss is not None:
            return (
                self.region_loss.rpo_target_minutes or self.rpo_target_minutes,
                self.region_loss.rto_target_minutes or self.rto_target_minutes,
            )
        return self.rpo_target_minutes, self.rto_target_minutes

    @property
    def wants_replica(self) -> bool:
        """Whether the database gets a cross-Region read replica."""
        return self.region_loss_mechanism(ResourceType.RDS) is RegionLossMechanism.REPLICA

    def _check_vault_lock(self, lock: VaultLock) -> None:
        retentions = [(r.retention_days, f"rules[{r.name}].retention_days") for r in self.rules]
        retentions += [
            (r.dr_retention_days, f"rules[{r.name}].dr_retention_days")
            for r in self.rules
            if r.dr_retention_days is not None
        ]
        shortest, shortest_where = min(retentions, key=lambda item: item[0])
        if lock.min_retention_days > shortest:
            _fail(
                "vault_lock.min_retention_days",
                lock.min_retention_days,
                f"must not exceed the shortest retention it locks ({shortest_where} = {shortest}); "
                "AWS Backup fails the jobs of rules that keep recovery points for less",
            )
        longest, longest_where = max(retentions, key=lambda item: item[0])
        if lock.max_retention_days < longest:
            _fail(
                "vault_lock.max_retention_days",
                lock.max_retention_days,
                f"must be at least the longest retention it locks ({longest_where} = {longest})",
            )

    # Derived views -------------------------------------------------------------------------------

    @property
    def backup_vault_name(self) -> str:
        """The primary vault: ``vault_name``, or ``ecommerce-backup-<environment>``."""
        return self.vault_name or f"{DEFAULT_VAULT_PREFIX}-{self.environment}"

    @property
    def dr_backup_vault_name(self) -> str:
        """The DR region's copy-target vault: ``dr_vault_name``, or the primary vault's name + ``-dr``."""
        return self.dr_vault_name or f"{self.backup_vault_name}-dr"

    @property
    def continuous_rules(self) -> tuple[BackupRule, ...]:
        return tuple(r for r in self.rules if r.continuous)

    @property
    def snapshot_rules(self) -> tuple[BackupRule, ...]:
        return tuple(r for r in self.rules if not r.continuous)

    @property
    def backup_manages_rds_automated_backups(self) -> bool:
        """When a continuous rule covers RDS, AWS Backup owns the instance's automated backups."""
        return bool(self.continuous_rules)

    @property
    def rds_automated_backup_retention_days(self) -> int:
        """The retention an RDS instance must carry for its own automated backups.

        With a continuous rule, AWS Backup sets the instance's retention to that rule's retention
        (the PITR window) and the 30-day snapshots come from the daily rule; the template carries
        the same value so CloudFormation and AWS Backup never fight over it. Without one, RDS keeps
        its automated backups (and with them PITR) for the guide's full retention.
        """
        if self.continuous_rules:
            return max(r.retention_days for r in self.continuous_rules)
        return self.database.backup_retention_days

    @property
    def log_retention_label(self) -> str:
        return f"{self.log_retention_days} days"

    # Presets and context ------------------------------------------------------------------------

    @classmethod
    def production(cls) -> BackupPolicy:
        """The guide's production strategy: daily full 30 d, hourly 7 d, continuous 7 d, DR copies."""
        from backup_constructs.policy.presets import production

        return production()

    @classmethod
    def staging(cls) -> BackupPolicy:
        """The guide's staging strategy: a daily snapshot, logs kept 30 days, no DR region."""
        from backup_constructs.policy.presets import staging

        return staging()

    @classmethod
    def preset(cls, name: str) -> BackupPolicy:
        from backup_constructs.policy.presets import preset

        return preset(name)

    @classmethod
    def from_context(cls, overrides: Mapping[str, Any] | None, *, base: BackupPolicy | None = None) -> BackupPolicy:
        """Apply one environment's ``policy`` object from cdk.json over ``base`` (default: production).

        Keys may be camelCase or snake_case. ``rules`` may be a list (replaces every rule) or an
        object keyed by rule name (changes those rules). Unknown keys are rejected.
        """
        from backup_constructs.policy.context import apply_overrides

        return apply_overrides(overrides, base=base or cls.production())


# Small validators --------------------------------------------------------------------------------


def _schedule(where: str, text: str) -> CronSchedule:
    """An AWS cron expression that parses and fires at all (``cron(0 2 31 2 ? *)`` is valid for AWS and
    never runs); a rare one (29 February) passes, and the RPO check then judges its gap."""
    try:
        cron = CronSchedule.parse(text)
    except CronError as err:
        _fail(where, text, str(err))
    if not cron.fire_minutes():
        _fail(where, text, "never fires: no day matches both its day-of-month (or day-of-week) and month")
    return cron


def _check_range(where: str, value: Any, low: int, high: int, what: str, unit: str = "days") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(where, value, f"{what}: expected whole {unit} from {low} to {high}")


def _parse_window(where: str, text: str) -> tuple[int, int]:
    match = _WINDOW_RE.match(text) if isinstance(text, str) else None
    if not match:
        _fail(where, text, "expected 'HH:MM-HH:MM' in UTC, e.g. '02:00-04:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return h1 * 60 + m1, (h2 * 60 + m2) if (h2 * 60 + m2) > (h1 * 60 + m1) else (h2 * 60 + m2) + 1440


def _parse_maintenance_window(text: str) -> tuple[int, int]:
    match = _MAINTENANCE_RE.match(text) if isinstance(text, str) else None
    if not match:
        _fail(
            "database.maintenance_window",
            text,
            "expected 'ddd:HH:MM-ddd:HH:MM' in UTC with ddd one of mon..sun, e.g. 'sun:04:30-sun:05:30'",
        )
    d1, h1, m1, d2, h2, m2 = match.groups()
    start = _WEEKDAYS.index(d1) * 1440 + int(h1) * 60 + int(m1)
    end = _WEEKDAYS.index(d2) * 1440 + int(h2) * 60 + int(m2)
    return start, end if end > start else end + 7 * 1440


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    week = 7 * 1440
    return any(a_start < b_end + k and b_start + k < a_end for k in (-week, 0, week))


def window_minutes(text: str) -> tuple[int, int]:
    """Start and end of an 'HH:MM-HH:MM' window in minutes after midnight (end may pass 1440)."""
    return _parse_window("window", text)


__all__ = [
    "CLOUDWATCH_LOG_RETENTION_DAYS",
    "CLOUDWATCH_METRIC_RETENTION_MONTHS",
    "DEFAULT_ECOMMERCE_CHECKS",
    "LOGICALLY_AIR_GAPPED_TYPES",
    "PITR_RPO_MINUTES",
    "REGION_LOSS_SUPPORT",
    "AccountIsolationSpec",
    "BackupPolicy",
    "BackupRule",
    "ConfigBackupSpec",
    "DatabaseBackupSpec",
    "IntegrityCheck",
    "IsolatedVaultKind",
    "PolicyError",
    "RegionLossChoice",
    "RegionLossMechanism",
    "RegionLossSpec",
    "ResourceType",
    "RestoreTestSpec",
    "SelectionTag",
    "VaultLock",
    "VaultLockMode",
]
