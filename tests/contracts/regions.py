"""The region contract: where each metric an alarm or a dashboard widget watches is published.

CloudWatch metrics are regional ("metrics exist only in the Region in which they are created"), and
an alarm sees only its own region's metrics. The project's own metrics are published by its functions
in their own regions (``lambdas.contract.METRICS`` says which function publishes which); AWS's
metrics by the table below.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lambdas.contract.functions import FUNCTIONS
from lambdas.contract.metrics import METRIC_NAMESPACE, metric_definition
from tests.contracts.deployment import Deployment, StackModel


@dataclass(frozen=True)
class AwsMetricSource:
    """Which resource's region AWS publishes a metric in, and the source that says so."""

    resource_type: str
    dimension: str
    source: str
    also: tuple[str, ...] = ()
    """Other resource types whose region may publish it (where AWS does not say which)."""
    attribute: str | None = None
    """The resource attribute the dimension holds (default: what ``Ref`` returns)."""


# (namespace, metric) -> where AWS publishes it. "*" matches every metric of the namespace.
AWS_METRICS: Mapping[tuple[str, str], AwsMetricSource] = {
    ("AWS/Backup", "*"): AwsMetricSource(
        "AWS::Backup::BackupVault",
        "BackupVaultName",
        "AWS Backup developer guide, 'Monitoring AWS Backup metrics with CloudWatch': account- and "
        "Region-specific metrics by vault name",
    ),
    # "The vault name of copy jobs is that of their destination vault" (same page); the job runs in
    # the source region, and AWS does not say which region publishes it: both regions are alarmed.
    ("AWS/Backup", "NumberOfCopyJobsFailed"): AwsMetricSource(
        "AWS::Backup::BackupVault",
        "BackupVaultName",
        "AWS Backup developer guide: copy jobs are counted under the destination vault",
        also=("source-region",),
    ),
    ("AWS/Lambda", "*"): AwsMetricSource(
        "AWS::Lambda::Function", "FunctionName", "Lambda developer guide, 'Using CloudWatch metrics': per function"
    ),
    ("AWS/SQS", "*"): AwsMetricSource(
        "AWS::SQS::Queue",
        "QueueName",
        "SQS developer guide, 'Available CloudWatch metrics': per queue",
        attribute="QueueName",
    ),
    ("AWS/RDS", "ReplicaLag"): AwsMetricSource(
        "AWS::RDS::DBInstance", "DBInstanceIdentifier", "RDS user guide: measured on the read replica"
    ),
    # "This metric is published in the Region of the source bucket" / "...of the destination bucket"
    # (S3 user guide, 'Using S3 Replication metrics').
    ("AWS/S3", "OperationsFailedReplication"): AwsMetricSource(
        "AWS::S3::Bucket", "SourceBucket", "S3 user guide: published in the source bucket's region"
    ),
    ("AWS/S3", "ReplicationLatency"): AwsMetricSource(
        "AWS::S3::Bucket", "DestinationBucket", "S3 user guide: published in the destination bucket's region"
    ),
    ("AWS/S3", "OperationsPendingReplication"): AwsMetricSource(
        "AWS::S3::Bucket", "DestinationBucket", "S3 user guide: published in the destination bucket's region"
    ),
    ("AWS/S3", "BytesPendingReplication"): AwsMetricSource(
        "AWS::S3::Bucket", "DestinationBucket", "S3 user guide: published in the destination bucket's region"
    ),
}

# A project metric's dimension -> the publishing function's environment variable that holds it.
_DIMENSION_ENV = {
    "Environment": "ENVIRONMENT",
    "Kind": "KIND",
    "DBInstanceIdentifier": "DATABASES",
    "ResourceArn": "PROTECTED_RESOURCE_ARNS",
    "Namespace": "CONFIG_NAMESPACES",
}


@dataclass(frozen=True)
class WatchedMetric:
    """One metric an alarm or a widget watches, and the region it watches it in."""

    where: str
    namespace: str
    name: str
    dimensions: Mapping[str, str]
    region: str


