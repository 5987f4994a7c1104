"""Synthetic REES46-format event logs with a planted preference structure."""
