"""``backupctl dr failover``: the guide's DR procedure for the day the primary region is down, as one
resumable command that calls only the DR region's endpoints.

Steps, each recorded in a state file as it ends (``--resume`` continues after the last finished one,
and every step also checks AWS first, so a step interrupted half-way is safe to run again):

1. ``assess``: the read replica (status, its lag at the last data point), the newest restorable copy
   in the DR vault, the newest replicated configuration backup, their ages against the targets.
2. ``promote``: promote the replica (automated backups on, the policy's window) or, with no replica,
   restore the newest copy as a new instance; wait until available; tag it so the DR region's failover
   backup plan covers it.
3. ``credentials``: stop the master secret's replication (its DR replica becomes a standalone secret)
   and point it at the promoted instance.
4. ``configuration``: the DR region's configuration restore function restores the newest replicated
   backup of each namespace into the DR cluster, with its rollout restarts.
5. ``verify``: the policy's integrity checks against the promoted database (``--db-host``).
6. ``report``: the timeline with the RTO clock and the data-loss window, as JSON and Markdown, and what
   now differs from the stacks, with how to reconcile it.

``--dry-run`` runs the read-only assessment, prints the plan and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backup_constructs.cli import db as cli_db
from backup_constructs.cli.config import EXIT_FAILED, EXIT_OK, UsageError, parse_time
from backup_constructs.cli.progress import Progress
from backup_constructs.policy.environments import EnvironmentConfig, load_environments, read_cdk_context
from backup_constructs.policy.naming import (
    FAILOVER_TAG_KEY,
    backup_role_name,
    config_bucket_name,
    config_dr_restore_function_name,
    failover_plan_name,
    partition_for,
    resource_prefix,
)
from backup_constructs.policy.rpo import format_minutes
from lambdas.contract.checks import HEARTBEAT_CHECK

STEPS = ("assess", "promote", "credentials", "configuration", "verify")
STATE_VERSION = 1


class FailoverError(Exception):
    """A step could not finish; the state file records how far the failover got."""


def add_dr_commands(sub: Any) -> None:
    dr = sub.add_parser("dr", help="the DR region: fail over when the primary region is lost")
    commands = dr.add_subparsers(dest="dr_command", required=True)
    failover = commands.add_parser(
        "failover",
        help="promote the DR region: assess, promote, credentials, configuration, verify, report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    failover.add_argument("--env", required=True, help="an environment of cdk.json")
    failover.add_argument("--cdk-json", type=Path, default=Path("cdk.json"))
    failover.add_argument("--dry-run", action="store_true", help="assess and print the plan; change nothing")
    failover.add_argument("--resume", action="store_true", help="continue the failover recorded in the state")
    failover.add_argument("--yes", action="store_true", help="promote without asking (automation)")
    failover.add_argument("--state-dir", type=Path, default=Path("failover-state"))
    failover.add_argument("--report-dir", type=Path, default=Path("failover-reports"))
    failover.add_argument(
        "--outage-started", type=parse_time, help="when the primary region was lost (ISO 8601): starts the RTO clock"
    )
    failover.add_argument("--db-host", help="reach the promoted instance here (e.g. a tunnel) for the checks")
    failover.add_argument("--db-port", type=int, default=5432)
    failover.add_argument("--db-subnet-group", help="with no replica: the DR subnet group to restore the copy into")
    failover.add_argument("--security-group", action="append", help="with no replica: a VPC security group id")
    failover.add_argument("--json", action="store_true", help="print the report as JSON")
    failover.add_argument("--wait-minutes", type=float, help="how long to wait for the instance (default: 2 x RTO)")
    failover.add_argument("--poll-seconds", type=float, default=30.0, help=argparse.SUPPRESS)
    failover.set_defaults(handler=run_failover)


# State ---------------------------------------------------------------------------------------------


@dataclass
class State:
    path: Path
    environment: str
    started_at: datetime
    outage_started_at: datetime | None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    finished_at: datetime | None = None

    @classmethod
    def load(cls, path: Path) -> State | None:
        if not path.exists():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                path=path,
                environment=str(raw["environment"]),
                started_at=datetime.fromisoformat(raw["startedAt"]),
                outage_started_at=datetime.fromisoformat(raw["outageStartedAt"])
                if raw.get("outageStartedAt")
                else None,
                steps=dict(raw.get("steps") or {}),
                finished_at=datetime.fromisoformat(raw["finishedAt"]) if raw.get("finishedAt") else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: not a failover state file ({exc}); move it away to start over") from exc

    def save(self) -> None:
        """Atomically: a crash never leaves a half-written state that looks valid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "version": STATE_VERSION,
            "environment": self.environment,
            "startedAt": self.started_at.isoformat(),
            "outageStartedAt": self.outage_started_at.isoformat() if self.outage_started_at else None,
            "steps": self.steps,
            "finishedAt": self.finished_at.isoformat() if self.finished_at else None,
        }
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)

    def done(self, step: str) -> bool:
        return self.steps.get(step, {}).get("status") in ("OK", "SKIPPED")

    def detail(self, step: str) -> dict[str, Any]:
        return dict(self.steps.get(step, {}).get("detail") or {})


