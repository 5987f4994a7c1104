"""`make recommend`: the whole chain in one process (steps.py), each step the stage function of the command
of the same name, called with typed parameters."""
