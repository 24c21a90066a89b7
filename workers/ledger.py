"""Which message carries each part of a run, and whether that message still exists.

dramatiq's Redis broker keeps a message's body in `<queue>.msgs` (ready or in flight),
`<queue>.DQ.msgs` (delayed for a retry) or `<queue>.XQ.msgs` (dead), keyed by a fresh id per
enqueue. The ledger records, on every enqueue, the part's latest queue and id; the
reconciler can then tell a part whose message is still somewhere from one whose message was
lost (a retry Redis could not take, a write lost with the last second of the AOF).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import dramatiq
import redis

from . import messages
from .state import DRAMATIQ_NAMESPACE, PREFIX, TTL_S

NAMESPACE = DRAMATIQ_NAMESPACE


def ledger_key(submission_id: str, run_id: str) -> str:
    return f"{PREFIX}messages:{submission_id}:{run_id}"


def part_of(message: dramatiq.Message) -> tuple[str, str, str] | None:
    """(submission_id, run_id, ledger name) of a message of the flow, or None (workers/messages.py names them)."""
    return messages.ledger_name(message.actor_name, list(message.args or []))


class MessageLedger(dramatiq.Middleware):
    """Records each enqueue of a flow message under its run and part name."""

    def __init__(self, client_factory):
        self.client_factory = client_factory
        self._client: redis.Redis | None = None

    def after_enqueue(self, broker, message, delay):
        part = part_of(message)
        redis_id = message.options.get("redis_message_id")
        if part is None or redis_id is None:
            return
        if self._client is None:
            self._client = self.client_factory()
        entry = {"queue": message.queue_name, "id": redis_id, "actor": message.actor_name, "args": list(message.args)}
        key = ledger_key(part[0], part[1])
        pipe = self._client.pipeline()
        pipe.hset(key, part[2], json.dumps(entry, ensure_ascii=False))
        pipe.expire(key, TTL_S)
        pipe.execute()


@dataclass(frozen=True)
class LedgerEntry:
    name: str
    queue: str
    id: str
    actor: str
    args: list

    @property
    def canonical_queue(self) -> str:
        return self.queue[:-3] if self.queue.endswith(".DQ") else self.queue


def entries(r: redis.Redis, submission_id: str, run_id: str) -> dict[str, LedgerEntry]:
    raw = r.hgetall(ledger_key(submission_id, run_id))
    out = {}
    for name, value in raw.items():
        data = json.loads(value)
        out[name] = LedgerEntry(name=name, queue=data["queue"], id=data["id"], actor=data["actor"], args=data["args"])
    return out


def whereabouts(r: redis.Redis, entry: LedgerEntry | None) -> str:
    """'queued' (ready, delayed or in flight), 'dead' (dead-lettered) or 'lost'."""
    if entry is None:
        return "lost"
    pipe = r.pipeline()
    pipe.hexists(f"{NAMESPACE}:{entry.canonical_queue}.msgs", entry.id)
    pipe.hexists(f"{NAMESPACE}:{entry.canonical_queue}.DQ.msgs", entry.id)
    pipe.hexists(f"{NAMESPACE}:{entry.canonical_queue}.XQ.msgs", entry.id)
    ready, delayed, dead = pipe.execute()
    if ready or delayed:
        return "queued"
    return "dead" if dead else "lost"


def part_whereabouts(r: redis.Redis, known: dict[str, LedgerEntry], name: str) -> str:
    """Where part `name` stands: its own message, or any of the messages it sent for its work
    (a long video's jobs and their merge, named "video-3/window-0" ...): 'queued' when one
    of them is, else 'dead' when one of them is, else 'lost'."""
    mine = [known.get(name)] + [entry for other, entry in known.items() if other.startswith(name + "/")]
    where = {whereabouts(r, entry) for entry in mine if entry is not None} or {"lost"}
    return next(state for state in ("queued", "dead", "lost") if state in where)
