#!/usr/bin/env bash
# THRIFT_AUTH=ldap runs a private OpenLDAP directory (pipeline/cluster/directory.py) and its test needs
# slapd and slapadd. Install Debian's slapd when they are missing and we may; the system service is not
# started or used. Without root it is only needed for THRIFT_AUTH=ldap, so a missing one is a note.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"

if command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ]; then
  exit 0
fi
if apt_install slapd "for the Thrift Server's password check, THRIFT_AUTH=ldap"; then
  exit 0
fi
echo "setup: note: no slapd found; THRIFT_AUTH=ldap needs Debian's slapd or a directory in THRIFT_LDAP_URL" >&2
