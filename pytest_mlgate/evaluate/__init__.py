"""Load and evaluate: artifact sources and loaders, the workspace, models under test, metrics, statistics."""
