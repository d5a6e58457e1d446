"""The guide's strategy document, regenerated from the policy (``backupctl report``).

Pure Python, no aws_cdk: the tables come from the same policy objects that drive the constructs,
so the document cannot drift from what is deployed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from backup_constructs.policy import CLOUDWATCH_METRIC_RETENTION_MONTHS, BackupPolicy, ResourceType
from backup_constructs.policy.cron import CronSchedule, max_gap_minutes
from backup_constructs.policy.immutability import immutability
from backup_constructs.policy.rpo import (
    RpoAssessment,
    achieved_account_loss_rpo,
    achieved_dr_rpo,
    achieved_rpo,
    config_rpo,
    format_minutes,
    rto_paths,
)

FORMATS = ("markdown", "text")


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _frequency(schedule: str) -> str:
    minutes = max_gap_minutes([CronSchedule.parse(schedule)])
    names = {60: "hourly", 1440: "daily", 7 * 1440: "weekly"}
    if 28 * 1440 <= minutes <= 31 * 1440:
        return "monthly"
    if 89 * 1440 <= minutes <= 92 * 1440:
        return "quarterly"
    return names.get(minutes, f"every {format_minutes(minutes)}")


def strategy_tables(policy: BackupPolicy) -> list[Table]:
    """Every table of one environment's strategy, in document order."""
    env = policy.environment
    types_rows = [
        (
            rule.name,
            "continuous (point-in-time)" if rule.continuous else _frequency(rule.schedule),
            f"{rule.retention_days} days",
            rule.purpose,
            f"{policy.dr_region}, {rule.dr_retention_days} days" if rule.copy_to_dr else "-",
        )
        for rule in policy.rules
    ]
    cfg = policy.config_backup
    types_rows.append(
        (
            "configuration",
            ("on every deploy + " if cfg.on_deploy else "") + _frequency(cfg.schedule),
            f"{cfg.retention_days} days",
            "system configuration (Kubernetes ConfigMaps and Secrets)",
            f"{policy.dr_region} (replicated)" if policy.dr_region else "-",
        )
    )
    db = policy.database
    database_rows = (
        ("backup window (UTC)", db.backup_window),
        ("retention", f"{db.backup_retention_days} days"),
        ("point-in-time recovery", f"{db.pitr_days} days"),
        ("Multi-AZ", "enabled" if db.multi_az else "disabled"),
        ("maintenance window (UTC)", db.maintenance_window),
        ("deletion protection", "enabled" if db.deletion_protection else "disabled"),
        (
            "automated backups on the instance",
            f"{policy.rds_automated_backup_retention_days} days"
            + (" (managed by AWS Backup continuous backup)" if policy.backup_manages_rds_automated_backups else ""),
        ),
    )
    retention_rows = (
        ("logs (CloudWatch Logs)", f"{policy.log_retention_days} days"),
        (
            "metrics (CloudWatch)",
            f"{CLOUDWATCH_METRIC_RETENTION_MONTHS} months (CloudWatch's fixed retention; opt-in archive for longer)",
        ),
        ("restore-test and audit reports", f"{policy.restore_testing.report_retention_days} days"),
    )
    rpo_rows = []
    for resource_type in policy.protected_resource_types:
        achieved = achieved_rpo(policy, resource_type)
        rpo_rows.append(_rpo_row("in-region", achieved))
        dr = achieved_dr_rpo(policy, resource_type)
        if dr is not None:
            rpo_rows.append(_rpo_row("region loss", dr))
        isolated = achieved_account_loss_rpo(policy, resource_type)
        if isolated is not None:
            rpo_rows.append(_rpo_row("account loss", isolated))
    config_rows = tuple((c.scope, c.change, format_minutes(c.worst_case_minutes), c.how) for c in config_rpo(policy))
    spec = policy.restore_testing
    rto_rows = (
        *(
            (
                f"{path.scope} target",
                (f"< {format_minutes(path.target_minutes)}" if path.target_minutes else "not held")
                + f": {path.steps}; measured by {path.measured_by}",
            )
            for path in rto_paths(policy)
        ),
        (
            "monthly restore test",
            f"{_frequency(spec.schedule)} ({spec.schedule}): latest recovery point within {spec.selection_window_days} "
            f"days restored to {spec.instance_class}, single-AZ, isolated; measured restore time recorded",
        ),
        (
            "quarterly DR drill",
            f"{_frequency(spec.drill_schedule)} ({spec.drill_schedule}): "
            + (
                f"a snapshot of the read replica in {policy.dr_region} restored as a new instance"
                if policy.wants_replica
                else f"the newest copy in {policy.dr_region} restored"
            )
            + ", data validated, region-loss RPO (newest heartbeat) and RTO recorded; fails on failed checks "
            "or above a target"
            if spec.drill_schedule
            else "not configured",
        ),
        ("evidence", "RestoreTimeMinutes metric and alarm; Audit Manager RESTORE_TIME_FOR_RESOURCES_MEET_TARGET"),
        ("integrity checks", ", ".join(c.name for c in spec.checks)),
    )
    return [
        Table(f"Backup types ({env})", ("type", "frequency", "retention", "purpose", "copy to DR"), tuple(types_rows)),
        Table(f"Database ({env})", ("setting", "value"), database_rows),
        Table(f"Logs, metrics and reports ({env})", ("data", "kept"), retention_rows),
        Table(f"Immutability ({env})", ("what", "how it is locked"), immutability(policy)),
        Table(
            f"RPO per protected resource type, in-region, after losing the primary region and the account ({env})",
            ("resource", "scope", "achieved", "target", "verdict", "how"),
            tuple(rpo_rows),
        ),
        Table(
            f"Configuration RPO ({env})",
            ("scope", "change", "worst case", "how"),
            config_rows,
        ),
        Table(f"RTO and how it is proven ({env})", ("item", "value"), rto_rows),
    ]


