"""Evaluation engines: where the chunks of a large dataset are read, predicted and folded.

``local`` folds the chunks one after another in this process; ``dask`` folds partitions on the
workers of a Dask cluster. Both fold the same statistics (:mod:`pytest_mlgate.evaluate.fold`);
:mod:`pytest_mlgate.engines.select` picks in-memory or streamed evaluation for each dataset.
"""