# The steps -----------------------------------------------------------------------------------------


@dataclass
class Failover:
    config: EnvironmentConfig
    dr_region: str
    args: argparse.Namespace
    state: State
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def client(self, service: str) -> Any:
        """Every client is the DR region's: no step may need the lost primary region."""
        return cli_db.aws_client(service, self.dr_region)

    @property
    def prefix(self) -> str:
        return resource_prefix(self.config.policy)

    @property
    def targets(self) -> tuple[int | None, int | None]:
        spec = self.config.policy.region_loss
        return (spec.rpo_target_minutes, spec.rto_target_minutes) if spec else (None, None)

    # 1. assess
    def assess(self) -> dict[str, Any]:
        now = self.now()
        replica = self._instance(self.config.replica_identifier)
        detail: dict[str, Any] = {"assessedAt": now.isoformat()}
        if replica is not None:
            detail["replica"] = {
                "identifier": replica["DBInstanceIdentifier"],
                "status": replica.get("DBInstanceStatus"),
                "replicaOf": replica.get("ReadReplicaSourceDBInstanceIdentifier"),
                **self._replica_lag(now),
            }
        copy = self._newest_copy()
        if copy is not None:
            created = copy["CreationDate"]
            detail["newestCopy"] = {
                "recoveryPointArn": copy["RecoveryPointArn"],
                "createdAt": created.isoformat(),
                "ageMinutes": _minutes(now - created),
            }
        detail["configuration"] = self._newest_configuration(now)
        if replica is None and copy is None:
            raise FailoverError(
                f"nothing to fail over to in {self.dr_region}: no replica {self.config.replica_identifier} and no "
                f"completed copy of {self.config.database_identifier} in {self.config.policy.dr_backup_vault_name}"
            )
        rpo, rto = self.targets
        detail["targets"] = {"rpoMinutes": rpo, "rtoMinutes": rto}
        return detail

    def _instance(self, identifier: str) -> dict[str, Any] | None:
        try:
            found = self.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
        except Exception as exc:
            if _error_code(exc) == "DBInstanceNotFound":
                return None
            raise
        return dict(found[0]) if found else None

    def _replica_lag(self, now: datetime) -> dict[str, Any]:
        """ReplicaLag (seconds, AWS/RDS, published in the replica's region) at its last data point."""
        points = (
            self.client("cloudwatch")
            .get_metric_statistics(
                Namespace="AWS/RDS",
                MetricName="ReplicaLag",
                Dimensions=[{"Name": "DBInstanceIdentifier", "Value": self.config.replica_identifier}],
                StartTime=now - timedelta(hours=3),
                EndTime=now,
                Period=60,
                Statistics=["Maximum"],
            )
            .get("Datapoints")
            or []
        )
        if not points:
            return {"lagSeconds": None, "lastDataPointAt": None}
        last = max(points, key=lambda p: p["Timestamp"])
        at, lag = last["Timestamp"], float(last["Maximum"])
        return {
            "lagSeconds": lag,
            "lastDataPointAt": at.isoformat(),
            # What the replica had applied by then: the newest write it holds, at best.
            "newestReplicatedAt": (at - timedelta(seconds=max(lag, 0.0))).isoformat(),
        }

    def _newest_copy(self) -> dict[str, Any] | None:
        paginator = self.client("backup").get_paginator("list_recovery_points_by_backup_vault")
        newest: dict[str, Any] | None = None
        pages = paginator.paginate(
            BackupVaultName=self.config.policy.dr_backup_vault_name, ByResourceArn=self.config.database_arn()
        )
        for page in pages:
            for point in page.get("RecoveryPoints") or []:
                if point.get("Status") == "COMPLETED" and (
                    newest is None or point["CreationDate"] > newest["CreationDate"]
                ):
                    newest = dict(point)
        return newest

    def _newest_configuration(self, now: datetime) -> dict[str, Any]:
        k8s = self.config.kubernetes
        if k8s is None:
            return {"status": "none: no kubernetes configuration in cdk.json"}
        from lambdas.config_backup.storage import backup_ref, latest_complete
        from lambdas.contract.layout import backup_prefix

        s3 = self.client("s3")
        bucket = config_bucket_name(self.prefix, self.config.account, self.dr_region)
        newest: dict[str, Any] = {}
        for namespace in k8s.namespaces:
            latest = latest_complete(s3, bucket, k8s.cluster_name, namespace)
            if latest is None:
                newest[namespace] = {"backupId": None}
                continue
            ref = backup_ref(backup_prefix(k8s.cluster_name, namespace), *latest)
            newest[namespace] = {
                "backupId": ref.backup_id,
                "createdAt": ref.created_at.isoformat(),
                "ageMinutes": _minutes(now - ref.created_at),
            }
        return {"bucket": bucket, "namespaces": newest}

    # 2. promote
    def promote(self) -> dict[str, Any]:
        policy = self.config.policy
        identifier = self.config.replica_identifier
        instance = self._instance(identifier)
        rds = self.client("rds")
        detail: dict[str, Any] = {"instance": identifier}
        if instance is not None and instance.get("ReadReplicaSourceDBInstanceIdentifier"):
            try:
                rds.promote_read_replica(
                    DBInstanceIdentifier=identifier,
                    BackupRetentionPeriod=policy.rds_automated_backup_retention_days,
                    PreferredBackupWindow=policy.database.backup_window,
                )
                detail["action"] = "promoted the read replica"
            except Exception as exc:
                if _error_code(exc) != "InvalidDBInstanceState":  # a promotion already under way
                    raise
                detail["action"] = "promotion was already under way"
        elif instance is not None:
            detail["action"] = "already a standalone instance"
        else:
            detail |= self._restore_newest_copy(identifier)
        instance = self._wait_until_standalone(identifier)
        if not instance.get("BackupRetentionPeriod"):  # a restored copy: automated backups on
            rds.modify_db_instance(
                DBInstanceIdentifier=identifier,
                BackupRetentionPeriod=policy.rds_automated_backup_retention_days,
                PreferredBackupWindow=policy.database.backup_window,
                ApplyImmediately=True,
            )
        rds.add_tags_to_resource(
            ResourceName=instance["DBInstanceArn"], Tags=[{"Key": FAILOVER_TAG_KEY, "Value": self.config.name}]
        )
        endpoint = instance.get("Endpoint") or {}
        return detail | {
            "arn": instance["DBInstanceArn"],
            "endpoint": endpoint.get("Address"),
            "port": endpoint.get("Port"),
            "availableAt": self.now().isoformat(),
            "backupPlan": f"{failover_plan_name(policy)} (selects {FAILOVER_TAG_KEY}={self.config.name})",
        }

    def _restore_newest_copy(self, identifier: str) -> dict[str, Any]:
        from lambdas.database.operations import rds_restore_metadata

        copy = self._newest_copy()
        if copy is None:
            raise FailoverError(f"no replica and no completed copy in {self.config.policy.dr_backup_vault_name}")
        if not self.args.db_subnet_group:
            raise FailoverError("restoring a copy needs the DR region's --db-subnet-group (and --security-group)")
        partition = partition_for(self.dr_region)
        role = f"arn:{partition}:iam::{self.config.account}:role/{backup_role_name(self.config.policy)}"
        metadata = rds_restore_metadata(
            identifier,
            subnet_group=self.args.db_subnet_group,
            security_group_ids=tuple(self.args.security_group or ()),
            instance_class=None,  # the snapshot's class
            multi_az=self.config.policy.database.multi_az,
            deletion_protection=True,
            iam_database_authentication=True,
        )
        job = self.client("backup").start_restore_job(
            RecoveryPointArn=copy["RecoveryPointArn"], IamRoleArn=role, Metadata=metadata, ResourceType="RDS"
        )
        return {
            "action": "restored the newest copy",
            "restoreJobId": job["RestoreJobId"],
            "from": copy["RecoveryPointArn"],
        }

    def _wait_until_standalone(self, identifier: str) -> dict[str, Any]:
        rto = self.targets[1] or self.config.policy.rto_target_minutes
        deadline = time.monotonic() + 60 * (self.args.wait_minutes if self.args.wait_minutes is not None else 2 * rto)
        while True:
            instance = self._instance(identifier)
            if (
                instance is not None
                and instance.get("DBInstanceStatus") == "available"
                and not instance.get("ReadReplicaSourceDBInstanceIdentifier")
            ):
                return instance
            if time.monotonic() >= deadline:
                status = instance.get("DBInstanceStatus") if instance else "not created yet"
                raise FailoverError(
                    f"{identifier} is not an available standalone instance yet ({status}): --resume later"
                )
            _progress_for(self)(
                f"waiting for {identifier} ({instance.get('DBInstanceStatus') if instance else 'creating'})"
            )
            time.sleep(self.args.poll_seconds)

    # 3. credentials
    def credentials(self) -> dict[str, Any]:
        secrets = self.client("secretsmanager")
        name = self.config.database_secret_name
        described = secrets.describe_secret(SecretId=name)
        detail: dict[str, Any] = {"secret": name}
        primary = described.get("PrimaryRegion")
        if primary and primary != self.dr_region:
            # A replica secret is read-only: made standalone (in its own region) before it can be changed.
            secrets.stop_replication_to_replica(SecretId=name)
            detail["replication"] = (
                f"stopped: the secret in {self.dr_region} is standalone (was a replica of {primary})"
            )
        else:
            detail["replication"] = "already standalone"
        promoted = self.state.detail("promote")
        host, port = promoted.get("endpoint"), promoted.get("port")
        if not host:
            raise FailoverError("the promoted instance's endpoint is unknown: run the promote step first")
        value = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
        if not isinstance(value, dict):
            raise FailoverError(f"secret {name} does not hold a JSON object")
        if value.get("host") == host and (port is None or value.get("port") == port):
            detail["host"] = f"already {host}"
        else:
            updated = {**value, "host": host, **({"port": port} if port else {})}
            secrets.put_secret_value(SecretId=name, SecretString=json.dumps(updated))
            detail["host"] = f"now {host}"  # never the secret's values
        return detail

    # 4. configuration
    def configuration(self) -> dict[str, Any]:
        k8s = self.config.kubernetes
        if k8s is None or not k8s.dr_cluster_name:
            return {"status": "SKIPPED", "reason": "no kubernetes.drClusterName in cdk.json"}
        function = config_dr_restore_function_name(self.prefix)
        restored: dict[str, Any] = {}
        failures: list[str] = []
        for namespace in k8s.namespaces:
            response = self.client("lambda").invoke(
                FunctionName=function, Payload=json.dumps({"namespace": namespace}).encode()
            )
            payload = json.loads(response["Payload"].read() or b"null")
            if response.get("FunctionError"):
                message = payload.get("errorMessage") if isinstance(payload, dict) else str(payload)
                failures.append(f"{namespace}: {message}")
                continue
            restored[namespace] = {
                "backupId": payload.get("backupId"),
                "counts": payload.get("counts"),
                "restarted": payload.get("restarted"),
            }
        detail: dict[str, Any] = {"function": function, "cluster": k8s.dr_cluster_name, "restored": restored}
        if failures:
            raise FailoverError("configuration restore failed: " + "; ".join(failures))
        return detail

    # 5. verify
    def verify(self) -> dict[str, Any]:
        promoted = self.state.detail("promote")
        if not self.args.db_host:
            return {
                "status": "SKIPPED",
                "reason": f"{promoted.get('endpoint')} is reachable only inside the VPC: run from there or pass "
                "--db-host (e.g. an SSM port forward) and --resume to run the integrity checks",
            }
        point_in_time = self.data_loss_end() or self.state.started_at
        result = cli_db.verify_database(
            self.config,
            host=self.args.db_host,
            port=self.args.db_port,
            region=self.dr_region,
            point_in_time=point_in_time,
            database=None,
        )
        heartbeat = next((r for r in result.pop("results") if r.get("name") == HEARTBEAT_CHECK), None)
        if heartbeat is not None:
            result["newestHeartbeat"] = heartbeat.get("found")
        return result

    def data_loss_end(self) -> datetime | None:
        """When writes stopped reaching the DR region: the outage start, else the replica's last data point."""
        if self.state.outage_started_at is not None:
            return self.state.outage_started_at
        last = self.state.detail("assess").get("replica", {}).get("lastDataPointAt")
        return datetime.fromisoformat(last) if last else None


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 1)


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code")) if isinstance(response, Mapping) else None


