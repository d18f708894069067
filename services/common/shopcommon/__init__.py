"""Pieces both shop services share: JSON logging and gunicorn settings."""
