"""A CloudFormation custom resource that makes sure a service-linked role exists: create it if absent,
leave it alone if present, never delete it.

Service-linked roles exist only after a service's first use, and a bucket or key policy that names a
missing role is rejected ("Invalid principal"). ``AWS::IAM::ServiceLinkedRole`` cannot help: it fails
when the role exists already (most accounts have AWS Config's), and two environments in one account
would both create it. So: ``GetRole``, and ``CreateServiceLinkedRole`` only on ``NoSuchEntity``.

Resource properties: ``ServiceName`` (e.g. ``reports.backup.amazonaws.com``) and ``RoleName`` (the
name AWS gives that service's role, e.g. ``AWSServiceRoleForBackupReports``). Returns ``Arn``.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final

from lambdas.common.aws import cached_client, error_code

BUNDLE_DEPENDENCIES: Final = {"handler": ()}

LOG = logging.getLogger(__name__)

# IAM is eventually consistent: a role just created may not be visible to S3 or KMS yet.
VISIBILITY_ATTEMPTS = 10
VISIBILITY_DELAY_SECONDS = 3.0


class ServiceLinkedRoleError(Exception):
    """The role could not be found or created (the message says which and why)."""


def ensure_service_linked_role(
    iam: Any, *, service_name: str, role_name: str, sleep: Callable[[float], None] = time.sleep
) -> tuple[str, bool]:
    """(the role's ARN, whether this call created it)."""
    try:
        return str(iam.get_role(RoleName=role_name)["Role"]["Arn"]), False
    except Exception as exc:
        if error_code(exc) != "NoSuchEntity":
            raise ServiceLinkedRoleError(f"cannot read role {role_name}: {error_code(exc) or exc}") from exc
    created = False
    try:
        arn = str(iam.create_service_linked_role(AWSServiceName=service_name)["Role"]["Arn"])
        created = True
    except Exception as exc:
        # Another stack (the other environment) created it in the meantime.
        if error_code(exc) != "InvalidInput" or "has been taken" not in str(exc):
            raise ServiceLinkedRoleError(
                f"cannot create the service-linked role of {service_name}: {error_code(exc) or exc}"
            ) from exc
    for attempt in range(VISIBILITY_ATTEMPTS):
        try:
            arn = str(iam.get_role(RoleName=role_name)["Role"]["Arn"])
            return arn, created
        except Exception as exc:
            if error_code(exc) != "NoSuchEntity" or attempt == VISIBILITY_ATTEMPTS - 1:
                raise ServiceLinkedRoleError(f"role {role_name} is not visible: {error_code(exc) or exc}") from exc
            sleep(VISIBILITY_DELAY_SECONDS)
    raise ServiceLinkedRoleError(f"role {role_name} is not visible")  # pragma: no cover - loop returns or raises


def respond(event: Mapping[str, Any], status: str, reason: str, data: Mapping[str, str], physical_id: str) -> None:
    """Send the custom resource's result to CloudFormation's pre-signed response URL."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": dict(data),
        }
    ).encode()
    request = urllib.request.Request(str(event["ResponseURL"]), data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def handle(event: Mapping[str, Any], iam: Any, send: Callable[..., None] = respond) -> dict[str, Any]:
    """Create/Update: ensure the role; Delete: keep it (other stacks and services may use it)."""
    props = event.get("ResourceProperties") or {}
    role_name = str(props.get("RoleName") or "")
    physical_id = str(event.get("PhysicalResourceId") or f"service-linked-role:{role_name}")
    try:
        if event.get("RequestType") == "Delete":
            send(event, "SUCCESS", "service-linked roles are kept", {}, physical_id)
            return {"status": "kept"}
        arn, created = ensure_service_linked_role(
            iam, service_name=str(props.get("ServiceName") or ""), role_name=role_name
        )
    except Exception as exc:
        LOG.error("service-linked role %s: %s", role_name, exc)
        send(event, "FAILED", str(exc), {}, physical_id)
        return {"status": "failed", "reason": str(exc)}
    LOG.info("service-linked role %s: %s", role_name, "created" if created else "already there")
    send(event, "SUCCESS", "created" if created else "exists", {"Arn": arn}, physical_id)
    return {"status": "created" if created else "exists", "arn": arn}


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, cached_client("iam"))
