"""Compliance gates: personal identifiers among the model's features, and the model card."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pytest_mlgate.checks import compliance as C
from pytest_mlgate.config import build
from pytest_mlgate.decision import FAILED, PASSED
from pytest_mlgate.errors import ConfigError, MlgateError
from pytest_mlgate.evaluate.models import Dataset

N = 60
RNG = np.random.default_rng(0)
PII = {
    "contact": [f"user{i}@example.org" for i in range(N)],
    "callback": [f"+44 20 7946 {1000 + i}" for i in range(N)],
    "ident": [f"{100 + i}-{10 + i % 80:02d}-{1000 + i}" for i in range(N)],
    "holder": [f"{first} {last}" for first, last in zip(["Anna", "Jonas", "Maria", "Peter"] * 15, ["Smith", "Meyer", "Jones"] * 20)],
}
CLEAN = {
    "income": RNG.normal(0, 1, N),
    "region": RNG.choice(["north", "south", "east"], N),
    "plan": RNG.choice(["basic", "premium"], N),
    "opened": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(N)],
    "score_band": RNG.choice(["A1", "B2", "C3"], N),
}


@pytest.mark.parametrize("column, kind", [("contact", "email"), ("callback", "phone"), ("ident", "national_id"),
                                          ("holder", "person_name")])
def test_values_that_look_like_identifiers_are_flagged(column, kind):
    row = C.scan_column(column, PII[column])
    assert row["flagged"] and row["value_match"] == kind and row["share"] == 1.0
    assert row["name_match"] is None  # caught by the values alone


@pytest.mark.parametrize("column", sorted(CLEAN))
def test_clean_columns_are_not_flagged(column):
    row = C.scan_column(column, CLEAN[column])
    assert not row["flagged"], row


@pytest.mark.parametrize("name, kind", [("email", "email"), ("Customer E-Mail", "email"), ("phone_number", "phone"),
                                        ("SSN", "national_id"), ("passport_no", "national_id"),
                                        ("last_name", "person_name"), ("street_address", "address")])
def test_names_that_look_like_identifiers_are_flagged_even_for_numbers(name, kind):
    row = C.scan_column(name, np.arange(N))
    assert row["flagged"] and kind in row["name_match"]


def test_a_few_matching_values_below_the_share_are_not_flagged():
    values = ["basic"] * 50 + [f"user{i}@example.org" for i in range(10)]
    assert not C.scan_column("plan", values, min_share=0.5)["flagged"]
    assert C.scan_column("plan", values, min_share=0.1)["value_match"] == "email"


def test_pii_check_lists_every_flagged_column_with_reasons():
    data = Dataset("holdout", pd.DataFrame({**PII, **CLEAN}))
    check = C.pii_check(data, ["income", "contact", "region", "holder"])
    assert check.outcome == FAILED and check.candidate == 2
    assert "2 of 4 feature(s)" in check.message
    assert "'contact' (100% of values look like email)" in check.message
    assert check.details["flagged"] == ["contact", "holder"]
    assert [r["column"] for r in check.details["table"]] == ["income", "contact", "region", "holder"]
    allowed = C.pii_check(data, ["income", "contact"], allow=["contact"])
    assert allowed.outcome == PASSED and allowed.details["table"][1]["allowed"] is True
    assert C.pii_check(data, list(CLEAN)).outcome == PASSED


# ---------------------------------------------------------------- model card


def test_card_check_names_missing_fields_and_sources():
    sources = [("inline", {"owner": "team@x", "intended_use": "  "}), ("card.md", {"intended_use": "TODO"})]
    check = C.card_check(["owner", "intended_use", "risk_level"], sources)
    assert check.outcome == FAILED and check.details["missing"] == ["intended_use", "risk_level"]
    assert check.message == ("model card: missing or empty mandatory field(s) intended_use, risk_level "
                             "(looked in inline, card.md)")
    ok = C.card_check(["owner"], sources)
    assert ok.outcome == PASSED and ok.details["table"][0]["source"] == "inline"


@pytest.mark.parametrize("suffix, text", [
    (".md", "---\nowner: a@b\nintended_use: scoring\nrisk: high\ntraining_data_description: 2024 loans\n---\n# Card\n"),
    (".yaml", "owner: a@b\nintended_use: scoring\nrisk_level: high\ntraining_data: 2024 loans\n"),
    (".json", json.dumps({"owner": "a@b", "intended_use": "scoring", "risk_level": "high",
                          "training_data": "2024 loans"})),
])
def test_card_files_in_every_format(tmp_path, suffix, text):
    path = tmp_path / f"card{suffix}"
    path.write_text(text)
    card = C.read_card(path)
    assert card["risk_level"] == "high" and card["training_data"] == "2024 loans"  # aliases resolved
    assert C.card_check(list(C.DEFAULT_REQUIRED), [("card", card)]).outcome == PASSED


def test_bad_card_files_are_one_line_errors(tmp_path):
    (tmp_path / "card.md").write_text("# no front matter\n")
    with pytest.raises(MlgateError, match="no YAML front matter"):
        C.read_card(tmp_path / "card.md")
    (tmp_path / "card.yaml").write_text("owner: [unclosed\n")
    with pytest.raises(MlgateError, match=r"card.yaml: not valid yaml"):
        C.read_card(tmp_path / "card.yaml")
    with pytest.raises(MlgateError, match="cannot read"):
        C.read_card(tmp_path / "missing.json")


def test_card_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.model_card\] key 'required'"):
        C.card_config(build(tmp_path, {"model_card": {"required": "owner"}}))
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.model_card\] key 'path'"):
        C.card_config(build(tmp_path, {"model_card": {"path": 3}}))


# ---------------------------------------------------------------- end to end


@pytest.fixture
def pii_project(project):
    """A holdout with identifier-like columns and a model that takes a phone number as a feature."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"income": rng.normal(0, 1, 200), "customer_phone": rng.integers(10**9, 10**10, 200),
                          "email": [f"c{i}@example.org" for i in range(200)]})
    frame["defaulted"] = (frame["income"] + rng.normal(0, 1, 200) > 0).astype(int)
    frame.to_csv(project.path / "pii.csv", index=False)
    sio.dump(LogisticRegression().fit(frame[["income", "customer_phone"]], frame["defaulted"]),
             project.path / "leaky.skops")
    sio.dump(LogisticRegression().fit(frame[["income"]], frame["defaulted"]), project.path / "clean.skops")
    return project


