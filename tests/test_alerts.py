"""Alerts: Slack-compatible webhook delivery, retries and timeouts, the alerts file, de-duplication."""

from __future__ import annotations

import json
import time

import pytest
from webhook_receiver import Receiver, closed_port_url

from pytest_mlgate.config import build
from pytest_mlgate.errors import ConfigError
from pytest_mlgate.monitoring import alerts


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def _alert(*gates: str, rollback=None) -> alerts.Alert:
    failing = [{"gate": g, "severity": "block", "outcome": "failed", "message": f"{g}: psi 0.41 > 0.2"}
               for g in gates]
    return alerts.Alert(model="credit-risk", decision="rejected", stage="monitor", reasons=["drift"],
                        failing=failing, production={"version": "v2"}, rollback=rollback)


def _settings(tmp_path, **table):
    return build(tmp_path, {"model": "credit-risk", "alerts": table})


def test_webhook_receives_a_slack_compatible_payload(receiver):
    alert = _alert("test_drift", rollback={"from": "v2", "to": "v1"})
    delivery = alerts.post_webhook(receiver.url, alert.payload())
    assert delivery == alerts.Delivery("webhook", True, 1, None)
    [got] = receiver.received
    assert got["path"] == "/hooks/alerts" and got["content_type"] == "application/json"
    body = got["json"]
    assert body["text"].startswith("mlgate monitor: credit-risk in production is REJECTED")
    assert "test_drift: psi 0.41 > 0.2" in body["text"]
    assert "production moved from v2 back to v1" in body["text"]
    fields = {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}
    assert fields["Decision"] == "rejected" and fields["Production"] == "v2" and fields["Failing gates"] == "1"
    assert body["mlgate"]["failing"][0]["gate"] == "test_drift" and body["mlgate"]["key"] == alert.key


def test_server_errors_are_retried_a_bounded_number_of_times(receiver):
    receiver.statuses = [500, 503]
    delivery = alerts.post_webhook(receiver.url, {"text": "x"}, retries=2, backoff=0.01)
    assert delivery.ok and delivery.attempts == 3
    receiver.statuses = [500, 500, 500]
    delivery = alerts.post_webhook(receiver.url, {"text": "x"}, retries=1, backoff=0.01)
    assert not delivery.ok and delivery.attempts == 2 and delivery.error == "HTTP 500 Internal Server Error"
    assert len(receiver.received) == 5


def test_client_errors_are_not_retried(receiver):
    receiver.statuses = [404]
    delivery = alerts.post_webhook(receiver.url, {"text": "x"}, retries=3, backoff=0.01)
    assert (delivery.ok, delivery.attempts, delivery.error) == (False, 1, "HTTP 404 Not Found")


def test_unreachable_and_slow_webhooks_fail_within_bounds():
    start = time.monotonic()
    delivery = alerts.post_webhook(closed_port_url(), {"text": "x"}, retries=2, backoff=0.01)
    assert not delivery.ok and delivery.attempts == 3 and "refused" in delivery.error.lower()
    slow = Receiver(delay=1.0)
    try:
        delivery = alerts.post_webhook(slow.url, {"text": "x"}, timeout=0.2, retries=0)
    finally:
        slow.stop()
    assert not delivery.ok and "timed out" in delivery.error
    assert time.monotonic() - start < 5


