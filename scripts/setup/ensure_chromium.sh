#!/usr/bin/env bash
# The dashboard tests load the page in headless Chromium (Debian's package).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing chromium (headless browser for the dashboard tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "setup: the dashboard tests need Debian's chromium package; install it" >&2
exit 1
