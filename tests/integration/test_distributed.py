"""Real worker processes on Redis and S3: events in through the stream, verdicts out."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cluster import SECRET, add_event, notices, upload, verdict_of, wait_for
from tests.helpers import SMARTEDU, sample
from tests.services import stop_process
from workers.state import progress_key

pytestmark = pytest.mark.integration
def test_events_through_the_stream_get_verdicts(cluster, processes):
    processes("worker", "--processes", "1", "--threads", "2")
    processes("ingest", "--claim-idle", "5")
    good = upload(cluster, "good", project="lesson")
    late = upload(cluster, "late", project="case", uploaded_at="2023-08-01T10:00:00+08:00")
    for event in (good, late):
        add_event(cluster, event)
    for event, status in ((good, {"pass", "warn"}), (late, {"fail"})):
        notice = wait_for(lambda: notices(cluster, event["submission_id"]), 120, f"notice for {event['submission_id']}")
        assert notice[0]["kind"] == "verdict" and notice[0]["status"] in status
        verdict = verdict_of(cluster, event["submission_id"])
        assert verdict["status"] in status and notice[0]["key"] == f"verdicts/{event['submission_id']}.json"
        assert {m["role"] for m in verdict["materials"]} >= {"registration_form"}
        assert verdict["videos"] and verdict["videos"][0]["probe"]["display_width"] == 1920
        assert verdict["videos"][0]["subtitles"]["kind"] == "burned_in"    # the sample burns its lines in
    assert "SUBMITTED_AFTER_DEADLINE" in {f["code"] for f in verdict_of(cluster, late["submission_id"])["findings"]}
    pending = cluster["redis"].xpending("smartedu:uploads", "ingest")
    assert pending["pending"] == 0


def test_subtitle_outcomes_in_the_distributed_mode(cluster, processes, tmp_path):
    from tests.integration.test_subtitles import archive_with
    from tests.subtitle_media import CASES, make_case

    for case in CASES:
        if case.name in ("sidecar_srt", "mov_text_track", "no_text"):
            make_case(case, tmp_path, duration=12.0)
    processes("worker", "--processes", "1", "--threads", "2")
    processes("ingest", "--claim-idle", "5")
    expected = {"sidecar_srt": "sidecar", "mov_text_track": "embedded", "no_text": "none"}
    sent = {}
    for name in expected:
        archive, event, video_name = archive_with(tmp_path, tmp_path, name)
        sid = f"subs-{name}-{uuid.uuid4().hex[:6]}"
        key = f"{sid}/{archive.name}"
        cluster["s3"].fput_object("uploads", key, str(archive))
        add_event(cluster, dict(event, submission_id=sid, archive={"bucket": "uploads", "key": key}))
        sent[sid] = (name, video_name)
    for sid, (name, video_name) in sent.items():
        wait_for(lambda: notices(cluster, sid), 180, f"verdict of {name}")
        verdict = verdict_of(cluster, sid)
        video = next(v for v in verdict["videos"] if v["path"] == video_name)
        assert video["subtitles"]["kind"] == expected[name], video["subtitles"]
        assert ("SUBTITLES_ABSENT" in {f["code"] for f in verdict["findings"]}) == (expected[name] == "none")


def test_bad_event_gets_an_error_notice_and_is_not_retried(cluster, processes):
    processes("ingest", "--claim-idle", "5")
    entry = add_event(cluster, '{"submission_id": "bad-1", "project": "film"}')
    notice = wait_for(lambda: [n for n in notices(cluster, "bad-1")], 30, "bad event notice")
    assert notice[0]["status"] == "error" and "project" in notice[0]["reason"]
    assert notice[0]["entry_id"] == entry          # the notice names the stream entry it answers
    add_event(cluster, "not json at all")
    wait_for(lambda: cluster["redis"].xpending("smartedu:uploads", "ingest")["pending"] == 0, 30, "acks")
    time.sleep(1)
    assert len(notices(cluster, "bad-1")) == 1


def test_two_workers_share_the_load_and_a_resubmission_replaces_the_verdict(cluster, processes):
    processes("worker", "--processes", "1", "--threads", "1")
    processes("worker", "--processes", "1", "--threads", "1")
    processes("ingest", "--claim-idle", "5")
    events = [upload(cluster, f"pair{i}", project="case") for i in range(4)]
    for event in events:
        add_event(cluster, event)
    for event in events:
        wait_for(lambda: notices(cluster, event["submission_id"]), 180, "all four notices")
    again = dict(events[0], uploaded_at="2023-08-02T00:00:00+08:00")
    add_event(cluster, again)
    wait_for(lambda: len(notices(cluster, again["submission_id"])) == 2, 120, "second run's notice")
    assert verdict_of(cluster, again["submission_id"])["status"] == "fail"
    for event in events[1:]:
        assert len(notices(cluster, event["submission_id"])) == 1


def test_sigkill_mid_stage_still_gives_exactly_one_verdict(cluster, processes, tmp_path):
    from pipeline.sample import VideoSpec

    victim = processes("worker", "--processes", "1", "--threads", "1")
    processes("ingest", "--claim-idle", "5")
    event = upload(cluster, "killed", project="case", video=VideoSpec(duration_s=40, fps=25))
    add_event(cluster, event)
    sid = event["submission_id"]

    def in_video_stage():
        run = cluster["redis"].get(f"smartedu:run:{sid}")
        return run and cluster["redis"].hget(progress_key(sid, run), "stage") == "analyse"

    wait_for(in_video_stage, 120, "the video stage to start")
    time.sleep(1.0)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(10)
    assert notices(cluster, sid) == []
    processes("worker", "--processes", "1", "--threads", "1")
    wait_for(lambda: notices(cluster, sid), 180, "the verdict after the crash")
    time.sleep(3)
    assert len(notices(cluster, sid)) == 1
    assert verdict_of(cluster, sid)["status"] in ("pass", "warn")


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]] = []
    fail_first = [True]

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.fail_first[0]:
            self.fail_first[0] = False
            self.send_response(503)
            self.end_headers()
            return
        self.received.append((body, self.headers.get("X-Smartedu-Signature", "")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_callback_is_signed_and_retried(cluster, processes):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        processes("worker", "--processes", "1", "--threads", "2")
        event = upload(cluster, "cb", project="case")
        event["callback_url"] = f"http://127.0.0.1:{server.server_address[1]}/verdicts"
        event_path = cluster["work"] / "cb.json"
        event_path.write_text(json.dumps(event, ensure_ascii=False))
        out = subprocess.run([SMARTEDU, "submit", str(event_path)], env=cluster["env"], capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: _Receiver.received, 120, "the callback")
        body, signature = _Receiver.received[0]
        assert signature == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert json.loads(body)["submission_id"] == event["submission_id"]
    finally:
        server.shutdown()


def test_a_worker_serves_its_metrics_after_processing_messages(cluster, tmp_path):
    """dramatiq's counters, scraped from a real worker that processed a submission; its log has
    no failure of the metrics middleware."""
    import urllib.request

    from tests.services import free_port_block

    port = free_port_block(1, grpc_offset=None)
    env = {**cluster["env"], "SMARTEDU_PROMETHEUS": "1", "SMARTEDU_METRICS_PORT": str(port),
           "dramatiq_prom_db": str(tmp_path / "prom")}
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen([SMARTEDU, "worker", "--processes", "1", "--threads", "2"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        event = upload(cluster, "metrics", project="case")
        (tmp_path / "event.json").write_text(json.dumps(event, ensure_ascii=False), encoding="utf-8")
        run = subprocess.run([SMARTEDU, "submit", str(tmp_path / "event.json")], env=cluster["env"], capture_output=True, timeout=60)
        assert run.returncode == 0, run.stderr
        wait_for(lambda: notices(cluster, event["submission_id"]), 180, "verdict")

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                assert response.status == 200 and response.headers["content-type"].startswith("text/plain")
                return response.read().decode()

        text = wait_for(lambda: (lambda t: t if 'actor_name="decide_verdict"' in t else None)(scrape()), 30, "metrics")
        assert 'dramatiq_messages_total{actor_name="unpack_submission",queue_name="unpack"}' in text
        assert "dramatiq_message_duration_milliseconds_bucket" in text
    finally:
        stop_process(worker, timeout=20)
    assert b"Unexpected failure" not in log_path.read_bytes()


def test_status_and_rerun_commands(cluster, processes):
    processes("worker", "--processes", "1", "--threads", "2")
    event = upload(cluster, "ops", project="team")
    event_path = cluster["work"] / "ops.json"
    event_path.write_text(json.dumps(event, ensure_ascii=False))
    subprocess.run([SMARTEDU, "submit", str(event_path)], env=cluster["env"], check=True, timeout=60, capture_output=True)
    wait_for(lambda: notices(cluster, event["submission_id"]), 120, "first verdict")
    rerun = subprocess.run([SMARTEDU, "rerun", event["submission_id"]], env=cluster["env"], capture_output=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    wait_for(lambda: len(notices(cluster, event["submission_id"])) == 2, 120, "rerun verdict")
    status = subprocess.run([SMARTEDU, "status", "--json"], env=cluster["env"], capture_output=True, timeout=60)
    data = json.loads(status.stdout)
    assert data["workers_alive"] >= 1
    assert {row["queue"] for row in data["queues"]} >= {"unpack", "video", "verdict"}
    assert data["stages_last_hour"]["unpack"]["count"] >= 2
    dead = subprocess.run([SMARTEDU, "dead-letters", "list"], env=cluster["env"], capture_output=True, timeout=60)
    assert dead.returncode == 0


def test_renditions_are_made_in_segments_across_workers_and_announced(cluster, processes):
    from pipeline.sample import VideoSpec

    processes("worker", "--processes", "1", "--threads", "2")
    processes("worker", "--processes", "1", "--threads", "2")
    event = upload(cluster, "media", project="case", video=VideoSpec(duration_s=40, fps=10))
    add_event(cluster, event)
    processes("ingest", "--claim-idle", "5")
    sid = event["submission_id"]
    wait_for(lambda: len(notices(cluster, sid, kind=None)) == 2, 240, "verdict and media notices")
    kinds = [n["kind"] for n in notices(cluster, sid, kind=None)]
    assert kinds == ["verdict", "media"]
    verdict = verdict_of(cluster, sid)
    video = verdict["videos"][0]
    assert set(video["thumbnails"]) == {"poster.jpg", "poster-small.jpg", "storyboard.jpg", "storyboard.vtt"}
    rendition = video["renditions"]["720p"]
    assert rendition.startswith(f"renditions/{sid}/") and rendition.endswith("/720p.mp4")
    names = [o.object_name for o in cluster["s3"].list_objects(cluster["bucket"], prefix=f"renditions/{sid}/", recursive=True)]
    assert names == [rendition]                                    # the segments' work objects are gone
    local = cluster["work"] / f"{sid}.mp4"
    cluster["s3"].fget_object(cluster["bucket"], rendition, str(local))
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_streams",
                                       "-print_format", "json", str(local)], capture_output=True, check=True).stdout)
    assert int(probe["streams"][0]["nb_read_frames"]) == 400 and probe["streams"][0]["height"] == 720
    # The page was rewritten with the media: the preview plays from ../renditions/... beside reports/.
    response = cluster["s3"].get_object(cluster["bucket"], f"reports/{sid}.html")
    try:
        page = response.read().decode("utf-8")
        assert response.headers["Content-Type"].startswith("text/html")
    finally:
        response.close()
        response.release_conn()
    assert f'<source src="../{rendition}" type="video/mp4">' in page and "已通过检查" in page
    # The reviewers' sheet from the bucket (no --out): this submission's row links its page.
    sheet_path = cluster["work"] / f"{sid}.csv"
    done = subprocess.run([SMARTEDU, "report", "--format", "csv", "--output", str(sheet_path)], env=cluster["env"],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    row = next(line for line in sheet_path.read_text(encoding="utf-8-sig").splitlines() if line.startswith(sid + ","))
    assert f"reports/{sid}.html" in row and "1920x1080" in row


def test_roles_from_evidence_are_the_same_through_real_workers(cluster, processes, rules, tmp_path):
    """Naming cases (a scanned form found by OCR, numbered files told by content, a lock file, a title-only
    name, a main work identical to the wrong member) give the embedded mode's roles and findings."""
    from pipeline.models import parse_event
    from pipeline.embedded import check_submission
    from tests.naming_set import Factory, build_case_zip, cases, event_for

    chosen = {"scanned-form-unnamed", "numbered", "lock-file-beside", "title-only", "lesson-two-unnamed-videos"}
    factory = Factory(tmp_path / "factory")
    processes("worker", "--processes", "1", "--threads", "2")
    processes("ingest", "--claim-idle", "5")
    expected = {}
    for case in [c for c in cases() if c.name in chosen]:
        archive = build_case_zip(case, factory, tmp_path / f"{case.name}.zip")
        event = event_for(case)
        sid = f"{event['submission_id']}-{uuid.uuid4().hex[:6]}"
        event.update(submission_id=sid, archive={"bucket": "uploads", "key": f"{sid}/materials.zip"})
        cluster["s3"].fput_object("uploads", event["archive"]["key"], str(archive))
        if case.name == "title-only":       # the main work uploaded apart is the form, not the case introduction
            form = next(m for m in case.members if m.role == "registration_form")
            main = tmp_path / "main.docx"
            main.write_bytes(factory.bytes_of(form.make, case.project))
            cluster["s3"].fput_object("uploads", f"{sid}/main.docx", str(main))
            event["main_work"] = {"bucket": "uploads", "key": f"{sid}/main.docx"}
        embedded = check_submission(parse_event(event), archive, tmp_path / sid, rules, media=False,
                                    main_work=main if case.name == "title-only" else None)
        expected[sid] = embedded.model_dump(mode="json")
        add_event(cluster, event)
    for sid, embedded in expected.items():
        wait_for(lambda: notices(cluster, sid), 180, f"verdict for {sid}")
        distributed = verdict_of(cluster, sid)
        fields = ("path", "role", "role_source", "role_evidence", "kind", "size", "sha256")
        assert [{k: m[k] for k in fields} for m in distributed["materials"]] == [{k: m[k] for k in fields} for m in embedded["materials"]]
        # Duplication and topics compare with the activity's earlier submissions: the workers share
        # one activity (these cases share generated text), the embedded checks here keep none.
        across = {"DUPLICATION_HIGH", "TOPIC_IN_MULTIPLE_PROJECTS"}
        assert sorted((f["code"], f["path"], f["message"]) for f in distributed["findings"] if f["code"] not in across) == \
            sorted((f["code"], f["path"], f["message"]) for f in embedded["findings"])
        for finding in (f for f in distributed["findings"] if f["code"] == "DUPLICATION_HIGH"):
            # explained by this test's own cases, which share generated text (earlier tests' samples
            # in the same activity share the case title line and may be named too)
            assert set(finding["detail"]["sources"]) & set(expected), finding
        if not any(f["code"] in across for f in distributed["findings"]):
            assert distributed["status"] == embedded["status"]
        assert embedded["status"] != "fail"
        if "title-only" in sid:
            assert any(f["code"] == "MAIN_WORK_MISMATCH" and "报名表" in f["message"] for f in distributed["findings"])


