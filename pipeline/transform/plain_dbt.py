"""The lakehouse lock for dbt commands that did not come through this project's wrapper.

Called by the project's dbt plugin (``dbt_plugin/dbt_recolake.py``) when plain ``dbt`` starts,
before it opens a connection. A command of the profile's session target (the embedded lakehouse)
takes the lock on the lakehouse whose Derby metastore the profile opens, so an analyst's
``dbt build`` during ``make recommend`` stops at once with the running command's name, and
``make recommend`` during an analyst's build does the same. Commands that never open a Spark
session, and the ``thrift`` target (the cluster's shared metastore), take no lock.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pipeline.platform import lock
from pipeline.platform.config import LOCK_FILE_NAME
from pipeline.platform.spark import PROFILE_NAME, SetupError, render_profile

# dbt commands that read files only: no Spark session, no metastore.
NO_SESSION = {"parse", "list", "ls", "clean", "deps", "init"}


def derby_lakehouse(output: dict, cwd: Path) -> Path | None:
    """The lakehouse folder holding the Derby metastore a session target opens from ``cwd``, resolved as
    Derby does: ``databaseName`` relative to ``derby.system.home``, which is relative to the working directory."""
    if output.get("method") != "session":
        return None
    params = {key: str(value) for key, value in output.get("server_side_parameters", {}).items()}
    database = re.search(r"databaseName=([^;]+)", params.get("spark.hadoop.javax.jdo.option.ConnectionURL", ""))
    if database is None:
        return None
    home = re.search(r"-Dderby\.system\.home=(\S+)", params.get("spark.driver.extraJavaOptions", ""))
    return (cwd / (home.group(1) if home else ".") / database.group(1)).resolve().parent


def hold_for_dbt_command() -> None:
    """Take the lakehouse lock for the dbt command being started, when it opens the embedded lakehouse."""
    from dbt.flags import get_flags

    flags = get_flags()
    if getattr(flags, "WHICH", None) in NO_SESSION:
        return
    profiles_dir = Path(getattr(flags, "PROFILES_DIR", None) or Path.cwd())
    try:
        profile = render_profile(profiles_dir, dict(os.environ))[PROFILE_NAME]
    except (OSError, KeyError, SetupError):
        return  # not this project's profile, or one dbt itself will report as broken
    target = getattr(flags, "TARGET", None) or profile.get("target")
    lakehouse = derby_lakehouse(profile.get("outputs", {}).get(target, {}), Path.cwd())
    if lakehouse is not None:
        lock.acquire(lakehouse / LOCK_FILE_NAME)
