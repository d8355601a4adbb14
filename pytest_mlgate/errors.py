"""Errors the plugin reports as one line, naming the thing at fault."""


class MlgateError(Exception):
    """A gate could not be evaluated; the run fails closed."""


class ConfigError(MlgateError):
    """A configuration key is missing, unknown or has a bad value."""


class NotApplicable(Exception):
    """A gate cannot judge this model (e.g. it needs a live model and has a table of predictions):
    the plugin reports the gate as skipped with the reason, never as passed."""
