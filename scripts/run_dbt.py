"""`make dbt ARGS="build"`: run any dbt command on the lakehouse, holding the lakehouse lock.

Thin wrapper of pipeline/commands/dbt.py."""

from pipeline.commands.dbt import cli

if __name__ == "__main__":
    cli()
