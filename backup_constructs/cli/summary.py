"""The human summary printed after a synth: per environment, what was built and what the policy
achieves against its targets. Reads cdk.json and the cloud assembly; no aws_cdk import."""

from __future__ import annotations

from pathlib import Path

from backup_constructs.compliance import Assembly
from backup_constructs.policy.environments import EnvironmentConfig
from backup_constructs.policy.immutability import immutability
from backup_constructs.policy.rpo import (
    achieved_account_loss_rpo,
    achieved_dr_rpo,
    achieved_rpo,
    config_rpo,
    format_minutes,
    rto_paths,
)


def assembly_stacks(assembly: Assembly) -> dict[str, dict[str, object]]:
    """Stack name -> {account, region, resources, types} of a cloud assembly."""
    out: dict[str, dict[str, object]] = {}
    for stack in assembly.stacks:
        resources = [r.type for r in stack.resources()]
        out[stack.name] = {
            "account": stack.account,
            "region": stack.region,
            "resources": len(resources),
            "types": sorted(set(resources)),
        }
    return out


def environment_summary(
    config: EnvironmentConfig, stacks: dict[str, dict[str, object]], assembly: Assembly | None = None
) -> list[str]:
    policy = config.policy
    db = policy.database
    lines = [
        f"== {config.name} ({config.account}, {config.region}"
        + (f", DR {policy.dr_region})" if policy.dr_region else ")")
    ]
    mine = {n: s for n, s in stacks.items() if n.startswith(config.stack_name(""))}
    lines.append("  stacks:")
    for name, info in mine.items():
        # The backup account's and the management account's stacks are deployed with their own credentials.
        other = (
            f"  (account {info['account']}, deployed with its credentials)" if info["account"] != config.account else ""
        )
        lines.append(f"    {name:<40} {info['region']:<12} {info['resources']:>3} resources{other}")
    scp = assembly.directory / f"{config.name}-backup-protection-scp.json" if assembly is not None else None
    if scp is not None and scp.is_file():
        lines.append(
            f"  service control policy: {scp} ({len(scp.read_text(encoding='utf-8').strip())} of 5120 characters)"
        )
    if assembly is not None and mine:
        lines += _protected_resources(config, assembly, list(mine))
    lines.append("  backup rules (AWS Backup):")
    for rule in policy.rules:
        kind = "continuous (PITR)" if rule.continuous else "snapshot"
        copy = f", copy to {policy.dr_region} kept {rule.dr_retention_days} d" if rule.copy_to_dr else ""
        lines.append(
            f"    {rule.name:<20} {kind:<18} every {format_minutes(rule.interval_minutes):<5} "
            f"kept {rule.retention_days} d{copy}  [{rule.purpose}]"
        )
    lines.append("  immutability:")
    lines += [f"    {what}: {how}" for what, how in immutability(policy)]
    lines.append(
        f"  database: window {db.backup_window} UTC, retention {db.backup_retention_days} d, "
        f"PITR {db.pitr_days} d, Multi-AZ {'on' if db.multi_az else 'off'}, maintenance "
        f"{db.maintenance_window}, automated-backup retention on the instance "
        f"{policy.rds_automated_backup_retention_days} d"
        + (" (managed by AWS Backup continuous backup)" if policy.backup_manages_rds_automated_backups else "")
    )
    lines.append(
        f"  logs: kept {policy.log_retention_days} d; metrics: {policy.metric_retention_months} months "
        "(CloudWatch's fixed retention; archive for longer: " + ("on)" if config.metric_archive else "off, opt-in)")
    )
    cfg = policy.config_backup
    lines.append(
        f"  kubernetes config: kept {cfg.retention_days} d, on deploy {'yes' if cfg.on_deploy else 'no'}, "
        f"schedule {cfg.schedule}"
    )
    lines.append("  RPO (worst case vs target), in-region, after losing the primary region and the account:")
    for resource_type in policy.protected_resource_types:
        rows = [("in-region", achieved_rpo(policy, resource_type))]
        dr = achieved_dr_rpo(policy, resource_type)
        if dr is not None:
            rows.append((f"losing {config.region}", dr))
        isolated = achieved_account_loss_rpo(policy, resource_type)
        if isolated is not None:
            rows.append(("losing the account", isolated))
        for scope, a in rows:
            target = format_minutes(a.target_minutes) if a.target_minutes is not None else "none"
            verdict = "meets" if a.meets_target else "MISSES"
            if a.target_minutes is None:
                verdict = "reported, not held"
            lines.append(
                f"    {resource_type.value:<8} {scope:<20} {format_minutes(a.worst_case_minutes):>7} "
                f"(target {target}) {verdict}  via {a.mechanism}"
            )
    lines.append("  RTO (target; how service comes back; what measures it):")
    for path in rto_paths(policy):
        target = format_minutes(path.target_minutes) if path.target_minutes is not None else "none"
        lines.append(f"    {path.scope:<12} target {target}: {path.steps}  [{path.measured_by}]")
    lines.append("  configuration RPO (worst case):")
    for c in config_rpo(policy):
        lines.append(f"    {c.scope:<12} {c.change:<17} {format_minutes(c.worst_case_minutes):>7}  {c.how}")
    return lines


def _protected_resources(config: EnvironmentConfig, assembly: Assembly, stacks: list[str]) -> list[str]:
    """The stateful resources of the protected types: how many the plan selects, which are excluded and
    why, and which are neither (``backupctl check`` says more)."""
    from backup_constructs.compliance import PolicyGate

    findings = [f for f in PolicyGate(config.policy, assembly, stacks).findings() if f.kind == "resource"]
    mine = [f for f in findings if f.status not in ("not-protected", "replica")]
    selected = [f for f in mine if f.facts.get("selectedBy") and f.status != "excluded"]
    excluded = [f for f in mine if f.status == "excluded"]
    unselected = [f for f in mine if not f.facts.get("selectedBy") and f.status != "excluded"]
    types = ", ".join(t.value for t in config.policy.protected_resource_types)
    lines = [f"  protected resources ({types}): {len(selected)} selected by the plan, {len(excluded)} excluded"]
    lines += [f"    excluded: {f.path} ({f.facts['resourceType']}): {f.facts['excludedBecause']}" for f in excluded]
    lines += [f"    NOT SELECTED: {f.path} ({f.facts['resourceType']})" for f in unselected]
    return lines


def render_summary(configs: list[EnvironmentConfig], assembly: Path) -> str:
    loaded = Assembly.load(assembly)
    stacks = assembly_stacks(loaded)
    out: list[str] = []
    for config in configs:
        out += environment_summary(config, stacks, loaded)
        out.append("")
    return "\n".join(out)
