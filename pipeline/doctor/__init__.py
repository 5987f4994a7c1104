"""`make doctor`: each check of the machine, the lakehouse and the servers (checks.py), printed one per line."""
