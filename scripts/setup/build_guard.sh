#!/usr/bin/env bash
# Compile the Thrift Server's guard (jvm/recolake/ChainTablesGuard.java: analysts may read the chain's
# schemas, not write them) against pip's pyspark and the cached Delta jar, into <jars dir>/recolake-guard.jar.
# Needs a JDK's javac; Debian's openjdk-17-jdk-headless is installed when it is missing and we may.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"
python="$1"
dest="$2"

javac_bin="${JAVA_HOME:+$JAVA_HOME/bin/}javac"
if ! command -v "$javac_bin" >/dev/null 2>&1; then
  javac_bin=javac
fi
if ! command -v "$javac_bin" >/dev/null 2>&1; then
  if ! apt_install openjdk-17-jdk-headless "javac, for the Thrift Server's guard"; then
    echo "setup: javac (a JDK 17) is needed once to build the Thrift Server's guard; install one" >&2
    exit 1
  fi
fi
spark_jars="$("$python" -c 'import pathlib, pyspark; print(pathlib.Path(pyspark.__file__).parent / "jars")')"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$javac_bin" --release 17 -nowarn -d "$tmp" -cp "${spark_jars}/*:${dest}/delta-spark.jar" jvm/recolake/*.java
(cd "$tmp" && "${javac_bin%javac}jar" cf guard.jar recolake 2>/dev/null || "$python" -m zipfile -c guard.jar recolake)
mv "$tmp/guard.jar" "$dest/recolake-guard.jar"
echo "setup: Thrift Server guard built into ${dest}/recolake-guard.jar"
