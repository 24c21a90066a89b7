"""Messages a live worker fetched but lost track of on a connection error go back on their
queue when its consumer starts again (issue 28: found by the failover test, where such messages
sat in a live worker's acks set and the run never moved)."""

from __future__ import annotations

import dramatiq
import pytest

from tests.services import own_redis_db
from workers.broker import DurableRedisBroker

pytestmark = pytest.mark.integration
NS = "orphans-test"


def _message(n: int, **options) -> dramatiq.Message:
    return dramatiq.Message(queue_name="video", actor_name="analyse_video_part", args=("s", "r", n), kwargs={}, options=options)


def test_prefetched_and_delayed_messages_dropped_on_a_connection_error_are_requeued(redis_url):
    with own_redis_db(redis_url, 12) as r:
        broker = DurableRedisBroker(url=redis_url.rsplit("/", 1)[0] + "/12", namespace=NS)
        for n in range(3):
            broker.enqueue(_message(n))
        broker.enqueue(_message(9), delay=60_000)                      # a retry waiting for its time
        consumer = broker.consume("video", prefetch=3)
        working = next(consumer)                                       # handed to a worker thread
        assert working is not None and r.llen(f"{NS}:video") == 0      # all three fetched: two wait in the cache
        delayed = broker.consume("video.DQ", prefetch=1)
        assert next(delayed) is not None                               # held in the consumer thread's delay queue
        acks = f"{NS}:__acks__.{broker.broker_id}.video"
        assert r.scard(acks) == 3 and r.scard(acks + ".DQ") == 1

        # the connection broke: dramatiq drops both consumers (their cache, its delay queue) and makes new ones
        broker.consume("video", prefetch=3)
        broker.consume("video.DQ", prefetch=1)
        assert r.smembers(acks) == {working.options["redis_message_id"]}     # the one being worked on stays
        assert r.llen(f"{NS}:video") == 2 and r.llen(f"{NS}:video.DQ") == 1  # the rest are queued again
        consumer.ack(working)
        assert r.scard(acks) == 0
        broker.consume("video", prefetch=3)                            # nothing left to requeue
        assert r.llen(f"{NS}:video") == 2


def test_a_message_whose_ack_failed_stays_with_its_worker(redis_url, monkeypatch):
    """dramatiq retries a failed ack until Redis answers: until then it is not an orphan."""
    import redis as redis_lib

    with own_redis_db(redis_url, 12) as r:
        broker = DurableRedisBroker(url=redis_url.rsplit("/", 1)[0] + "/12", namespace=NS)
        broker.enqueue(_message(1))
        consumer = broker.consume("video", prefetch=1)
        working = next(consumer)
        real_ack = broker.do_ack

        def broken(*args):
            raise redis_lib.ConnectionError("Connection closed by server.")
        monkeypatch.setattr(broker, "do_ack", broken, raising=False)
        with pytest.raises(dramatiq.errors.ConnectionClosed):
            consumer.ack(working)
        monkeypatch.setattr(broker, "do_ack", real_ack, raising=False)
        broker.consume("video", prefetch=1)
        assert r.llen(f"{NS}:video") == 0                              # not requeued: its worker still acks it
        consumer.ack(working)
        assert r.scard(f"{NS}:__acks__.{broker.broker_id}.video") == 0


def test_an_ack_lost_in_a_failover_brings_back_a_message_that_the_sweep_requeues(redis_url):
    """The new primary lacks the last writes: an acked message's id is in this worker's acks set
    again, with no connection error for dramatiq to see. Two sweeps in a row find it unclaimed."""
    with own_redis_db(redis_url, 12) as r:
        broker = DurableRedisBroker(url=redis_url.rsplit("/", 1)[0] + "/12", namespace=NS)
        for n in range(3):
            broker.enqueue(_message(n))
        consumer = broker.consume("video", prefetch=3)
        done = next(consumer)
        payload = r.hget(f"{NS}:video.msgs", done.options["redis_message_id"])
        consumer.ack(done)
        acks = f"{NS}:__acks__.{broker.broker_id}.video"
        r.sadd(acks, done.options["redis_message_id"])                 # what the failover brought back
        r.hset(f"{NS}:video.msgs", done.options["redis_message_id"], payload)
        suspects = broker.sweep_orphans_once({})
        assert suspects == {"video": {done.options["redis_message_id"]}} and r.llen(f"{NS}:video") == 0
        broker.sweep_orphans_once(suspects)
        assert r.lrange(f"{NS}:video", 0, -1) == [done.options["redis_message_id"]]   # queued again, once
        assert r.scard(acks) == 2                    # the two still in the prefetch cache were never touched
        assert broker.sweep_orphans_once(broker.sweep_orphans_once({})) == {"video": set()}
        assert r.llen(f"{NS}:video") == 1
