"""`make sync`: copy the dbt marts tagged `mysql_sync` to MySQL for Tableau.

Thin wrapper of pipeline/commands/sync.py."""

from pipeline.commands.sync import cli

if __name__ == "__main__":
    cli()
