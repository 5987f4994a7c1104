"""MySQL / MariaDB plumbing for the sync, the dashboard, the doctor and the bench: settings and
connections (connection.py), the project-private MariaDB (local_server.py), which server holds the marts
(target.py), the reporting user (grants.py)."""
