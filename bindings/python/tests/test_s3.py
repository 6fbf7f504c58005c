"""The seed's handler pattern, event['Records'][0]['s3']['bucket']['name'], runs unchanged.

Until the directory-watch trigger lands, the S3 ObjectCreated:Put event is built here by
hand, in the shape of S3's event notification (eventVersion 2.1, one record)."""

import datetime
import os
import urllib.parse

import pytest

import faas


def s3_put_event(bucket, key, size):
    now = datetime.datetime.now(datetime.timezone.utc)
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:LOCAL"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "LOCAL", "x-amz-id-2": "LOCAL"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "libfaas-test",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "LOCAL"},
                       "arn": "arn:aws:s3:::" + bucket},
            "object": {"key": urllib.parse.quote_plus(key), "size": size,
                       "eTag": "0" * 32, "sequencer": "0"},
        },
    }]}


@pytest.fixture
def bucket(tmp_path, monkeypatch):
    import s3_handler
    monkeypatch.setattr(s3_handler, "BUCKETS", str(tmp_path))
    (tmp_path / "photos").mkdir()
    return tmp_path / "photos"


def test_the_s3_handler_runs_unchanged(rt, bucket):
    import s3_handler
    (bucket / "cat picture.txt").write_bytes(b"meow\npurr\n")
    rt.register("thumbnail", s3_handler.lambda_handler, memory_mb=256, timeout_ms=3000)
    res = rt.invoke_response("thumbnail", s3_put_event("photos", "cat picture.txt", 10))
    assert res.ok
    assert res.result == {"bucket": "photos", "key": "cat picture.txt", "size": 10, "lines": 2}
    assert res.log_tail == "processing s3://photos/cat picture.txt\n"


def test_the_s3_handler_asynchronously(rt, bucket):
    import s3_handler
    for i in range(5):
        (bucket / ("f%d" % i)).write_bytes(b"x\n" * i)
    rt.register("count", s3_handler.lambda_handler)
    futures = [rt.invoke_async("count", s3_put_event("photos", "f%d" % i, i * 2))
               for i in range(5)]
    assert [f.result(10)["lines"] for f in futures] == [0, 1, 2, 3, 4]


def test_a_missing_object_is_the_handlers_error(rt, bucket):
    import s3_handler
    rt.register("thumbnail", s3_handler.lambda_handler)
    with pytest.raises(faas.FunctionError) as info:
        rt.invoke("thumbnail", s3_put_event("photos", "nothing-here", 0))
    assert info.value.error_type == "FileNotFoundError"
    assert "in lambda_handler" in info.value.stack_trace[-1]
