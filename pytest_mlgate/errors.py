"""Errors the plugin reports as one line, naming the thing at fault."""


class MlgateError(Exception):
    """A gate could not be evaluated; the run fails closed."""


class ConfigError(MlgateError):
    """A configuration key is missing, unknown or has a bad value."""
