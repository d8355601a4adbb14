"""Subcommands of the ``mlgate`` command line."""
