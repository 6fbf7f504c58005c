"""A handler written for AWS Lambda's S3 trigger, as the AWS blueprint shapes it. It is kept
as it would run in the cloud: the tests only change where the bucket is (a directory)."""

import os
import urllib.parse

BUCKETS = os.environ.get("FAAS_TEST_BUCKETS", "/tmp")


def lambda_handler(event, context):
    bucket = event['Records'][0]['s3']['bucket']['name']
    key = urllib.parse.unquote_plus(event['Records'][0]['s3']['object']['key'],
                                    encoding='utf-8')
    print("processing s3://%s/%s" % (bucket, key))
    with open(os.path.join(BUCKETS, bucket, key), "rb") as f:
        data = f.read()
    return {"bucket": bucket, "key": key, "size": len(data), "lines": data.count(b"\n")}
