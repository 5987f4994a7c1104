"""`make data`: write synthetic REES46-format CSV files (one per day) and their ground truth.

Thin wrapper of pipeline/commands/generate.py."""

from pipeline.commands.generate import cli

if __name__ == "__main__":
    cli()
