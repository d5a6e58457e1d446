"""``backupctl``: the operator CLI. Exit codes: 0 done, 1 failed, 2 usage error or refused input."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from backup_constructs.cli.check import add_check_command
from backup_constructs.cli.config import add_config_commands, run_config_command
from backup_constructs.cli.db import add_db_commands, run_db_command
from backup_constructs.cli.doctor import add_doctor_command
from backup_constructs.cli.failover import add_dr_commands
from backup_constructs.policy import PolicyError
from backup_constructs.policy.environments import load_environments, read_cdk_context

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _summary(args: argparse.Namespace) -> int:
    from backup_constructs.cli.summary import render_summary

    configs = load_environments(read_cdk_context(args.cdk_json), only=args.env)
    print(render_summary(configs, args.assembly))
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from backup_constructs.cli.report import render_report
    from backup_constructs.policy import BackupPolicy

    if args.presets or not args.cdk_json.exists():
        presets = {"production": BackupPolicy.production, "staging": BackupPolicy.staging}
        if args.env is not None and args.env not in presets:
            raise PolicyError(f"environment: got {args.env!r}; allowed: {', '.join(presets)}")
        policies = [presets[args.env]()] if args.env else [make() for make in presets.values()]
    else:
        policies = [c.policy for c in load_environments(read_cdk_context(args.cdk_json), only=args.env)]
    text = render_report(policies, args.format)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"backupctl: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backupctl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    summary = sub.add_parser("summary", help="what a synth built and what each environment's policy achieves")
    summary.add_argument("--assembly", type=Path, default=Path("cdk.out"), help="cloud assembly directory")
    summary.add_argument("--cdk-json", type=Path, default=Path("cdk.json"), help="the app's cdk.json")
    summary.add_argument("--env", help="only this environment")
    summary.set_defaults(handler=_summary)
    report = sub.add_parser("report", help="the strategy document (the guide's tables) from the policy")
    report.add_argument("--env", help="only this environment")
    report.add_argument("--format", choices=["markdown", "text"], default="text")
    report.add_argument("--output", type=Path, help="write to this file instead of stdout")
    report.add_argument("--cdk-json", type=Path, default=Path("cdk.json"), help="policies from this cdk.json")
    report.add_argument("--presets", action="store_true", help="the built-in production and staging presets")
    report.set_defaults(handler=_report)
    add_check_command(sub)
    add_config_commands(sub)
    add_db_commands(sub)
    add_doctor_command(sub)
    add_dr_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. No input ends in a traceback: refused input is one line and exit 2, any other
    failure one line and exit 1 (``BACKUPCTL_DEBUG=1`` shows the traceback instead)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("backupctl: interrupted", file=sys.stderr)
        return 130
    except PolicyError as err:
        print(f"backupctl: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        print(f"backupctl: {err.strerror or type(err).__name__}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:
        if os.environ.get("BACKUPCTL_DEBUG"):
            raise
        print(
            f"backupctl: failed: {type(err).__name__}: {str(err)[:300]} (BACKUPCTL_DEBUG=1 shows where)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "config":
        return run_config_command(args)
    if args.command in ("db", "drill", "dr"):
        return run_db_command(args)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
