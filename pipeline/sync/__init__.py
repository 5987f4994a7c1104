"""Copy the dbt marts tagged `mysql_sync` from Delta to MySQL/MariaDB for Tableau: which tables
(catalog.py), how a copy is verified (checksum.py), how it is loaded and swapped in (load.py)."""

from pipeline.platform.errors import UserError


class SyncError(UserError):
    """A sync problem the user must fix: no dbt manifest, a type MySQL cannot hold, a copy that does not verify."""
