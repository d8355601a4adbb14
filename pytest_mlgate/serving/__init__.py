"""Serve before promotion: the staging server fixture, load and probe tools, in-process serving checks."""
