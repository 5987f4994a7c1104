"""Where the warehouse lives, and what Spark needs for object storage (``s3a://``).

``LAKEHOUSE_WAREHOUSE_DIR`` defaults to ``LAKEHOUSE_DIR/warehouse``. An ``s3a://`` warehouse (or
``S3_ENDPOINT`` set, to read one) adds Hadoop's S3A connector and the AWS SDK (``make s3-setup``
caches them) and the endpoint and keys, in embedded and cluster mode alike. Delta on S3 is safe
for one writing driver per table (see the README).
"""

from __future__ import annotations

from pipeline.platform.config import Settings

S3_JARS = ("hadoop-aws.jar", "aws-sdk-bundle.jar")


def uses_s3(settings: Settings) -> bool:
    return settings.warehouse_dir.startswith("s3a://") or bool(settings.object_storage.endpoint)


def s3_conf(settings: Settings) -> dict[str, str]:
    """Hadoop S3A settings; the jars are added by :func:`add_jars`."""
    conf = {"spark.hadoop.fs.s3a.path.style.access": "true"}
    env = settings.object_storage
    if env.endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = env.endpoint
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(env.endpoint.startswith("https")).lower()
        # SDK v2 needs a region; with a custom endpoint it cannot look it up.
        conf["spark.hadoop.fs.s3a.endpoint.region"] = env.region
    if env.access_key and env.secret_key:  # executors do not inherit this process's environment: pass the keys
        conf.update({"spark.hadoop.fs.s3a.access.key": env.access_key,
                     "spark.hadoop.fs.s3a.secret.key": env.secret_key,
                     "spark.hadoop.fs.s3a.aws.credentials.provider":
                         "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"})
    return conf


def add_jars(settings: Settings, conf: dict[str, str]) -> dict[str, str]:
    """``conf`` with the S3 jars appended to ``spark.jars`` and the driver's class path."""
    jars = settings.cached_jars(S3_JARS, "s3-setup", f" for the s3a:// warehouse {settings.warehouse_dir}")
    paths = [str(j) for j in jars]
    out = dict(conf)
    out["spark.jars"] = ",".join(filter(None, [conf.get("spark.jars", ""), *paths]))
    out["spark.driver.extraClassPath"] = ":".join(filter(None, [conf.get("spark.driver.extraClassPath", ""), *paths]))
    return out
