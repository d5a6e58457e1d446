"""``backupctl doctor --env E``: read-only checks of what a first deploy needs and no template can create.

Each check calls AWS read-only APIs in a region the environment deploys to and ends OK, MISSING (with
the fix) or UNKNOWN (the check itself could not run: access denied, throttled). Exit 1 when something
is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from backup_constructs.policy.environments import EnvironmentConfig, load_environments, read_cdk_context

Status = Literal["OK", "MISSING", "UNKNOWN"]
EXIT_OK, EXIT_FAILED = 0, 1

# What Backup Audit Manager's controls evaluate through AWS Config (AWS Backup developer guide,
# "Choosing your controls": every control also needs AWS::Config::ResourceCompliance).
AUDIT_RESOURCE_TYPES = (
    "AWS::Backup::BackupPlan",
    "AWS::Backup::BackupSelection",
    "AWS::Backup::BackupVault",
    "AWS::Backup::RecoveryPoint",
    "AWS::Config::ResourceCompliance",
)
EKS_ACCESS_ENTRY_MODES = ("API", "API_AND_CONFIG_MAP")
BOOTSTRAP_STACK = "CDKToolkit"
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
# aws-cdk-lib 2.x's default synthesizer needs bootstrap version 6 to deploy and publish assets.
MIN_BOOTSTRAP_VERSION = 6
# Lambda refuses reservations that leave fewer than 100 executions unreserved in the account.
MIN_UNRESERVED_CONCURRENCY = 100


@dataclass(frozen=True)
class Check:
    name: str
    region: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f"; fix: {self.fix}" if self.fix and self.status != "OK" else ""
        return f"{self.status:<8} {self.region:<12} {self.name:<22} {self.detail}{fix}"


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    error = response.get("Error", {}) if isinstance(response, Mapping) else {}
    return str(error.get("Code") or type(exc).__name__)


def _guarded(name: str, region: str, run: Callable[[], Check]) -> Check:
    try:
        return run()
    except Exception as exc:
        return Check(name, region, "UNKNOWN", f"could not check ({_code(exc)})", "grant the read-only call or retry")


def check_config_recorder(config_client: Any, region: str, *, app_creates_recorder: bool) -> Check:
    name = "config-recorder"

    def run() -> Check:
        recorders = config_client.describe_configuration_recorders().get("ConfigurationRecorders") or []
        if app_creates_recorder:
            if recorders:
                return Check(
                    name,
                    region,
                    "MISSING",
                    f"recorder {recorders[0].get('name')!r} exists and the app would create a second one "
                    "(AWS Config allows one per region)",
                    'set "monitoring": {"enableConfigRecording": false} and record the backup types with it',
                )
            return Check(name, region, "OK", "no recorder yet: the app creates one for the backup resource types")
        if not recorders:
            return Check(
                name,
                region,
                "MISSING",
                "no AWS Config recorder: Backup Audit Manager's framework cannot evaluate its controls",
                'set "monitoring": {"enableConfigRecording": true}, or record ' + ", ".join(AUDIT_RESOURCE_TYPES),
            )
        recorder = recorders[0]
        group = recorder.get("recordingGroup") or {}
        strategy = (group.get("recordingStrategy") or {}).get("useOnly")
        excluded = set((group.get("exclusionByResourceTypes") or {}).get("resourceTypes") or [])
        if group.get("allSupported") or strategy == "ALL_SUPPORTED_RESOURCE_TYPES":
            missing = []
        elif strategy == "EXCLUSION_BY_RESOURCE_TYPES":
            missing = [t for t in AUDIT_RESOURCE_TYPES if t in excluded]
        else:
            missing = [t for t in AUDIT_RESOURCE_TYPES if t not in (group.get("resourceTypes") or [])]
        statuses = config_client.describe_configuration_recorder_status(
            ConfigurationRecorderNames=[recorder["name"]]
        ).get("ConfigurationRecordersStatus") or [{}]
        if not statuses[0].get("recording"):
            return Check(
                name,
                region,
                "MISSING",
                f"recorder {recorder['name']!r} is not recording",
                f"aws configservice start-configuration-recorder --configuration-recorder-name {recorder['name']}",
            )
        if missing:
            return Check(
                name,
                region,
                "MISSING",
                f"recorder {recorder['name']!r} does not record {', '.join(missing)}",
                "add them to the recorder's recording group",
            )
        return Check(name, region, "OK", f"recorder {recorder['name']!r} records the backup resource types")

    return _guarded(name, region, run)


def check_eks_authentication(eks: Any, region: str, cluster: str) -> Check:
    name = "eks-access-entries"

    def run() -> Check:
        mode = (
            (eks.describe_cluster(name=cluster)["cluster"].get("accessConfig") or {}).get("authenticationMode")
        ) or "CONFIG_MAP"
        if mode in EKS_ACCESS_ENTRY_MODES:
            return Check(name, region, "OK", f"cluster {cluster} authentication mode {mode}")
        return Check(
            name,
            region,
            "MISSING",
            f"cluster {cluster} authentication mode {mode}: access entries need API or API_AND_CONFIG_MAP",
            f"aws eks update-cluster-config --name {cluster} --access-config authenticationMode=API_AND_CONFIG_MAP",
        )

    return _guarded(name, region, run)


def check_cross_account_backup(backup: Any, region: str) -> Check:
    """AWS Backup copies into another account only when the organization turned cross-account backup on
    (in its management account); a member account can read the setting."""
    name = "cross-account-backup"

    def run() -> Check:
        settings = backup.describe_global_settings().get("GlobalSettings") or {}
        if str(settings.get("isCrossAccountBackupEnabled", "false")).lower() == "true":
            return Check(name, region, "OK", "the organization allows cross-account backup copies")
        return Check(
            name,
            region,
            "MISSING",
            "cross-account backup is off: the copies to the backup account fail",
            "in the organization's management account: aws backup update-global-settings "
            "--global-settings isCrossAccountBackupEnabled=true",
        )

    return _guarded(name, region, run)


def _shares_with(statement: Mapping[str, Any], account: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    principals = principal.get("AWS", []) if isinstance(principal, Mapping) else []
    principals = [principals] if isinstance(principals, str) else list(principals)
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else list(actions)
    named = any(p in (account, f"arn:aws:iam::{account}:root") or p.endswith(f"::{account}:root") for p in principals)
    return named and any(a in ("kms:*", "kms:Decrypt") for a in actions)


def check_key_shared(rds: Any, kms: Any, region: str, instance: str, backup_account: str) -> Check:
    """The database's KMS key lets the backup account use it: an RDS snapshot keeps the instance's key,
    and AWS Backup copies it to another account only then (an AWS managed key cannot be shared)."""
    name = "key-shared"

    def run() -> Check:
        described = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]
        key_id = described.get("KmsKeyId")
        if not key_id:
            return Check(
                name, region, "MISSING", f"{instance} is not encrypted with a KMS key", "recreate it encrypted"
            )
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        if metadata.get("KeyManager") == "AWS":
            return Check(
                name,
                region,
                "MISSING",
                f"{instance} uses an AWS managed key, which cannot be shared with account {backup_account}",
                "restore it onto a customer managed key (the data stack's)",
            )
        policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        statements = policy.get("Statement", [])
        if any(_shares_with(st, backup_account) for st in statements):
            return Check(name, region, "OK", f"the key of {instance} is usable by the backup account {backup_account}")
        return Check(
            name,
            region,
            "MISSING",
            f"the key of {instance} does not let account {backup_account} decrypt: the isolated copies fail",
            "deploy the data stack (its key policy names the backup account)",
        )

    return _guarded(name, region, run)


def _logs_management_writes(cloudtrail: Any, trail: Mapping[str, Any]) -> bool:
    selectors = cloudtrail.get_event_selectors(TrailName=trail["TrailARN"])
    for selector in selectors.get("EventSelectors") or []:
        if selector.get("IncludeManagementEvents", True) and selector.get("ReadWriteType", "All") in (
            "All",
            "WriteOnly",
        ):
            return True
    for advanced in selectors.get("AdvancedEventSelectors") or []:
        fields = {f["Field"]: f for f in advanced.get("FieldSelectors") or []}
        category = fields.get("eventCategory", {})
        read_only = fields.get("readOnly", {})
        if "Management" in (category.get("Equals") or []) and "true" not in (read_only.get("Equals") or []):
            return True
    return False


def check_cloudtrail(cloudtrail_in: Callable[[str], Any], region: str) -> Check:
    """A trail logging management write events in ``region`` (its own, or a multi-region one); its
    status and selectors are read in the trail's home region."""
    name = "cloudtrail"

    def run() -> Check:
        trails = cloudtrail_in(region).describe_trails(includeShadowTrails=True).get("trailList") or []
        covering = [t for t in trails if t.get("HomeRegion") == region or t.get("IsMultiRegionTrail")]
        for trail in covering:
            home = cloudtrail_in(str(trail.get("HomeRegion") or region))
            if not home.get_trail_status(Name=trail["TrailARN"]).get("IsLogging"):
                continue
            if _logs_management_writes(home, trail):
                return Check(name, region, "OK", f"trail {trail['Name']} logs management events")
        return Check(
            name,
            region,
            "MISSING",
            "no logging trail records management write events here: the key-deletion and tamper alerts "
            "(CloudTrail through EventBridge) stay silent",
            "create a multi-region trail that logs management events (aws cloudtrail create-trail "
            "--is-multi-region-trail ... && aws cloudtrail start-logging ...)",
        )

    return _guarded(name, region, run)


