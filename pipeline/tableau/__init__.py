"""Tableau files for the synced marts: data sources (.tds) generated from the sync's catalogue."""
