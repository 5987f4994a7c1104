"""`python -m ml tune`: the search over model parameters on validation folds (tune.py), its proposals (search.py:
Optuna TPE, a random sample of the grid, or the grid) and the recorded choice `run` uses (tuned.py)."""
