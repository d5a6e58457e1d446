"""Records every AWS API call the runtime makes anywhere in the test suite, at the botocore level, with
the runtime entry point (the function's logic) that made it and that entry point's settings.

Installed once per test session (``tests/conftest.py``). The permission contract then evaluates each
call against the deployed function's policies. IAM database authentication tokens are presigned
locally (no API call): ``generate_db_auth_token`` is recorded as the ``rds-db:connect`` it stands for.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType
from typing import Any


@dataclass(frozen=True)
class EntryPoint:
    """A runtime function's logic: calls made below it are that function's calls. ``capture`` names
    the local variables whose values say how it is configured (a settings dataclass is captured
    field by field)."""

    name: str
    module: str
    function: str
    capture: tuple[str, ...] = ("settings",)


@dataclass(frozen=True)
class RecordedCall:
    entry: str
    service: str
    operation: str
    region: str
    params: Mapping[str, Any]
    settings: Mapping[str, Any]
    response: Mapping[str, Any] = field(default_factory=dict)
    test: str = ""


@dataclass
class Recorder:
    entries: dict[CodeType, EntryPoint] = field(default_factory=dict)
    calls: list[RecordedCall] = field(default_factory=list)
    bindings: dict[str, str] = field(default_factory=dict)
    current_test: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, entry: EntryPoint) -> None:
        module = __import__(entry.module, fromlist=[entry.function])
        target: Any = getattr(module, entry.function)
        self.entries[target.__code__] = entry

    def bind(self, test_value: str, deployed: str) -> None:
        """Declare that a resource of the test world (a moto key ARN, say) stands for a deployed one."""
        with self._lock:
            self.bindings[test_value] = deployed

    def entry_of(self, frame: FrameType | None) -> tuple[EntryPoint, Mapping[str, Any]] | None:
        while frame is not None:
            entry = self.entries.get(frame.f_code)
            if entry is not None:
                values: dict[str, Any] = {}
                for name in entry.capture:
                    value = frame.f_locals.get(name)
                    if dataclasses.is_dataclass(value) and not isinstance(value, type):
                        values |= dataclasses.asdict(value)
                    elif value is not None:
                        values[name] = value
                return entry, values
            frame = frame.f_back
        return None

    def record(self, call: RecordedCall) -> None:
        with self._lock:
            self.calls.append(call)

    def dump(self, path: Path) -> None:
        """Write what this process recorded (tests run in several processes: each writes its own file)."""
        data = {"calls": [dataclasses.asdict(c) for c in self.calls], "bindings": self.bindings}
        path.write_text(json.dumps(data, default=str), encoding="utf-8")

    def load(self, directory: Path) -> int:
        """Add what other processes recorded (their :meth:`dump` files in ``directory``); the number of files."""
        files = sorted(directory.glob("*.json"))
        for file in files:
            data = json.loads(file.read_text(encoding="utf-8"))
            with self._lock:
                self.calls += [RecordedCall(**c) for c in data["calls"]]
                self.bindings.update(data["bindings"])
        return len(files)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "<bytes>"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if hasattr(value, "read"):
        return "<stream>"
    return value


# What of a response the contract needs: which key an alias or key id stands for.
_KEEP_RESPONSE: Mapping[tuple[str, str], Callable[[Mapping[str, Any]], Mapping[str, Any]]] = {
    ("kms", "DescribeKey"): lambda r: {"KeyArn": (r.get("KeyMetadata") or {}).get("Arn")},
}

RECORDER = Recorder()


def install(recorder: Recorder = RECORDER) -> None:
    """Wrap botocore's API call and the RDS auth-token presigner (idempotent)."""
    import botocore.client
    import botocore.signers

    if getattr(botocore.client.BaseClient._make_api_call, "__recorded__", False):
        return
    original = botocore.client.BaseClient._make_api_call

    def _make_api_call(self: Any, operation_name: str, api_params: Mapping[str, Any]) -> Any:
        found = recorder.entry_of(sys._getframe(1))
        response = original(self, operation_name, api_params)
        if found is not None:
            entry, settings = found
            service = self.meta.service_model.service_name
            keep = _KEEP_RESPONSE.get((service, operation_name))
            recorder.record(
                RecordedCall(
                    entry=entry.name,
                    service=service,
                    operation=operation_name,
                    region=self.meta.region_name,
                    params=_plain(api_params),
                    settings=_plain(settings),
                    response=_plain(keep(response)) if keep else {},
                    test=recorder.current_test,
                )
            )
        return response

    _make_api_call.__recorded__ = True  # type: ignore[attr-defined]
    botocore.client.BaseClient._make_api_call = _make_api_call

    presign = botocore.signers.generate_db_auth_token

    def generate_db_auth_token(
        self: Any, DBHostname: str, Port: int, DBUsername: str, Region: str | None = None
    ) -> str:
        found = recorder.entry_of(sys._getframe(1))
        token: str = presign(self, DBHostname, Port, DBUsername, Region)
        if found is not None:
            entry, settings = found
            recorder.record(
                RecordedCall(
                    entry=entry.name,
                    service="rds-db",
                    operation="connect",
                    region=Region or self.meta.region_name,
                    params={"DBHostname": DBHostname, "Port": Port, "DBUsername": DBUsername},
                    settings=_plain(settings),
                    test=recorder.current_test,
                )
            )
        return token

    # botocore attaches the presigner to RDS clients from this module attribute at client creation.
    botocore.signers.generate_db_auth_token = generate_db_auth_token
