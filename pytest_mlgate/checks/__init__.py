"""Gate checks: pure functions that measure and return Check records, plus thin recorder mixins."""
