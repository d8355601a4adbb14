"""Data quality gates: every dataset follows the schema, and this week's batch is clean.

They pass on the clean batch, data/current.parquet. train.py also writes a broken batch with the
defects upstream pipelines produce (lost values, a unit change, a new category, re-sent rows); point
``current`` at it and the gates fail, each with its numbers::

    pytest gates/test_data_quality.py --mlgate-dataset current=data/broken_batch.parquet
"""

import pytest

SCHEMA = "schemas/credit.yaml"


@pytest.mark.parametrize("dataset", ["reference", "holdout", "current"])
def test_matches_schema(mlgate, dataset):
    mlgate.schema(dataset, SCHEMA)


def test_batch_is_complete(mlgate):
    mlgate.no_missing("current")


def test_batch_has_few_outliers(mlgate):
    # beyond the training data's far-out fences no more often than in the training data itself
    mlgate.no_outliers("current")


def test_batch_is_not_skewed(mlgate):
    mlgate.no_skew("current", max_abs={"loan_amount": 3.0, "*": 2.0})


def test_batch_has_no_duplicates(mlgate):
    mlgate.no_duplicates("current")


def test_batch_has_no_constant_columns(mlgate):
    mlgate.no_constant_columns("current")


def test_batch_has_only_known_categories(mlgate):
    mlgate.no_unseen_categories("current", "reference")


def test_batch_is_not_training_data(mlgate):
    mlgate.no_overlap("current", "reference")


def test_holdout_is_not_training_data(mlgate):
    mlgate.no_overlap("holdout", "reference")


def test_training_classes_are_balanced(mlgate):
    mlgate.class_balance("reference", min_share=0.2)


def test_no_feature_leaks_the_label(mlgate):
    mlgate.no_label_leakage("holdout", "reference", model=None)  # data only: no model loaded