# The report ----------------------------------------------------------------------------------------


def build_report(failover: Failover, finished_at: datetime) -> dict[str, Any]:
    state = failover.state
    rpo, rto = failover.targets
    clock_start = state.outage_started_at or state.started_at
    available = state.detail("promote").get("availableAt")
    rto_minutes = _minutes(datetime.fromisoformat(available) - clock_start) if available else None
    newest = state.detail("verify").get("newestHeartbeat") or state.detail("assess").get("replica", {}).get(
        "newestReplicatedAt"
    )
    end = failover.data_loss_end()
    loss = _minutes(end - datetime.fromisoformat(newest)) if newest and end else None
    statuses = {step: state.steps.get(step, {}).get("status", "NOT RUN") for step in STEPS}
    return {
        "environment": failover.config.name,
        "region": failover.dr_region,
        "startedAt": state.started_at.isoformat(),
        "outageStartedAt": state.outage_started_at.isoformat() if state.outage_started_at else None,
        "finishedAt": finished_at.isoformat(),
        "rto": {
            "clockStartsAt": clock_start.isoformat(),
            "databaseAvailableAt": available,
            "minutes": rto_minutes,
            "targetMinutes": rto,
            "withinTarget": None if rto_minutes is None or rto is None else rto_minutes <= rto,
        },
        "dataLoss": {
            "newestWrite": newest,
            "source": "newest heartbeat" if state.detail("verify").get("newestHeartbeat") else "replica lag",
            "until": end.isoformat() if end else None,
            "minutes": loss,
            "targetMinutes": rpo,
            "withinTarget": None if loss is None or rpo is None else loss <= rpo,
        },
        "steps": [{"step": step, **state.steps[step]} for step in STEPS if step in state.steps],
        "ok": all(s in ("OK", "SKIPPED") for s in statuses.values()),
        "verified": statuses["verify"] == "OK",
        "drift": drift(failover),
    }


