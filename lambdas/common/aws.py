"""What every runtime module needs from AWS: cached boto3 clients and the error code of a failure.

boto3 is imported on first use, so importing a handler module stays fast (Lambda cold start).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

_LOCK = threading.Lock()
_CLIENTS: dict[tuple[str, str | None], Any] = {}


def cached_client(service: str, region: str | None = None) -> Any:
    """A boto3 client for ``service`` (in ``region``, default the runtime's), created once per process."""
    key = (service, region)
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            import boto3

            client = boto3.client(service, region_name=region) if region else boto3.client(service)
            _CLIENTS[key] = client
        return client


def clear_clients() -> None:
    """Forget the cached clients (tests; rotated credentials)."""
    with _LOCK:
        _CLIENTS.clear()


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping) and error.get("Code"):
            return str(error["Code"])
    return ""
