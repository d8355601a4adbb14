"""Renderers of a decision record: terminal summary, JUnit XML (and more formats by name)."""