def drift(failover: Failover) -> list[str]:
    """What the deployed stacks no longer describe, and how to reconcile once the primary is back."""
    config = failover.config
    replica_stack = config.stack_name("dr-replica")
    return [
        f"{replica_stack} describes {config.replica_identifier} as a read replica of "
        f"{config.database_identifier}; it is now a standalone instance. Do not deploy {replica_stack} until "
        "reconciled: CloudFormation would try to make it a replica again.",
        f"The secret {config.database_secret_name} in {failover.dr_region} is standalone and points at "
        f"{config.replica_identifier}; its rotation was configured in {config.region} and does not run here.",
        f"The DR failover plan {failover_plan_name(config.policy)} backs up the promoted instance into "
        f"{config.policy.dr_backup_vault_name} (tag {FAILOVER_TAG_KEY}={config.name}).",
        f"Once {config.region} is back: either keep {failover.dr_region} as the primary (swap region and "
        f"drRegion in cdk.json, import the promoted instance into the data stack, deploy), or fail back (take an "
        f"on-demand backup of {config.replica_identifier}, copy it to {config.region}, restore it there as "
        f"{config.database_identifier}, deploy the data stack, then re-create the replica by deploying "
        f"{replica_stack} after deleting the promoted instance).",
    ]


def markdown(report: Mapping[str, Any]) -> str:
    rto, loss = report["rto"], report["dataLoss"]

    def target(minutes: float | None, wanted: int | None, within: bool | None) -> str:
        if minutes is None:
            return "not measured"
        verdict = "" if within is None else (" (within target)" if within else " (OVER target)")
        goal = f" of {format_minutes(wanted)}" if wanted is not None else ""
        return f"{minutes:g} min{goal}{verdict}"

    lines = [
        f"# Failover of {report['environment']} to {report['region']}",
        "",
        f"Started {report['startedAt']}, finished {report['finishedAt']}. "
        f"Overall: {'OK' if report['ok'] else 'FAILED'}{'' if report['verified'] else ' (data not verified)'}.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| RTO clock starts | {rto['clockStartsAt']} |",
        f"| Database available | {rto['databaseAvailableAt'] or 'not yet'} |",
        f"| RTO | {target(rto['minutes'], rto['targetMinutes'], rto['withinTarget'])} |",
        f"| Newest write in the DR region ({loss['source']}) | {loss['newestWrite'] or 'unknown'} |",
        f"| Data-loss window | {target(loss['minutes'], loss['targetMinutes'], loss['withinTarget'])} |",
        "",
        *_timeline(report),
        "",
        "## Steps",
        "",
        "| step | status | started | finished | detail |",
        "| --- | --- | --- | --- | --- |",
    ]
    for step in report["steps"]:
        detail = step.get("error") or json.dumps(step.get("detail"), default=str)
        detail = detail if len(detail) <= 200 else detail[:197] + "..."
        lines.append(
            f"| {step['step']} | {step['status']} | {step.get('startedAt', '')} | {step.get('finishedAt', '')} | "
            f"{detail.replace('|', '/')} |"
        )
    lines += ["", "## What now differs from the stacks", "", *[f"- {line}" for line in report["drift"]]]
    return "\n".join(lines) + "\n"


