"""``backupctl check <cdk.out>``: does a synthesized app meet the backup policy? A CI gate for any CDK
app: exit 0 when it does, 1 on any violation, 2 on refused input; ``--json`` and ``--junit FILE`` for CI
systems."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from backup_constructs.compliance import Assembly, Finding, PolicyGate
from backup_constructs.policy import BackupPolicy, PolicyError
from backup_constructs.policy.environments import load_environments, read_cdk_context
from backup_constructs.policy.rpo import format_minutes

EXIT_OK, EXIT_FAILED = 0, 1
_KINDS = (("resource", "stateful resources"), ("log-group", "log groups"), ("vault", "backup vaults"))


def add_check_command(sub: Any) -> None:
    check = sub.add_parser(
        "check",
        help="does a synthesized app (any CDK app's cdk.out) meet the backup policy? exit 1 on any violation",
    )
    check.add_argument("assembly", type=Path, help="the cloud assembly directory (cdk.out) of `cdk synth`")
    source = check.add_mutually_exclusive_group(required=True)
    source.add_argument("--env", help="the policy of this environment of cdk.json (see --cdk-json)")
    source.add_argument(
        "--policy",
        type=Path,
        help='a JSON file: a policy object as in cdk.json ({"drRegion": ...}), applied over the production '
        'preset, or over {"preset": "staging"}',
    )
    check.add_argument("--cdk-json", type=Path, default=Path("cdk.json"), help="with --env (default: ./cdk.json)")
    check.add_argument(
        "--stack",
        action="append",
        metavar="PATTERN",
        help="only stacks whose name matches (glob, repeatable); default: the stacks tagged environment=<the "
        "policy's environment> when the app tags its stacks so, else every stack",
    )
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML (a test case per finding)")
    check.add_argument("--all", action="store_true", help="also list resources of types the policy does not protect")
    check.set_defaults(handler=run_check)


def load_policy(args: argparse.Namespace) -> BackupPolicy:
    if args.env is not None:
        (config,) = load_environments(read_cdk_context(args.cdk_json), only=args.env)
        return config.policy
    try:
        data = json.loads(args.policy.read_text(encoding="utf-8"))
    except ValueError as err:
        raise PolicyError(f"--policy {args.policy}: not JSON ({err})") from None
    if not isinstance(data, dict):
        raise PolicyError(f"--policy {args.policy}: got {type(data).__name__}; expected a JSON object of policy fields")
    preset = data.pop("preset", "production")
    if preset not in ("production", "staging"):
        raise PolicyError(f"--policy {args.policy}: preset: got {preset!r}; allowed: production, staging")
    return BackupPolicy.from_context(data, base=BackupPolicy.preset(preset))


def default_stacks(assembly: Assembly, policy: BackupPolicy) -> list[str] | None:
    """The stacks tagged ``environment=<policy's environment>``, when the app tags its stacks that way."""
    if not any("environment" in s.tags for s in assembly.stacks):
        return None
    return [s.name for s in assembly.stacks if s.tags.get("environment") == policy.environment]


def run_check(args: argparse.Namespace) -> int:
    policy = load_policy(args)
    assembly = Assembly.load(args.assembly)
    stacks = args.stack or default_stacks(assembly, policy)
    gate = PolicyGate(policy, assembly, stacks)
    if not gate.in_scope:
        raise PolicyError(
            f"--stack: no stack of {args.assembly} matches {stacks!r}; stacks: "
            + ", ".join(s.name for s in assembly.stacks)
        )
    findings = gate.findings()
    violations = sum(len(f.violations) for f in findings)
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_bytes(junit_xml(findings, policy.environment))
    if args.json:
        print(
            json.dumps(
                {
                    "assembly": str(args.assembly),
                    "policy": policy.environment,
                    "stacks": [s.name for s in gate.in_scope],
                    "violations": violations,
                    "findings": [f.as_dict() for f in findings],
                },
                indent=2,
            )
        )
    else:
        print(render_text(findings, policy, [s.name for s in gate.in_scope], show_all=args.all))
    return EXIT_FAILED if violations else EXIT_OK


