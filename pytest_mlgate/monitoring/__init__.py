"""Watch production: the prediction log and its windows, the monitor stage, alerts."""