def _timeline(report: Mapping[str, Any]) -> list[str]:
    """Outage (or start) -> database available -> data verified, against the region-loss RTO."""
    from lambdas.restore_testing.reports import parse_time, timeline_markdown

    verify: Mapping[str, Any] = next((s for s in report["steps"] if s["step"] == "verify"), {})
    verified = parse_time(verify.get("finishedAt")) if verify.get("status") == "OK" else None
    start_name = "outage started" if report.get("outageStartedAt") else "failover started"
    milestones = [
        (start_name, parse_time(report["rto"]["clockStartsAt"])),
        ("database available", parse_time(report["rto"]["databaseAvailableAt"])),
        ("data verified", verified),
    ]
    return timeline_markdown(milestones, report["rto"]["targetMinutes"], judged="database available")


# The command ---------------------------------------------------------------------------------------


def run_failover(args: argparse.Namespace) -> int:
    (config,) = load_environments(read_cdk_context(args.cdk_json), only=args.env)
    dr_region = config.dr_region
    if dr_region is None:
        raise UsageError(f"environment {config.name} has no DR region (drRegion): there is nothing to fail over to")
    path = args.state_dir / f"failover-{config.name}.json"
    state = State.load(path)
    if state is not None and not args.resume and not args.dry_run:
        what = f"finished at {state.finished_at.isoformat()}" if state.finished_at else "is in progress"
        raise UsageError(
            f"a failover of {config.name} started at {state.started_at.isoformat()} {what} ({path}): "
            + ("move the state file away to start another" if state.finished_at else "continue it with --resume")
        )
    if state is None and args.resume:
        raise UsageError(f"no failover of {config.name} to resume ({path} does not exist)")
    if state is None:
        state = State(path, config.name, datetime.now(UTC), args.outage_started)
    failover = Failover(config, dr_region, args, state)
    if args.dry_run:
        return _dry_run(failover)
    if not state.done("promote") and not args.yes:
        _confirm(config, dr_region)
    state.save()
    for step in STEPS:
        # A verification skipped for want of a network path runs when a later --resume brings one.
        rerun = step == "verify" and bool(args.db_host) and state.steps.get(step, {}).get("status") == "SKIPPED"
        if state.done(step) and not rerun:
            cli_db._progress(f"failover step {step}: done earlier ({state.steps[step]['status']})")
            continue
        if not _run_step(failover, step):
            break
    finished = datetime.now(UTC)
    report = build_report(failover, finished)
    if report["ok"]:
        state.finished_at = finished
        state.save()
    args.report_dir.mkdir(parents=True, exist_ok=True)
    stem = args.report_dir / f"failover-{config.name}-{state.started_at:%Y%m%dT%H%M%SZ}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    cli_db._progress(f"report: {stem.with_suffix('.md')}")
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        for step in report["steps"]:
            print(f"{step['step']:<14} {step['status']:<8} {step.get('error') or ''}".rstrip())
        print(f"RTO {report['rto']['minutes']} min, data-loss window {report['dataLoss']['minutes']} min")
    if not report["ok"]:
        cli_db._progress(f"the failover stopped; fix the cause and run again with --resume (state: {path})")
    return EXIT_OK if report["ok"] else EXIT_FAILED


