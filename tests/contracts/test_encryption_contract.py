"""The encryption contract: every S3 write the runtime makes, in any test, relies on the bucket's
default encryption or names that bucket's own key (never ``aws:kms`` alone, which means ``aws/s3``)."""

from __future__ import annotations

import pytest

from tests.conftest import Synthesized
from tests.contracts import deployment as deployment_model
from tests.contracts.functions import functions_of
from tests.contracts.permissions import Translator, setting_pairs
from tests.contracts.recorder import RECORDER

pytestmark = pytest.mark.after_all_tests


def test_every_recorded_s3_write_uses_the_buckets_own_key(synthesized: Synthesized) -> None:
    deployed = deployment_model.load(synthesized.outdir)
    writes = [c for c in RECORDER.calls if (c.service, c.operation) == ("s3", "PutObject")]
    assert len(writes) > 50
    wrong = []
    for call in writes:
        for runtime in functions_of(call.entry, call.settings):
            function = deployed.function(runtime.stack, runtime.logical_prefix)
            params = Translator(function, setting_pairs(function, runtime, call.settings)).value(dict(call.params))
            bucket_key = deployed.bucket_keys.get(params["Bucket"])
            if "SSEKMSKeyId" in params:
                named = deployed.key_arn(params["SSEKMSKeyId"], function.region, function.account)
                if named != bucket_key:
                    wrong.append(f"{runtime.name}: {params['Key']} with {named}, bucket key {bucket_key}")
            elif params.get("ServerSideEncryption"):
                wrong.append(f"{runtime.name}: {params['Key']} with {params['ServerSideEncryption']} and no key id")
    assert wrong == []
