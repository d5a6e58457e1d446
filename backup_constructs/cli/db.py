"""``backupctl db backup|restore`` and ``backupctl drill``: the guide's manual database procedures
and its DR procedure as commands, for an environment of cdk.json.

AWS endpoints and credentials come from the standard SDK environment; each environment's region
comes from cdk.json. Progress goes to stderr; ``--json`` prints machine-readable results.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backup_constructs.cli.config import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, parse_time
from backup_constructs.cli.progress import Progress
from backup_constructs.policy.environments import EnvironmentConfig, load_environments, read_cdk_context
from backup_constructs.policy.naming import (
    backup_role_name,
    config_bucket_name,
    config_digest_key_alias,
    isolated_restore_role_name,
    partition_for,
    resource_prefix,
)
from backup_constructs.policy.rpo import format_minutes
from lambdas.contract.layout import VALIDATOR_USER


def aws_client(service: str, region: str) -> Any:
    """A boto3 client for ``region`` (the seam tests point at moto or a Stubber)."""
    import boto3

    return boto3.client(service, region_name=region)


def _progress(message: str) -> None:
    print(f"backupctl: {message}", file=sys.stderr, flush=True)


_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")


def instance_class(value: str) -> str:
    """An RDS instance class such as ``db.t4g.medium`` (argparse refuses anything else with exit 2)."""
    if not _INSTANCE_CLASS.match(value):
        raise argparse.ArgumentTypeError(f"got {value!r}; expected an RDS instance class such as db.t4g.medium")
    return value


def add_db_commands(sub: Any) -> None:
    db = sub.add_parser("db", help="the database: on-demand backup, restore to a new instance")
    commands = db.add_subparsers(dest="db_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--env", required=True, help="an environment of cdk.json")
        p.add_argument("--cdk-json", type=Path, default=Path("cdk.json"))
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.add_argument("--poll-seconds", type=float, default=30.0, help=argparse.SUPPRESS)

    backup = commands.add_parser("backup", help="an on-demand AWS Backup job into the environment's vault")
    common(backup)
    backup.add_argument("--wait", action="store_true", help="wait for the recovery point")
    backup.set_defaults(handler=_db_backup)

    restore = commands.add_parser("restore", help="restore to a NEW instance (the source is never modified)")
    common(restore)
    which = restore.add_mutually_exclusive_group(required=True)
    which.add_argument("--latest", action="store_true", help="the latest restorable time (point-in-time)")
    which.add_argument("--to-time", type=parse_time, help="an ISO 8601 time within the restorable window")
    which.add_argument("--recovery-point", help="a recovery point ARN in the environment's vault")
    restore.add_argument("--target-instance", required=True, help="the new instance's identifier")
    restore.add_argument("--instance-class", type=instance_class, help="default: the source's class")
    restore.add_argument("--wait", action="store_true", help="wait until the new instance is available")
    restore.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    isolated = restore.add_argument_group(
        "from the backup account (run with the backup account's credentials, when this account is lost)"
    )
    isolated.add_argument(
        "--from-backup-account",
        action="store_true",
        help="restore the isolated copy in the backup account's vault (--latest: the newest completed copy)",
    )
    isolated.add_argument("--db-subnet-group", help="the backup account's DB subnet group for the new instance")
    isolated.add_argument("--security-group", action="append", help="a security group id (repeatable)")
    restore.set_defaults(handler=_db_restore)

    drill = sub.add_parser("drill", help="the DR procedure on demand: assess, restore, verify, report")
    drill.add_argument("--env", required=True)
    drill.add_argument("--cdk-json", type=Path, default=Path("cdk.json"))
    drill.add_argument("--json", action="store_true")
    drill.add_argument("--target-instance", help="default: <database>-drill-<time>")
    drill.add_argument("--kubeconfig", help="for the configuration part (default: KUBECONFIG / in-cluster)")
    drill.add_argument("--db-host", help="reach the restored copy here (e.g. a tunnel) for the integrity checks")
    drill.add_argument("--db-port", type=int, default=5432)
    drill.add_argument("--report-dir", type=Path, default=Path("drill-reports"))
    drill.add_argument("--skip-restore", action="store_true", help="assess and report only")
    drill.add_argument("--poll-seconds", type=float, default=30.0, help=argparse.SUPPRESS)
    drill.set_defaults(handler=_drill)


def _environment(args: argparse.Namespace) -> EnvironmentConfig:
    (config,) = load_environments(read_cdk_context(args.cdk_json), only=args.env)
    return config


def _daily_retention_days(config: EnvironmentConfig) -> int:
    rules = config.policy.snapshot_rules or config.policy.rules
    daily = [r for r in rules if r.interval_minutes == 1440]
    return (daily or sorted(rules, key=lambda r: r.retention_days))[-1].retention_days


def _db_backup(args: argparse.Namespace) -> int:
    from lambdas.database.operations import start_on_demand_backup, wait_for_backup

    config = _environment(args)
    backup = aws_client("backup", config.region)
    role = f"arn:aws:iam::{config.account}:role/{backup_role_name(config.policy)}"
    job = start_on_demand_backup(
        backup=backup,
        vault_name=config.policy.backup_vault_name,
        resource_arn=config.database_arn(),
        iam_role_arn=role,
        retention_days=_daily_retention_days(config),
        now=datetime.now(UTC),
    )
    _progress(
        f"backup job {job.job_id} started for {config.database_identifier} into {config.policy.backup_vault_name}"
    )
    result: dict[str, Any] = {"jobId": job.job_id, "vault": job.vault_name, "resource": job.resource_arn}
    if args.wait:
        progress = Progress()
        try:
            done = wait_for_backup(backup=backup, job_id=job.job_id, progress=progress, poll_s=args.poll_seconds)
        finally:
            progress.close()
        result |= {"state": done.state, "recoveryPoint": done.recovery_point_arn}
    _print(args, result, [f"{k}: {v}" for k, v in result.items()])
    return EXIT_OK


def _restore_plan(args: argparse.Namespace, config: EnvironmentConfig, target: str, mode: str) -> Any:
    from lambdas.database.operations import plan_restore

    return plan_restore(
        rds=aws_client("rds", config.region),
        backup=aws_client("backup", config.region),
        source_instance_id=config.database_identifier,
        target_instance_id=target,
        mode=mode,  # type: ignore[arg-type]
        to_time=getattr(args, "to_time", None),
        recovery_point_arn=getattr(args, "recovery_point", None),
        vault_name=config.policy.backup_vault_name,
        instance_class=getattr(args, "instance_class", None),
        iam_role_arn=f"arn:aws:iam::{config.account}:role/{backup_role_name(config.policy)}",
    )


def _wait_for_restore(rds: Any, backup: Any, started: Any, progress: Progress, rto: int, poll_s: float) -> Any:
    """Wait for a restored instance, reporting progress against the RTO (the live line closed either way)."""
    from lambdas.database.operations import wait_for_restore

    try:
        return wait_for_restore(
            rds=rds, backup=backup, started=started, progress=progress, rto_minutes=rto, poll_s=poll_s
        )
    finally:
        progress.close()


def _run_restore(plan: Any, config: EnvironmentConfig, *, wait: bool, poll_s: float) -> dict[str, Any]:
    from lambdas.database.operations import execute_restore

    rds, backup = aws_client("rds", config.region), aws_client("backup", config.region)
    started = execute_restore(plan, rds=rds, backup=backup)
    progress = Progress(rto_minutes=config.policy.rto_target_minutes)
    progress(f"restore of {plan.source_instance_id} into {plan.target_instance_id} started ({plan.mode})")
    result: dict[str, Any] = {"target": started.target_instance_id, "restoreJobId": started.restore_job_id}
    if wait:
        done = _wait_for_restore(rds, backup, started, progress, config.policy.rto_target_minutes, poll_s)
        result |= {
            "status": done.status,
            "elapsedMinutes": round(done.elapsed_minutes, 1),
            "rtoMinutes": config.policy.rto_target_minutes,
            "withinRto": done.within_rto,
            "endpoint": done.endpoint_address,
        }
    return result


def _db_restore(args: argparse.Namespace) -> int:
    config = _environment(args)
    if args.from_backup_account:
        return _restore_from_backup_account(args, config)
    mode = "latest" if args.latest else "time" if args.to_time else "recovery_point"
    plan = _restore_plan(args, config, args.target_instance, mode)
    if args.dry_run:
        _print(args, {"dryRun": True, "plan": plan.to_dict()}, ["dry run: nothing changed", *plan.describe()])
        return EXIT_OK
    result = _run_restore(plan, config, wait=args.wait, poll_s=args.poll_seconds)
    lines = [f"{k}: {v}" for k, v in result.items()]
    if "elapsedMinutes" in result:
        verdict = "within" if result["withinRto"] else "OVER"
        lines.append(
            f"restored in {result['elapsedMinutes']} min, {verdict} the RTO of "
            f"{format_minutes(config.policy.rto_target_minutes)}"
        )
    _print(args, result, lines)
    return EXIT_OK if result.get("withinRto", True) else EXIT_FAILED


def _restore_from_backup_account(args: argparse.Namespace, config: EnvironmentConfig) -> int:
    """Restore an isolated copy inside the backup account (the workload account may be gone or hostile):
    refused unless the credentials are the backup account's; the copy's source is named by its ARN only,
    nothing in the workload account is read."""
    from lambdas.database.operations import (
        RestoreRefused,
        RestoreStarted,
        rds_restore_metadata,
        valid_instance_identifier,
    )

    policy = config.policy
    if config.backup_account is None or policy.isolated_vault_name is None:
        raise RestoreRefused(f"environment {config.name!r} keeps no isolated copy (no backupAccount in cdk.json)")
    if args.to_time is not None:
        raise RestoreRefused("an isolated copy is a snapshot, with no point in time: use --latest or --recovery-point")
    target = args.target_instance.strip().lower()
    if not valid_instance_identifier(target):
        raise RestoreRefused(f"--target-instance {args.target_instance!r} is not a valid DB instance identifier")
    account = config.backup_account.account
    caller = aws_client("sts", config.region).get_caller_identity()["Account"]
    if caller != account:
        raise RestoreRefused(
            f"these credentials are account {caller}'s; restoring the isolated copy needs the backup "
            f"account {account}'s (it is the only account that can read {policy.isolated_vault_name})"
        )
    backup, rds = aws_client("backup", config.region), aws_client("rds", config.region)
    point = _isolated_copy(backup, policy.isolated_vault_name, config.database_arn(), args.recovery_point)
    if rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [target]}]).get("DBInstances"):
        raise RestoreRefused(f"DB instance {target!r} already exists in account {account}: choose another name")
    if not args.db_subnet_group:
        raise RestoreRefused("restoring in the backup account needs its --db-subnet-group (and --security-group)")
    metadata = rds_restore_metadata(
        target,
        subnet_group=args.db_subnet_group,
        security_group_ids=tuple(args.security_group or ()),
        instance_class=args.instance_class,
        multi_az=policy.database.multi_az,
        deletion_protection=True,
        iam_database_authentication=True,
    )
    role = f"arn:{partition_for(config.region)}:iam::{account}:role/{isolated_restore_role_name(policy)}"
    plan = {
        "from": point["RecoveryPointArn"],
        "createdAt": str(point["CreationDate"]),
        "vault": policy.isolated_vault_name,
        "account": account,
        "target": target,
        "role": role,
        "metadata": metadata,
    }
    if args.dry_run:
        _print(
            args, {"dryRun": True, "plan": plan}, ["dry run: nothing changed", *(f"{k}: {v}" for k, v in plan.items())]
        )
        return EXIT_OK
    started_at = datetime.now(UTC)
    job = backup.start_restore_job(
        RecoveryPointArn=point["RecoveryPointArn"], IamRoleArn=role, Metadata=metadata, ResourceType="RDS"
    )
    progress = Progress(rto_minutes=policy.rto_target_minutes)
    progress(f"restore job {job['RestoreJobId']} started: {point['RecoveryPointArn']} into {target} ({account})")
    result: dict[str, Any] = {"target": target, "restoreJobId": job["RestoreJobId"], "from": point["RecoveryPointArn"]}
    if args.wait:
        started = RestoreStarted("recovery_point", config.database_identifier, target, started_at, job["RestoreJobId"])
        done = _wait_for_restore(rds, backup, started, progress, policy.rto_target_minutes, args.poll_seconds)
        result |= {
            "status": done.status,
            "elapsedMinutes": round(done.elapsed_minutes, 1),
            "endpoint": done.endpoint_address,
        }
    progress.close()
    _print(args, result, [f"{k}: {v}" for k, v in result.items()])
    return EXIT_OK


def _isolated_copy(backup: Any, vault: str, source_arn: str, wanted: str | None) -> dict[str, Any]:
    """The newest COMPLETED copy of ``source_arn`` in ``vault`` (or the ``wanted`` one, checked)."""
    from lambdas.database.operations import RestoreRefused

    newest: dict[str, Any] | None = None
    for page in backup.get_paginator("list_recovery_points_by_backup_vault").paginate(
        BackupVaultName=vault, ByResourceArn=source_arn
    ):
        for point in page.get("RecoveryPoints") or []:
            if wanted is not None and point.get("RecoveryPointArn") == wanted:
                if point.get("Status") != "COMPLETED":
                    raise RestoreRefused(f"recovery point {wanted} is {point.get('Status')}, not COMPLETED")
                return dict(point)
            if point.get("Status") == "COMPLETED" and (
                newest is None or point["CreationDate"] > newest["CreationDate"]
            ):
                newest = dict(point)
    if wanted is not None:
        raise RestoreRefused(f"recovery point {wanted} is not a copy of {source_arn} in {vault}")
    if newest is None:
        raise RestoreRefused(f"no completed copy of {source_arn} in {vault}")
    return newest


# The drill ----------------------------------------------------------------------------------------


def _drill(args: argparse.Namespace) -> int:
    config = _environment(args)
    if args.report_dir.exists() and not args.report_dir.is_dir():
        # Refused before any step runs, not after the drill when the report cannot be written.
        raise UsageError(f"--report-dir: {args.report_dir} exists and is not a directory")
    now = datetime.now(UTC)
    steps: list[dict[str, Any]] = []
    # Step lines with timestamps (the restore step shows its own live line on a terminal).
    progress = Progress(rto_minutes=config.policy.restore_test_targets("drill")[1], terminal=False)

    def step(name: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        progress(f"drill step {name} ...")
        started = datetime.now(UTC).isoformat()
        try:
            detail = action()
        except Exception as exc:  # every step ends with a status, whatever failed
            entry = {"step": name, "status": "FAILED", "detail": f"{type(exc).__name__}: {exc}"}
            steps.append({**entry, "startedAt": started, "finishedAt": datetime.now(UTC).isoformat()})
            progress(f"drill step {name}: FAILED: {entry['detail']}")
            return None
        status = str(detail.pop("status", "OK"))
        finished = datetime.now(UTC).isoformat()
        steps.append({"step": name, "status": status, "detail": detail, "startedAt": started, "finishedAt": finished})
        progress(f"drill step {name}: {status}")
        return detail

    step("assess", lambda: _assess(config, now))
    target = args.target_instance or f"{config.database_identifier}-drill-{now:%Y%m%d%H%M}"
    restored: dict[str, Any] | None = None
    if args.skip_restore:
        steps.append({"step": "restore", "status": "SKIPPED", "detail": "--skip-restore"})
    else:
        restored = step("restore", lambda: _drill_restore(args, config, target))
        step("configuration", lambda: _drill_configuration(args, config))
    step("verify", lambda: _drill_verify(args, config, restored, now))
    report = {
        "environment": config.name,
        "startedAt": now.isoformat(),
        "finishedAt": datetime.now(UTC).isoformat(),
        "rtoMinutes": config.policy.rto_target_minutes,
        "rpoMinutes": config.policy.rpo_target_minutes,
        "steps": steps,
        "ok": all(s["status"] != "FAILED" for s in steps),
    }
    args.report_dir.mkdir(parents=True, exist_ok=True)
    stem = args.report_dir / f"drill-{config.name}-{now:%Y%m%dT%H%M%SZ}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(_drill_markdown(report), encoding="utf-8")
    steps.append({"step": "report", "status": "OK", "detail": str(stem.with_suffix(".md"))})
    lines = [f"{s['step']:<14} {s['status']:<8} {_short(s['detail'])}" for s in steps]
    _print(args, report, lines)
    return EXIT_OK if report["ok"] else EXIT_FAILED


def _short(detail: Any) -> str:
    text = detail if isinstance(detail, str) else json.dumps(detail, default=str)
    return text if len(text) <= 160 else text[:157] + "..."


def _assess(config: EnvironmentConfig, now: datetime) -> dict[str, Any]:
    from lambdas.contract.settings import MonitorSettings
    from lambdas.rpo_monitor.monitor import collect

    k8s = config.kubernetes
    prefix = resource_prefix(config.policy)
    settings = MonitorSettings(
        environment=config.name,
        databases=(config.database_identifier,),
        protected_resource_arns=(config.database_arn(),),
        config_bucket=config_bucket_name(prefix, config.account, config.region) if k8s else None,
        config_cluster=k8s.cluster_name if k8s else None,
        config_namespaces=k8s.namespaces if k8s else (),
    )
    report = collect(
        rds=aws_client("rds", config.region),
        backup=aws_client("backup", config.region),
        s3=aws_client("s3", config.region),
        settings=settings,
        now=now,
    )
    detail = report.to_dict()
    exposure = [d for d in detail.get("databases", []) if isinstance(d, dict)]
    over = [d for d in exposure if (d.get("exposureMinutes") or 0) > config.policy.rpo_target_minutes]
    detail["status"] = "FAILED" if report.problems or over else "OK"
    return detail


def _drill_restore(args: argparse.Namespace, config: EnvironmentConfig, target: str) -> dict[str, Any]:
    plan = _restore_plan(args, config, target, "latest")
    result = _run_restore(plan, config, wait=True, poll_s=args.poll_seconds)
    result["status"] = "OK" if result.get("withinRto") else "FAILED"
    return result


def _drill_configuration(args: argparse.Namespace, config: EnvironmentConfig) -> dict[str, Any]:
    k8s = config.kubernetes
    if k8s is None or not k8s.drill_namespace:
        return {"status": "SKIPPED", "reason": "no kubernetes drill namespace in cdk.json"}
    from lambdas.config_backup import RestoreSettings, restore_namespace
    from lambdas.kubernetes.client import KubeClient, load_kubeconfig

    connection, _ = load_kubeconfig(args.kubeconfig)
    prefix = resource_prefix(config.policy)
    digest_key = f"arn:aws:kms:{config.region}:{config.account}:{config_digest_key_alias(prefix)}"
    report = restore_namespace(
        kube=KubeClient(connection),
        s3=aws_client("s3", config.region),
        kms=lambda region: aws_client("kms", region),
        settings=RestoreSettings(
            cluster=k8s.cluster_name,
            bucket=config_bucket_name(prefix, config.account, config.region),
            digest_key_arn=digest_key,
        ),
        namespace=k8s.namespaces[0],
        to_namespace=k8s.drill_namespace,
        now=datetime.now(UTC),
    )
    detail = report.to_dict()
    detail["status"] = "OK" if report.ok else "FAILED"
    return detail


def _drill_verify(
    args: argparse.Namespace, config: EnvironmentConfig, restored: dict[str, Any] | None, now: datetime
) -> dict[str, Any]:
    if restored is None:
        return {"status": "SKIPPED", "reason": "no restored copy to verify"}
    host = args.db_host or restored.get("endpoint")
    if not args.db_host:
        return {
            "status": "SKIPPED",
            "reason": f"the copy {restored.get('target')} is reachable only inside the VPC: run from there "
            "or pass --db-host (e.g. an SSM port forward) to run the integrity checks",
        }
    return verify_database(
        config, host=str(host), port=args.db_port, region=config.region, point_in_time=now, database=None
    )


def verify_database(
    config: EnvironmentConfig,
    *,
    host: str,
    port: int,
    region: str,
    point_in_time: datetime,
    database: str | None,
) -> dict[str, Any]:
    """The policy's integrity checks against the database at ``host`` as the validator user, signed in
    with IAM (a 15-minute token from ``region``'s RDS client): the credentials the scheduled tests use."""
    from lambdas.restore_testing import ConnectionTarget, Credentials, integrity_checker, make_ssl_context

    checks = json.dumps([c.to_json() for c in config.policy.restore_testing.checks])
    checker = integrity_checker(checks, config.policy.rpo_target_minutes)
    token = aws_client("rds", region).generate_db_auth_token(
        DBHostname=host, Port=port, DBUsername=VALIDATOR_USER, Region=region
    )
    target = ConnectionTarget(
        host=host,
        port=port,
        database=database or config.database_name,
        candidates=(Credentials(label="iam", username=VALIDATOR_USER, password=token),),
        ssl_context=make_ssl_context(None),
        timeout_s=10,
    )
    label, results = checker(target, point_in_time)
    as_dicts = [r if isinstance(r, dict) else dataclasses.asdict(r) for r in results]
    failed = [r for r in as_dicts if not _passed(r)]
    return {
        "status": "FAILED" if failed else "OK",
        "credentials": label,
        "checks": len(results),
        "failed": failed,
        "results": as_dicts,
    }


def _passed(result: Any) -> bool:
    return bool(result.get("passed") if isinstance(result, dict) else getattr(result, "passed", False))


def _drill_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# DR drill ({report['environment']})",
        "",
        f"Started {report['startedAt']}, finished {report['finishedAt']}; RTO {report['rtoMinutes']} min, "
        f"RPO {report['rpoMinutes']} min. Overall: {'OK' if report['ok'] else 'FAILED'}.",
        "",
        "| step | status | detail |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {s['step']} | {s['status']} | {_short(s['detail']).replace('|', '/')} |" for s in report["steps"]]
    return "\n".join([*lines, "", *_drill_timeline(report)]) + "\n"


