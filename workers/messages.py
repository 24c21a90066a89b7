"""Every kind of message of the flow, in one table.

For each actor: its stable name (messages in queues outlive a deploy), its policy stage
(config/policy.yaml, log lines, an error verdict's stage), the path it serves (the verdict, the
previews, the callback, the gave-up handlers), the plan part whose failure its failure is, its
gave-up handler, and how its messages are named in the run's ledger. Actors, the broker, the
ledger, the log context and the reconciler all read this table; the reconciler inverts the
ledger names through it instead of parsing them by hand. The names stay byte for byte as they
were (ledger entries live 7 days): tests/unit/test_messages.py pins the whole table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.plan import PART_KINDS, UNPACK_STAGE, VERDICT_STAGE


@dataclass(frozen=True)
class MessageKind:
    actor: str
    stage: str
    path: str                        # verdict | media | callback | failed
    ledger: str | None = None        # its name in the run's ledger, from the args after (submission_id, run_id)
    fields: tuple[str, ...] = ()     # ... those args, in order, as the name's fields
    part: str | None = None          # a plan part kind: a failed message of this actor is that part failing
    gave_up: str | None = None       # the actor that takes its messages once out of retries

    def name(self, rest: list) -> str | None:
        """Its ledger name for these arguments (after submission_id and run_id)."""
        if self.ledger is None:
            return None
        values = dict(zip(self.fields, rest))
        for field in self.fields:
            values.setdefault(field, 0)
        return self.ledger.format(**values)

    def pattern(self) -> re.Pattern | None:
        if self.ledger is None:
            return None
        regex = re.escape(self.ledger)
        for field in self.fields:
            regex = regex.replace(re.escape("{" + field + "}"), f"(?P<{field}>-?\\d+)" if field != "job" else f"(?P<{field}>[\\w-]+)")
        return re.compile(regex + "$")


VERDICT_GAVE_UP, MEDIA_GAVE_UP = "stage_gave_up", "media_gave_up"


def job_actor(kind: str) -> str:
    """The actor of one job of a part kind that fans out ("analyse_video_job")."""
    return f"analyse_{kind}_job"


def finish_actor(kind: str) -> str:
    """The actor that merges a fanned-out part ("finish_video_part")."""
    return f"finish_{kind}_part"


MESSAGES: tuple[MessageKind, ...] = (
    MessageKind("unpack_submission", UNPACK_STAGE, "verdict", "unpack", gave_up=VERDICT_GAVE_UP),
    *(MessageKind(kind.actor, kind.stage, "verdict", kind.kind + "-{index}", ("index",), part=kind.kind, gave_up=VERDICT_GAVE_UP)
      for kind in PART_KINDS),
    # a part kind that fans out: its merge (first: "video-3/finish" is its name, not a job's) and its jobs
    *(message for kind in PART_KINDS if kind.fans_out is not None for message in (
        MessageKind(finish_actor(kind.kind), kind.stage, "verdict", kind.kind + "-{index}/finish", ("index",), part=kind.kind,
                    gave_up=VERDICT_GAVE_UP),
        MessageKind(job_actor(kind.kind), kind.stage, "verdict", kind.kind + "-{index}/{job}", ("index", "job"), part=kind.kind,
                    gave_up=VERDICT_GAVE_UP))),
    MessageKind("decide_verdict", VERDICT_STAGE, "verdict", "decide", gave_up=VERDICT_GAVE_UP),
    MessageKind("deliver_callback", "callback", "callback"),
    MessageKind(VERDICT_GAVE_UP, "failed", "failed"),
    MessageKind("plan_media", "transcode", "media", "plan-{index}", ("index",), gave_up=MEDIA_GAVE_UP),
    MessageKind("encode_media_piece", "transcode", "media", "piece-{index}-{piece}", ("index", "piece"), gave_up=MEDIA_GAVE_UP),
    MessageKind("join_media", "transcode", "media", "join-{index}", ("index",), gave_up=MEDIA_GAVE_UP),
    MessageKind(MEDIA_GAVE_UP, "failed", "failed"),
)
BY_ACTOR = {kind.actor: kind for kind in MESSAGES}
STAGES = {kind.actor: kind.stage for kind in MESSAGES}
# the actor that runs each plan part whole (its ledger name is the part's own name)
PART_ACTORS = {kind.part: kind.actor for kind in MESSAGES if kind.part and kind.ledger == kind.part + "-{index}"}


def ledger_name(actor: str, args: list) -> tuple[str, str, str] | None:
    """(submission_id, run_id, ledger name) of a message of the flow, or None."""
    kind = BY_ACTOR.get(actor)
    if kind is None or kind.ledger is None or len(args) < 2 or not all(isinstance(a, str) for a in args[:2]):
        return None
    return args[0], args[1], kind.name(list(args[2:]))


def parse(name: str) -> tuple[MessageKind, list] | None:
    """The kind and the arguments after (submission_id, run_id) of a ledger name: the inverse of `ledger_name`."""
    for kind in MESSAGES:
        pattern = kind.pattern()
        match = pattern.match(name) if pattern else None
        if match:
            return kind, [int(match[f]) if f != "job" else match[f] for f in kind.fields]
    return None


def stage_of(name: str) -> str:
    """The stage of a ledger or part name ("video-3", "video-3/window-0", "unpack", "decide")."""
    parsed = parse(name)
    return parsed[0].stage if parsed else name


def media_index(name: str) -> int | None:
    """The video a media message works for, from its ledger name (plan-3, piece-3-7, piece-3--1, join-3)."""
    parsed = parse(name)
    return parsed[1][0] if parsed and parsed[0].path == "media" else None


def piece_ledger_name(index: int, piece: int) -> str:
    """The ledger name of a preview piece: a segment number, or Layout.AUDIO_PIECE for the audio (kept as -1)."""
    return BY_ACTOR["encode_media_piece"].name([index, piece])
