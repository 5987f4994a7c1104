#!/usr/bin/env bash
# The dashboard tests load the page in headless Chromium (Debian's package).
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if apt_install chromium "headless browser for the dashboard tests"; then
  exit 0
fi
echo "setup: the dashboard tests need Debian's chromium package; install it" >&2
exit 1
