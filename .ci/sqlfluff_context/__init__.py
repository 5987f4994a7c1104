"""dbt's ``var()`` for sqlfluff's jinja templater (`make lint`): the project's real defaults from
dbt_project.yml, so SQL and macros that use a var's structure (``event_weights.items()``) render."""

from pathlib import Path

import yaml

_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project" / "dbt_project.yml"
_VARS = yaml.safe_load(_PROJECT.read_text(encoding="utf-8"))["vars"]


def var(name, default=None):
    return _VARS.get(name, default)
