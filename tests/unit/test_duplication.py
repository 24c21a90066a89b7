"""Duplication rates against planted truth, template masking, rings of copiers, the text boxes of
a .docx, and the topic register, on both state backends."""

from __future__ import annotations

import random
import time

import pytest

from config.rules import load_rules
from config.settings import DEFAULT_RULES
from pipeline.duplication import copied_characters, duplication_rate, kgram_hashes, normalise
from pipeline.state.local import LocalState
from pipeline.topics import check_topics
from tests.introgen import HEADINGS, Writer, activity
from tests.textgen import document, planted

RULES = load_rules(DEFAULT_RULES).duplication
SETTINGS, BASE = RULES.settings(), RULES.base()


@pytest.fixture
def state(tmp_path):
    return LocalState(tmp_path / "state")


def measure(state, sid, text, now=None):
    return duplication_rate(text, sid, state, SETTINGS, BASE, now=time.monotonic() if now is None else now)


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
    assert result.rate < 0.02 and result.template_share > 0.1


def test_masking_is_by_character_not_by_run():
    """A copied block with a template heading inside scores its length minus the heading; a piece
    of a run left shorter than 13 characters after masking does not count."""
    k = 13
    block = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往"
    query = block[:20] + "案例背景" + block[20:]
    masked = [False] * 20 + [True] * 4 + [False] * (len(block) - 20)
    counted = copied_characters(kgram_hashes(query, k), set(kgram_hashes(query, k)), k, masked)
    assert sum(counted) == len(block)                              # everything but the heading
    short = [False] * 20 + [True] * 4 + [False] * (len(block) - 20)
    short_query = block[:20] + "案例背景" + block[20:30]           # 10 characters after the heading
    counted = copied_characters(kgram_hashes(short_query, k), set(kgram_hashes(short_query, k)), k, short[:len(short_query)])
    assert sum(counted) == 20


def test_the_notices_template_is_the_base_even_lightly_edited():
    """附件3's guidance sentences are template, with a changed number or a dropped word too."""
    line = normalise("案例介绍字数一般不超过3000字，可适当配以图片。")
    assert all(BASE.mask(line))
    edited = normalise("案例介绍字数一般不超过2500字，可适当配图片。")
    assert sum(BASE.mask(edited)) >= len(edited) - 1
    assert all(BASE.mask(normalise("一、案例背景"))) and all(BASE.mask(normalise("联系电话：")))
    own = normalise("我校三年级数学组每周二下午在录播教室开展同课异构")
    assert sum(BASE.mask(own)) <= 4


def test_an_introduction_keeping_all_the_guidance_is_not_a_copy(state):
    """Under 20 documents the template's own text counted as copying (23.7% measured on one that kept
    every guidance sentence): the base takes it out of both counts from the first document on."""
    writer = Writer(5)
    for i in range(12):
        measure(state, f"i{i}", writer.independent().text)
    full = writer.independent()
    text = full.text + "\n" + "\n".join(writer.guidance)
    result = measure(state, "full", text)
    assert result.rate < 0.03 and result.template_share > 0.1


@pytest.mark.parametrize("size", [20, 100])
def test_every_planted_copy_is_found_at_every_size(state, size):
    """The labelled activity (tests/introgen.py): copies of 30% or more flagged against their first-seen
    source, nothing else flagged, every rate within 3 points of its planted share."""
    for n, intro in enumerate(activity(size, seed=size)):
        result = measure(state, intro.sid, intro.text, now=float(n))
        assert (result.rate >= RULES.threshold) == intro.copied, (intro.kind, intro.truth, result.rate)
        assert abs(result.rate - intro.truth) <= 0.03, (intro.sid, intro.kind, intro.truth, result.rate)
        if intro.copied:
            assert result.matches[0].submission_id == intro.source, (intro.sid, intro.kind, result.matches[0])


def test_a_ring_of_copiers_never_makes_its_text_common(state):
    """Fifteen copies of one introduction, each flagged against the original; their text stays theirs."""
    writer = Writer(9)
    source = writer.independent()
    measure(state, source.sid, source.text, now=0.0)
    for n in range(1, 40):
        other = writer.independent()
        measure(state, other.sid, other.text, now=float(n))
    for n in range(15):
        copy = writer.copy(source, 1.0, "ring")
        result = measure(state, copy.sid, copy.text, now=100.0 + n)
        assert result.rate > 0.95 and result.matches[0].submission_id == source.sid


def test_docx_text_boxes_are_read_once(tmp_path):
    """Word writes each text box as DrawingML (mc:Choice) and as VML (mc:Fallback)."""
    import docx
    from docx.oxml import parse_xml

    from pipeline.documents import _docx_text

    document_ = docx.Document()
    document_.add_paragraph("正文第一段")
    box = ("<w:p xmlns:w='http://schemas.openxmlformats.org/wordprocessingml/2006/main' "
           "xmlns:mc='http://schemas.openxmlformats.org/markup-compatibility/2006' "
           "xmlns:wps='http://schemas.microsoft.com/office/word/2010/wordprocessingShape' "
           "xmlns:v='urn:schemas-microsoft-com:vml'><w:r><mc:AlternateContent>"
           "<mc:Choice Requires='wps'><wps:txbx><w:txbxContent><w:p><w:r><w:t>文本框里的字</w:t></w:r></w:p></w:txbxContent></wps:txbx></mc:Choice>"
           "<mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent><w:p><w:r><w:t>文本框里的字</w:t></w:r></w:p></w:txbxContent>"
           "</v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>")
    document_.element.body.append(parse_xml(box))
    path = tmp_path / "boxes.docx"
    document_.save(path)
    assert _docx_text(str(path))[0].count("文本框里的字") == 1


def test_headings_the_template_shares_are_masked_inside_a_copy(state):
    writer = Writer(11)
    source = writer.independent()
    measure(state, source.sid, source.text, now=0.0)
    copy = writer.copy(source, 0.87, "partial")
    result = measure(state, copy.sid, copy.text, now=1.0)
    assert abs(result.rate - copy.truth) <= 0.03
    assert all(normalise(h) not in "".join(result.matches[0].passages) for h in HEADINGS)


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


def test_redis_backend_gives_the_same_figures(redis_url, tmp_path):
    """The same activity through SQLite and Redis: every rate, source and template share equal."""
    import redis as redis_lib

    from pipeline.state.redis import RedisState

    client = redis_lib.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/13", decode_responses=True)
    client.flushdb()
    try:
        local, shared = LocalState(tmp_path / "parity"), RedisState(client)
        for n, intro in enumerate(activity(60, seed=7)):
            a = measure(local, intro.sid, intro.text, now=float(n))
            b = measure(shared, intro.sid, intro.text, now=float(n))
            assert (a.rate, a.template_chars, [m.submission_id for m in a.matches]) == \
                (b.rate, b.template_chars, [m.submission_id for m in b.matches]), intro.sid
        source = activity(1, seed=7)[0]
        assert measure(shared, source.sid, source.text).rate == 0.0           # resubmitted: never its own source
        assert check_topics("r1", "lesson", "分数", ["张三"], shared, 0.85) == []
        assert [f.code for f in check_topics("r2", "case", "分数", ["张三"], shared, 0.85)] == ["TOPIC_IN_MULTIPLE_PROJECTS"]
    finally:
        client.flushdb()
