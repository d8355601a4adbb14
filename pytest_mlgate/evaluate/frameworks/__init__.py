"""Loaders and sources for models saved by other frameworks (each behind its own extra)."""
