"""Helpers shared by the test suite: real processes on loopback ports."""
