"""`make mysql-start|mysql-stop|mysql-grant`: the project-private MariaDB and the reporting user.

Thin wrapper of pipeline/commands/mysql.py."""

from pipeline.commands.mysql import cli

if __name__ == "__main__":
    cli()
