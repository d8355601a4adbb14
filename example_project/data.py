"""Seeded synthetic credit-risk data: numeric and categorical features and sensitive attributes."""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC = ["income", "debt_ratio", "credit_history_years", "open_accounts", "late_payments", "loan_amount"]
CATEGORICAL = ["employment", "region", "purpose"]
SENSITIVE = ["sex", "age_band"]
TARGET = "defaulted"


def credit_frame(n: int, seed: int) -> pd.DataFrame:
    """``n`` applicants; default risk rises with debt and late payments and falls with income."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "income": rng.lognormal(10.6, 0.45, n).round(0),
        "debt_ratio": rng.beta(2, 5, n).round(3),
        "credit_history_years": rng.gamma(3.0, 3.0, n).round(1),
        "open_accounts": rng.poisson(4, n),
        "late_payments": rng.poisson(0.6, n),
        "loan_amount": rng.lognormal(9.2, 0.6, n).round(0),
        "employment": rng.choice(["salaried", "self_employed", "unemployed", "retired"], n,
                                 p=[0.62, 0.2, 0.08, 0.1]),
        "region": rng.choice(["north", "south", "east", "west"], n, p=[0.3, 0.3, 0.25, 0.15]),
        "purpose": rng.choice(["car", "home", "education", "business"], n, p=[0.35, 0.3, 0.15, 0.2]),
        "sex": rng.choice(["female", "male"], n),
        "age_band": rng.choice(["18-29", "30-44", "45-59", "60+"], n, p=[0.22, 0.34, 0.29, 0.15]),
    })
    frame[TARGET] = outcomes(frame, rng)
    return frame


def outcomes(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Whether each applicant defaults: drawn from the same risk for any mix of applicants."""
    logit = (
        -1.1
        - 1.4 * (np.log(frame["income"]) - 10.6)
        + 3.2 * (frame["debt_ratio"] - 0.28)
        - 0.06 * (frame["credit_history_years"] - 9)
        + 0.75 * frame["late_payments"]
        + 0.35 * (np.log(frame["loan_amount"]) - 9.2)
        + frame["employment"].map({"salaried": 0.0, "self_employed": 0.3, "unemployed": 1.1, "retired": 0.2})
        + frame["purpose"].map({"car": 0.0, "home": -0.2, "education": 0.2, "business": 0.45})
        # Non-linear effects a linear model cannot see: stacked debt and arrears, thin files.
        + 1.6 * ((frame["debt_ratio"] > 0.4) & (frame["late_payments"] >= 1))
        + 1.1 * (frame["credit_history_years"] < 2.5)
        - 0.9 * ((frame["employment"] == "salaried") & (frame["income"] > 60_000))
    )
    return (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)
