"""The dbt stage (`make transform`, `make dbt`, plain `dbt`): runner.py runs dbt in this process on the
lakehouse with the settings as vars and the health verdict after a build; plain_dbt.py is the lakehouse
lock the dbt plugin (dbt_plugin/) takes for an analyst's plain `dbt`."""
