"""What a restore test or a drill records: the per-check outcomes and the report (JSON and Markdown)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from lambdas.common.aws import error_code as _error_code

Kind = Literal["monthly", "drill"]
Status = Literal["SUCCESSFUL", "FAILED", "SKIPPED"]

MAX_STATUS_MESSAGE = 1000  # PutRestoreValidationResult's ValidationStatusMessage


class RestoreTestingError(Exception):
    """A drill cannot be started, or the configuration is invalid."""


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    kind: str = ""
    expected: str = ""
    found: str = ""
    message: str = ""
    duration_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "expected": self.expected,
            "found": self.found,
            "message": self.message,
            "durationMs": self.duration_ms,
        }


@dataclass
class ValidationReport:
    """The evidence of one restore test or drill (stored as JSON and Markdown, summarized in the event)."""

    environment: str
    kind: Kind
    restore_job_id: str
    validated_at: datetime
    rto_minutes: float
    rpo_minutes: float
    status: Status = "SKIPPED"
    message: str = ""
    recovery_point_arn: str | None = None
    recovery_point_created: datetime | None = None
    recovery_point_age_minutes: float | None = None
    restored_resource_arn: str | None = None
    db_instance_id: str | None = None
    restore_testing_plan_arn: str | None = None
    restore_started: datetime | None = None
    restore_completed: datetime | None = None
    restore_minutes: float | None = None
    credentials: str | None = None
    checks: list[CheckOutcome] = field(default_factory=list)
    error: str | None = None
    config_drill: dict[str, Any] | None = None
    steps: dict[str, str] = field(default_factory=dict)
    report_key: str | None = None
    # The copy's data loss: its point in time minus its newest heartbeat (None without a heartbeat).
    data_loss_minutes: float | None = None
    # What the drill restored from ("AWS Backup copy" or "snapshot of the read replica") and whether
    # promotion was exercised (a drill never promotes the live replica).
    source: str | None = None
    promotion: str | None = None

    @property
    def skipped(self) -> bool:
        return self.status == "SKIPPED"

    @property
    def ok(self) -> bool:
        return self.status == "SUCCESSFUL"

    @property
    def failed_checks(self) -> int:
        """Failed checks; a run that never got to the checks (connection or other error) counts as one."""
        failed = sum(1 for c in self.checks if not c.passed)
        return failed if failed or self.error is None else 1

    @property
    def within_rto(self) -> bool | None:
        return None if self.restore_minutes is None else self.restore_minutes <= self.rto_minutes

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "kind": self.kind,
            "restoreJobId": self.restore_job_id,
            "status": self.status,
            "message": self.message,
            "validatedAt": iso(self.validated_at),
            "recoveryPointArn": self.recovery_point_arn,
            "recoveryPointCreated": iso(self.recovery_point_created),
            "recoveryPointAgeMinutes": self.recovery_point_age_minutes,
            "restoredResourceArn": self.restored_resource_arn,
            "dbInstanceId": self.db_instance_id,
            "restoreTestingPlanArn": self.restore_testing_plan_arn,
            "restoreStarted": iso(self.restore_started),
            "restoreCompleted": iso(self.restore_completed),
            "restoreMinutes": self.restore_minutes,
            "rtoMinutes": self.rto_minutes,
            "rpoMinutes": self.rpo_minutes,
            "withinRto": self.within_rto,
            "credentials": self.credentials,
            "failedChecks": self.failed_checks if not self.skipped else 0,
            "checks": [c.to_dict() for c in self.checks],
            "error": self.error,
            "configDrill": self.config_drill,
            "steps": dict(self.steps),
            "reportKey": self.report_key,
            "dataLossMinutes": self.data_loss_minutes,
            "source": self.source,
            "promotion": self.promotion,
        }

    def to_markdown(self) -> str:
        title = "DR drill" if self.kind == "drill" else "Restore test"
        lines = [
            f"# {title} {self.restore_job_id}: {self.status}",
            "",
            f"{markdown_cell(self.message)}",
            "",
            "| | |",
            "| --- | --- |",
            f"| Environment | {markdown_cell(self.environment)} |",
            f"| Kind | {self.kind} |",
            f"| Restore job | {markdown_cell(self.restore_job_id)} |",
            f"| Recovery point | {markdown_cell(self.recovery_point_arn or 'unknown')} |",
            f"| Recovery point created | {iso(self.recovery_point_created) or 'unknown'} |",
            f"| Recovery point age at restore | {minutes_text(self.recovery_point_age_minutes)} "
            f"(RPO {self.rpo_minutes:g} min) |",
            f"| Restored instance | {markdown_cell(self.db_instance_id or 'unknown')} |",
            f"| Restore started | {iso(self.restore_started) or 'unknown'} |",
            f"| Restore completed | {iso(self.restore_completed) or 'unknown'} |",
            f"| Restore time | {minutes_text(self.restore_minutes)} ({rto_verdict(self.within_rto)}, "
            f"RTO {self.rto_minutes:g} min) |",
            f"| Data loss (point in time minus newest heartbeat) | {minutes_text(self.data_loss_minutes)} |",
            *([f"| Restored from | {markdown_cell(self.source)} |"] if self.source else []),
            *([f"| Promotion | {markdown_cell(self.promotion)} |"] if self.promotion else []),
            f"| Credentials used | {markdown_cell(self.credentials or 'none')} |",
            f"| Validated at | {iso(self.validated_at)} |",
        ]
        if self.error:
            lines += ["", f"**Error:** {markdown_cell(self.error)}"]
        milestones = [
            ("restore started", self.restore_started),
            ("database available", self.restore_completed),
            ("validated", self.validated_at if self.ok else None),
        ]
        lines += ["", *timeline_markdown(milestones, self.rto_minutes, judged="database available")]
        lines += ["", "## Checks", ""]
        if self.checks:
            lines += ["| Check | Result | Expected | Found | Message |", "| --- | --- | --- | --- | --- |"]
            for c in self.checks:
                result = "PASS" if c.passed else "FAIL"
                cells = [markdown_cell(c.name), result, markdown_cell(c.expected), markdown_cell(c.found)]
                lines.append("| " + " | ".join([*cells, markdown_cell(c.message)]) + " |")
        else:
            lines.append("No check ran.")
        if self.config_drill is not None:
            drill = self.config_drill
            lines += [
                "",
                "## Configuration drill",
                "",
                f"- Result: {'OK' if drill.get('ok') else 'FAILED'}",
                f"- Backup: {markdown_cell(str(drill.get('backupId') or 'unknown'))}",
                f"- Objects: {markdown_cell(json.dumps(drill.get('counts') or {}, sort_keys=True))}",
            ]
            lines += [f"- Failure: {markdown_cell(str(f))}" for f in drill.get("failures") or []]
        if self.steps:
            steps = [f"- {name}: {markdown_cell(outcome)}" for name, outcome in self.steps.items()]
            lines += ["", "## Steps", "", *steps]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DrillStart:
    restore_job_id: str
    recovery_point_arn: str
    recovery_point_created: datetime
    instance_id: str
    marker_key: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "restoreJobId": self.restore_job_id,
            "recoveryPointArn": self.recovery_point_arn,
            "recoveryPointCreated": iso(self.recovery_point_created),
            "instanceId": self.instance_id,
            "markerKey": self.marker_key,
        }


# Small helpers
# --------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timeline_markdown(
    milestones: Sequence[tuple[str, datetime | None]], rto_minutes: float | None, judged: str
) -> list[str]:
    """A "Timeline" section: each milestone (the first starts the RTO clock; ``None`` when it was not
    reached) with its time, the time elapsed and the share of the RTO used, the verdict at the milestone
    ``judged`` (service back), and the same as a Mermaid Gantt chart (GitHub renders it) with the RTO as
    a bar of its own."""
    start = milestones[0][1] if milestones else None
    lines = ["## Timeline", ""]
    if start is None:
        return [*lines, "Not started: no timeline."]
    lines += ["| milestone | at | elapsed | of the RTO |", "| --- | --- | --- | --- |"]
    reached: list[tuple[str, datetime]] = []
    for name, moment in milestones:
        if moment is None:
            lines.append(f"| {markdown_cell(name)} | not reached | | |")
            continue
        reached.append((name, moment))
        elapsed = minutes_between(start, moment) or 0.0
        share = f"{elapsed / rto_minutes:.0%}" if rto_minutes else "no target"
        lines.append(f"| {markdown_cell(name)} | {iso(moment)} | {elapsed:g} min | {share} |")
    judged_at = dict(reached).get(judged)
    if rto_minutes and judged_at is not None:
        elapsed = minutes_between(start, judged_at) or 0.0
        verdict = "within" if elapsed <= rto_minutes else "OVER"
        lines += [
            "",
            f"Service back ({judged}) {elapsed:g} min after {milestones[0][0]}: "
            f"{verdict} the RTO of {rto_minutes:g} min.",
        ]
    elif rto_minutes:
        lines += ["", f"Service not back ({judged} not reached): the RTO of {rto_minutes:g} min is not met."]
    if len(reached) > 1:

        def at(moment: datetime) -> str:
            return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

        lines += ["", "```mermaid", "gantt", "    dateFormat YYYY-MM-DD HH:mm:ss", "    axisFormat %H:%M"]
        lines.append("    section Recovery")
        for (a_name, a), (b_name, b) in pairwise(reached):
            lines.append(f"    {_gantt_name(a_name)} to {_gantt_name(b_name)} : done, {at(a)}, {at(b)}")
        if rto_minutes:
            end = start + timedelta(minutes=rto_minutes)
            lines += ["    section Target", f"    RTO {rto_minutes:g} min : crit, {at(start)}, {at(end)}"]
        lines.append("```")
    return lines


def _gantt_name(name: str) -> str:
    return "".join(c for c in name if c not in ":;#") or "step"


def markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def minutes_text(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g} min"


def rto_verdict(within: bool | None) -> str:
    return "unknown" if within is None else ("within" if within else "OVER")


def minutes_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60.0, 1)


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return None


def describe_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """``Type: message`` (or ``Type (Code)`` for AWS errors), bounded and scrubbed of every secret value."""
    code = _error_code(exc)
    text = f"{type(exc).__name__} ({code})" if code else f"{type(exc).__name__}: {exc}"
    return truncate(redact(text, secrets), 300)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def instance_id_of(arn: str | None) -> str | None:
    """``arn:aws:rds:<region>:<account>:db:<id>`` -> ``<id>``."""
    if not arn:
        return None
    parts = arn.split(":")
    if len(parts) == 7 and parts[2] == "rds" and parts[5] == "db" and parts[6]:
        return parts[6]
    return None


def vault_name_of(vault_arn: str | None) -> str | None:
    """``arn:aws:backup:<region>:<account>:backup-vault:<name>`` -> ``<name>``."""
    parts = (vault_arn or "").split(":")
    return parts[6] if len(parts) == 7 and parts[5] == "backup-vault" and parts[6] else None


def put_object(s3: Any, bucket: str, key: str, body: bytes, content_type: str, kms_key: str | None) -> None:
    """Write with the bucket's default encryption (its own KMS key), or with ``kms_key`` when given.

    ``ServerSideEncryption="aws:kms"`` without ``SSEKMSKeyId`` would not mean "the bucket's key": S3
    then uses the AWS managed key ``aws/s3``. So the header is sent only together with a key.
    """
    extra: dict[str, str] = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra)
