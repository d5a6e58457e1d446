"""A synth-time check that no two resources of an app would get the same physical name in the scope
where AWS requires names to be unique (account + region, account, or the whole partition).

CloudFormation only finds a collision when the second stack deploys (``AlreadyExistsException``),
and two environments sharing an account and region would then point their alarms and restore tests
at one resource. Add it to the app root: ``app.node.add_validation(UniquePhysicalNames(app))``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from functools import partial
from typing import Any

import jsii
from aws_cdk import CfnResource, Stack, Token
from constructs import IConstruct, IValidation

from backup_constructs.core.tree import StackLookup, cfn_resource_type, jsii_reference


class NameScope(Enum):
    """Where AWS requires a physical name to be unique."""

    REGION = "account and region"
    ACCOUNT = "account"
    PARTITION = "partition (every account)"


@dataclass(frozen=True)
class NamedType:
    """Where one CloudFormation resource type keeps its physical name.

    ``attribute`` is the L1 attribute (``CfnQueue.queue_name``); ``nested`` a key inside a struct
    attribute (``backup_plan`` -> ``backupPlanName``); ``default`` the name AWS gives when none is
    set, for one-per-scope resources (AWS Config's recorder is ``default``); ``namespace`` groups types
    that share names (a service-linked role and a role cannot have the same name).
    """

    attribute: str
    scope: NameScope
    nested: str | None = None
    default: str | None = None
    namespace: str | None = None
    render: Callable[[str, Any], str] | None = None


def _service_linked_role_name(service: str, node: Any) -> str:
    suffix = getattr(node, "custom_suffix", None)
    return f"service-linked role of {service}" + (f" ({suffix})" if isinstance(suffix, str) else "")


_REGION, _ACCOUNT, _PARTITION = NameScope.REGION, NameScope.ACCOUNT, NameScope.PARTITION
NAMED_TYPES: Mapping[str, NamedType] = {
    "AWS::Backup::BackupVault": NamedType("backup_vault_name", _REGION, namespace="backup vault"),
    "AWS::Backup::LogicallyAirGappedBackupVault": NamedType("backup_vault_name", _REGION, namespace="backup vault"),
    "AWS::Backup::BackupPlan": NamedType("backup_plan", _REGION, nested="backupPlanName"),
    "AWS::Backup::RestoreTestingPlan": NamedType("restore_testing_plan_name", _REGION),
    "AWS::Backup::Framework": NamedType("framework_name", _REGION),
    "AWS::Backup::ReportPlan": NamedType("report_plan_name", _REGION),
    "AWS::Lambda::Function": NamedType("function_name", _REGION),
    "AWS::SQS::Queue": NamedType("queue_name", _REGION),
    "AWS::SNS::Topic": NamedType("topic_name", _REGION),
    "AWS::KMS::Alias": NamedType("alias_name", _REGION),
    "AWS::Logs::LogGroup": NamedType("log_group_name", _REGION),
    "AWS::RDS::DBInstance": NamedType("db_instance_identifier", _REGION, namespace="DB instance"),
    "AWS::RDS::DBCluster": NamedType("db_cluster_identifier", _REGION),
    "AWS::RDS::DBSubnetGroup": NamedType("db_subnet_group_name", _REGION),
    "AWS::SecretsManager::Secret": NamedType("name", _REGION),
    "AWS::Events::Rule": NamedType("name", _REGION),
    "AWS::CloudWatch::Alarm": NamedType("alarm_name", _REGION),
    "AWS::CloudWatch::MetricStream": NamedType("name", _REGION),
    "AWS::KinesisFirehose::DeliveryStream": NamedType("delivery_stream_name", _REGION),
    "AWS::CloudTrail::Trail": NamedType("trail_name", _REGION),
    # AWS Config allows one recorder and one delivery channel per account and region, whatever the name.
    "AWS::Config::ConfigurationRecorder": NamedType("name", _REGION, default="default", render=lambda n, _: "(one)"),
    "AWS::Config::DeliveryChannel": NamedType("name", _REGION, default="default", render=lambda n, _: "(one)"),
    "AWS::IAM::Role": NamedType("role_name", _ACCOUNT, namespace="IAM role"),
    "AWS::IAM::ManagedPolicy": NamedType("managed_policy_name", _ACCOUNT),
    "AWS::IAM::ServiceLinkedRole": NamedType(
        "aws_service_name", _ACCOUNT, namespace="IAM role", render=_service_linked_role_name
    ),
    # Dashboards are global to the account: one name, whatever the region.
    "AWS::CloudWatch::Dashboard": NamedType("dashboard_name", _ACCOUNT),
    "AWS::S3::Bucket": NamedType("bucket_name", _PARTITION),
}


@dataclass(frozen=True)
class PhysicalName:
    """One resource's physical name and the scope it must be unique in."""

    cfn_type: str
    name: str
    scope: NameScope
    scope_key: tuple[str, ...]
    path: str

    @property
    def key(self) -> tuple[object, ...]:
        spec = NAMED_TYPES[self.cfn_type]
        return (spec.namespace or self.cfn_type, self.scope, self.scope_key, self.name)

    def where(self) -> str:
        if self.scope is NameScope.PARTITION:
            return f"partition {self.scope_key[0]}"
        if self.scope is NameScope.ACCOUNT:
            return f"account {self.scope_key[1]}"
        return f"account {self.scope_key[1]}, {self.scope_key[2]}"


class _StackFacts:
    """What every name of one stack shares: its pseudo parameters, each asked of the stack once (a read
    of a stack's property is a jsii round trip)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._literals: dict[str, str | None] = {}
        self._scope_keys: dict[NameScope, tuple[str, ...]] = {}

    def literal(self, pseudo: str) -> str | None:
        """The literal value of a pseudo parameter (``AWS::Region`` ...), None when it is a token."""
        if pseudo not in self._literals:
            value = _PSEUDO[pseudo](self.stack)
            self._literals[pseudo] = None if Token.is_unresolved(value) else value
        return self._literals[pseudo]

    def scope_key(self, scope: NameScope) -> tuple[str, ...]:
        if scope not in self._scope_keys:
            self._scope_keys[scope] = _scope_key(self, scope)
        return self._scope_keys[scope]


def _literal(value: Any, facts: _StackFacts) -> str | None:
    """The literal string a resolved CloudFormation value stands for, or None when it depends on
    something only known at deploy time (a reference to another resource, a parameter)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and argument in _PSEUDO:
            return facts.literal(argument)
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            separator, parts = argument
            rendered = [_literal(part, facts) for part in parts] if isinstance(parts, list) else [None]
            if isinstance(separator, str) and all(part is not None for part in rendered):
                return separator.join(part for part in rendered if part is not None)
    return None


_PSEUDO: Mapping[str, Callable[[Stack], str]] = {
    "AWS::Region": lambda s: s.region,
    "AWS::AccountId": lambda s: s.account,
    "AWS::Partition": lambda s: s.partition,
    "AWS::URLSuffix": lambda s: s.url_suffix,
}


def _scope_key(facts: _StackFacts, scope: NameScope) -> tuple[str, ...]:
    # An environment-agnostic stack's account or region stays a token; all such stacks compare equal
    # (they may well be deployed to the same place).
    def text(pseudo: str) -> str:
        literal = facts.literal(pseudo)
        return "(deploy-time)" if literal is None else literal

    partition = text("AWS::Partition")
    if scope is NameScope.PARTITION:
        return (partition,)
    if scope is NameScope.ACCOUNT:
        return (partition, text("AWS::AccountId"))
    return (partition, text("AWS::AccountId"), text("AWS::Region"))


def physical_name(resource: CfnResource) -> PhysicalName | None:
    """The physical name ``resource`` asks for, or None (no name of its own, or one only known at
    deploy time: CloudFormation then generates or resolves it)."""
    return _physical_name(resource, lambda: _StackFacts(Stack.of(resource)))


def _physical_name(
    resource: CfnResource, facts_of: Callable[[], _StackFacts], *, with_path: bool = True
) -> PhysicalName | None:
    cfn_type = cfn_resource_type(resource)
    spec = NAMED_TYPES.get(cfn_type)
    if spec is None:
        return None
    facts = facts_of()
    raw = getattr(resource, spec.attribute, None)
    value = raw if _plain(raw) else (facts.stack.resolve(raw) if raw is not None else None)
    if spec.nested is not None:
        value = value.get(spec.nested) if isinstance(value, Mapping) else None
    name = _literal(value, facts) if value is not None else spec.default
    if name is None:
        return None
    if spec.render is not None:
        name = spec.render(name, resource)
    path = resource.node.path if with_path else ""
    return PhysicalName(cfn_type, name, spec.scope, facts.scope_key(spec.scope), path)


def _plain(value: Any) -> bool:
    """A string ``Stack.resolve`` returns unchanged without looking further (no round trip needed): CDK's
    own shortcut, no ``Token[`` marker and no number token (``e+289``) in it."""
    return isinstance(value, str) and "Token[" not in value and "e+289" not in value


def physical_names(root: IConstruct) -> list[PhysicalName]:
    """Every physical name asked for by a resource under ``root``, in tree order."""
    return [name for name, _ in _named_resources(root, with_paths=True)]


def _named_resources(root: IConstruct, *, with_paths: bool) -> list[tuple[PhysicalName, CfnResource]]:
    """Every physical name under ``root`` with the resource that asks for it; ``with_paths=False``: the
    names without their construct paths (two round trips each, needed only to report a collision)."""
    nodes = root.node.find_all()
    stack_of = StackLookup(nodes)
    facts: dict[str, _StackFacts] = {}

    def facts_of(node: IConstruct) -> _StackFacts:
        stack = stack_of(node)
        key = jsii_reference(stack)
        if key not in facts:
            facts[key] = _StackFacts(stack)
        return facts[key]

    named = []
    for node in nodes:
        if isinstance(node, CfnResource):
            found = _physical_name(node, partial(facts_of, node), with_path=with_paths)
            if found is not None:
                named.append((found, node))
    return named


def collisions(names: list[PhysicalName]) -> list[str]:
    """One message per name that two or more resources would create in the same scope."""
    by_key: dict[tuple[object, ...], list[PhysicalName]] = {}
    for name in names:
        by_key.setdefault(name.key, []).append(name)
    messages = []
    for same in by_key.values():
        if len(same) < 2:
            continue
        first = same[0]
        kind = NAMED_TYPES[first.cfn_type].namespace or first.cfn_type
        messages.append(
            f"physical name collision: {kind} {first.name!r} must be unique per {first.scope.value} "
            f"({first.where()}) but is created by {' and '.join(n.path for n in same)}; give each "
            "environment (or each construct) its own name"
        )
    return messages


@jsii.implements(IValidation)
class UniquePhysicalNames:
    """``IValidation`` for an app root: fails the synth on any physical name collision."""

    def __init__(self, root: IConstruct) -> None:
        self._root = root

    def validate(self) -> list[str]:
        named = _named_resources(self._root, with_paths=False)
        shared = Counter(name.key for name, _ in named)
        # Only a collision names the paths: read them for those names alone.
        return collisions(
            [replace(name, path=resource.node.path) if shared[name.key] > 1 else name for name, resource in named]
        )


__all__ = ["NAMED_TYPES", "NameScope", "NamedType", "PhysicalName", "UniquePhysicalNames", "physical_names"]
