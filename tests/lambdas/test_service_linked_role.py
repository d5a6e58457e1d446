"""The create-if-absent custom resource for service-linked roles: IAM through botocore's Stubber (every
request checked against the IAM API model), CloudFormation's response URL as a real HTTP server on
loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from lambdas import service_linked_role as slr
from tests.support.moto_aws import stubbed

ROLE = "AWSServiceRoleForBackupReports"
SERVICE = "reports.backup.amazonaws.com"
ARN = f"arn:aws:iam::111111111111:role/aws-service-role/{SERVICE}/{ROLE}"


def _role() -> dict[str, Any]:
    return {
        "Role": {
            "Path": f"/aws-service-role/{SERVICE}/",
            "RoleName": ROLE,
            "RoleId": "AROAEXAMPLEEXAMPLE123",
            "Arn": ARN,
            "CreateDate": "2026-12-01T00:00:00Z",
        }
    }


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/response", received
    finally:
        server.shutdown()


def _event(url: str, request_type: str = "Create") -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/ecommerce-production-monitoring/guid",
        "RequestId": "req-1",
        "LogicalResourceId": "ReportsServiceRole",
        "ResourceProperties": {"ServiceName": SERVICE, "RoleName": ROLE},
    }


def test_an_existing_role_is_left_alone(response_url: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = response_url
    iam, stub = stubbed("iam")
    stub.add_response("get_role", _role(), {"RoleName": ROLE})
    with stub:
        result = slr.handle(_event(url), iam)
        stub.assert_no_pending_responses()
    assert result == {"status": "exists", "arn": ARN}
    (response,) = received
    assert (response["Status"], response["Data"], response["RequestId"]) == ("SUCCESS", {"Arn": ARN}, "req-1")


def test_a_missing_role_is_created_and_waited_for() -> None:
    iam, stub = stubbed("iam")
    stub.add_client_error("get_role", "NoSuchEntity", http_status_code=404)
    stub.add_response("create_service_linked_role", _role(), {"AWSServiceName": SERVICE})
    stub.add_client_error("get_role", "NoSuchEntity", http_status_code=404)  # not visible yet
    stub.add_response("get_role", _role(), {"RoleName": ROLE})
    with stub:
        arn, created = slr.ensure_service_linked_role(iam, service_name=SERVICE, role_name=ROLE, sleep=lambda _: None)
        stub.assert_no_pending_responses()
    assert (arn, created) == (ARN, True)


def test_a_role_created_meanwhile_by_another_stack_counts_as_existing() -> None:
    iam, stub = stubbed("iam")
    stub.add_client_error("get_role", "NoSuchEntity", http_status_code=404)
    stub.add_client_error(
        "create_service_linked_role",
        "InvalidInput",
        service_message=f"Service role name {ROLE} has been taken in this account, please try a different suffix.",
    )
    stub.add_response("get_role", _role(), {"RoleName": ROLE})
    with stub:
        assert slr.ensure_service_linked_role(iam, service_name=SERVICE, role_name=ROLE) == (ARN, False)


def test_any_other_error_fails_the_resource_with_the_reason(response_url: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = response_url
    iam, stub = stubbed("iam")
    stub.add_client_error("get_role", "NoSuchEntity", http_status_code=404)
    stub.add_client_error("create_service_linked_role", "AccessDenied", http_status_code=403)
    with stub:
        result = slr.handle(_event(url), iam)
    assert result["status"] == "failed"
    (response,) = received
    assert response["Status"] == "FAILED" and "AccessDenied" in response["Reason"]


def test_delete_keeps_the_role_and_calls_nothing(response_url: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = response_url
    iam, stub = stubbed("iam")
    with stub:
        assert slr.handle(_event(url, "Delete") | {"PhysicalResourceId": "service-linked-role:x"}, iam) == {
            "status": "kept"
        }
        stub.assert_no_pending_responses()
    (response,) = received
    assert response["Status"] == "SUCCESS" and response["PhysicalResourceId"] == "service-linked-role:x"
