"""The permission contract: every recorded runtime call, translated from the test world into the
deployed one, is evaluated against the deployed function's identity policy and the resource policy
in its way. Also the reverse: actions a function is granted that no recorded call needs."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.contracts import iam_eval
from tests.contracts.authorizations import AWS_MANAGED_S3_KEY, OPERATIONS, CallContext, Requirement, requirements
from tests.contracts.deployment import Deployment, FunctionModel
from tests.contracts.functions import RuntimeFunction, functions_of
from tests.contracts.recorder import RecordedCall

# The test world's account (moto's default) and home region; the deployed ones replace them.
TEST_ACCOUNTS = ("123456789012",)
TEST_REGION = "us-east-1"
_MIN_SUBSTITUTION = 6

# Granted actions no test call exercises, with the reason they are granted anyway.
PLATFORM_USES: Mapping[str, str] = {
    "logs:CreateLogStream": "the Lambda service writes the function's logs with its role",
    "logs:PutLogEvents": "the Lambda service writes the function's logs with its role",
    "sqs:SendMessage": "the Lambda service sends failed asynchronous events to the dead-letter queue with the role",
    "ec2:CreateNetworkInterface": "the Lambda service attaches a function in a VPC with its role",
    "ec2:DescribeNetworkInterfaces": "the Lambda service attaches a function in a VPC with its role",
    "ec2:DeleteNetworkInterface": "the Lambda service detaches a function in a VPC with its role",
    "ec2:AssignPrivateIpAddresses": "the Lambda service manages the function's network interfaces",
    "ec2:UnassignPrivateIpAddresses": "the Lambda service manages the function's network interfaces",
}
# kms:GenerateDataKey / kms:Decrypt conditioned on SQS: the dead letters' encryption, used by Lambda.
_SQS_VIA = re.compile(r"^sqs\.[a-z0-9-]+\.amazonaws\.com$")


@dataclass(frozen=True)
class Violation:
    function: str
    message: str
    test: str

    def __str__(self) -> str:
        return f"{self.function}: {self.message}  (first seen in {self.test or 'an unnamed test'})"


def setting_pairs(function: FunctionModel, runtime: RuntimeFunction, captured: Mapping[str, Any]) -> dict[str, str]:
    """Test value -> deployed value for every setting: the deployed function's settings are read from
    its synthesized environment with the runtime's own ``from_env`` (defaults included). A list maps
    item by item, cyclically: a test with three databases stands for a deployment whose list has one."""
    if runtime.settings is None:
        return {}
    deployed = runtime.settings.from_env(function.environment)
    settings = {runtime.aliases.get(k, k): v for k, v in captured.items()}
    pairs: dict[str, str] = {}
    for item in dataclasses.fields(deployed):
        test_value, deployed_value = settings.get(item.name), getattr(deployed, item.name)
        if test_value in (None, "", [], ()) or deployed_value in (None, "", ()):
            continue
        if isinstance(deployed_value, tuple):
            items = list(deployed_value)
            for i, t in enumerate(test_value):
                pairs[str(t)] = str(items[i % len(items)])
        elif isinstance(deployed_value, str):
            pairs[str(test_value)] = deployed_value
    return pairs


class Translator:
    """Rewrites a call's values from the test world into the deployed world: settings first (exact
    values), then the test account and home region."""

    def __init__(self, function: FunctionModel, pairs: Mapping[str, str]):
        self._pairs = sorted(((t, d) for t, d in pairs.items() if len(t) >= 3), key=lambda p: -len(p[0]))
        self._function = function

    def text(self, value: str) -> str:
        holders: dict[str, str] = {}
        for i, (test_value, deployed) in enumerate(self._pairs):
            holder = f"\x00{i}\x00"
            if len(test_value) >= _MIN_SUBSTITUTION:
                if test_value in value:
                    value = value.replace(test_value, holder)
                    holders[holder] = deployed
            else:  # a short name (a cluster "fake") only as a whole ARN or path segment
                replaced = re.sub(rf"(?<![^/:]){re.escape(test_value)}(?![^/:])", holder, value)
                if replaced != value:
                    value = replaced
                    holders[holder] = deployed
        for account in TEST_ACCOUNTS:
            value = value.replace(f":{account}:", f":{self._function.account}:")
        if self._function.region != TEST_REGION:
            value = value.replace(f":{TEST_REGION}:", f":{self._function.region}:")
        for holder, deployed in holders.items():
            value = value.replace(holder, deployed)
        return value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def region(self, region: str) -> str:
        return self._function.region if region == TEST_REGION else region


def _policy_for(deployment: Deployment, need: Requirement) -> tuple[Mapping[str, Any] | None, bool, str | None]:
    """(resource policy, whether it is a key policy, a problem with finding it)."""
    if need.policy_kind == "key":
        if need.resource.endswith(AWS_MANAGED_S3_KEY) or need.resource == AWS_MANAGED_S3_KEY:
            return (
                None,
                True,
                (
                    "encrypts with the AWS managed key aws/s3, not the bucket's key (ServerSideEncryption "
                    "'aws:kms' without SSEKMSKeyId)"
                ),
            )
        policy = deployment.key_policies.get(need.resource)
        return policy, True, None if policy is not None else f"KMS key {need.resource} is not in the app"
    table = {
        "bucket": deployment.bucket_policies,
        "queue": deployment.queue_policies,
        "topic": deployment.topic_policies,
        "vault": deployment.vault_policies,
    }.get(need.policy_kind or "")
    return (table or {}).get(need.policy_id or ""), False, None


def learned_key_identities(calls: Iterable[RecordedCall]) -> dict[str, str]:
    """Test key ARNs that DescribeKey resolved from an alias: the alias translates, so does the key."""
    return {
        str(c.response["KeyArn"]): str(c.params["KeyId"])
        for c in calls
        if c.service == "kms" and c.operation == "DescribeKey" and c.response.get("KeyArn")
    }


def check(
    calls: Sequence[RecordedCall], deployment: Deployment, bindings: Mapping[str, str]
) -> tuple[list[Violation], dict[str, set[tuple[str, str]]]]:
    """(every violation, once per function and message; the (action, resource) each function used)."""
    violations: dict[tuple[str, str], Violation] = {}
    used: dict[str, set[tuple[str, str]]] = {}
    # Values one function's settings name (a SOPS key the export encrypts with) may reach another
    # function through the data (the restore decrypts with the key the file names).
    known: dict[str, str] = dict(bindings)
    for call in calls:
        for runtime in functions_of(call.entry, call.settings):
            function = deployment.function(runtime.stack, runtime.logical_prefix)
            for test_value, deployed in setting_pairs(function, runtime, call.settings).items():
                known.setdefault(test_value, deployed)
    aliases = learned_key_identities(calls)
    for call in calls:
        for runtime in functions_of(call.entry, call.settings):
            function = deployment.function(runtime.stack, runtime.logical_prefix)
            used.setdefault(runtime.name, set())
            pairs = {**known, **setting_pairs(function, runtime, call.settings)}
            first = Translator(function, pairs)
            translator = Translator(function, {**{k: first.text(v) for k, v in aliases.items()}, **pairs})

            def fail(message: str, runtime: RuntimeFunction = runtime, call: RecordedCall = call) -> None:
                violations.setdefault((runtime.name, message), Violation(runtime.name, message, call.test))

            if (call.service, call.operation) not in OPERATIONS:
                fail(f"no authorization mapping for {call.service}:{call.operation}: add it to the table")
                continue
            params = translator.value(dict(call.params))
            ctx = CallContext(function.account, translator.region(call.region), deployment)
            for need in requirements(call.service, call.operation, params, ctx):
                used[runtime.name].add((need.action, need.resource))
                policy, key_policy, problem = _policy_for(deployment, need)
                if problem is not None:
                    fail(f"{need.action} on {need.resource}: {problem}")
                    continue
                request = iam_eval.Request(
                    principal=function.role_arn,
                    action=need.action,
                    resource=need.resource,
                    context={
                        "aws:PrincipalArn": function.role_arn,
                        "aws:PrincipalAccount": function.account,
                        "aws:SecureTransport": "true",
                        "aws:RequestedRegion": ctx.region,
                        **need.context,
                    },
                )
                decision = iam_eval.evaluate(request, function.identity_policies, policy, key_policy=key_policy)
                if not decision.allowed:
                    fail(f"{need.action} on {need.resource} not allowed ({decision.reason})")
    return list(violations.values()), used


def unused_grants(
    deployment: Deployment, used: Mapping[str, set[tuple[str, str]]], runtime: RuntimeFunction
) -> list[str]:
    """Allowed actions of the function that no recorded call needed and that have no written reason."""
    if not runtime.check_unused:
        return []
    function = deployment.function(runtime.stack, runtime.logical_prefix)
    actions_used = {action for action, _ in used.get(runtime.name, set())}
    unused = []
    for document in function.identity_policies:
        for statement in document.get("Statement", []):
            if statement.get("Effect") != "Allow":
                continue
            via = (statement.get("Condition") or {}).get("StringEquals", {}).get("kms:ViaService", "")
            for action in iam_eval._as_list(statement.get("Action")):
                if action in PLATFORM_USES or (action.startswith("kms:") and _SQS_VIA.match(str(via))):
                    continue
                if not any(iam_eval._glob(action, a, case=False) for a in actions_used):
                    unused.append(
                        f"{runtime.name}: {action} ({statement.get('Sid', 'no Sid')}) is granted but no test uses it"
                    )
    return sorted(set(unused))
