"""The synthesized app as AWS would see it once deployed: every resource with a realistic physical
name or ARN, every policy with its intrinsics resolved, every function with its role and environment.

Names CloudFormation would generate are generated here the same way for every run (stack name +
logical id), so fixtures can refer to them; key ids are UUIDs derived from the logical id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PARTITION = "aws"


class UnresolvedValue(Exception):
    """A template value this model cannot resolve."""


@dataclass
class StackModel:
    name: str
    account: str
    region: str
    resources: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}


@dataclass(frozen=True)
class FunctionModel:
    """One deployed Lambda function: where it runs, as whom, with what environment and policies."""

    stack: str
    logical_id: str
    name: str
    region: str
    account: str
    role_arn: str
    environment: Mapping[str, str]
    identity_policies: tuple[Mapping[str, Any], ...]


@dataclass
class Deployment:
    stacks: dict[str, StackModel]
    key_policies: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    bucket_policies: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    bucket_keys: dict[str, str] = field(default_factory=dict)
    queue_policies: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    queue_keys: dict[str, str] = field(default_factory=dict)
    topic_policies: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    vault_policies: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    vault_keys: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    functions: dict[str, FunctionModel] = field(default_factory=dict)

    # Resolution ------------------------------------------------------------------------------------

    def physical(self, stack: StackModel, logical_id: str, attribute: str | None = None) -> str:
        """``Ref`` (attribute None) or ``Fn::GetAtt`` of a resource, as CloudFormation returns it."""
        resource = stack.resources.get(logical_id)
        if resource is None:
            raise UnresolvedValue(f"{stack.name}: no resource {logical_id}")
        props = resource.get("Properties", {})
        kind = resource["Type"]
        region, account = stack.region, stack.account
        generated = f"{stack.name}-{logical_id}"[:60]

        def name(prop: str, default: str | None = None) -> str:
            value = props.get(prop)
            return self.resolve(stack, value) if value is not None else (default or generated)

        if kind == "AWS::KMS::Key":
            key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{stack.name}/{logical_id}"))
            arn = f"arn:{PARTITION}:kms:{region}:{account}:key/{key_id}"
            return key_id if attribute in (None, "KeyId") else arn
        if kind == "AWS::KMS::ReplicaKey":
            # A multi-Region replica has its primary's key id, in its own region.
            primary = str(self.resolve(stack, props["PrimaryKeyArn"]))
            key_id = primary.rsplit("/", 1)[-1]
            return key_id if attribute in (None, "KeyId") else f"arn:{PARTITION}:kms:{region}:{account}:key/{key_id}"
        if kind == "AWS::KMS::Alias":
            return name("AliasName")
        if kind == "AWS::S3::Bucket":
            bucket = name("BucketName", generated.lower())
            return {None: bucket, "Arn": f"arn:{PARTITION}:s3:::{bucket}"}.get(attribute, bucket)
        if kind == "AWS::IAM::Role":
            role = name("RoleName")
            path = props.get("Path", "/")
            return role if attribute is None else f"arn:{PARTITION}:iam::{account}:role{path}{role}"
        if kind == "AWS::IAM::ManagedPolicy":
            return f"arn:{PARTITION}:iam::{account}:policy/{name('ManagedPolicyName')}"
        if kind == "AWS::Lambda::Function":
            fn = name("FunctionName")
            return fn if attribute is None else f"arn:{PARTITION}:lambda:{region}:{account}:function:{fn}"
        if kind == "AWS::SQS::Queue":
            queue = name("QueueName")
            if attribute == "Arn":
                return f"arn:{PARTITION}:sqs:{region}:{account}:{queue}"
            if attribute == "QueueName":
                return queue
            return f"https://sqs.{region}.amazonaws.com/{account}/{queue}"
        if kind == "AWS::SNS::Topic":
            topic = name("TopicName")
            arn = f"arn:{PARTITION}:sns:{region}:{account}:{topic}"
            return topic if attribute == "TopicName" else arn
        if kind == "AWS::Logs::LogGroup":
            group = name("LogGroupName")
            return group if attribute is None else f"arn:{PARTITION}:logs:{region}:{account}:log-group:{group}:*"
        if kind == "AWS::Backup::BackupVault":
            vault = name("BackupVaultName")
            return vault if attribute is None else f"arn:{PARTITION}:backup:{region}:{account}:backup-vault:{vault}"
        if kind == "AWS::RDS::DBInstance":
            db = name("DBInstanceIdentifier").lower()
            if attribute == "MasterUserSecret.SecretArn":
                secret = f"rds!db-{uuid.uuid5(uuid.NAMESPACE_URL, db)}-AbCdEf"
                return f"arn:{PARTITION}:secretsmanager:{region}:{account}:secret:{secret}"
            if attribute == "Endpoint.Address":
                return f"{db}.abcdefghijkl.{region}.rds.amazonaws.com"
            if attribute == "DbiResourceId":
                return "db-" + uuid.uuid5(uuid.NAMESPACE_URL, f"{region}/{db}").hex[:26].upper()
            return db if attribute is None else f"arn:{PARTITION}:rds:{region}:{account}:db:{db}"
        if kind == "AWS::RDS::DBSubnetGroup":
            return name("DBSubnetGroupName", generated.lower())
        if kind == "AWS::EC2::SecurityGroup":
            return "sg-" + uuid.uuid5(uuid.NAMESPACE_URL, f"{stack.name}/{logical_id}").hex[:17]
        if kind == "AWS::Backup::RestoreTestingPlan":
            plan = name("RestoreTestingPlanName")
            return (
                plan
                if attribute is None
                else f"arn:{PARTITION}:backup:{region}:{account}:restore-testing-plan:{plan}-1a2b3c"
            )
        if kind == "AWS::SecretsManager::Secret":
            secret = name("Name")
            return f"arn:{PARTITION}:secretsmanager:{region}:{account}:secret:{secret}-AbCdEf"
        if kind == "AWS::Events::Rule":
            return f"arn:{PARTITION}:events:{region}:{account}:rule/{name('Name')}"
        # Anything else: a stable opaque id (subnets, VPC, endpoints...).
        return f"{kind.split('::')[-1].lower()}-{uuid.uuid5(uuid.NAMESPACE_URL, f'{stack.name}/{logical_id}').hex[:12]}"

    def resolve(self, stack: StackModel, value: Any) -> Any:
        """A template value with every intrinsic function resolved."""
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        if isinstance(value, list):
            return [self.resolve(stack, v) for v in value]
        if not isinstance(value, Mapping):
            raise UnresolvedValue(repr(value))
        if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref")):
            return {k: self.resolve(stack, v) for k, v in value.items()}
        ((function, argument),) = value.items()
        if function == "Ref":
            pseudo = {
                "AWS::Region": stack.region,
                "AWS::AccountId": stack.account,
                "AWS::Partition": PARTITION,
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": stack.name,
                "AWS::NoValue": None,
            }
            if argument in pseudo:
                return pseudo[argument]
            return self.physical(stack, argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.physical(stack, logical_id, attribute)
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(str(self.resolve(stack, p)) for p in self.resolve(stack, parts))
        if function == "Fn::Select":
            index, items = argument
            return self.resolve(stack, items)[int(self.resolve(stack, index))]
        if function == "Fn::Split":
            separator, text = argument
            return str(self.resolve(stack, text)).split(separator)
        if function == "Fn::GetStackOutput":
            # CloudFormation reads another stack's output (in its own region): resolve it there.
            producer = self.stacks.get(str(argument["StackName"]))
            if producer is None or producer.region != argument.get("Region", stack.region):
                raise UnresolvedValue(f"Fn::GetStackOutput of an unknown stack in {stack.name}: {argument!r}")
            output = producer.outputs.get(str(argument["OutputName"]))
            if output is None:
                raise UnresolvedValue(f"{producer.name} has no output {argument['OutputName']}")
            return self.resolve(producer, output["Value"])
        if function == "Fn::GetAZs":
            return [f"{stack.region}a", f"{stack.region}b", f"{stack.region}c"]
        raise UnresolvedValue(f"{function} in {stack.name}")

    # Lookups ---------------------------------------------------------------------------------------

    def key_arn(self, key: str, region: str, account: str) -> str | None:
        """A key id, key ARN, alias name or alias ARN -> the key's ARN (None when unknown)."""
        if key.startswith("arn:") and ":key/" in key:
            return key
        if key.startswith("arn:") and ":alias/" in key:
            parts = key.split(":")
            return self.aliases.get(f"{parts[3]}:{parts[5]}")
        if key.startswith("alias/"):
            return self.aliases.get(f"{region}:{key}")
        return f"arn:{PARTITION}:kms:{region}:{account}:key/{key}"

    def instance_resource_id(self, host: str) -> str | None:
        """The ``DbiResourceId`` of the deployed DB instance whose endpoint is ``host``, if any."""
        for stack in self.stacks.values():
            for logical_id in stack.of_type("AWS::RDS::DBInstance"):
                if self.physical(stack, logical_id, "Endpoint.Address") == host:
                    return self.physical(stack, logical_id, "DbiResourceId")
        return None

    def instance_keys(self, region: str, account: str) -> list[str]:
        """The storage keys of the DB instances deployed in ``region`` (the keys their snapshots use)."""
        keys = []
        for stack in self.stacks.values():
            if stack.region != region:
                continue
            for props in (r.get("Properties", {}) for r in stack.of_type("AWS::RDS::DBInstance").values()):
                if "KmsKeyId" in props:
                    key = str(self.resolve(stack, props["KmsKeyId"]))
                    keys.append(self.key_arn(key, region, account) or key)
        return sorted(set(keys))

    def aliases_of(self, key_arn: str) -> list[str]:
        return sorted(alias.split(":", 1)[1] for alias, target in self.aliases.items() if target == key_arn)

    def function(self, stack: str, path_fragment: str) -> FunctionModel:
        """The function of ``stack`` whose logical id starts with ``path_fragment``."""
        found = [f for f in self.functions.values() if f.stack == stack and f.logical_id.startswith(path_fragment)]
        if len(found) != 1:
            raise LookupError(f"{stack}/{path_fragment}*: {len(found)} functions")
        return found[0]