def check_bootstrap(cloudformation: Any, ssm: Any, region: str) -> Check:
    name = "cdk-bootstrap"
    fix = f"cdk bootstrap aws://<account>/{region}"

    def run() -> Check:
        try:
            stack = cloudformation.describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"][0]
        except Exception as exc:
            if _code(exc) == "ValidationError":
                return Check(name, region, "MISSING", f"no {BOOTSTRAP_STACK} stack", fix)
            raise
        status = str(stack.get("StackStatus", ""))
        if not status.endswith("_COMPLETE") or "ROLLBACK" in status or status.startswith("DELETE"):
            return Check(name, region, "MISSING", f"{BOOTSTRAP_STACK} is {status}", fix)
        outputs = {o.get("OutputKey"): o.get("OutputValue") for o in stack.get("Outputs") or []}
        version = outputs.get("BootstrapVersion")
        if version is None:
            version = ssm.get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)["Parameter"]["Value"]
        if int(version) < MIN_BOOTSTRAP_VERSION:
            return Check(name, region, "MISSING", f"bootstrap version {version} < {MIN_BOOTSTRAP_VERSION}", fix)
        return Check(name, region, "OK", f"bootstrap version {version}")

    return _guarded(name, region, run)


def check_concurrency(lambda_client: Any, region: str, reserved_by_app: int | None) -> Check:
    name = "lambda-concurrency"

    def run() -> Check:
        if reserved_by_app is None:
            return Check(
                name, region, "UNKNOWN", "no cloud assembly to count the app's reservations", "run make synth first"
            )
        limits = lambda_client.get_account_settings()["AccountLimit"]
        unreserved = int(limits["UnreservedConcurrentExecutions"])
        left = unreserved - reserved_by_app
        detail = f"{unreserved} unreserved, the app reserves {reserved_by_app} (counted already if deployed)"
        if left < MIN_UNRESERVED_CONCURRENCY:
            return Check(
                name,
                region,
                "MISSING",
                f"{detail}: {left} would be left, Lambda requires {MIN_UNRESERVED_CONCURRENCY}",
                "request a higher concurrency quota (Service Quotas, Lambda 'Concurrent executions')",
            )
        return Check(name, region, "OK", f"{detail}; {left} left")

    return _guarded(name, region, run)