def render_text(findings: list[Finding], policy: BackupPolicy, stacks: list[str], *, show_all: bool = False) -> str:
    lines = [f"backup policy {policy.environment}: {len(stacks)} stack(s): {', '.join(stacks)}"]
    for kind, title in _KINDS:
        mine = [f for f in findings if f.kind == kind]
        hidden = [f for f in mine if f.status == "not-protected" and not show_all]
        shown = [f for f in mine if f not in hidden]
        lines.append(f"  {title}: {len(mine)}")
        for finding in shown:
            lines.append(f"    {finding.status.upper():<13} {finding.path}  {_describe(finding)}")
            lines += [f"        VIOLATION {v}" for v in finding.violations]
            lines += [f"        warning   {w}" for w in finding.warnings]
        if hidden:
            kinds = sorted({f.facts["resourceType"] for f in hidden})
            lines.append(
                f"    ({len(hidden)} of types the policy does not protect: {', '.join(kinds)}; --all lists them)"
            )
    count = sum(len(f.violations) for f in findings)
    warnings = sum(len(f.warnings) for f in findings)
    verdict = "FAILS" if count else "meets"
    lines.append(f"{verdict} the {policy.environment} policy: {count} violation(s), {warnings} warning(s)")
    return "\n".join(lines)


def _describe(finding: Finding) -> str:
    facts = finding.facts
    if finding.kind == "log-group":
        days = facts["retentionDays"]
        return f"{facts['logGroupName']}: {days if isinstance(days, str) else f'{days} d'}"
    if finding.kind == "vault":
        lock = facts["lock"]
        held = f"{lock['mode']} lock {lock['minRetentionDays']}-{lock['maxRetentionDays']} d" if lock else "no lock"
        return (
            f"{facts['vaultName']}: {held}; access policy: {facts['accessPolicy'] or 'none'}; {facts['encryptionKey']}"
        )
    if finding.status == "replica":
        return f"{facts['resourceType']} read replica of {facts['replicaOf']}"
    parts = [facts["resourceType"]]
    if finding.status == "excluded":
        return f"{facts['resourceType']} excluded: {facts['excludedBecause']}"
    parts.append("selected by " + ", ".join(facts["selectedBy"]) if facts["selectedBy"] else "not selected")
    parts.append(f"RPO {_rpo(facts['rpo'])}")
    if "regionLossRpo" in facts:
        parts.append(f"region loss {_rpo(facts['regionLossRpo'])}")
    protection = facts["deletionProtection"]
    if protection is not None:
        parts.append(f"deletion protection {'on' if protection else 'off'}")
    parts.append(f"DeletionPolicy {facts['deletionPolicy']}/UpdateReplacePolicy {facts['updateReplacePolicy']}")
    parts.append(str(facts["encryption"]))
    return "; ".join(parts)


def _rpo(fact: dict[str, Any]) -> str:
    value = "none" if fact["minutes"] is None else format_minutes(fact["minutes"])
    target = "" if fact["targetMinutes"] is None else f" (target {format_minutes(fact['targetMinutes'])})"
    return f"{value}{target} via {fact['via']}"


def junit_xml(findings: list[Finding], environment: str) -> bytes:
    """JUnit XML: a test suite per kind, a test case per finding; a violation is a failure, a resource
    left out (excluded, a replica, a type the policy does not protect) is skipped, warnings go to
    system-out."""
    root = ET.Element("testsuites", name=f"backup-policy-{environment}")
    for kind, title in _KINDS:
        mine = [f for f in findings if f.kind == kind]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"backup policy {environment}: {title}",
            tests=str(len(mine)),
            failures=str(sum(1 for f in mine if f.violations)),
            skipped=str(sum(1 for f in mine if f.status in ("excluded", "replica", "not-protected"))),
            errors="0",
        )
        for finding in mine:
            case = ET.SubElement(
                suite, "testcase", classname=finding.stack, name=f"{finding.path} ({finding.cfn_type})"
            )
            if finding.violations:
                failure = ET.SubElement(case, "failure", message=finding.violations[0], type="BackupPolicyViolation")
                failure.text = "\n".join(finding.violations)
            elif finding.status in ("excluded", "replica", "not-protected"):
                ET.SubElement(case, "skipped", message=f"{finding.status}: {_describe(finding)}")
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join([_describe(finding), *(f"warning: {w}" for w in finding.warnings)])
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
