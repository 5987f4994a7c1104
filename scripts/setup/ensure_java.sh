#!/usr/bin/env bash
# Spark 4 needs Java 17+. Install Debian's headless JRE when it is missing and we may.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"

java_major() {
  java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'
}

if command -v java >/dev/null 2>&1 && [ "$(java_major)" -ge 17 ] 2>/dev/null; then
  exit 0
fi
if apt_install openjdk-17-jre-headless "Java 17 for Spark"; then
  exit 0
fi
echo "setup: Java 17 or newer is required (found: $(java -version 2>&1 | head -1 || echo none)); install it, e.g. apt-get install openjdk-17-jre-headless" >&2
exit 1
