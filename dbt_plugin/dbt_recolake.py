"""dbt plugin of this project: plain `dbt` on the embedded lakehouse takes the lakehouse lock.

dbt loads every installed top-level module named ``dbt_*`` that lists ``plugins`` (dbt-core's
plugin manager), before it opens a connection. Embedded Derby lets one process at a time open
the metastore; with this plugin an analyst's ``dbt build`` while ``make recommend`` runs (or the
other way round) stops at once, naming the running command, instead of failing deep inside Hive.
The logic lives in ``pipeline/transform/plain_dbt.py`` (installed editable); this file only registers it.
"""

from __future__ import annotations

from dbt.plugins.manager import dbtPlugin


class LakehouseLock(dbtPlugin):
    def initialize(self) -> None:
        if self.project_name != "recolake":
            return
        from pipeline.transform.plain_dbt import hold_for_dbt_command

        hold_for_dbt_command()


plugins = [LakehouseLock]
