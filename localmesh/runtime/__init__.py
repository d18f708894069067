"""Part of localmesh."""
