"""Peers measured on the same data in the same run: DuckDB SQL, the implicit library's ALS, raw LOAD DATA."""
