"""Copy the dbt marts tagged `mysql_sync` from Delta to MySQL/MariaDB for Tableau."""
