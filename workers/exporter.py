"""What operators watch at the peak, exported to Prometheus by one process (`smartedu exporter`),
read from Redis at each scrape: the depth of each queue and the age of its oldest message,
delayed messages (retries waiting), dead letters, broker processes alive, runs in flight, verdicts by
status and the upload-to-verdict latency (recorded once per run when its verdict is announced).

Workers export dramatiq's own counters themselves (per process, on SMARTEDU_METRICS_PORT);
these numbers are the deployment's, so one exporter serves them, not every worker.
"""

from __future__ import annotations

import json
import time

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from .notifications import UNPAIRED, WAITING
from .state import DRAMATIQ_NAMESPACE, INFLIGHT, LATENCY_BUCKETS_S, MEDIA_INFLIGHT, VERDICT_METRICS

HEARTBEATS = f"{DRAMATIQ_NAMESPACE}:__heartbeats__"


class QueueCollector:
    """A prometheus_client collector: each scrape reads Redis once per queue (a few commands)."""

    def __init__(self, client: redis.Redis, queues: list[str], heartbeat_timeout_ms: int):
        self.r = client
        self.queues = queues
        self.heartbeat_timeout_ms = heartbeat_timeout_ms

    def _oldest_age_s(self, queue: str, now: float) -> float:
        """Age of the message at the head of the queue (dramatiq RPUSHes and pops from the left)."""
        head = self.r.lindex(f"{DRAMATIQ_NAMESPACE}:{queue}", 0)
        data = self.r.hget(f"{DRAMATIQ_NAMESPACE}:{queue}.msgs", head) if head is not None else None
        if not data:
            return 0.0
        try:
            stamp = json.loads(data)["message_timestamp"] / 1000
        except (ValueError, KeyError, TypeError):
            return 0.0
        return max(0.0, now - stamp)

    def collect(self):
        now = time.time()
        depth = GaugeMetricFamily("smartedu_queue_depth", "Messages waiting in a queue (not yet taken by a worker)",
                                  labels=["queue"])
        oldest = GaugeMetricFamily("smartedu_queue_oldest_age_seconds", "Age of the oldest waiting message", labels=["queue"])
        delayed = GaugeMetricFamily("smartedu_queue_delayed", "Messages waiting for their retry time", labels=["queue"])
        dead = GaugeMetricFamily("smartedu_dead_letters", "Messages dramatiq gave up on (dead-letter queue)", labels=["queue"])
        for queue in self.queues:
            pipe = self.r.pipeline(transaction=False)
            pipe.llen(f"{DRAMATIQ_NAMESPACE}:{queue}")
            pipe.hlen(f"{DRAMATIQ_NAMESPACE}:{queue}.DQ.msgs")
            pipe.zcard(f"{DRAMATIQ_NAMESPACE}:{queue}.XQ")
            waiting, later, given_up = pipe.execute()
            depth.add_metric([queue], waiting)
            oldest.add_metric([queue], self._oldest_age_s(queue, now) if waiting else 0.0)
            delayed.add_metric([queue], later)
            dead.add_metric([queue], given_up)
        yield from (depth, oldest, delayed, dead)

        # dramatiq stamps a heartbeat for every process that talks to the broker (ingest too):
        # whether workers run is the workers' own `up` in Prometheus.
        alive = self.r.zcount(HEARTBEATS, now * 1000 - self.heartbeat_timeout_ms, "+inf")
        yield GaugeMetricFamily("smartedu_broker_processes_alive", "Processes with a recent dramatiq heartbeat (workers, ingest)",
                                value=alive)
        runs = GaugeMetricFamily("smartedu_runs_inflight", "Runs waiting for their verdict, or for their previews", labels=["waiting_for"])
        runs.add_metric(["verdict"], self.r.zcard(INFLIGHT))
        runs.add_metric(["previews"], self.r.zcard(MEDIA_INFLIGHT))
        yield runs
        waiting = GaugeMetricFamily("smartedu_uploads_waiting", "Bucket uploads not yet paired: manifests waiting for "
                                    "their zip, uploads waiting for a manifest", labels=["what"])
        waiting.add_metric(["manifests"], self.r.zcard(WAITING))
        waiting.add_metric(["unpaired"], self.r.zcard(UNPAIRED))
        yield waiting

        recorded = self.r.hgetall(VERDICT_METRICS)
        verdicts = CounterMetricFamily("smartedu_verdicts", "Verdicts announced, by status", labels=["status"])
        for status in ("pass", "warn", "fail", "error"):
            verdicts.add_metric([status], float(recorded.get(f"status:{status}", 0)))
        yield verdicts
        cumulative, buckets = 0, []
        for bound in LATENCY_BUCKETS_S:
            cumulative += int(recorded.get(f"le:{bound:g}", 0))
            buckets.append((f"{bound:g}", cumulative))
        cumulative += int(recorded.get("le:+Inf", 0))
        buckets.append(("+Inf", cumulative))
        yield HistogramMetricFamily("smartedu_upload_to_verdict_seconds", "From the event's arrival to its verdict",
                                    buckets=buckets, sum_value=float(recorded.get("sum", 0.0)))


def serve(client: redis.Redis, queues: list[str], heartbeat_timeout_ms: int, port: int, stop) -> None:
    """Serve the collector on `port` until `stop` is set."""
    from prometheus_client import start_http_server
    from prometheus_client.core import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(QueueCollector(client, queues, heartbeat_timeout_ms))
    server, thread = start_http_server(port, registry=registry)
    try:
        stop.wait()
    finally:
        server.shutdown()
        thread.join(timeout=5)
