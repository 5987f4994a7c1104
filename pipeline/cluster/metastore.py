"""The shared Hive metastore in the project's MariaDB, created once and idempotently.

Spark 4 talks to the metastore with its built-in Hive 2.3 client. Its tables are created up
front with DataNucleus' SchemaTool on the ``package.jdo`` inside pyspark's own
``hive-metastore`` jar: letting DataNucleus create them on first use
(``datanucleus.schema.autoCreateAll``) deadlocks on MariaDB when two processes start at once.
SchemaTool does not create what Hive 2.3 writes outside its object model, so this module adds
the sequence table, the transaction tables Hive cleans when a database or table is dropped
(without them ``DROP DATABASE`` fails after deleting the data files) and the schema VERSION row
Hive checks at start.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from pipeline.cluster.daemons import spark_home
from pipeline.mysql import local_server
from pipeline.mysql.connection import MysqlSettings, connect, quote_identifier
from pipeline.platform.cluster_conf import MetastoreConnection, external_metastore, mariadb_url
from pipeline.platform.config import Settings, ensure_writable
from pipeline.platform.errors import UserError

log = logging.getLogger(__name__)

USER = "hive"
SCHEMA_VERSION = "2.3.0"  # the Hive client built into Spark 4

# What Hive 2.3 needs beyond SchemaTool's tables: the sequence table DataNucleus fills, and the
# transaction tables the metastore's ACID listener cleans on every drop.
EXTRA_TABLES = (
    "create table if not exists SEQUENCE_TABLE (SEQUENCE_NAME varchar(255) not null primary key, "
    "NEXT_VAL bigint not null) engine=InnoDB default charset=latin1",
    "create table if not exists TXN_COMPONENTS (TC_TXNID bigint not null, TC_DATABASE varchar(128) not null, "
    "TC_TABLE varchar(128), TC_PARTITION varchar(767), TC_OPERATION_TYPE char(1) not null) "
    "engine=InnoDB default charset=latin1",
    "create table if not exists COMPLETED_TXN_COMPONENTS (CTC_TXNID bigint not null, "
    "CTC_DATABASE varchar(128) not null, CTC_TABLE varchar(256), CTC_PARTITION varchar(767)) "
    "engine=InnoDB default charset=latin1",
    "create table if not exists COMPACTION_QUEUE (CQ_ID bigint not null primary key, "
    "CQ_DATABASE varchar(128) not null, CQ_TABLE varchar(128) not null, CQ_PARTITION varchar(767), "
    "CQ_STATE char(1) not null, CQ_TYPE char(1) not null, CQ_TBLPROPERTIES varchar(2048), "
    "CQ_WORKER_ID varchar(128), CQ_START bigint, CQ_RUN_AS varchar(128), CQ_HIGHEST_TXN_ID bigint, "
    "CQ_META_INFO varbinary(2048), CQ_HADOOP_JOB_ID varchar(32)) engine=InnoDB default charset=latin1",
    "create table if not exists COMPLETED_COMPACTIONS (CC_ID bigint not null primary key, "
    "CC_DATABASE varchar(128) not null, CC_TABLE varchar(128) not null, CC_PARTITION varchar(767), "
    "CC_STATE char(1) not null, CC_TYPE char(1) not null, CC_TBLPROPERTIES varchar(2048), "
    "CC_WORKER_ID varchar(128), CC_START bigint, CC_END bigint, CC_RUN_AS varchar(128), "
    "CC_HIGHEST_TXN_ID bigint, CC_META_INFO varbinary(2048), CC_HADOOP_JOB_ID varchar(32)) "
    "engine=InnoDB default charset=latin1",
)


def _admin(server: local_server.LocalServer, database: str) -> MysqlSettings:
    admin = server.admin_settings()
    return MysqlSettings(admin.host, admin.port, admin.user, admin.password, database, admin.unix_socket)


def _ensure_account(settings: Settings, server: local_server.LocalServer) -> MetastoreConnection:
    """The metastore database and its user; the password is generated once and kept (0600)."""
    cluster = settings.cluster
    saved = cluster.metastore_credentials
    password = json.loads(saved.read_text())["password"] if saved.exists() else secrets.token_urlsafe(18)
    # latin1: Hive's index columns (767 characters) exceed InnoDB's key limit in utf8mb4.
    local_server.ensure_account(server, cluster.metastore_database, USER, password, "latin1", "latin1_bin")
    connection = MetastoreConnection(mariadb_url("127.0.0.1", server.port, cluster.metastore_database), USER, password)
    ensure_writable(cluster.state_dir, "CLUSTER_DIR")
    saved.write_text(json.dumps({"url": connection.url, "user": USER, "password": password}), encoding="utf-8")
    saved.chmod(0o600)
    return connection


def _tables(cur) -> set[str]:
    cur.execute("show tables")
    return {row[0].upper() for row in cur.fetchall()}


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else (shutil.which("java") or "java")


def _run_schema_tool(settings: Settings, connection: MetastoreConnection) -> None:
    jars = spark_home() / "jars"
    metastore_jar = next(jars.glob("hive-metastore-*.jar"))
    with tempfile.TemporaryDirectory(dir=settings.cluster.state_dir) as work:
        with zipfile.ZipFile(metastore_jar) as jar:
            jar.extract("package.jdo", work)
        props = Path(work) / "metastore.properties"
        props.touch(mode=0o600)
        props.write_text("\n".join([
            f"javax.jdo.option.ConnectionURL={connection.url}",
            f"javax.jdo.option.ConnectionDriverName={connection.driver}",
            f"javax.jdo.option.ConnectionUserName={connection.user}",
            f"javax.jdo.option.ConnectionPassword={connection.password}",
            # Hive's own naming and value-generation rules, so the tables match what it queries.
            "datanucleus.identifierFactory=datanucleus1",
            "datanucleus.rdbms.useLegacyNativeValueStrategy=true",
            "datanucleus.storeManagerType=rdbms",
            "datanucleus.schema.autoCreateAll=true",
        ]) + "\n", encoding="utf-8")
        classpath = f"{jars}/*:{settings.jars_dir / 'mariadb-java-client.jar'}:{work}"
        result = subprocess.run(
            [_java(), "-cp", classpath, "org.datanucleus.store.schema.SchemaTool", "-create", "-api", "JDO",
             "-props", str(props), str(Path(work) / "package.jdo")],
            capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or "completed successfully" not in result.stdout:
        tail = (result.stdout + result.stderr).strip()[-600:]
        raise UserError(f"creating the Hive metastore schema failed: {tail}")


def ensure(settings: Settings) -> MetastoreConnection:
    """Create (once) and return the shared metastore; an external one is used as it is."""
    external = external_metastore(settings.metastore)
    if external is not None:
        log.info("using the external metastore %s", external.url.split("?")[0])
        return external
    server = local_server.ensure_running(local_server.local_server(settings.mysql))
    connection = _ensure_account(settings, server)
    conn = connect(_admin(server, settings.cluster.metastore_database))
    try:
        cur = conn.cursor()
        if "DBS" not in _tables(cur):
            log.info("creating the Hive metastore schema in MariaDB database %s", settings.cluster.metastore_database)
            _run_schema_tool(settings, connection)
        for statement in EXTRA_TABLES:
            cur.execute(statement)
        cur.execute("insert ignore into VERSION (VER_ID, SCHEMA_VERSION, VERSION_COMMENT) values (1, %s, %s)",
                    (SCHEMA_VERSION, f"Hive release version {SCHEMA_VERSION}"))
    finally:
        conn.close()
    return connection


def describe(settings: Settings) -> tuple[bool, str]:
    """(healthy, one line) for status and doctor: the schema version and the databases it holds."""
    external = external_metastore(settings.metastore)
    if external is not None:
        return True, f"external {external.url.split('?')[0]} (not inspected)"
    server = local_server.local_server(settings.mysql)
    if not local_server.is_running(server):
        return False, f"private MariaDB on 127.0.0.1:{server.port} is not running: run `make cluster-up`"
    conn = connect(_admin(server, settings.cluster.metastore_database), database=False)
    try:
        cur = conn.cursor()
        cur.execute("select count(*) from information_schema.tables where table_schema = %s and table_name = 'VERSION'",
                    (settings.cluster.metastore_database,))
        if cur.fetchone()[0] == 0:
            return False, (f"no metastore schema in database {settings.cluster.metastore_database}: "
                           "run `make cluster-up`")
        database = quote_identifier(settings.cluster.metastore_database)
        cur.execute(f"select SCHEMA_VERSION from {database}.VERSION")
        version = cur.fetchone()
        cur.execute(f"select NAME from {database}.DBS order by NAME")
        names = [r[0] for r in cur.fetchall()]
    finally:
        conn.close()
    where = mariadb_url("127.0.0.1", server.port, settings.cluster.metastore_database).split("?")[0]
    return version is not None, f"{where}, schema {version[0] if version else 'without VERSION row'}, " \
                                f"databases: {', '.join(names) or 'none'}"
