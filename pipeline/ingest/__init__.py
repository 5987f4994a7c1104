"""Raw ingest: CSV/CSV.gz files in the landing folder -> Delta table raw.events, exactly once per file."""