def _progress_for(failover: Failover) -> Progress:
    """Timestamped step lines with the time since the RTO clock started (the outage, if given)."""
    state = failover.state
    rto = failover.targets[1] or failover.config.policy.rto_target_minutes
    return Progress(rto_minutes=rto, since=state.outage_started_at or state.started_at, terminal=False)


def _run_step(failover: Failover, step: str) -> bool:
    state = failover.state
    started = datetime.now(UTC)
    progress = _progress_for(failover)
    progress(f"failover step {step} ...")
    try:
        detail = getattr(failover, step)()
    except Exception as exc:  # every step ends with a status; the state says where to resume
        state.steps[step] = {
            "status": "FAILED",
            "startedAt": started.isoformat(),
            "finishedAt": datetime.now(UTC).isoformat(),
            "error": f"{type(exc).__name__}: {exc}",
        }
        state.save()
        progress(f"failover step {step}: FAILED: {state.steps[step]['error']}")
        return False
    status = str(detail.pop("status", "OK"))
    state.steps[step] = {
        "status": status,
        "startedAt": started.isoformat(),
        "finishedAt": datetime.now(UTC).isoformat(),
        "detail": detail,
    }
    state.save()
    progress(f"failover step {step}: {status}")
    return status != "FAILED"


def _confirm(config: EnvironmentConfig, dr_region: str) -> None:
    question = (
        f"This promotes {config.replica_identifier} in {dr_region} to the {config.name} database (irreversible: it "
        f"stops being a replica). Type {config.name!r} to go on: "
    )
    if not sys.stdin.isatty():
        raise UsageError("promoting needs a confirmation: run in a terminal or pass --yes")
    if input(question).strip() != config.name:
        raise UsageError("not confirmed: nothing was changed")


