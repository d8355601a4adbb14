"""Staging gates: the candidate served by serve.py under load and bad input, and measured in process."""

import pytest


@pytest.mark.gate(category="staging")
def test_serves_under_load(mlgate, staging):
    mlgate.load_test(staging, max_p95_ms=1000, max_p99_ms=2000, min_throughput=10, max_error_rate=0.0,
                     max_rss_mb=1024)


@pytest.mark.gate(category="staging")
def test_rejects_malformed_requests(mlgate, staging):
    mlgate.probe_server(staging)


@pytest.mark.gate(category="staging")
def test_inference_latency(mlgate):
    # one native thread, as serve.py runs: OpenMP threads fighting over a busy CI machine's cores
    # make single-row latency swing by orders of magnitude
    mlgate.predict_latency(batch_sizes=(1, 100), threads=1, max_p50_ms={1: 50, 100: 100},
                           max_p95_ms={1: 250, 100: 500})


@pytest.mark.gate(category="staging")
def test_memory_and_size(mlgate):
    mlgate.memory_growth(repeats=50, max_growth_mb=5, threads=1)
    mlgate.artifact_size(max_mb=20)


@pytest.mark.gate(category="staging")
def test_predictions_stable_under_noise(mlgate):
    mlgate.flip_rate(noise=0.01, max_rate=0.05)


@pytest.mark.gate(severity="warn", category="staging")
def test_bad_input_behaviour_in_process(mlgate):
    mlgate.input_behaviour()
