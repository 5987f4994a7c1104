"""Lakehouse pipeline: settings, the Spark session factory, data generation and raw ingest."""