def reserved_concurrency(assembly: Path, stacks: Iterable[str]) -> dict[str, int] | None:
    """Reserved concurrent executions per region of the given stacks, from a cloud assembly."""
    manifest_path = assembly / "manifest.json"
    if not manifest_path.is_file():
        return None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    totals: dict[str, int] = {}
    wanted = set(stacks)
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack" or name not in wanted:
            continue
        region = artifact["environment"].rsplit("/", 1)[-1]
        template = json.loads((assembly / artifact["properties"]["templateFile"]).read_text(encoding="utf-8"))
        for resource in template.get("Resources", {}).values():
            if resource.get("Type") == "AWS::Lambda::Function":
                totals[region] = totals.get(region, 0) + int(
                    resource.get("Properties", {}).get("ReservedConcurrentExecutions") or 0
                )
    return totals


ClientFactory = Callable[[str, str], Any]


def run_checks(config: EnvironmentConfig, client: ClientFactory, assembly: Path) -> list[Check]:
    """Every check for ``config``, in each region it deploys to."""
    regions = [config.region, *([config.dr_region] if config.dr_region else [])]
    stacks = [s for s in _stack_names(assembly) if s.startswith(config.stack_name(""))]
    reserved = reserved_concurrency(assembly, stacks)
    checks = [
        check_config_recorder(
            client("config", config.region), config.region, app_creates_recorder=config.enable_config_recording
        )
    ]
    if config.kubernetes:
        checks.append(
            check_eks_authentication(client("eks", config.region), config.region, config.kubernetes.cluster_name)
        )
    if config.backup_account is not None:
        checks.append(check_cross_account_backup(client("backup", config.region), config.region))
        checks.append(
            check_key_shared(
                client("rds", config.region),
                client("kms", config.region),
                config.region,
                config.database_identifier,
                config.backup_account.account,
            )
        )
    for region in regions:
        checks.append(check_cloudtrail(lambda r: client("cloudtrail", r), region))
        checks.append(check_bootstrap(client("cloudformation", region), client("ssm", region), region))
        checks.append(
            check_concurrency(client("lambda", region), region, None if reserved is None else reserved.get(region, 0))
        )
    return checks


