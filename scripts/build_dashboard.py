"""`make report`: write reports/dashboard.html from the marts Tableau reads (MySQL), or from Delta. Thin wrapper of pipeline/commands/report.py."""

from pipeline.commands.report import cli

if __name__ == "__main__":
    cli()
