"""Traces of the local mesh: the trace agent it runs, and `localmesh traces`, a summary of what it got."""