def _dry_run(failover: Failover) -> int:
    assessment = failover.assess()
    config = failover.config
    replica = assessment.get("replica")
    promote = (
        f"promote {config.replica_identifier} (automated backups "
        f"{config.policy.rds_automated_backup_retention_days} d, window {config.policy.database.backup_window}), "
        "wait until available, tag "
        f"{FAILOVER_TAG_KEY}={config.name} for {failover_plan_name(config.policy)}"
        if replica
        else f"restore {assessment['newestCopy']['recoveryPointArn']} as {config.replica_identifier}"
    )
    k8s = config.kubernetes
    plan = [
        f"promote: {promote}",
        f"credentials: stop replication of {config.database_secret_name} in {failover.dr_region}, point it at "
        "the promoted instance",
        f"configuration: invoke {config_dr_restore_function_name(failover.prefix)} for "
        f"{', '.join(k8s.namespaces) if k8s and k8s.dr_cluster_name else 'nothing (no DR cluster)'}",
        "verify: the policy's integrity checks" + ("" if failover.args.db_host else " (needs --db-host)"),
    ]
    result = {"dryRun": True, "assessment": assessment, "plan": plan}
    if failover.args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print("dry run: nothing changed")
        print(json.dumps(assessment, indent=2, default=str))
        print("\n".join(plan))
    return EXIT_OK
