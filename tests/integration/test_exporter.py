"""The deployment's numbers, scraped from the exporter, match queues a test filled through a real
dramatiq Redis broker; the alert rules and the dashboard use only metrics it exports."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.services import own_redis_db
from workers.state import DRAMATIQ_NAMESPACE, INFLIGHT, RunState, progress_key

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def r(redis_url):
    with own_redis_db(redis_url, 13) as client:
        yield client


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_the_exporter_reports_what_the_queues_hold(r, redis_url):
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    from tests.services import free_port_block
    from workers.exporter import serve

    url = redis_url.rsplit("/", 1)[0] + "/13"
    broker = RedisBroker(url=url, namespace=DRAMATIQ_NAMESPACE)
    now_ms = int(time.time() * 1000)
    for queue, count, age_s in (("video", 3, 120), ("transcode", 5, 30)):
        for n in range(count):      # the oldest first, as they would have arrived
            broker.enqueue(dramatiq.Message(queue_name=queue, actor_name="analyse_video_part", args=("s", "r", n), kwargs={},
                                            options={}, message_timestamp=now_ms - (age_s - n) * 1000))
    broker.enqueue(dramatiq.Message(queue_name="video", actor_name="analyse_video_part", args=("s", "r", 9), kwargs={},
                                    options={}), delay=600_000)
    dead = dramatiq.Message(queue_name="documents", actor_name="analyse_document_part", args=(), kwargs={}, options={})
    r.zadd(f"{DRAMATIQ_NAMESPACE}:documents.XQ", {dead.message_id: now_ms})      # as dispatch.lua moves a dead message
    r.hset(f"{DRAMATIQ_NAMESPACE}:documents.XQ.msgs", dead.message_id, json.dumps(dead.asdict()))
    r.zadd(f"{DRAMATIQ_NAMESPACE}:__heartbeats__", {"w1": now_ms, "w2": now_ms - 3_600_000})   # one alive, one long gone
    r.zadd(INFLIGHT, {"s1": time.time(), "s2": time.time()})
    r.zadd("smartedu:bucket:waiting", {"uploads/w/event.json": time.time()})      # a manifest waiting for its zip
    r.zadd("smartedu:bucket:unpaired", {"uploads/u1/a.zip": 1.0, "uploads/u2/b.zip": 2.0})
    state = RunState(r)
    for sid, seconds_ago, status in (("a", 45, "pass"), ("b", 400, "fail"), ("c", 400, "pass")):
        r.hset(progress_key(sid, "run"), "started_at", time.time() - seconds_ago)
        state.record_verdict(sid, "run", status)

    port = free_port_block(1, grpc_offset=None)
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(r, ["video", "transcode", "documents"], 60_000, port, stop), daemon=True)
    thread.start()
    try:
        values = None
        for _ in range(50):
            try:
                values = scrape(port)
                break
            except OSError:
                time.sleep(0.1)
        assert values is not None
    finally:
        stop.set()
        thread.join(10)
    assert values['smartedu_queue_depth{queue="video"}'] == 3 and values['smartedu_queue_depth{queue="transcode"}'] == 5
    assert 118 <= values['smartedu_queue_oldest_age_seconds{queue="video"}'] <= 130
    assert 28 <= values['smartedu_queue_oldest_age_seconds{queue="transcode"}'] <= 40
    assert values['smartedu_queue_oldest_age_seconds{queue="documents"}'] == 0
    assert values['smartedu_queue_delayed{queue="video"}'] == 1
    assert values['smartedu_dead_letters{queue="documents"}'] == 1 and values['smartedu_dead_letters{queue="video"}'] == 0
    assert values["smartedu_broker_processes_alive"] == 2         # w1, and this test's own broker; not w2
    assert values['smartedu_runs_inflight{waiting_for="verdict"}'] == 2
    assert values['smartedu_uploads_waiting{what="manifests"}'] == 1 and values['smartedu_uploads_waiting{what="unpaired"}'] == 2
    assert values['smartedu_verdicts_total{status="pass"}'] == 2 and values['smartedu_verdicts_total{status="fail"}'] == 1
    assert values['smartedu_upload_to_verdict_seconds_bucket{le="60"}'] == 1
    assert values['smartedu_upload_to_verdict_seconds_bucket{le="600"}'] == 3
    assert values["smartedu_upload_to_verdict_seconds_count"] == 3
    assert 840 <= values["smartedu_upload_to_verdict_seconds_sum"] <= 860


def test_alerts_and_dashboard_use_only_exported_metrics():
    exported = {"smartedu_queue_depth", "smartedu_queue_oldest_age_seconds", "smartedu_queue_delayed", "smartedu_dead_letters",
                "smartedu_broker_processes_alive", "up", "smartedu_runs_inflight", "smartedu_verdicts_total",
                "smartedu_upload_to_verdict_seconds_bucket", "smartedu_upload_to_verdict_seconds_count",
                "smartedu_upload_to_verdict_seconds_sum", "dramatiq_messages_total", "dramatiq_message_errors_total",
                "dramatiq_message_duration_milliseconds_bucket"}
    import re

    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert {"VerdictPathMessageTooOld", "DeadLetters", "ErrorVerdictBurst", "NoWorkerAlive"} <= set(alerts)
    for rule in alerts.values():
        assert rule["expr"] and rule["labels"]["severity"] and rule["annotations"]["summary"]
        assert set(re.findall(r"\b(smartedu_\w+|dramatiq_\w+|up)\b", rule["expr"])) <= exported, rule["expr"]
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/smartedu.json").read_text())
    targets = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert len(targets) >= 6
    for expr in targets:
        assert set(re.findall(r"\b(smartedu_\w+|dramatiq_\w+)", expr)) <= exported, expr
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert prometheus["rule_files"] and {job["job_name"] for job in prometheus["scrape_configs"]} >= {"smartedu-exporter", "smartedu-workers"}


TOOLS = ROOT / ".tools"     # scripts/setup-system.sh puts promtool and Grafana's schema there


def tool(local: Path, on_path: str | None = None) -> str:
    """The set-up's copy of a tool, or the machine's own (`on_path`)."""
    import shutil

    found = (shutil.which(on_path) if on_path else None) or (str(local) if local.exists() else None)
    assert found, f"{local.name} missing: run scripts/setup-system.sh (make setup)"
    return found


def test_prometheus_accepts_the_config_and_the_alerts_fire_on_what_they_name():
    """promtool, Prometheus's own checker: the config's syntax, the rules, and the rules' unit
    tests (deploy/prometheus/alerts.test.yml: each alert fires on its condition, not before)."""
    import subprocess

    promtool = tool(TOOLS / "bin" / "promtool", "promtool")
    folder = ROOT / "deploy" / "prometheus"
    for args in (["check", "config", "--syntax-only", "prometheus.yml"], ["check", "rules", "alerts.yml"],
                 ["test", "rules", "alerts.test.yml"]):
        done = subprocess.run([promtool, *args], cwd=folder, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_dashboard_is_a_grafana_dashboard_by_grafanas_own_schema(tmp_path):
    """The dashboard JSON typed against @grafana/schema's `Dashboard` (what Grafana's own
    front end checks it with): an unknown field, a wrong type or a misspelt enum fails."""
    import subprocess
    import uuid

    grafana = TOOLS / "grafana"
    tsc = tool(grafana / "node_modules" / ".bin" / "tsc")
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/smartedu.json").read_text(encoding="utf-8"))

    def typed(document: dict) -> subprocess.CompletedProcess:
        check = grafana / f"check-{uuid.uuid4().hex[:8]}.ts"
        check.write_text("import type { Dashboard } from '@grafana/schema';\nexport const dashboard: Dashboard = "
                         + json.dumps(document, ensure_ascii=False, indent=1) + ";\n", encoding="utf-8")
        try:
            return subprocess.run([tsc, "--noEmit", "--strict", "--skipLibCheck", "--module", "esnext", "--moduleResolution",
                                   "bundler", "--target", "es2020", check.name], cwd=grafana, capture_output=True, text=True,
                                  timeout=120)
        finally:
            check.unlink()

    done = typed(dashboard)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = json.loads(json.dumps(dashboard))
    broken["panels"][0]["gridPos"]["width"] = 12           # GridPos has w, not width
    assert "GridPos" in typed(broken).stdout
