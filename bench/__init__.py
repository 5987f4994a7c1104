"""`make bench`: every pipeline stage timed across scales, with DuckDB, implicit and raw MySQL loads as peers."""
