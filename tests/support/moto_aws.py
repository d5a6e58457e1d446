"""AWS for the tests: moto's server over real HTTP (one per test module: moto's backends are
process-global and other modules may reset them), and botocore's Stubber on real clients where
moto does not model an API (the Stubber checks every request against the real API model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

DEFAULT_REGION = "us-east-1"
_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class MotoAws:
    """Clients of one moto server, cached per service and region."""

    endpoint: str
    region: str = DEFAULT_REGION
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str, region: str | None = None) -> Any:
        key = f"{service}:{region or self.region}"
        if key not in self.clients:
            self.clients[key] = boto3.client(
                service, region_name=region or self.region, endpoint_url=self.endpoint, **_CREDENTIALS
            )
        return self.clients[key]


@contextmanager
def moto_aws(region: str = DEFAULT_REGION) -> Iterator[MotoAws]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield MotoAws(f"http://{host}:{port}", region)
    finally:
        server.stop()


def drain_events(sqs: Any, queue_url: str, received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Move every EventBridge event delivered to ``queue_url`` (a rule target) into ``received``;
    returns all received so far."""
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages") or []
        if not messages:
            return list(received)
        for message in messages:
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def stubbed(service: str, region: str = DEFAULT_REGION) -> tuple[Any, Stubber]:
    """A real client (no endpoint is ever called) and its Stubber."""
    client = boto3.client(service, region_name=region, **_CREDENTIALS)
    return client, Stubber(client)


def create_bucket_like_template(s3: Any, kms: Any, bucket: str) -> str:
    """A bucket configured like the templates' backup buckets (in the clients' region): versioned,
    default encryption SSE-KMS with a customer managed key of its own and an S3 bucket key. Returns the
    key's ARN."""
    key_arn: str = kms.create_key(Description=f"key of {bucket}")["KeyMetadata"]["Arn"]
    region = s3.meta.region_name
    s3.create_bucket(
        Bucket=bucket,
        **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}),
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    return key_arn