def _stack_names(assembly: Path) -> list[str]:
    manifest_path = assembly / "manifest.json"
    if not manifest_path.is_file():
        return []
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return [n for n, a in manifest.get("artifacts", {}).items() if a.get("type") == "aws:cloudformation:stack"]


def add_doctor_command(sub: Any) -> None:
    doctor = sub.add_parser("doctor", help="read-only checks of the deployment prerequisites of an environment")
    doctor.add_argument("--env", required=True, help="an environment of cdk.json")
    doctor.add_argument("--cdk-json", type=Path, default=Path("cdk.json"))
    doctor.add_argument("--assembly", type=Path, default=Path("cdk.out"), help="for the app's reserved concurrency")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.set_defaults(handler=run_doctor)


def aws_client(service: str, region: str) -> Any:
    """A boto3 client for ``region`` (the seam tests point at moto or a Stubber)."""
    import boto3

    return boto3.client(service, region_name=region)


def run_doctor(args: argparse.Namespace) -> int:
    (config,) = load_environments(read_cdk_context(args.cdk_json), only=args.env)
    checks = run_checks(config, aws_client, args.assembly)
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        print("\n".join(c.line() for c in checks))
    missing = [c for c in checks if c.status == "MISSING"]
    if missing:
        print(f"backupctl: {len(missing)} prerequisite(s) missing", file=sys.stderr)
    return EXIT_FAILED if missing else EXIT_OK
