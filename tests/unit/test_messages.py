"""The message table pinned: actor names sit in queues across a deploy and ledger entries live
7 days, so every name, stage and ledger name stays byte for byte as it was."""

from __future__ import annotations

import pytest

from pipeline.layout import Layout
from workers import messages

PINNED = {
    # actor: (stage, path, part, gave_up, ledger name of (3, ...))
    "unpack_submission": ("unpack", "verdict", None, "stage_gave_up", "unpack"),
    "analyse_video_part": ("video", "verdict", "video", "stage_gave_up", "video-3"),
    "analyse_document_part": ("document", "verdict", "document", "stage_gave_up", "document-3"),
    "hash_main_work": ("main_work", "verdict", "main_work", "stage_gave_up", "main_work-3"),
    "match_pictures": ("pictures", "verdict", "pictures", "stage_gave_up", "pictures-3"),
    "finish_video_part": ("video", "verdict", "video", "stage_gave_up", "video-3/finish"),
    "analyse_video_job": ("video", "verdict", "video", "stage_gave_up", "video-3/window-0"),
    "decide_verdict": ("verdict", "verdict", None, "stage_gave_up", "decide"),
    "deliver_callback": ("callback", "callback", None, None, None),
    "stage_gave_up": ("failed", "failed", None, None, None),
    "plan_media": ("transcode", "media", None, "media_gave_up", "plan-3"),
    "encode_media_piece": ("transcode", "media", None, "media_gave_up", "piece-3--1"),
    "join_media": ("transcode", "media", None, "media_gave_up", "join-3"),
    "media_gave_up": ("failed", "failed", None, None, None),
}


def sample_args(kind: messages.MessageKind) -> list:
    return {"job": [3, "window-0"], "piece": [3, Layout.AUDIO_PIECE]}.get(kind.fields[-1] if kind.fields else "", [3])


def test_the_whole_table_is_pinned():
    table = {kind.actor: (kind.stage, kind.path, kind.part, kind.gave_up, kind.name(sample_args(kind))) for kind in messages.MESSAGES}
    assert table == PINNED
    assert messages.BY_ACTOR["encode_media_piece"].name([3, 7]) == "piece-3-7"


@pytest.mark.parametrize("name", [v[4] for v in PINNED.values() if v[4]] + ["piece-3-7", "video-12/window-11", "video-3/subtitles"])
def test_the_reconciler_inverts_every_ledger_name(name):
    kind, rest = messages.parse(name)
    assert kind.name(rest) == name
    assert messages.ledger_name(kind.actor, ["s", "r", *rest]) == ("s", "r", name)


def test_media_names_give_their_video_and_part_names_their_stage():
    assert [messages.media_index(n) for n in ("plan-3", "piece-3-7", "piece-3--1", "join-3", "video-3", "decide")] == \
        [3, 3, 3, 3, None, None]
    assert [messages.stage_of(n) for n in ("unpack", "video-3", "video-3/window-0", "document-2", "decide")] == \
        ["unpack", "video", "video", "document", "verdict"]
    assert messages.PART_ACTORS == {"video": "analyse_video_part", "document": "analyse_document_part", "main_work": "hash_main_work",
                                    "pictures": "match_pictures"}
