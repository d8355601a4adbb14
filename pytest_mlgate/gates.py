"""The ``mlgate`` fixture's class: the recorder core plus every family of gate checks."""

from pytest_mlgate.checks.business import BusinessGates
from pytest_mlgate.checks.calibration import CalibrationGates
from pytest_mlgate.checks.compliance import ComplianceGates
from pytest_mlgate.checks.data_quality import DataQualityGates
from pytest_mlgate.checks.drift import DriftGates
from pytest_mlgate.checks.estimated import EstimatedGates
from pytest_mlgate.checks.explainability import ExplainabilityGates
from pytest_mlgate.checks.fairness import FairnessGates
from pytest_mlgate.checks.feedback import FeedbackGates
from pytest_mlgate.checks.leakage import LeakageGates
from pytest_mlgate.checks.monitoring import MonitoringGates
from pytest_mlgate.checks.performance import PerformanceGates
from pytest_mlgate.checks.shadow import ShadowGates
from pytest_mlgate.checks.staging import StagingGates


class MlGate(PerformanceGates, FairnessGates, DataQualityGates, LeakageGates, ExplainabilityGates,
             ComplianceGates, DriftGates, StagingGates, MonitoringGates, CalibrationGates, BusinessGates,
             FeedbackGates, EstimatedGates, ShadowGates):
    """Per-test gate recorder: ``mlgate.at_least(...)``, ``mlgate.no_regression(...)`` and more."""