def test_a_long_videos_qc_is_shared_by_two_workers_and_merged_across_seams(cluster, processes, rules, tmp_path):
    """Windows of 16 s from 30 s on: the 64 s lesson's QC goes out as 4 windows, its sound,
    subtitles and upscale jobs to two single-threaded workers; what they merge is what the
    one-pass QC of the embedded mode finds, ranges and all."""
    import yaml

    from config.settings import DEFAULT_RULES
    from pipeline.embedded import check_submission
    from pipeline.models import parse_event
    from tests import media
    from tests.helpers import replace_member
    from workers.ledger import entries

    data = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    data["qc"].update(window_threshold_s=30, window_s=16)
    windowed = tmp_path / "windowed.yaml"
    windowed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {**cluster["env"], "SMARTEDU_RULES": str(windowed)}
    for _ in range(2):
        processes("worker", "--processes", "1", "--threads", "1", env=env)
    sid = f"seams-{uuid.uuid4().hex[:6]}"
    archive, event = sample(tmp_path, sid, submission_id=sid)
    replace_member(archive, ".mp4", media.across_seams(tmp_path / "lesson.mp4").read_bytes())
    key = f"{sid}/{archive.name}"
    cluster["s3"].fput_object("uploads", key, str(archive))
    event["archive"] = {"bucket": "uploads", "key": key}
    add_event(cluster, event)
    processes("ingest", "--claim-idle", "5", env=env)
    wait_for(lambda: notices(cluster, sid), 240, "the verdict")
    verdict = verdict_of(cluster, sid)
    names = set(entries(cluster["redis"], sid, verdict["run_id"]))
    video = next(v for v in verdict["videos"])
    index = next(i for i, m in enumerate(verdict["materials"]) if m["path"] == video["path"])
    assert {f"video-{index}/window-{n}" for n in range(4)} | {f"video-{index}/sound", f"video-{index}/finish"} <= names

    embedded = check_submission(parse_event(event), archive, tmp_path / "embedded", rules, media=False,
                                state_dir=tmp_path / "embedded-activity").model_dump(mode="json")
    one_pass = embedded["videos"][0]["qc"]
    assert [(s["start"], s["end"]) for s in one_pass["frozen"]] == [(26.0, 40.1)]
    for field in ("black", "frozen", "silent", "shaky", "active", "loudness", "interlace", "decode_errors"):
        assert video["qc"][field] == one_pass[field], field
    qc_codes = {"VIDEO_BLACK_SEGMENTS", "VIDEO_FROZEN_SEGMENTS", "AUDIO_SILENT_SEGMENTS"}
    assert [f for f in verdict["findings"] if f["code"] in qc_codes] == [f for f in embedded["findings"] if f["code"] in qc_codes]
    assert {f["code"] for f in verdict["findings"]} >= qc_codes
