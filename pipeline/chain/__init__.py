"""`make recommend`: the whole chain in one process (run.py), each step the stage function of the command
of the same name, called with typed parameters."""
