"""The benchmark's peer: the seed article's presigner, a Python Lambda handler that asks boto3
for a presigned PUT URL (generate_presigned_url for put_object with ContentType).

The boto3 client is created at import, during the init phase, as the article's function and
Lambda's own examples do. It answers the same Function URL event as the presigner, with the
same expiry and signature version, but does none of the presigner's checks (allowed types,
size, filename sanitising)."""

import json
import os
import uuid

import boto3
from botocore.config import Config

BUCKET = os.environ["PRESIGNER_BUCKET"]
EXPIRY = int(os.environ["PRESIGNER_URL_EXPIRY_SECONDS"])
s3 = boto3.client("s3", config=Config(signature_version="s3v4"))


def handler(event, context):
    body = json.loads(event.get("body") or "{}")
    key = f"uploads/{uuid.uuid4()}/{body['filename']}"
    url = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": BUCKET, "Key": key, "ContentType": body["contentType"]},
        ExpiresIn=EXPIRY,
    )
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"key": key, "method": "PUT", "url": url}),
    }
