"""`make dashboard`: write reports/dashboard.html from the marts Tableau reads (MySQL), or from Delta.

Thin wrapper of pipeline/commands/dashboard.py."""

from pipeline.commands.dashboard import cli

if __name__ == "__main__":
    cli()