def _roles_of(deployment: Deployment, stack: StackModel, props: Mapping[str, Any]) -> list[str]:
    return [deployment.resolve(stack, r) for r in props.get("Roles", [])]


def load(*outdirs: Path) -> Deployment:
    """The deployment model of one or more cloud assembly directories (deployed together)."""
    stacks: dict[str, StackModel] = {}
    for outdir in outdirs:
        manifest = json.loads((outdir / "manifest.json").read_text())
        for name, artifact in manifest["artifacts"].items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            _, _, account, region = artifact["environment"].split("/")
            template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
            stacks[name] = StackModel(name, account, region, template.get("Resources", {}), template.get("Outputs", {}))
    deployment = Deployment(stacks)
    policies_by_role: dict[str, list[Mapping[str, Any]]] = {}
    for stack in stacks.values():
        for logical_id, resource in stack.resources.items():
            kind, props = resource["Type"], resource.get("Properties", {})

            def resolve(value: Any, stack: StackModel = stack) -> Any:
                return deployment.resolve(stack, value)

            if kind in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey"):
                deployment.key_policies[deployment.physical(stack, logical_id, "Arn")] = resolve(props["KeyPolicy"])
            elif kind == "AWS::KMS::Alias":
                target = resolve(props["TargetKeyId"])
                arn = deployment.key_arn(target, stack.region, stack.account)
                assert arn is not None
                deployment.aliases[f"{stack.region}:{resolve(props['AliasName'])}"] = arn
            elif kind == "AWS::S3::BucketPolicy":
                deployment.bucket_policies[resolve(props["Bucket"])] = resolve(props["PolicyDocument"])
            elif kind == "AWS::S3::Bucket":
                rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
                for rule in rules:
                    default = rule.get("ServerSideEncryptionByDefault") or {}
                    if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
                        key = resolve(default["KMSMasterKeyID"])
                        arn = deployment.key_arn(key, stack.region, stack.account)
                        deployment.bucket_keys[deployment.physical(stack, logical_id)] = arn or key
            elif kind == "AWS::SQS::Queue" and props.get("KmsMasterKeyId"):
                key = resolve(props["KmsMasterKeyId"])
                deployment.queue_keys[deployment.physical(stack, logical_id, "Arn")] = (
                    deployment.key_arn(key, stack.region, stack.account) or key
                )
            elif kind == "AWS::SQS::QueuePolicy":
                for url in resolve(props["Queues"]):
                    queue = url.rsplit("/", 1)[-1]
                    arn = f"arn:{PARTITION}:sqs:{stack.region}:{stack.account}:{queue}"
                    deployment.queue_policies[arn] = resolve(props["PolicyDocument"])
            elif kind == "AWS::SNS::TopicPolicy":
                for topic in resolve(props["Topics"]):
                    deployment.topic_policies[topic] = resolve(props["PolicyDocument"])
            elif kind == "AWS::Backup::BackupVault":
                arn = deployment.physical(stack, logical_id, "Arn")
                if props.get("AccessPolicy"):
                    deployment.vault_policies[arn] = resolve(props["AccessPolicy"])
                if props.get("EncryptionKeyArn"):
                    deployment.vault_keys[arn] = resolve(props["EncryptionKeyArn"])
            elif kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
                for role in _roles_of(deployment, stack, props):
                    policies_by_role.setdefault(f"{stack.name}/{role}", []).append(resolve(props["PolicyDocument"]))
            elif kind == "AWS::IAM::Role":
                for inline in props.get("Policies", []):
                    role = deployment.physical(stack, logical_id)
                    policies_by_role.setdefault(f"{stack.name}/{role}", []).append(resolve(inline["PolicyDocument"]))
    for stack in stacks.values():
        for logical_id, resource in stack.of_type("AWS::Lambda::Function").items():
            props = resource["Properties"]
            role_ref = props["Role"]["Fn::GetAtt"][0]
            role_name = deployment.physical(stack, role_ref)
            variables = deployment.resolve(stack, (props.get("Environment") or {}).get("Variables") or {})
            deployment.functions[f"{stack.name}/{logical_id}"] = FunctionModel(
                stack=stack.name,
                logical_id=logical_id,
                name=deployment.physical(stack, logical_id),
                region=stack.region,
                account=stack.account,
                role_arn=deployment.physical(stack, role_ref, "Arn"),
                environment={k: str(v) for k, v in variables.items()},
                identity_policies=tuple(policies_by_role.get(f"{stack.name}/{role_name}", [])),
            )
    return deployment
