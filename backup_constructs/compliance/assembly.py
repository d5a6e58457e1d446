"""A cloud assembly read as data: every stack's template (nested assemblies of stages and nested stacks
included), its account, region and stack tags, and the references between templates resolved as far
as a template alone allows. Pure Python: no CDK, no AWS calls."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdas.contract.errors import PolicyError

UNKNOWN = "\x00unknown\x00"  # stands for a value only CloudFormation knows; only a wildcard matches it
_PSEUDO = ("AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix")


@dataclass(frozen=True)
class Resource:
    stack: Stack
    logical_id: str
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body.get("Type", ""))

    @property
    def props(self) -> dict[str, Any]:
        props = self.body.get("Properties")
        return props if isinstance(props, dict) else {}

    @property
    def path(self) -> str:
        """The construct path CDK recorded (``aws:cdk:path``), else ``stack/logicalId``."""
        meta = self.body.get("Metadata")
        recorded = meta.get("aws:cdk:path") if isinstance(meta, dict) else None
        return str(recorded) if isinstance(recorded, str) else f"{self.stack.name}/{self.logical_id}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.stack.name, self.logical_id)

    def literal(self, prop: str) -> Any:
        """A property's value when the template states it literally (``None`` when unset or a token)."""
        value = self.props.get(prop)
        return None if isinstance(value, dict | list) and _is_token(value) else value

    def tags(self) -> dict[str, str]:
        """Tags CloudFormation gives it: the stack's tags, then its own (``Tags``, or ``FileSystemTags``
        for EFS); values that are tokens are left out."""
        tags = dict(self.stack.tags)
        own = self.props.get("Tags", self.props.get("FileSystemTags"))
        if isinstance(own, list):
            for tag in own:
                if isinstance(tag, dict) and isinstance(tag.get("Key"), str) and isinstance(tag.get("Value"), str):
                    tags[tag["Key"]] = tag["Value"]
        elif isinstance(own, dict):  # the map form some types use
            tags.update({k: v for k, v in own.items() if isinstance(v, str)})
        return tags


@dataclass
class Stack:
    name: str
    account: str
    region: str
    tags: dict[str, str]
    template: dict[str, Any]
    assembly: Assembly | None = field(default=None, repr=False, compare=False)

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    def resources(self) -> Iterator[Resource]:
        for logical_id, body in (self.template.get("Resources") or {}).items():
            if isinstance(body, dict):
                yield Resource(self, logical_id, body)

    def resource(self, logical_id: str) -> Resource | None:
        body = (self.template.get("Resources") or {}).get(logical_id)
        return Resource(self, logical_id, body) if isinstance(body, dict) else None

    def render(self, value: Any) -> str | None:
        """``value`` as the string CloudFormation would make of it, where the template and the stack's
        environment determine it (``Fn::Join``, ``Fn::Sub``, pseudo parameters, ``Ref`` to a resource whose
        name is literal); parts only CloudFormation knows become :data:`UNKNOWN`; ``None`` for anything else."""
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((fn, arg),) = value.items()
        if fn == "Ref" and isinstance(arg, str):
            return self._ref(arg)
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            parts = [self.render(v) for v in arg[1]]
            return None if any(p is None for p in parts) else str(arg[0]).join(p or "" for p in parts)
        if fn == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([^}!]+)\}", lambda m: self._ref(m.group(1)) or UNKNOWN, arg)
        if fn == "Fn::GetAtt":
            return UNKNOWN
        return None

    def _ref(self, name: str) -> str | None:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        resource = self.resource(name)
        if resource is None:
            return UNKNOWN
        named = _NAME_PROPERTY.get(resource.type)
        value = resource.literal(named) if named else None
        return value if isinstance(value, str) else UNKNOWN

    def referenced(self, value: Any) -> set[tuple[str, str]]:
        """Every (stack, logical id) ``value`` refers to: ``Ref`` and ``Fn::GetAtt`` here, followed through
        ``Fn::ImportValue`` and ``Fn::GetStackOutput`` to the output of the stack that exports it."""
        found: set[tuple[str, str]] = set()
        if isinstance(value, list):
            for item in value:
                found |= self.referenced(item)
        elif isinstance(value, dict):
            if isinstance(value.get("Ref"), str) and value["Ref"] not in _PSEUDO:
                found.add((self.name, value["Ref"]))
            getatt = value.get("Fn::GetAtt")
            if isinstance(getatt, list) and getatt and isinstance(getatt[0], str):
                found.add((self.name, getatt[0]))
            elif isinstance(getatt, str):
                found.add((self.name, getatt.split(".", 1)[0]))
            if "Fn::ImportValue" in value and self.assembly is not None:
                export = self.render(value["Fn::ImportValue"])
                owner = self.assembly.exporter(export) if export else None
                if owner is not None:
                    found |= owner[0].referenced(owner[1])
            output = value.get("Fn::GetStackOutput")
            if isinstance(output, dict) and self.assembly is not None:
                other = self.assembly.stack(str(output.get("StackName")))
                outputs = other.template.get("Outputs") or {} if other else {}
                if other is not None and isinstance(outputs.get(output.get("OutputName")), dict):
                    found |= other.referenced(outputs[output["OutputName"]].get("Value"))
            for key, item in value.items():
                if key not in ("Ref", "Fn::GetAtt", "Fn::ImportValue", "Fn::GetStackOutput"):
                    found |= self.referenced(item)
        return found


