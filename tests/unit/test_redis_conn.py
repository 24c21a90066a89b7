"""Every process's Redis from one place: the plain URL as before, or Sentinel's primary (issue 28)."""

from __future__ import annotations

import pytest
from redis.sentinel import Sentinel, SentinelConnectionPool
from structlog.testing import capture_logs

from config.settings import Settings
from pipeline.models import parse_event
from tests.services import own_redis_db
from workers import redis_conn
from workers.ingest import claim_event

EVENT = {"submission_id": "2025-000123", "project": "case", "applicant_type": "teacher",
         "archive": {"bucket": "uploads", "key": "2025-000123/materials.zip"}, "uploaded_at": "2025-07-20T10:00:00+08:00"}


def test_a_plain_url_is_one_redis_as_before():
    client = redis_conn.connect(Settings(redis_url="redis://10.1.2.3:6380/4"))
    assert client.connection_pool.connection_kwargs["host"] == "10.1.2.3"
    assert client.connection_pool.connection_kwargs["db"] == 4


def test_sentinel_settings_give_a_client_of_the_named_primary_with_the_urls_db_and_password(monkeypatch):
    monkeypatch.setenv("SMARTEDU_REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2:26380,10.0.0.3")
    monkeypatch.setenv("SMARTEDU_REDIS_SENTINEL_PASSWORD", "sentinel-pw")
    settings = Settings(redis_url="redis://:data-pw@ignored:1/3", redis_master="smartedu")
    assert settings.redis_sentinels == ["10.0.0.1:26379", "10.0.0.2:26380", "10.0.0.3"]
    client = redis_conn.connect(settings, decode_responses=False)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "smartedu"
    assert pool.connection_kwargs["db"] == 3 and pool.connection_kwargs["password"] == "data-pw"
    assert pool.connection_kwargs["socket_timeout"] == redis_conn.SOCKET_TIMEOUT_S
    sentinels = pool.sentinel_manager.sentinels
    assert [(s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"]) for s in sentinels] == \
        [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26379)]
    assert sentinels[0].connection_pool.connection_kwargs["password"] == "sentinel-pw"
    assert redis_conn.connect(settings).connection_pool.sentinel_manager is pool.sentinel_manager   # one per process


def test_a_new_primary_is_one_log_line(monkeypatch):
    answers = iter([("10.0.0.5", 6379), ("10.0.0.5", 6379), ("10.0.0.6", 6379), ("10.0.0.6", 6379)])
    monkeypatch.setattr(Sentinel, "discover_master", lambda self, name: next(answers))
    watched = redis_conn.WatchedSentinel([("127.0.0.1", 1)])
    with capture_logs() as logs:
        for _ in range(4):
            watched.discover_master("smartedu")
    failovers = [line for line in logs if line["event"] == "redis_failover"]
    assert failovers == [{"event": "redis_failover", "log_level": "warning", "master": "smartedu",
                          "primary": "10.0.0.6:6379", "previous": "10.0.0.5:6379"}]


def test_replication_is_confirmed_only_where_there_are_replicas():
    class Client:
        waited: list = []

        def wait(self, replicas, timeout_ms):
            self.waited.append((replicas, timeout_ms))
            return 0

    client = Client()
    assert redis_conn.confirm_replicated(client, Settings(), "manifest") and client.waited == []
    with capture_logs() as logs:
        assert not redis_conn.confirm_replicated(client, Settings(redis_sentinels=["h:1"], redis_wait_ms=250), "manifest")
    assert client.waited == [(1, 250)] and logs[0]["event"] == "replication_unconfirmed"


def test_the_same_event_sent_again_gets_the_first_run_not_a_second(redis_url):
    with own_redis_db(redis_url, 14) as r:
        event = parse_event(EVENT)
        assert claim_event(r, event, "e1x0") == "e1x0"
        assert claim_event(r, event, "e1x0") == "e1x0"          # the same entry, claimed back: its own run
        assert claim_event(r, parse_event(dict(reversed(list(EVENT.items())))), "e2x0") == "e1x0"   # re-sent
        resubmitted = parse_event({**EVENT, "uploaded_at": "2025-07-21T09:00:00+08:00"})
        assert claim_event(r, resubmitted, "e3x0") == "e3x0"    # a re-submission is a new run


@pytest.fixture(autouse=True)
def _fresh_sentinels():
    redis_conn._sentinels.clear()
    yield
    redis_conn._sentinels.clear()
