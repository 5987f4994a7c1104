#!/usr/bin/env bash
# Sourced by the setup scripts: `apt_install PACKAGE WHY` installs Debian's PACKAGE when we may (root, with
# apt-get) and says why; it returns 1 when we may not, and the caller says what the user must do instead.
# A failing apt-get ends the calling script (set -e does not reach into a function called by `if`).
apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  echo "setup: installing $1 ($2)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || exit 1
  apt-get install -y -qq "$1" >/dev/null || exit 1
}
