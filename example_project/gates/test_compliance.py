"""Compliance gates: no direct personal identifiers as features, and a complete model card."""


def test_no_personal_identifiers(mlgate):
    mlgate.no_pii()


def test_model_card(mlgate):
    # owner comes from [tool.mlgate], the rest from MODEL_CARD.md ([tool.mlgate.model_card] path).
    mlgate.model_card()
