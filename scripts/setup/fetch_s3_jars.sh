#!/usr/bin/env bash
# Cache Hadoop's S3A connector (matching pyspark's hadoop-client 3.4.1) and the AWS SDK bundle it
# needs, for an s3a:// warehouse (`make s3-setup`). Not part of `make setup`: the bundle is 560 MB.
set -euo pipefail
hadoop_version="$1"
sdk_version="$2"
dest="$3"
command -v mvn >/dev/null 2>&1 || { echo "setup: maven (mvn) is needed; run make setup first" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mvn -q -B dependency:copy "-Dartifact=org.apache.hadoop:hadoop-aws:${hadoop_version}" "-DoutputDirectory=${tmp}"
mvn -q -B dependency:copy "-Dartifact=software.amazon.awssdk:bundle:${sdk_version}" "-DoutputDirectory=${tmp}"
mkdir -p "$dest"
mv "${tmp}/hadoop-aws-${hadoop_version}.jar" "${dest}/hadoop-aws.jar"
mv "${tmp}/bundle-${sdk_version}.jar" "${dest}/aws-sdk-bundle.jar"
echo "setup: hadoop-aws ${hadoop_version} and AWS SDK bundle ${sdk_version} cached in ${dest}"