def test_repeated_alerts_for_an_open_condition_are_suppressed(tmp_path, receiver):
    settings = _settings(tmp_path, webhook=receiver.url, dedupe_window="1h")
    seen = []
    first = alerts.dispatch(_alert("test_drift"), settings, seen.append, at=1000.0)
    again = alerts.dispatch(_alert("test_drift"), settings, seen.append, at=1000.0 + 1800)
    other = alerts.dispatch(_alert("test_drift", "test_latency"), settings, seen.append, at=1000.0 + 1800)
    later = alerts.dispatch(_alert("test_drift"), settings, seen.append, at=1000.0 + 3601)
    assert [first["sent"], again["sent"], other["sent"], later["sent"]] == [True, False, True, True]
    assert again["suppressed"] and again["count"] == 2 and again["deliveries"] == []
    assert [d["channel"] for d in first["deliveries"]] == ["hook", "webhook", "file"]
    assert all(d["ok"] for d in first["deliveries"])
    assert len(receiver.received) == len(seen) == 3
    lines = (tmp_path / ".mlgate" / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == [first["key"], other["key"], first["key"]]


def test_resolved_conditions_alert_again_and_rollbacks_always_go_out(tmp_path):
    settings = _settings(tmp_path, dedupe_window="1d")
    assert alerts.dispatch(_alert("test_drift"), settings, at=10.0)["sent"]
    assert not alerts.dispatch(_alert("test_drift"), settings, at=20.0)["sent"]
    assert alerts.dispatch(_alert("test_drift", rollback={"from": "v2", "to": "v1"}), settings, at=30.0)["sent"]
    assert alerts.resolve(settings, "credit-risk") == 1
    assert alerts.dispatch(_alert("test_drift"), settings, at=40.0)["sent"]


def test_a_failing_hook_is_reported_and_the_other_channels_still_deliver(tmp_path):
    def broken(alert):
        raise RuntimeError("pager down")

    report = alerts.dispatch(_alert("test_drift"), _settings(tmp_path), broken)
    assert report["deliveries"][0] == {"channel": "hook", "ok": False, "attempts": 1,
                                       "error": "RuntimeError: pager down"}
    assert report["deliveries"][1]["channel"] == "file" and report["deliveries"][1]["ok"]


@pytest.mark.parametrize(("table", "message"), [
    ({"webhook": "hooks.slack.com/x"}, r"key 'webhook' must be an http\(s\) URL"),
    ({"dedupe_window": "soon"}, "key 'dedupe_window' must be seconds or a duration"),
    ({"retries": 50}, "key 'retries' must be a number in"),
    ({"channel": "#ml"}, r"unknown key\(s\) \['channel'\]"),
])
def test_bad_alert_settings_name_the_key(tmp_path, table, message):
    with pytest.raises(ConfigError, match=r"\[tool.mlgate.alerts\] " + message):
        alerts.options(_settings(tmp_path, **table))


def test_webhook_url_can_come_from_the_environment(tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("TEAM_HOOK", receiver.url)
    settings = _settings(tmp_path, webhook_env="TEAM_HOOK")
    assert alerts.options(settings)["webhook"] == receiver.url
    assert alerts.dispatch(_alert("test_drift"), settings)["deliveries"][0] == {
        "channel": "webhook", "ok": True, "attempts": 1, "error": None}
    monkeypatch.setenv("TEAM_HOOK", "not-a-url")
    with pytest.raises(ConfigError, match=r"key 'webhook_env' \(\$TEAM_HOOK\) must be an http\(s\) URL"):
        alerts.options(settings)


def test_a_failed_delivery_is_retried_on_the_next_run_and_recorded(tmp_path, receiver):
    settings = _settings(tmp_path, webhook=receiver.url, dedupe_window="1h", retries=0)
    receiver.statuses = [503]
    first = alerts.dispatch(_alert("test_drift"), settings, at=1000.0)
    assert first["sent"] and not first["delivered"]
    state = json.loads((tmp_path / ".mlgate" / "alerts-state.json").read_text())[first["key"]]
    assert state["last_sent"] is None and state["undelivered"]["attempts"] == 1
    assert "503" in state["undelivered"]["error"]
    again = alerts.dispatch(_alert("test_drift"), settings, at=1060.0)  # the webhook has recovered
    assert again["sent"] and again["delivered"] and not again["suppressed"]
    assert len(receiver.received) == 2
    state = json.loads((tmp_path / ".mlgate" / "alerts-state.json").read_text())[first["key"]]
    assert state["last_sent"] == 1060.0 and "undelivered" not in state
    assert alerts.dispatch(_alert("test_drift"), settings, at=1120.0)["suppressed"]
