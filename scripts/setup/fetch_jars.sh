#!/usr/bin/env bash
# Cache the jars Spark needs in a project-local folder, under version-free names that
# profiles/profiles.yml and the cluster settings point at, so later Spark starts need no download:
# Delta Lake (every mode), MariaDB's JDBC driver (the shared Hive metastore of cluster mode) and
# hive-llap-common (cluster mode: Hive's function registry, which the Thrift Server loads when a
# session closes, refers to its classes and pyspark 4.0 leaves it out).
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"
delta_version="$1"
mariadb_version="$2"
hive_version="$3"
dest="$4"

if ! command -v mvn >/dev/null 2>&1; then
  if ! apt_install maven "to fetch the jars"; then
    echo "setup: maven (mvn) is needed once to download the jars; install it" >&2
    exit 1
  fi
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for artifact in "io.delta:delta-spark_2.13:${delta_version}" "io.delta:delta-storage:${delta_version}" \
                "org.mariadb.jdbc:mariadb-java-client:${mariadb_version}" \
                "org.apache.hive:hive-llap-common:${hive_version}"; do
  mvn -q -B dependency:copy "-Dartifact=${artifact}" "-DoutputDirectory=${tmp}"
done
mkdir -p "$dest"
mv "${tmp}/delta-storage-${delta_version}.jar" "${dest}/delta-storage.jar"
mv "${tmp}/delta-spark_2.13-${delta_version}.jar" "${dest}/delta-spark.jar"
mv "${tmp}/mariadb-java-client-${mariadb_version}.jar" "${dest}/mariadb-java-client.jar"
mv "${tmp}/hive-llap-common-${hive_version}.jar" "${dest}/hive-llap-common.jar"
echo "setup: Delta ${delta_version}, MariaDB JDBC ${mariadb_version} and Hive LLAP ${hive_version} jars cached in ${dest}"