def _publisher_regions(deployment: Deployment, metric: WatchedMetric) -> tuple[set[str], str]:
    """(regions that publish the metric, how that was found)."""
    if metric.namespace == METRIC_NAMESPACE:
        definition = metric_definition(metric.name, list(metric.dimensions))
        if definition is None:
            return set(), f"no runtime metric {metric.name} with dimensions {sorted(metric.dimensions)}"
        handler = FUNCTIONS[definition.publisher].handler
        regions = set()
        for stack in deployment.stacks.values():
            for logical_id, resource in stack.of_type("AWS::Lambda::Function").items():
                if resource["Properties"].get("Handler") != handler:
                    continue
                env = deployment.functions[f"{stack.name}/{logical_id}"].environment
                if all(
                    value in env.get(_DIMENSION_ENV[dim], "").split(",") for dim, value in metric.dimensions.items()
                ):
                    regions.add(stack.region)
        return regions, f"published by {definition.publisher}"
    source = AWS_METRICS.get((metric.namespace, metric.name)) or AWS_METRICS.get((metric.namespace, "*"))
    if source is None:
        return set(), f"no entry for {metric.namespace}/{metric.name} in the AWS metric table"
    value = metric.dimensions.get(source.dimension)
    regions = {
        stack.region
        for stack in deployment.stacks.values()
        for logical_id in stack.of_type(source.resource_type)
        if deployment.physical(stack, logical_id, source.attribute) == value
    }
    if "source-region" in source.also:
        regions |= _copy_source_regions(deployment, value)
    return regions, source.source


def _copy_source_regions(deployment: Deployment, vault_name: str | None) -> set[str]:
    """Regions whose backup plans copy into the vault named ``vault_name``."""
    found = set()
    for stack in deployment.stacks.values():
        for resource in stack.of_type("AWS::Backup::BackupPlan").values():
            plan = json.dumps(deployment.resolve(stack, resource["Properties"]))
            if vault_name and f':backup-vault:{vault_name}"' in plan:
                found.add(stack.region)
    return found


def alarm_metrics(deployment: Deployment) -> list[WatchedMetric]:
    watched = []
    for stack in deployment.stacks.values():
        for logical_id, resource in stack.of_type("AWS::CloudWatch::Alarm").items():
            props = deployment.resolve(stack, resource["Properties"])
            watched.append(
                WatchedMetric(
                    f"{stack.name}/{logical_id}",
                    props["Namespace"],
                    props["MetricName"],
                    {d["Name"]: d["Value"] for d in props.get("Dimensions", [])},
                    stack.region,
                )
            )
    return watched


def dashboard_metrics(deployment: Deployment) -> list[WatchedMetric]:
    watched = []
    for stack in deployment.stacks.values():
        for logical_id, resource in stack.of_type("AWS::CloudWatch::Dashboard").items():
            body = json.loads(deployment.resolve(stack, resource["Properties"]["DashboardBody"]))
            for widget in body["widgets"]:
                props = widget.get("properties", {})
                for entry in props.get("metrics", []):
                    if isinstance(entry[0], Mapping) and "expression" in entry[0]:
                        continue  # math over the widget's other entries, which are checked themselves
                    watched.append(_widget_metric(stack, logical_id, props, entry))
    return watched


def _widget_metric(stack: StackModel, logical_id: str, props: Mapping[str, Any], entry: Sequence[Any]) -> WatchedMetric:
    options = entry[-1] if isinstance(entry[-1], Mapping) else {}
    fields = [e for e in entry if not isinstance(e, Mapping)]
    namespace, name, rest = fields[0], fields[1], fields[2:]
    return WatchedMetric(
        f"{stack.name}/{logical_id} widget {props.get('title')!r}",
        namespace,
        name,
        dict(zip(rest[0::2], rest[1::2], strict=True)),
        options.get("region") or props.get("region") or stack.region,
    )


def violations(deployment: Deployment, watched: Callable[[Deployment], list[WatchedMetric]]) -> list[str]:
    out = []
    for metric in watched(deployment):
        regions, how = _publisher_regions(deployment, metric)
        if metric.region not in regions:
            out.append(
                f"{metric.where}: {metric.namespace}/{metric.name} {dict(metric.dimensions)} is watched in "
                f"{metric.region} but {how} in {sorted(regions) or 'no region of the app'}"
            )
    return out
