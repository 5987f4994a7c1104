"""Collaborative-filtering recommendations: Spark MLlib ALS on implicit feedback."""
