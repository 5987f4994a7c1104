"""The command-line entry points (`[project.scripts]` recolake-*), one module per command; each
`cli()` turns user errors into one line and an exit code (pipeline/cli.py)."""
