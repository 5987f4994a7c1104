"""Test helper: a local S3 (moto's server) for `make test-s3`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.mysql.local_server import free_port
from pipeline.platform.ports import port_open

BUCKET = "recolake-test"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """A moto S3 server on a free port with the test bucket; yields its endpoint URL."""
    import boto3

    port = free_port()
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    with open(log, "w") as out:
        process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"moto_server did not start: {log.read_text()[-500:]}")
            time.sleep(0.2)
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                     region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=30)


def bucket_keys(url: str) -> list[str]:
    """Every object key under an s3a://bucket/prefix URL, from the server S3_ENDPOINT names."""
    import os

    import boto3

    bucket, _, prefix = url.removeprefix("s3a://").partition("/")
    client = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys
