"""Duplication rates against planted truth, and the topic register, on both state backends."""

from __future__ import annotations

import random

import pytest

from pipeline.duplication import duplication_rate, normalise
from pipeline.state.local import LocalState
from pipeline.topics import check_topics
from tests.textgen import document, planted

@pytest.fixture
def state(tmp_path):
    return LocalState(tmp_path / "state")


def measure(state, sid, text):
    return duplication_rate(text, sid, state, run_length=13, window=8, boilerplate_share=0.02, top=5)


@pytest.mark.parametrize("share", [0.0, 0.10, 0.29, 0.31, 0.50])
def test_rates_within_two_points_of_the_truth(state, share):
    rng = random.Random(int(share * 100))
    source = document(rng, 5000)
    for i in range(5):
        measure(state, f"other-{i}", "".join(document(rng, 3000)))
    measure(state, "source", "".join(source))
    text, truth = planted(rng, source, share)
    result = measure(state, "query", text)
    assert abs(result.rate - truth) <= 0.02, (result.rate, truth)
    if share:
        assert result.matches[0].submission_id == "source" and result.matches[0].passages
        assert result.largest_source_rate == result.matches[0].rate


def test_a_resubmission_is_compared_with_earlier_submissions_only(state):
    text = "".join(document(random.Random(1), 3000))
    assert measure(state, "same", text).rate == 0.0
    assert measure(state, "same", text).rate == 0.0      # not with itself
    assert measure(state, "copy", text).rate == 1.0
    assert measure(state, "same", text).rate == 0.0      # the original, resubmitted after it was copied
    assert measure(state, "copy", text).rate == 1.0


def test_redis_backend_gives_the_same_rates(redis_url):
    import redis as redis_lib

    from pipeline.state.redis import RedisState

    client = redis_lib.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/13", decode_responses=True)
    client.flushdb()
    try:
        state = RedisState(client)
        rng = random.Random(11)
        source = document(rng, 5000)
        measure(state, "source", "".join(source))
        text, truth = planted(rng, source, 0.31)
        result = measure(state, "query", text)
        assert abs(result.rate - truth) <= 0.02 and result.matches[0].submission_id == "source"
        assert measure(state, "source", "".join(source)).rate == 0.0
        assert check_topics("r1", "lesson", "分数", ["张三"], state, 0.85) == []
        assert [f.code for f in check_topics("r2", "case", "分数", ["张三"], state, 0.85)] == ["TOPIC_IN_MULTIPLE_PROJECTS"]
    finally:
        client.flushdb()


def test_copied_sentences_count_once_across_sources(state):
    rng = random.Random(7)
    shared = document(rng, 1000)
    measure(state, "a", "".join(shared + document(rng, 2000)))
    measure(state, "b", "".join(shared + document(rng, 2000)))
    own = document(rng, 1000)
    result = measure(state, "q", "".join(shared + own))
    truth = len(normalise("".join(shared))) / len(normalise("".join(shared + own)))
    assert abs(result.rate - truth) <= 0.01 and len(result.matches) == 2


def test_template_text_in_many_documents_is_not_copying(state):
    rng = random.Random(3)
    template = "".join(document(rng, 300))
    for i in range(40):
        measure(state, f"t{i}", template + "".join(document(rng, 1500)))
    result = measure(state, "q", template + "".join(document(rng, 1500)))
    assert result.rate < 0.02


def test_topics_collide_across_projects_only(state):
    assert check_topics("s1", "lesson", "《分数的初步认识》", ["张三"], state, 0.85) == []
    same_project = check_topics("s2", "lesson", "分数的初步认识", ["张三"], state, 0.85)
    assert same_project == []
    found = check_topics("s3", "case", "分数的初步认识 ", ["张 三", "李四"], state, 0.85)
    assert [f.code for f in found] == ["TOPIC_IN_MULTIPLE_PROJECTS"] * 2
    assert {f.detail["other_submission"] for f in found} == {"s1", "s2"} and "分数的初步认识" in found[0].message
    assert check_topics("s4", "case", "依托国家平台开展双师课堂的实践", ["张三"], state, 0.85) == []   # another topic
    assert check_topics("s5", "team", "分数的初步认识", ["王五"], state, 0.85) == []              # another author
    assert check_topics("s1", "lesson", "新的课题", ["张三"], state, 0.85) == []                  # resubmission replaces
    assert {e.submission_id for e in state.topics_of("张三")} == {"s1", "s2", "s3", "s4"}
