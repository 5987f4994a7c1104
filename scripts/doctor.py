"""`make doctor`: Java, packages, jars, lakehouse lock (or the cluster's pieces), MySQL reachability and
the dbt manifest.

Thin wrapper of pipeline/commands/doctor.py."""

from pipeline.commands.doctor import cli

if __name__ == "__main__":
    cli()
