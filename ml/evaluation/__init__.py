"""How well a model recommends: the time and random splits (splits.py, and time_arrays.py on the driver for
tuning), one prepared split every model is scored on (harness.py), the metrics (evaluate.py on arrays,
metrics.py the per-user reference), the ground-truth oracle (oracle.py) and the table printed after a run
(metrics_table.py)."""