def _drill_timeline(report: dict[str, Any]) -> list[str]:
    """Drill started -> restored copy available -> verified, against the RTO."""
    from lambdas.restore_testing.reports import parse_time, timeline_markdown

    by_step = {s["step"]: s for s in report["steps"]}

    def finished_ok(name: str) -> Any:
        entry = by_step.get(name, {})
        return parse_time(entry.get("finishedAt")) if entry.get("status") == "OK" else None

    milestones = [
        ("drill started", parse_time(report["startedAt"])),
        ("restored copy available", finished_ok("restore")),
        ("verified", finished_ok("verify")),
    ]
    return timeline_markdown(milestones, report["rtoMinutes"], judged="restored copy available")


def _print(args: argparse.Namespace, result: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print("\n".join(lines))


def run_db_command(args: argparse.Namespace) -> int:
    """Run ``db``/``drill``: refusals exit 2, failures exit 1."""
    from botocore.exceptions import BotoCoreError, ClientError

    from backup_constructs.policy import PolicyError
    from lambdas.database.operations import DbOperationError, RestoreRefused

    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except (UsageError, PolicyError, RestoreRefused) as err:
        print(f"backupctl: refused: {err}", file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError as err:
        print(f"backupctl: {err.strerror}: {err.filename}", file=sys.stderr)
        return EXIT_USAGE
    except (DbOperationError, ClientError, BotoCoreError) as err:
        print(f"backupctl: failed: {err}", file=sys.stderr)
        return EXIT_FAILED
