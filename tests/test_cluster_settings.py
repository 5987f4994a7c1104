"""Cluster-mode settings without a cluster: the engine switch, the Spark settings a cluster job
adds, the two dbt targets' SQL settings kept equal, and the taken-port message."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from pipeline.platform import cluster_conf as conf
from pipeline.platform.config import REPO_ROOT, SettingError, load_settings, metastore_env
from pipeline.platform.errors import UserError
from pipeline.platform.ports import describe_taken, port_holder
from pipeline.platform.spark import PROFILE_NAME, render_profile, spark_conf

# Settings fixed when a Spark application starts; the rest apply per session and must be equal.
STATIC_SQL = {"spark.sql.extensions", "spark.sql.catalog.spark_catalog", "spark.sql.warehouse.dir"}
PREFIX = "set:hiveconf:"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("CLUSTER_", "METASTORE_", "SPARK_", "LAKEHOUSE_ENGINE", "DBT_TARGET")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLUSTER_DIR", str(tmp_path / "cluster"))


def _outputs() -> dict:
    env = {**os.environ, **load_settings().exported_env()}
    return render_profile(REPO_ROOT / "profiles", env)[PROFILE_NAME]["outputs"]


def test_both_dbt_targets_apply_the_same_sql_settings():
    outputs = _outputs()
    local = {k: str(v) for k, v in outputs["local"]["server_side_parameters"].items()
             if k.startswith(("spark.sql.", "spark.databricks.")) and k not in STATIC_SQL}
    thrift = {k.removeprefix(PREFIX): str(v) for k, v in outputs["thrift"]["server_side_parameters"].items()}
    assert all(k.startswith(PREFIX) for k in outputs["thrift"]["server_side_parameters"])
    assert thrift == local
    assert local["spark.sql.ansi.enabled"] == "false" and local["spark.sql.session.timeZone"] == "UTC"


def test_embedded_is_the_default_and_keeps_derby_and_the_session_target(monkeypatch):
    settings = load_settings()
    assert settings.engine == "embedded" and settings.embedded
    assert "DBT_TARGET" not in settings.exported_env()
    spark = spark_conf(settings)
    assert spark["spark.master"].startswith("local")
    assert spark["spark.hadoop.javax.jdo.option.ConnectionURL"].startswith("jdbc:derby:")


def test_cluster_mode_submits_to_the_master_with_the_shared_metastore(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKEHOUSE_ENGINE", "cluster")
    monkeypatch.setenv("SPARK_MASTER_PORT", "7199")
    monkeypatch.setenv("CLUSTER_APP_CORES", "3")
    settings = load_settings()
    with pytest.raises(UserError, match="make cluster-up"):  # no metastore set up yet
        spark_conf(settings)
    url = conf.mariadb_url("127.0.0.1", 33306, "metastore")
    settings.cluster.state_dir.mkdir(parents=True)
    settings.cluster.metastore_credentials.write_text(json.dumps({"url": url, "user": "hive", "password": "pw"}))
    spark = spark_conf(settings)
    assert spark["spark.master"] == "spark://127.0.0.1:7199" and spark["spark.cores.max"] == "3"
    assert spark["spark.hadoop.javax.jdo.option.ConnectionURL"] == url
    assert spark["spark.hadoop.javax.jdo.option.ConnectionDriverName"] == conf.MARIADB_DRIVER
    assert "mariadb-java-client.jar" in spark["spark.driver.extraClassPath"]
    assert Path(spark["spark.executor.extraClassPath"]).name == "hive-llap-common.jar"
    assert spark["spark.sql.session.timeZone"] == "UTC"  # the SQL settings stay the profile's
    env = settings.exported_env()
    assert env["DBT_TARGET"] == "thrift" and env["SPARK_THRIFT_PORT"] == "10000"


def test_an_external_metastore_needs_its_user(monkeypatch):
    monkeypatch.setenv("METASTORE_JDBC_URL", "jdbc:mysql://db:3306/hive")
    with pytest.raises(UserError, match="METASTORE_USER"):
        conf.external_metastore(metastore_env())
    monkeypatch.setenv("METASTORE_USER", "hive")
    external = conf.external_metastore(metastore_env())
    assert external.spark_conf()["spark.hadoop.javax.jdo.option.ConnectionUserName"] == "hive"


@pytest.mark.parametrize("name, value, message", [
    ("LAKEHOUSE_ENGINE", "yarn", "not one of embedded, cluster"),
    ("CLUSTER_WORKERS", "0", "positive whole number"),
    ("SPARK_THRIFT_PORT", "ten", "positive whole number"),
    ("CLUSTER_WORKER_MEMORY", "lots", "JVM memory size"),
    ("THRIFT_AUTH", "kerberos", "must be one of none, ldap"),
    ("LDAP_PORT", "-1", "positive whole number"),
])
def test_bad_cluster_settings_are_one_clear_error(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=message):
        load_settings()


def test_a_taken_port_names_its_holder_and_the_setting():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_holder(port).startswith(f"pid {os.getpid()} ")
        message = describe_taken(port, "SPARK_THRIFT_PORT")
    assert f"port {port} is already in use by pid {os.getpid()}" in message
    assert message.endswith("set SPARK_THRIFT_PORT")
    assert port_holder(port) is None


def test_cluster_mode_without_a_running_cluster_fails_at_once_naming_the_command(monkeypatch):
    from pipeline.mysql.local_server import free_port

    monkeypatch.setenv("LAKEHOUSE_ENGINE", "cluster")
    monkeypatch.setenv("SPARK_MASTER_PORT", str(free_port()))
    monkeypatch.setenv("SPARK_THRIFT_PORT", str(free_port()))
    cluster = load_settings().cluster
    with pytest.raises(UserError, match=r"no Spark master listens at spark://127\.0\.0\.1:\d+: run `make cluster-up`"):
        conf.require_master(cluster)
    with pytest.raises(UserError, match=r"no Thrift Server listens at 127\.0\.0\.1:\d+: run `make cluster-up`"):
        conf.require_thrift_server(cluster)
    monkeypatch.setenv("CLUSTER_MASTER_URL", "yarn")  # someone else's cluster: not ours to check
    conf.require_master(load_settings().cluster)


def test_an_s3a_warehouse_adds_the_connector_endpoint_and_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE_DIR", "s3a://shop-lake/warehouse")
    monkeypatch.setenv("S3_ENDPOINT", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("LAKEHOUSE_JARS_DIR", str(tmp_path))
    settings = load_settings()
    with pytest.raises(UserError, match="aws-sdk-bundle.jar missing .* run `make s3-setup`"):
        spark_conf(settings)
    for name in ("delta-spark.jar", "delta-storage.jar", "hadoop-aws.jar", "aws-sdk-bundle.jar"):
        (tmp_path / name).touch()
    spark = spark_conf(settings)
    assert spark["spark.sql.warehouse.dir"] == "s3a://shop-lake/warehouse"
    assert spark["spark.jars"].split(",")[-2:] == [str(tmp_path / "hadoop-aws.jar"),
                                                   str(tmp_path / "aws-sdk-bundle.jar")]
    assert spark["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert spark["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert spark["spark.hadoop.fs.s3a.access.key"] == "key"


def test_the_derived_warehouse_is_not_exported_so_children_with_their_own_lakehouse_get_their_own(monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_WAREHOUSE_DIR", raising=False)
    assert "LAKEHOUSE_WAREHOUSE_DIR" not in load_settings().exported_env()
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE_DIR", "s3a://shop-lake/warehouse")
    assert load_settings().exported_env()["LAKEHOUSE_WAREHOUSE_DIR"] == "s3a://shop-lake/warehouse"


def test_the_thrift_server_checks_passwords_only_when_asked(monkeypatch, tmp_path):
    """Off by default (no directory, no authentication setting); THRIFT_AUTH=ldap starts the server with
    Hive's LDAP provider on the cluster's own directory, or on THRIFT_LDAP_URL's."""
    from pipeline.cluster import directory, lifecycle

    monkeypatch.setenv("CLUSTER_DIR", str(tmp_path))
    cluster = load_settings().cluster
    assert not cluster.manages_directory
    assert not any("authentication" in arg for arg in lifecycle.thrift_daemon(cluster).args)
    monkeypatch.setenv("THRIFT_AUTH", "LDAP")
    monkeypatch.setenv("LDAP_PORT", "3999")
    cluster = load_settings().cluster
    args = lifecycle.thrift_daemon(cluster).args
    assert cluster.manages_directory and "hive.server2.authentication=LDAP" in args
    assert "hive.server2.authentication.ldap.url=ldap://127.0.0.1:3999" in args
    with pytest.raises(UserError, match="set SPARK_THRIFT_PASSWORD"):
        directory.ensure(cluster)
    monkeypatch.setenv("THRIFT_LDAP_URL", "ldaps://ldap.example.com")
    cluster = load_settings().cluster
    assert not cluster.manages_directory
    assert "hive.server2.authentication.ldap.url=ldaps://ldap.example.com" in lifecycle.thrift_daemon(cluster).args
    hashed = directory.ssha("correct horse")
    assert directory.check_ssha("correct horse", hashed) and not directory.check_ssha("correct horsе", hashed)
