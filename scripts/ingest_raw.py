"""`make ingest`: load every new CSV/CSV.gz file of the landing folder (RAW_DIR) into raw.events.

Thin wrapper of pipeline/commands/ingest.py."""

from pipeline.commands.ingest import cli

if __name__ == "__main__":
    cli()
