#!/usr/bin/env bash
# Cache the Delta Lake jars in a project-local folder, under version-free names that
# profiles/profiles.yml points at, so later Spark starts need no download.
set -euo pipefail
version="$1"
dest="$2"

if ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing maven to fetch the Delta jars"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq maven >/dev/null
  else
    echo "setup: maven (mvn) is needed once to download the Delta jars; install it" >&2
    exit 1
  fi
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for artifact in delta-spark_2.13 delta-storage; do
  mvn -q -B dependency:copy "-Dartifact=io.delta:${artifact}:${version}" "-DoutputDirectory=${tmp}"
done
mkdir -p "$dest"
mv "${tmp}/delta-storage-${version}.jar" "${dest}/delta-storage.jar"
mv "${tmp}/delta-spark_2.13-${version}.jar" "${dest}/delta-spark.jar"
echo "setup: Delta ${version} jars cached in ${dest}"
