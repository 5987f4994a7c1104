#!/usr/bin/env bash
# Spark 4 needs Java 17+. Install Debian's headless JRE when it is missing and we may.
set -euo pipefail

java_major() {
  java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'
}

if command -v java >/dev/null 2>&1 && [ "$(java_major)" -ge 17 ] 2>/dev/null; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing openjdk-17-jre-headless"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  exit 0
fi
echo "setup: Java 17 or newer is required (found: $(java -version 2>&1 | head -1 || echo none)); install it, e.g. apt-get install openjdk-17-jre-headless" >&2
exit 1