# The property whose value ``Ref`` returns, for the types whose ARN is built from it.
_NAME_PROPERTY = {
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::Logs::LogGroup": "LogGroupName",
}


@dataclass
class Assembly:
    """Every stack of a cloud assembly directory."""

    directory: Path
    stacks: list[Stack]

    @classmethod
    def load(cls, directory: Path) -> Assembly:
        assembly = cls(directory, [])
        assembly._read(directory, "")
        for stack in assembly.stacks:
            stack.assembly = assembly
        return assembly

    def stack(self, name: str) -> Stack | None:
        return next((s for s in self.stacks if s.name == name), None)

    def resources(self, *types: str) -> Iterator[Resource]:
        for stack in self.stacks:
            for resource in stack.resources():
                if not types or resource.type in types:
                    yield resource

    def resolve(self, key: tuple[str, str]) -> Resource | None:
        stack = self.stack(key[0])
        return stack.resource(key[1]) if stack else None

    def exporter(self, export_name: str) -> tuple[Stack, Any] | None:
        """The stack that exports ``export_name`` and the output's value."""
        for stack in self.stacks:
            for output in (stack.template.get("Outputs") or {}).values():
                if isinstance(output, dict) and stack.render((output.get("Export") or {}).get("Name")) == export_name:
                    return stack, output.get("Value")
        return None

    def _read(self, directory: Path, prefix: str) -> None:
        path = directory / "manifest.json"
        if not path.exists():
            raise PolicyError(f"{path}: no such file: not a cloud assembly (no manifest.json); run `cdk synth` first")
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise PolicyError(f"{path}: not a cloud assembly manifest ({err})") from None
        artifacts = manifest.get("artifacts") if isinstance(manifest, dict) else None
        if not isinstance(artifacts, dict):
            raise PolicyError(f"{path}: not a cloud assembly manifest (expected an object with 'artifacts')")
        for name, artifact in artifacts.items():
            props = artifact.get("properties") or {}
            if artifact.get("type") == "cdk:cloud-assembly" and props.get("directoryName"):
                self._read(directory / props["directoryName"], f"{prefix}{name}/")
            elif artifact.get("type") == "aws:cloudformation:stack":
                env = str(artifact.get("environment", "aws://unknown-account/unknown-region"))
                account, _, region = env.removeprefix("aws://").partition("/")
                template_path = directory / props["templateFile"]
                try:
                    template = json.loads(template_path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as err:
                    raise PolicyError(f"{template_path}: not a readable template ({err})") from None
                tags = {str(k): str(v) for k, v in (props.get("tags") or {}).items()}
                stack_name = str(props.get("stackName") or name)
                self._add(Stack(stack_name, account, region, tags, template), directory)

    def _add(self, stack: Stack, directory: Path) -> None:
        self.stacks.append(stack)
        for resource in list(stack.resources()):
            meta = resource.body.get("Metadata") or {}
            nested = meta.get("aws:asset:path") if resource.type == "AWS::CloudFormation::Stack" else None
            if isinstance(nested, str) and (directory / nested).is_file():
                template = json.loads((directory / nested).read_text(encoding="utf-8"))
                name = f"{stack.name}/{resource.logical_id}"
                self._add(Stack(name, stack.account, stack.region, dict(stack.tags), template), directory)


def _is_token(value: Any) -> bool:
    if isinstance(value, dict):
        return len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref", "Condition"))
    if isinstance(value, list):
        return any(_is_token(v) for v in value)
    return False