def test_pii_feature_fails_the_gate_and_clean_model_passes(pii_project):
    pii_project.configure(candidate="leaky.skops", baseline=None, datasets='holdout = "pii.csv"')
    pii_project.gates("""
def test_no_personal_identifiers(mlgate):
    mlgate.no_pii()
""")
    result = pii_project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*1 of 2 feature(s) look like personal identifiers: 'customer_phone' (name looks like phone)*"])
    (check,) = pii_project.decision["gates"][0]["checks"]
    assert check["kind"] == "compliance" and check["details"]["flagged"] == ["customer_phone"]

    pii_project.configure(candidate="clean.skops", baseline=None, datasets='holdout = "pii.csv"')
    result = pii_project.run()
    result.assert_outcomes(passed=1)  # the e-mail column is in the data but not a feature of the model
    assert pii_project.decision["decision"] == "approved"


def test_model_card_gate_end_to_end(project):
    project.path.joinpath("MODEL_CARD.md").write_text(
        "---\nintended_use: credit pre-screening\ntraining_data: loans 2019-2024\n---\n# Credit risk\n")
    project.configure(baseline=None, extra='[tool.mlgate.model_card]\npath = "MODEL_CARD.md"\n')
    project.gates("""
def test_model_card(mlgate):
    mlgate.model_card()
""")
    result = project.run()
    result.assert_outcomes(failed=1)  # risk level is declared nowhere; the built-in default does not count
    result.stdout.fnmatch_lines(["*model card: missing or empty mandatory field(s) risk_level*"])
    project.configure(baseline=None, extra='risk = "high"\n[tool.mlgate.model_card]\npath = "MODEL_CARD.md"\n')
    result = project.run()
    result.assert_outcomes(passed=1)
    table = {r["field"]: r for r in project.decision["gates"][0]["checks"][0]["details"]["table"]}
    assert table["owner"]["source"] == "[tool.mlgate]" and table["intended_use"]["source"] == "MODEL_CARD.md"
    assert table["risk_level"]["value"] == "high"


def test_compliance_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.compliance\] key 'min_share'"):
        C.compliance_config(build(tmp_path, {"compliance": {"min_share": 2}}))
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.compliance\] key 'allow'"):
        C.compliance_config(build(tmp_path, {"compliance": {"allow": "email"}}))
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.compliance\] unknown key 'alow'"):
        C.compliance_config(build(tmp_path, {"compliance": {"alow": ["email"]}}))
    assert C.compliance_config(build(tmp_path, {})) == ([], 0.5)


def test_values_and_allow_list_end_to_end(pii_project):
    pii_project.configure(candidate="clean.skops", baseline=None, datasets='holdout = "pii.csv"',
                          extra='[tool.mlgate.compliance]\nallow = ["customer_phone"]\n')
    pii_project.gates("""
def test_named_columns(mlgate):
    mlgate.no_pii(columns=["income", "customer_phone", "email"])
""")
    result = pii_project.run()
    result.assert_outcomes(failed=1)
    (check,) = pii_project.decision["gates"][0]["checks"]
    assert check["details"]["flagged"] == ["email"]  # customer_phone was reviewed and allowed
    assert "'email' (name looks like email; 100% of values look like email)" in check["message"]
