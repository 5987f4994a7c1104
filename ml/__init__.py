"""Collaborative filtering on implicit feedback: ALS (the implicit library embedded, Spark MLlib on a cluster),
EASE and a popularity baseline, evaluated side by side; the serving model refits on a schedule and between
refits updates the users who changed (`python -m ml run`, `python -m ml tune`)."""
