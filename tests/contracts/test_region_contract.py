"""The region contract: every alarm and every dashboard widget watches its metric in the region that
publishes it (CloudWatch metrics are regional)."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import Synthesized
from tests.contracts import deployment as deployment_model
from tests.contracts.regions import alarm_metrics, dashboard_metrics, violations


@pytest.fixture(scope="module")
def deployed(synthesized: Synthesized) -> deployment_model.Deployment:
    return deployment_model.load(synthesized.outdir)


def test_every_alarm_is_in_the_region_its_metric_is_published_in(deployed: deployment_model.Deployment) -> None:
    assert len(alarm_metrics(deployed)) > 40
    assert violations(deployed, alarm_metrics) == []


def test_every_dashboard_widget_reads_its_metric_from_the_region_that_publishes_it(
    deployed: deployment_model.Deployment,
) -> None:
    assert len(dashboard_metrics(deployed)) > 10
    assert violations(deployed, dashboard_metrics) == []


def test_the_drills_alarms_are_in_the_dr_region(deployed: deployment_model.Deployment) -> None:
    drill = [m for m in alarm_metrics(deployed) if m.dimensions.get("Kind") == "drill"]
    assert {m.region for m in drill} == {"us-west-2"}
    assert {m.name for m in drill} == {"RestoreTimeMinutes", "ValidationFailures", "DataLossMinutes"}


def test_a_drill_alarm_in_the_primary_region_is_caught(deployed: deployment_model.Deployment) -> None:
    moved = copy.deepcopy(deployed)
    dr, primary = moved.stacks["ecommerce-production-backup-dr"], moved.stacks["ecommerce-production-monitoring"]
    logical_id, alarm = next(
        (k, r) for k, r in dr.of_type("AWS::CloudWatch::Alarm").items() if "RestoreTimeOverRto" in k
    )
    primary.resources[logical_id] = {
        **alarm,
        "Properties": {k: v for k, v in alarm["Properties"].items() if k != "AlarmActions"},
    }
    (found,) = violations(moved, alarm_metrics)
    assert "watched in us-east-1 but published by restore-validator in ['us-west-2']" in found


def test_a_metric_no_function_publishes_is_caught(deployed: deployment_model.Deployment) -> None:
    changed = copy.deepcopy(deployed)
    stack = changed.stacks["ecommerce-production-monitoring"]
    logical_id, alarm = next(iter(stack.of_type("AWS::CloudWatch::Alarm").items()))
    stack.resources[logical_id] = {
        **alarm,
        "Properties": {**alarm["Properties"], "Namespace": "Ecommerce/Backup", "MetricName": "Nope"},
    }
    assert any("no runtime metric Nope" in v for v in violations(changed, alarm_metrics))
