"""What a run serves and keeps: refit or update (schedule.py), the daily update of the users who changed
(update.py), the model state kept between runs (model_state.py), similar products (similar.py) and the Delta
tables and report a run writes (outputs.py)."""
