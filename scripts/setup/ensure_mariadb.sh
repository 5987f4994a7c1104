#!/usr/bin/env bash
# The MySQL sync and its tests need a MariaDB/MySQL server binary for the project-private
# instance (unless MYSQL_HOST points at an external server). Install Debian's mariadb-server
# when it is missing and we may; the system service is not started or used.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"

if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || command -v mysqld >/dev/null 2>&1 \
   || [ -x /usr/sbin/mysqld ]; then
  exit 0
fi
if apt_install mariadb-server "for the private MariaDB the MySQL sync uses"; then
  exit 0
fi
if [ -n "${MYSQL_HOST:-}" ]; then
  exit 0  # an external server is configured
fi
echo "setup: no MariaDB/MySQL server found; install mariadb-server or set MYSQL_HOST to an existing server" >&2
exit 1
