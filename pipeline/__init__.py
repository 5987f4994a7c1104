"""The lakehouse pipeline: ``platform/`` (settings, errors, the Spark session factory, the lock: what every
stage stands on) and one package per stage, each owning its command (``python -m pipeline.<stage>``):
generate, ingest, transform (dbt), chain (`make recommend`), sync, mysql, cluster, doctor, dashboard,
tableau. ``rees46.py`` is the raw file format and ``health.py`` the data-health verdict that ingest,
transform, the dashboard and the doctor share."""
