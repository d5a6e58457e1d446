"""``backupctl config export|list|restore``: the Kubernetes configuration backup from a terminal.

The commands reuse the Lambda runtime (``lambdas``); AWS endpoints and credentials come from the
standard AWS SDK environment (``AWS_PROFILE``, ``AWS_ENDPOINT_URL``, ...). Progress goes to stderr,
the summary to stdout (``--json`` for machine-readable output).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DIGEST_KEY_ENV = "BACKUPCTL_DIGEST_KEY_ID"


_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def namespace_name(value: str) -> str:
    """A Kubernetes namespace as an argument: a DNS-1123 label, checked before any request (argparse
    turns the refusal into one line and exit 2)."""
    if len(value) > 63 or not _NAMESPACE.match(value):
        raise argparse.ArgumentTypeError(
            f"got {value!r}; a namespace is a DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


_KMS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]{1,128}|alias/[A-Za-z0-9/_-]{1,250})$")


def kms_key_arn(value: str) -> str:
    """A KMS key or alias ARN (its region is read from it), refused with exit 2 otherwise."""
    if not _KMS_ARN.match(value):
        raise argparse.ArgumentTypeError(
            f"got {value!r}; expected a KMS key or alias ARN, e.g. arn:aws:kms:us-east-1:111111111111:alias/NAME"
        )
    return value


class UsageError(Exception):
    """Refused input: the message says what was given and what is allowed."""


def parse_time(text: str) -> datetime:
    """ISO 8601 with a time and a time zone: a date alone or a time without a zone would be guessed."""
    example = "e.g. 2026-11-26T08:00:00Z or 2026-11-26T09:00:00+01:00"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected ISO 8601, {example}") from None
    if "T" not in text.upper() and " " not in text.strip():
        raise argparse.ArgumentTypeError(f"got {text!r}; a date alone is ambiguous: give the time and zone, {example}")
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"got {text!r}; give the time zone (Z for UTC), {example}")
    return moment.astimezone(UTC)


DIGEST_HELP = f"the KMS HMAC key for Secret digests (default: ${DIGEST_KEY_ENV}; with --env: the environment's)"


def add_config_commands(sub: Any) -> None:
    config = sub.add_parser("config", help="Kubernetes ConfigMaps and Secrets: export, list, restore")
    commands = config.add_subparsers(dest="config_command", required=True)

    def common(p: argparse.ArgumentParser, *, connect: bool) -> None:
        p.add_argument("--env", help="an environment of cdk.json: cluster, bucket and keys from it (flags override)")
        p.add_argument("--cdk-json", type=Path, default=Path("cdk.json"), help="with --env (default: ./cdk.json)")
        p.add_argument("--bucket", help="the configuration backup bucket (default with --env: the environment's)")
        p.add_argument("--cluster-name", help="EKS cluster (connects with an EKS token unless --kubeconfig is used; "
                       "default with --env: the environment's)")  # fmt: skip
        if connect:
            p.add_argument("--kubeconfig", help="kubeconfig file (default: KUBECONFIG, then in-cluster)")
            p.add_argument("--context", help="kubeconfig context (default: current)")
        p.add_argument("--json", action="store_true", help="print the result as JSON")

    export = commands.add_parser("export", help="back up namespaces now")
    common(export, connect=True)
    export.add_argument("--kms-key-id", action="append", dest="kms_keys", type=kms_key_arn,
                        help="a SOPS recipient key (ARN or alias ARN); repeat for the DR region's key "
                             "(default with --env: the SOPS keys of both regions)")  # fmt: skip
    export.add_argument("--digest-key-id", default=os.environ.get(DIGEST_KEY_ENV), help=DIGEST_HELP)
    export.add_argument("--namespace", action="append", dest="namespaces", type=namespace_name,
                        help="repeatable (default with --env: the environment's namespaces)")  # fmt: skip
    export.add_argument("--force", action="store_true", help="write a backup even when nothing changed")
    export.add_argument("--include-helm-releases", action="store_true")
    export.set_defaults(handler=_export)

    listing = commands.add_parser("list", help="complete backups of a namespace, newest first")
    common(listing, connect=True)
    listing.add_argument("--namespace", required=True, type=namespace_name)
    listing.add_argument(
        "--digest-key-id", default=os.environ.get(DIGEST_KEY_ENV), help="verify each manifest: " + DIGEST_HELP
    )
    listing.set_defaults(handler=_list)

    restore = commands.add_parser("restore", help="verify a backup and apply it back")
    common(restore, connect=True)
    restore.add_argument("--digest-key-id", default=os.environ.get(DIGEST_KEY_ENV), help=DIGEST_HELP)
    restore.add_argument(
        "--namespace", required=True, type=namespace_name, help="the namespace the backup was taken from"
    )
    restore.add_argument("--to-namespace", type=namespace_name, help="restore into this (existing) namespace instead")
    which = restore.add_mutually_exclusive_group()
    which.add_argument("--backup-id", help="YYYYMMDDTHHMMSSZ (default: the latest complete backup)")
    which.add_argument("--at", type=parse_time, help="the latest backup at or before this ISO 8601 time")
    restore.add_argument("--only", action="append", default=[], metavar="KIND/NAME", help="restore only these")
    restore.add_argument("--restart", action="append", default=[], metavar="deployment/NAME",
                         help="rollout restart after the restore (repeatable)")  # fmt: skip
    restore.add_argument("--dry-run", action="store_true", help="server-side dry run: report what would change")
    restore.add_argument("--recreate-immutable", action="store_true",
                         help="recreate immutable objects that differ (else reported failed)")  # fmt: skip
    restore.add_argument("--allow-unauthenticated", action="store_true",
                         help="restore a backup whose manifest is not signed (older backups)")  # fmt: skip
    restore.set_defaults(handler=_restore)


# Connections --------------------------------------------------------------------------------------


def _kms_factory() -> Callable[[str], Any]:
    import boto3

    clients: dict[str, Any] = {}

    def for_region(region: str) -> Any:
        if region not in clients:
            clients[region] = boto3.client("kms", region_name=region)
        return clients[region]

    return for_region


def _connect(args: argparse.Namespace) -> tuple[Any, str]:
    """A Kubernetes client and the cluster name that names the bucket folder."""
    from lambdas.kubernetes.client import (
        KubeClient,
        KubeConfigError,
        cluster_short_name,
        eks_connection,
        load_kubeconfig,
    )

    kubeconfig = args.kubeconfig or os.environ.get("KUBECONFIG")
    if kubeconfig or not args.cluster_name:
        try:
            connection, cluster = load_kubeconfig(args.kubeconfig, context=args.context)
        except KubeConfigError as err:
            raise UsageError(str(err)) from None
        return KubeClient(connection), args.cluster_name or cluster
    import boto3

    connection = eks_connection(args.cluster_name, boto3.client("eks"), boto3.client("sts"))
    return KubeClient(connection), cluster_short_name(args.cluster_name)


def _cluster_for_listing(args: argparse.Namespace) -> str:
    if args.cluster_name:
        from lambdas.kubernetes.client import cluster_short_name

        return cluster_short_name(args.cluster_name)
    return _connect(args)[1]


def resolve_environment(args: argparse.Namespace) -> None:
    """Fill what ``--env`` names and the flags did not: the cluster, the bucket, the SOPS keys of both
    regions and the digest key, from cdk.json and the naming rules the stacks use (each reported on
    stderr with where it came from); without ``--env`` the flags are required as before."""
    from backup_constructs.policy.environments import load_environments, read_cdk_context
    from backup_constructs.policy.naming import (
        config_bucket_name,
        config_digest_key_alias,
        config_region_digest_key_alias,
        config_sops_key_alias,
        partition_for,
        resource_prefix,
    )

    if args.env is not None:
        (config,) = load_environments(read_cdk_context(args.cdk_json), only=args.env)
        k8s = config.kubernetes
        if k8s is None:
            raise UsageError(f"--env {args.env}: the environment has no kubernetes settings in {args.cdk_json}")
        prefix = resource_prefix(config.policy)
        partition = partition_for(config.region)

        def alias_arn(region: str, alias: str) -> str:
            return f"arn:{partition}:kms:{region}:{config.account}:{alias}"

        digest_alias = config_region_digest_key_alias(prefix) if config.dr_region else config_digest_key_alias(prefix)
        resolved: dict[str, str | list[str]] = {
            "cluster_name": k8s.cluster_name,
            "bucket": config_bucket_name(prefix, config.account, config.region),
            "digest_key_id": alias_arn(config.region, digest_alias),
        }
        if hasattr(args, "kms_keys"):
            regions = [config.region, *([config.dr_region] if config.dr_region else [])]
            resolved["kms_keys"] = [alias_arn(r, config_sops_key_alias(prefix)) for r in regions]
        if hasattr(args, "namespaces"):
            resolved["namespaces"] = list(k8s.namespaces)
        environ_digest = os.environ.get(DIGEST_KEY_ENV)
        for name, value in resolved.items():
            current = getattr(args, name, None)
            if current and not (name == "digest_key_id" and current == environ_digest):
                continue
            setattr(args, name, value)
            _progress(f"{name.replace('_', '-')}: {value} (from --env {args.env})")
    if not args.bucket:
        raise UsageError("--bucket: not given; name the configuration bucket, or give --env")
    if getattr(args, "kms_keys", ...) in (None, []):
        raise UsageError("--kms-key-id: not given; name the SOPS keys (both regions), or give --env")
    if getattr(args, "namespaces", ...) in (None, []):
        raise UsageError("--namespace: not given; name at least one, or give --env")


def _digest_key(args: argparse.Namespace) -> str:
    if not args.digest_key_id:
        raise UsageError(f"--digest-key-id: not given and ${DIGEST_KEY_ENV} is not set; name the KMS HMAC key")
    arn: str = args.digest_key_id
    if not _KMS_ARN.match(arn):
        raise UsageError(f"--digest-key-id: got {arn!r}; expected a key or alias ARN (its region is read from it)")
    return arn


def _progress(message: str) -> None:
    print(f"backupctl: {message}", file=sys.stderr, flush=True)


# Commands -----------------------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    import boto3

    from lambdas.config_backup import ExportSettings, export_namespace

    kube, cluster = _connect(args)
    settings = ExportSettings(
        cluster=cluster,
        bucket=args.bucket,
        sops_key_arns=tuple(args.kms_keys),
        digest_key_arn=_digest_key(args),
        include_helm_releases=args.include_helm_releases,
    )
    s3, events, kms = boto3.client("s3"), boto3.client("events"), _kms_factory()
    results = []
    for namespace in args.namespaces:
        _progress(f"exporting {cluster}/{namespace} ...")
        result = export_namespace(
            kube=kube, s3=s3, kms=kms, events=events, settings=settings, namespace=namespace,
            trigger="manual", now=datetime.now(UTC), force=args.force,
        )  # fmt: skip
        _progress(f"{cluster}/{namespace}: {result.result} {result.backup_id or ''}".rstrip())
        results.append(result)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        for r in results:
            line = f"{r.namespace}: {r.result}"
            if r.backup_id:
                line += f" backup {r.backup_id}"
            line += f" ({r.configmaps} ConfigMaps, {r.secrets} Secrets)"
            print(line + (f" - {r.error}" if r.error else ""))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def _list(args: argparse.Namespace) -> int:
    import boto3

    from lambdas.config_backup.storage import backup_folders, namespace_digest_key

    cluster = _cluster_for_listing(args)
    key = (
        namespace_digest_key(_kms_factory(), _digest_key(args), cluster=cluster, namespace=args.namespace)
        if args.digest_key_id
        else None
    )
    folders = backup_folders(boto3.client("s3"), args.bucket, cluster, args.namespace, key)
    if args.json:
        print(json.dumps(folders, indent=2))
    elif not folders:
        print(f"no backups of {cluster}/{args.namespace} in s3://{args.bucket}")
    else:
        print(f"{'BACKUP ID':<18} {'STATUS':<11} {'MANIFEST':<14} {'CREATED (UTC)':<21} {'TRIGGER':<9} "
              f"{'CONFIGMAPS':>10} {'SECRETS':>8}")  # fmt: skip
        for f in folders:
            if f["status"] != "complete":
                print(f"{f['backupId']:<18} {'INCOMPLETE':<11} {'-':<14} (no readable manifest.json)")
                continue
            created = f["createdAt"].replace("T", " ").rstrip("Z")
            print(f"{f['backupId']:<18} {'complete':<11} {f['authentication']:<14} {created:<21} {f['trigger']:<9} "
                  f"{f['configmaps']:>10} {f['secrets']:>8}")  # fmt: skip
        if folders[0]["status"] != "complete":
            print(f"the newest backup {folders[0]['backupId']} is incomplete: a default restore refuses; "
                  "pick one with --backup-id")  # fmt: skip
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    import boto3

    from lambdas.config_backup import RestoreSettings, restore_namespace

    kube, cluster = _connect(args)
    settings = RestoreSettings(cluster=cluster, bucket=args.bucket, digest_key_arn=_digest_key(args))
    target = args.to_namespace or args.namespace
    _progress(f"verifying the backup of {cluster}/{args.namespace} before touching {target} ...")
    report = restore_namespace(
        kube=kube, s3=boto3.client("s3"), kms=_kms_factory(), settings=settings, namespace=args.namespace,
        to_namespace=args.to_namespace, backup_id=args.backup_id, at=args.at, only=args.only,
        restart=args.restart, dry_run=args.dry_run, recreate_immutable=args.recreate_immutable,
        allow_unauthenticated=args.allow_unauthenticated,
        now=datetime.now(UTC),
    )  # fmt: skip
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        mode = " (dry run)" if report.dry_run else ""
        print(f"restore of backup {report.backup_id} into {report.target_namespace}{mode}:")
        for o in report.objects:
            print(f"  {o.kind}/{o.name}: {o.outcome}" + (f" - {o.reason}" if o.reason else ""))
        for r in report.restarts:
            print(f"  deployment/{r.name}: {r.outcome}" + (f" - {r.reason}" if r.reason else ""))
        counts = report.to_dict()["counts"]
        print("  " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + (" - OK" if report.ok else " - FAILED"))
    return EXIT_OK if report.ok else EXIT_FAILED


def run_config_command(args: argparse.Namespace) -> int:
    """Run a ``config`` command, mapping refusals to exit 2 and failures to exit 1."""
    from botocore.exceptions import BotoCoreError, ClientError

    from backup_constructs.policy import PolicyError
    from lambdas.config_backup import BackupIntegrityError, ConfigBackupError, RestoreError
    from lambdas.kubernetes.client import KubeConfigError, KubeError

    try:
        resolve_environment(args)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except (UsageError, KubeConfigError, PolicyError) as err:
        print(f"backupctl: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BackupIntegrityError as err:
        print(f"backupctl: refused: {err}", file=sys.stderr)
        return EXIT_FAILED
    except RestoreError as err:
        print(f"backupctl: refused: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigBackupError, KubeError, ClientError, BotoCoreError) as err:
        print(f"backupctl: failed: {err}", file=sys.stderr)
        return EXIT_FAILED