def _markdown(table: Table) -> list[str]:
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [f"### {table.title}", "", row(table.header), row(["---"] * len(table.header)), *map(row, table.rows), ""]


def _text(table: Table) -> list[str]:
    widths = [max(len(r[i]) for r in (table.header, *table.rows)) for i in range(len(table.header))]

    def row(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [
        table.title,
        "=" * len(table.title),
        row(table.header),
        row(["-" * w for w in widths]),
        *map(row, table.rows),
        "",
    ]


def _rpo_row(scope: str, a: RpoAssessment) -> tuple[str, ...]:
    return (
        a.resource_type.value,
        scope,
        format_minutes(a.worst_case_minutes),
        format_minutes(a.target_minutes) if a.target_minutes is not None else "not held",
        "meets" if a.meets_target else "MISSES",
        a.mechanism,
    )


def mermaid_diagram(policy: BackupPolicy) -> list[str]:
    """What is protected where, as a Mermaid flowchart (GitHub renders it): each store with its retention,
    each path with its worst-case RPO, all from the policy."""
    env = policy.environment
    rds = ResourceType.RDS
    in_region = achieved_rpo(policy, rds)
    retention = ", ".join(f"{r.name} {r.retention_days} d" for r in policy.rules)
    lines = [
        "```mermaid",
        "flowchart LR",
        f'  db[("database ({env})")]',
        f'  vault["vault {policy.backup_vault_name}<br/>{retention}"]',
        f'  db -- "backups, RPO {format_minutes(in_region.worst_case_minutes)}" --> vault',
    ]
    if policy.dr_region:
        copied = ", ".join(f"{r.name} {r.dr_retention_days} d" for r in policy.rules if r.copy_to_dr)
        lines.append(f'  dr["DR vault {policy.dr_backup_vault_name} ({policy.dr_region})<br/>{copied or "no copies"}"]')
        lines.append('  vault -- "copies" --> dr')
        dr_rpo = achieved_dr_rpo(policy, rds)
        if policy.wants_replica and dr_rpo is not None:
            lines.append(f'  replica[("read replica ({policy.dr_region})")]')
            lines.append(f'  db -- "replication, RPO {format_minutes(dr_rpo.worst_case_minutes)}" --> replica')
    isolated = achieved_account_loss_rpo(policy, rds)
    if isolated is not None and policy.account_isolation is not None:
        spec = policy.account_isolation
        lines.append(
            f'  iso["{policy.isolated_vault_name} (backup account)<br/>{spec.retention_days} d, compliance lock"]'
        )
        lines.append(f'  vault -- "daily copy, RPO {format_minutes(isolated.worst_case_minutes)}" --> iso')
    config = policy.config_backup
    rows = {(c.scope, c.change): c for c in config_rpo(policy)}
    deploy = rows.get(("in-region", "through a deploy"))
    lines.append('  k8s(["Kubernetes ConfigMaps and Secrets"])')
    lines.append(
        f'  bucket["configuration bucket<br/>{config.retention_days} d, Object Lock {config.object_lock_mode.value}"]'
    )
    label = f"export, RPO {format_minutes(deploy.worst_case_minutes)} on deploy" if deploy else "export"
    lines.append(f'  k8s -- "{label}" --> bucket')
    if policy.dr_region:
        lines.append(f'  cfgdr["configuration replica ({policy.dr_region})<br/>{config.retention_days} d"]')
        lines.append('  bucket -- "S3 replication (RTC)" --> cfgdr')
    lines += ["```", ""]
    return lines


def render_report(policies: Sequence[BackupPolicy], fmt: str = "markdown") -> str:
    """The strategy document for ``policies`` (one section per environment)."""
    if fmt not in FORMATS:
        raise ValueError(f"format: got {fmt!r}; allowed: {', '.join(FORMATS)}")
    render = _markdown if fmt == "markdown" else _text
    lines: list[str] = []
    if fmt == "markdown":
        lines += [
            "# Backup and restore strategy",
            "",
            "Generated by `backupctl report` from the backup policy; do not edit by hand.",
            "",
        ]
    for policy in policies:
        if fmt == "markdown":
            lines += [f"## {policy.environment}", "", f"### What is protected where ({policy.environment})", ""]
            lines += mermaid_diagram(policy)
        for table in strategy_tables(policy):
            lines += render(table)
    return "\n".join(lines).rstrip() + "\n"
