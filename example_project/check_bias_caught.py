"""The fairness gates must reject the candidate variant with a planted bias (``tox -e example`` runs this).

Runs gates/test_fairness.py against models/candidate_biased.skops (written by train.py) with its
own report files, then checks that the decision is ``rejected`` because of the sex groups.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
OUT = "reports/biased"


def main() -> int:
    subprocess.call([sys.executable, "-m", "pytest", "gates/test_fairness.py", "-q",
                     "--mlgate-candidate", "models/candidate_biased.skops",
                     "--mlgate-decision", f"{OUT}-decision.json", "--mlgate-junit", f"{OUT}-gates.xml",
                     "--mlgate-markdown", f"{OUT}-summary.md", "--mlgate-html", f"{OUT}-gates.html"], cwd=HERE)
    decision = json.loads((HERE / f"{OUT}-decision.json").read_text())
    failed = {c["name"]: c for g in decision["gates"] for c in g["checks"] if c["outcome"] == "failed"}
    caught = decision["decision"] == "rejected" and "selection_rate ratio[holdout, sex]" in failed
    verdict = "caught" if caught else "NOT caught"
    print(f"planted bias {verdict}: decision {decision['decision']}; failed checks: {', '.join(failed) or 'none'}")
    return 0 if caught else 1


if __name__ == "__main__":
    sys.exit(main())
