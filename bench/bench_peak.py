"""The deadline peak: what each stage costs, a simulation of the workers checked against real
workers, and how many workers the last days need.

    .venv/bin/python bench/bench_peak.py [--lesson-s 2700] [--skip-real] [--seed 1]

1. Stage costs. One submission of each kind goes alone through one single-threaded worker
   process (real Redis, S3 and ffmpeg): a case (4 min video), a school's case (4 min and its
   two extra documents), a team (3 min video) and a lesson (a 45 min 1080p25 recording, looped
   by stream copy from one minute so that it is quick to make). Every message's seconds come
   from the workers' `stage_done` log lines, by part ("video-0/window-3", "piece-0-12" ...).
2. Long recordings scale: the lesson's upload-to-verdict time on 1 and on 2 worker processes,
   same run (target: 2 processes <= 0.6 of 1).
3. The simulation checked: six uploads (four cases, a team, a school) 20 s apart through two
   worker processes, measured, then the same arrivals through the simulation with the costs of
   step 1 (target: p50 and p95 upload-to-verdict within 20%).
4. The activity: 3,000 uploads over the last 3 days, half of them in the last 12 hours (kinds:
   45% case, 10% school, 10% team, 35% lesson; videos 3-6 min, lessons 20-45 min), through
   2, 5, 10, 20 and 40 workers of two cores (two single-threaded processes each). Prints
   p50/p95 upload-to-verdict over the last 12 hours and the preview backlog.

The simulation (`simulate`) is the workers' own discipline: each process takes the ready
message with the lowest priority (the verdict path before renditions, config/policy.yaml),
first come first served within it; a part's messages follow the plan (unpack, then every part
at once, a long video's jobs at once and their merge, then the verdict; a video's previews
after its part: thumbnails and split, every segment and the audio at once, then the join).
Costs scale with the video's length from the measured ones (windows, segments: their count).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from config.policy import stage_policies  # noqa: E402
from config.rules import load_rules  # noqa: E402
from config.settings import DEFAULT_RULES, Settings  # noqa: E402
from pipeline.qc import plan_windows  # noqa: E402
from pipeline.sample import SampleSpec, VideoSpec, build_sample, make_video  # noqa: E402
from pipeline.transcode import RenditionSpec, plan_segments  # noqa: E402
from tests import services  # noqa: E402

SMARTEDU = str(Path(sys.prefix) / "bin" / "smartedu")
RULES = load_rules(DEFAULT_RULES)
SETTINGS = Settings()
MEDIA_PRIORITY = stage_policies()["transcode"].priority or 0
# kind -> (project, applicant type, calibration length, share of uploads, length range)
KINDS = {
    "case": ("case", "teacher", 240.0, 0.45, (180.0, 360.0)),
    "school": ("case", "school", 240.0, 0.10, (180.0, 360.0)),
    "team": ("team", "team", 180.0, 0.10, (120.0, 300.0)),
    "lesson": ("lesson", "teacher", 2700.0, 0.35, (1200.0, 2700.0)),
}


# what a submission costs -----------------------------------------------------------------------
@dataclass
class Profile:
    """The measured seconds of one submission's messages, by what they are."""

    video_s: float
    unpack: float = 0.0
    head: float = 0.0                                   # the video part's message (all of a short video's analysis)
    jobs: dict[str, float] = field(default_factory=dict)    # a long video's jobs: window-N, sound, subtitles, upscale
    finish: float = 0.0
    others: list[float] = field(default_factory=list)       # documents, the main work
    decide: float = 0.0
    plan_media: float = 0.0                             # thumbnails and the split (or a short video's whole rendition)
    pieces: list[float] = field(default_factory=list)       # segment encodes
    audio: float = 0.0
    join: float = 0.0

    @classmethod
    def from_log(cls, lines: list[dict], video_s: float) -> "Profile":
        profile = cls(video_s=video_s)
        for line in lines:
            part, seconds = line.get("part") or line.get("stage"), float(line["seconds"])
            if part == "unpack":
                profile.unpack += seconds
            elif part == "decide":
                profile.decide += seconds
            elif part.startswith("video-") and "/" in part:
                job = part.split("/", 1)[1]
                if job == "finish":
                    profile.finish += seconds
                else:
                    profile.jobs[job] = profile.jobs.get(job, 0.0) + seconds
            elif part.startswith("video-"):
                profile.head += seconds
            elif part.startswith(("document-", "main_work-")):
                profile.others.append(seconds)
            elif part.startswith("plan-"):
                profile.plan_media += seconds
            elif part.startswith("piece-") and part.endswith("--1"):
                profile.audio += seconds
            elif part.startswith("piece-"):
                profile.pieces.append(seconds)
            elif part.startswith("join-"):
                profile.join += seconds
        return profile

    @property
    def verdict_s(self) -> float:
        return self.unpack + self.head + sum(self.jobs.values()) + self.finish + sum(self.others) + self.decide

    @property
    def media_s(self) -> float:
        return self.plan_media + sum(self.pieces) + self.audio + self.join

    def with_media_of(self, other: "Profile") -> "Profile":
        """This verdict path with `other`'s previews, per second of video."""
        r = self.video_s / other.video_s
        return replace(self, plan_media=other.plan_media * r, audio=other.audio * r, join=other.join * r,
                       pieces=[statistics.mean(other.pieces)] * segments(self.video_s) if other.pieces else [])

    def heavier(self, factor: float) -> "Profile":
        """Every message that decodes the video costs `factor` times as much (a camera's
        recording at 6-10 Mbit/s decodes slower than the looped 2 Mbit/s one measured here)."""
        return replace(self, head=self.head * factor, jobs={k: v * factor for k, v in self.jobs.items()},
                       plan_media=self.plan_media * factor, pieces=[v * factor for v in self.pieces], join=self.join * factor)

    def scaled(self, video_s: float) -> "Profile":
        """The same kind with a video of `video_s`: decoding work in proportion, windows and
        segments by count, the documents and the verdict as measured."""
        r = video_s / self.video_s
        jobs = {}
        windows = [v for k, v in self.jobs.items() if k.startswith("window-")]
        if windows:
            count = max(1, len(plan_windows(video_s, RULES.qc)))
            per_window = statistics.mean(windows) * (video_s / count) / (self.video_s / len(windows))
            jobs = {f"window-{i}": per_window for i in range(count)}
            jobs.update({k: v * r for k, v in self.jobs.items() if not k.startswith("window-")})
        return replace(self, video_s=video_s, unpack=self.unpack * r, head=self.head * (1 if windows else r), jobs=jobs,
                       plan_media=self.plan_media * r, audio=self.audio * r, join=self.join * r,
                       pieces=[statistics.mean(self.pieces)] * segments(video_s) if self.pieces else [])


def segments(video_s: float) -> int:
    """The rendition's segments, as the workers plan them."""
    return plan_segments(video_s, RenditionSpec(segment_threshold_s=SETTINGS.segment_threshold_s, segment_s=SETTINGS.segment_s))


# the simulation --------------------------------------------------------------------------------
POLICIES = stage_policies()
QUEUE = {stage: POLICIES[stage].queue for stage in ("unpack", "video", "document", "main_work", "verdict", "transcode")}
PRIORITY = {stage: POLICIES[stage].priority or 0 for stage in QUEUE}


@dataclass
class _Message:
    stage: str
    seconds: float
    done: object                    # called with the finish time
    seq: int = 0

    @property
    def order(self) -> tuple[int, int]:
        return PRIORITY[self.stage], self.seq


@dataclass
class _Process:
    """A single-threaded worker process: dramatiq's consumers hold up to `prefetch` unacked
    messages per queue (the running one included), and the process runs the held message with
    the lowest priority first. A held message waits for this process even when another is idle."""

    queues: frozenset
    held: dict = field(default_factory=dict)        # queue -> unacked messages
    local: list = field(default_factory=list)       # heap of (order, message)
    running: _Message | None = None


ALL = frozenset(QUEUE.values())
VERDICT_PATH = ALL - {QUEUE["transcode"]}
LAYOUTS = {
    # a two-core node: two processes on every queue (`smartedu worker -p 2 -t 1`) ...
    "general": (ALL, ALL),
    # ... or, as docker-compose.yml deploys them, one on the verdict path and one transcoding
    "split": (VERDICT_PATH, frozenset({QUEUE["transcode"]})),
}


def simulate(arrivals: list[tuple[float, Profile]], nodes: int, layout: str = "split", *, prefetch: int = 1,
             seed: int = 0) -> dict:
    """Upload-to-verdict latency of each arrival and the preview backlog on `nodes` two-core
    nodes of `layout` (single-threaded processes)."""
    rng = random.Random(seed)
    procs = [_Process(queues) for _ in range(nodes) for queues in LAYOUTS[layout]]
    waiting: dict[str, list[_Message]] = defaultdict(list)       # Redis's queues (FIFO)
    clock: list[tuple[float, int, object]] = []                  # (time, seq, action)
    seq = 0
    verdicts: dict[int, float] = {}
    previews: dict[int, float] = {}
    waiting_previews: list[tuple[float, int]] = []

    def at(when: float, action) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(clock, (when, seq, action))

    def run_next(proc: _Process, now: float) -> None:
        if proc.running is None and proc.local:
            _, message = heapq.heappop(proc.local)
            proc.running = message
            at(now + message.seconds, lambda t, proc=proc: finished(proc, t))

    def hold(proc: _Process, message: _Message, now: float) -> None:
        queue = QUEUE[message.stage]
        proc.held[queue] = proc.held.get(queue, 0) + 1
        heapq.heappush(proc.local, (message.order, message))
        run_next(proc, now)

    def send(now: float, stage: str, seconds: float, done) -> None:
        nonlocal seq
        seq += 1
        message = _Message(stage, seconds, done, seq)
        queue = QUEUE[stage]
        room = [proc for proc in procs if queue in proc.queues and proc.held.get(queue, 0) < prefetch]
        if room and not waiting[queue]:
            hold(rng.choice(room), message, now)
        else:
            waiting[queue].append(message)

    def finished(proc: _Process, now: float) -> None:
        message, proc.running = proc.running, None
        queue = QUEUE[message.stage]
        proc.held[queue] -= 1
        message.done(now)
        for name, backlog in waiting.items():          # its consumers fetch again where they have room
            while backlog and name in proc.queues and proc.held.get(name, 0) < prefetch:
                hold(proc, backlog.pop(0), now)
        run_next(proc, now)

    def fan(now: float, stage: str, costs: list[float], then) -> None:
        """Messages sent at once; `then` when the last is done."""
        if not costs:
            then(now)
            return
        left = [len(costs)]

        def one(t: float) -> None:
            left[0] -= 1
            if left[0] == 0:
                then(t)
        for cost in costs:
            send(now, stage, cost, one)

    def submission(index: int, arrived: float, p: Profile) -> None:
        def media(t: float) -> None:
            waiting_previews.append((t, 1))

            def joined(t2: float) -> None:
                previews[index] = t2
                waiting_previews.append((t2, -1))
            send(t, "transcode", p.plan_media,
                 lambda t1: fan(t1, "transcode", p.pieces + ([p.audio] if p.audio else []),
                                lambda t2: send(t2, "transcode", p.join, joined) if p.pieces else joined(t2)))

        def parts(t: float) -> None:
            left = [1 + len(p.others)]

            def part_done(t1: float) -> None:
                left[0] -= 1
                if left[0] == 0:
                    send(t1, "verdict", p.decide, lambda t2: verdicts.__setitem__(index, t2))

            def video_done(t1: float) -> None:
                media(t1)
                part_done(t1)
            if p.jobs:
                send(t, "video", p.head,
                     lambda t1: fan(t1, "video", list(p.jobs.values()), lambda t2: send(t2, "video", p.finish, video_done)))
            else:
                send(t, "video", p.head, video_done)
            for cost in p.others:
                send(t, "document", cost, part_done)
        send(arrived, "unpack", p.unpack, parts)

    for index, (arrived, profile) in enumerate(arrivals):
        at(arrived, lambda t, index=index, profile=profile: submission(index, t, profile))
    while clock:
        when, _, action = heapq.heappop(clock)
        action(when)
    latency = {i: verdicts[i] - arrivals[i][0] for i in verdicts}
    most, level = 0, 0
    for _t, step in sorted(waiting_previews):
        level += step
        most = max(most, level)
    last_upload = max(arrived for arrived, _ in arrivals)
    backlog = sum(1 for i in range(len(arrivals)) if previews.get(i, math.inf) > last_upload)
    return {"latency": latency, "most_previews_waiting": most, "previews_after_last_upload": backlog,
            "previews_done_s_after_last_upload": max(previews.values(), default=0.0) - last_upload}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def activity(profiles: dict[str, Profile], seed: int, uploads: int = 3000, days: float = 3.0,
             last_hours: float = 12.0) -> list[tuple[float, Profile]]:
    """3,000 uploads: half spread over the days before the last 12 hours, half within them."""
    rng = random.Random(seed)
    span, late = days * 86400, last_hours * 3600
    kinds, weights = zip(*((k, v[3]) for k, v in KINDS.items()))
    arrivals = []
    for n in range(uploads):
        at = rng.uniform(0, span - late) if n < uploads // 2 else rng.uniform(span - late, span)
        kind = rng.choices(kinds, weights)[0]
        low, high = KINDS[kind][4]
        arrivals.append((at, profiles[kind].scaled(rng.uniform(low, high))))
    return sorted(arrivals, key=lambda a: a[0])


# real workers ----------------------------------------------------------------------------------
class Deployment:
    """S3 (SeaweedFS) and a Redis DB of its own; worker and ingest processes on demand."""

    def __init__(self, work: Path):
        self.work = work
        self.server = services.start_seaweedfs(work / "s3")
        url = os.environ.get("SMARTEDU_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/12"
        self.env = {**os.environ, "SMARTEDU_REDIS_URL": url, "SMARTEDU_S3_ENDPOINT": self.server.endpoint,
                    "SMARTEDU_S3_ACCESS_KEY": self.server.access_key, "SMARTEDU_S3_SECRET_KEY": self.server.secret_key,
                    "SMARTEDU_BUCKET": "smartedu", "SMARTEDU_PROMETHEUS": "0", "SMARTEDU_LOG_LEVEL": "INFO",
                    "SMARTEDU_WORK_DIR": str(work / "scratch")}
        self.client = self.server.client()
        for bucket in ("uploads", "smartedu"):
            self.client.make_bucket(bucket)
        self.r = redis.Redis.from_url(url, decode_responses=True)

    def close(self) -> None:
        self.r.flushdb()
        self.server.stop()

    def upload(self, archive: Path, event: dict) -> dict:
        key = f"bench/{archive.name}"
        self.client.fput_object("uploads", key, str(archive))
        return {**event, "archive": {"bucket": "uploads", "key": key}}

    def run(self, uploads: list[tuple[float, dict]], groups: list[tuple[list[str] | None, int]], *, media: bool,
            label: str) -> tuple[dict, list[dict]]:
        """Send each event at its offset to worker groups of (queues or all, processes); returns
        upload-to-verdict seconds by submission and the workers' log lines."""
        self.r.flushdb()
        log_path = self.work / f"{label}.log"
        with open(log_path, "wb") as log:
            started = [subprocess.Popen([SMARTEDU, "worker", *(f"--queues={queue}" for queue in queues or []), "--processes",
                                         str(processes), "--threads", "1"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True) for queues, processes in groups]
            started.append(subprocess.Popen([SMARTEDU, "ingest"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True))
            try:
                time.sleep(5)
                start, sent, verdicts, done_media, last_id = time.time(), {}, {}, set(), "0-0"
                queue = sorted(uploads, key=lambda u: u[0])
                deadline = time.monotonic() + 7200
                while (len(verdicts) < len(uploads) or (media and len(done_media) < len(uploads))) and time.monotonic() < deadline:
                    while queue and time.time() - start >= queue[0][0]:
                        _offset, event = queue.pop(0)
                        self.r.xadd("smartedu:uploads", {"event": json.dumps(event, ensure_ascii=False)})
                        sent[event["submission_id"]] = time.time()
                    for _stream, entries in self.r.xread({"smartedu:verdicts": last_id}, block=500, count=100) or []:
                        for entry_id, fields in entries:
                            last_id = entry_id
                            sid = fields.get("submission_id")
                            if sid in sent and fields.get("kind") == "verdict":
                                verdicts.setdefault(sid, int(entry_id.split("-")[0]) / 1000 - sent[sid])
                            elif sid in sent and fields.get("kind") == "media":
                                done_media.add(sid)
                time.sleep(5)       # the workers' last log lines pass through dramatiq's main process
            finally:
                for proc in started:
                    services.stop_process(proc, timeout=30)
        lines = []
        for raw in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if raw.startswith("{") and '"stage_done"' in raw:
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    continue
        return verdicts, lines


def looped_video(path: Path, seconds: float, base: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(int(seconds // 60) + 1), "-i", str(base), "-c", "copy",
                    "-t", f"{seconds:.0f}", "-movflags", "+faststart", str(path)], check=True, timeout=600)
    return path


def archive_of(work: Path, kind: str, video: Path, n: int) -> tuple[Path, dict]:
    """The kind's sample submission with `video` as its video member (streamed into the zip)."""
    project, applicant, *_ = KINDS[kind]
    sid = f"{kind}-{n}-{uuid.uuid4().hex[:6]}"
    small = work / f"{sid}-small.zip"
    event = build_sample(small, SampleSpec(project=project, applicant_type=applicant, submission_id=sid,
                                           video=VideoSpec(duration_s=2.0)))
    archive = work / f"{sid}.zip"
    with zipfile.ZipFile(small) as source, zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename.endswith(".mp4"):
                target.write(video, info.filename, compress_type=zipfile.ZIP_STORED)
            else:
                target.writestr(info, source.read(info))
    small.unlink()
    return archive, event


def real_part(work: Path, lesson_s: float, video_s: float | None = None) -> tuple[dict[str, Profile], dict]:
    """Steps 1-3; `video_s` replaces the calibration length of the short kinds (a quick run)."""
    deployment = Deployment(work)
    lengths = {kind: lesson_s if kind == "lesson" else video_s or KINDS[kind][2] for kind in KINDS}
    try:
        base = make_video(work / "base.mp4", VideoSpec(duration_s=60, bitrate="2M", gop_s=2.0, audio_lufs=-20.0))
        videos = {kind: looped_video(work / f"{kind}.mp4", lengths[kind], base) for kind in KINDS}
        profiles: dict[str, Profile] = {}
        print("1. stage costs: each kind alone on one single-threaded worker process (seconds)", flush=True)
        print(f"   {'kind':7s} {'video s':>7s} {'unpack':>7s} {'video':>8s} {'docs':>6s} {'decide':>6s} {'verdict':>8s} "
              f"{'previews':>9s} {'segments':>8s}")
        lesson_one = None
        for kind in KINDS:
            archive, event = archive_of(work, kind, videos[kind], 0)
            event = deployment.upload(archive, event)
            group = [(None, 1)] if kind != "lesson" else [(sorted(VERDICT_PATH), 1)]
            latency, lines = deployment.run([(0.0, event)], group, media=kind != "lesson", label=f"alone-{kind}")
            mine = [line for line in lines if line.get("submission_id") == event["submission_id"]]
            profile = Profile.from_log(mine, lengths[kind])
            profiles[kind] = profile
            if kind == "lesson":
                lesson_one = latency.get(event["submission_id"])
            print(f"   {kind:7s} {profile.video_s:7.0f} {profile.unpack:7.1f} {profile.head + sum(profile.jobs.values()) + profile.finish:8.1f} "
                  f"{sum(profile.others):6.1f} {profile.decide:6.1f} {profile.verdict_s:8.1f} {profile.media_s:9.1f} "
                  f"{len(profile.pieces):8d}", flush=True)
        profiles["lesson"] = profiles["lesson"].with_media_of(profiles["case"])
        lesson = profiles["lesson"]
        print("   lesson jobs: " + ", ".join(f"{k} {v:.0f}" for k, v in lesson.jobs.items()))

        archive, event = archive_of(work, "lesson", videos["lesson"], 1)
        event = deployment.upload(archive, event)
        latency, _ = deployment.run([(0.0, event)], [(sorted(VERDICT_PATH), 2)], media=False, label="lesson-2")
        lesson_two = latency.get(event["submission_id"])
        print(f"\n2. a {lesson_s / 60:.0f} min lesson, upload to verdict: 1 process {lesson_one:.0f} s, 2 processes "
              f"{lesson_two:.0f} s = {lesson_two / lesson_one:.2f} of 1 (target <= 0.6)", flush=True)

        mix = ["case", "team", "case", "school", "case", "case"]
        uploads, simulated_arrivals = [], []
        for n, kind in enumerate(mix):
            archive, event = archive_of(work, kind, videos[kind], 10 + n)
            uploads.append((20.0 * n, deployment.upload(archive, event)))
            simulated_arrivals.append((20.0 * n, profiles[kind]))
        # one two-core node as docker-compose.yml deploys it: a verdict-path process and a transcoder
        measured, _ = deployment.run(uploads, [(sorted(VERDICT_PATH), 1), ([QUEUE["transcode"]], 1)], media=True, label="check")
        real = list(measured.values())
        model = [v for seed in range(20) for v in simulate(simulated_arrivals, 1, "split", seed=seed)["latency"].values()]
        print("\n3. six uploads 20 s apart (4 case, team, school) on one node (a verdict-path process, a transcoder),"
              " upload to verdict (simulated: 20 runs of the random prefetch):")
        for name, values in (("measured", real), ("simulated", model)):
            print(f"   {name:9s} p50 {statistics.median(values):6.1f} s   p95 {percentile(values, 0.95):6.1f} s")
        for share, label in ((0.5, "p50"), (0.95, "p95")):
            got, want = (statistics.median(model), statistics.median(real)) if share == 0.5 else \
                (percentile(model, share), percentile(real, share))
            print(f"   {label}: simulated / measured = {got / want:.2f} (target 0.8-1.2)")
        return profiles, {"lesson_one": lesson_one, "lesson_two": lesson_two}
    finally:
        deployment.close()


def capacity(profiles: dict[str, Profile], seed: int) -> None:
    arrivals = activity(profiles, seed)
    span = 3 * 86400
    late = [i for i, (at, _) in enumerate(arrivals) if at >= span - 12 * 3600]
    print("\n4. the activity: 3,000 uploads over 3 days, 1,500 in the last 12 hours, on two-core nodes")
    for layout, words in (("split", "one verdict-path process and one transcoder each (docker-compose.yml)"),
                          ("general", "two processes on every queue each (smartedu worker -p 2 -t 1)")):
        print(f"   nodes of {words}:")
        print(f"   {'nodes':>5s} {'p50 verdict':>12s} {'p95 verdict':>12s} {'max previews waiting':>21s} "
              f"{'previews unfinished at deadline':>32s} {'all previews done after':>24s}")
        for workers in (2, 5, 10, 20, 40):
            result = simulate(arrivals, workers, layout, seed=seed)
            values = [result["latency"][i] for i in late if i in result["latency"]]
            print(f"   {workers:5d} {fmt(statistics.median(values)):>12s} {fmt(percentile(values, 0.95)):>12s} "
                  f"{result['most_previews_waiting']:21d} {result['previews_after_last_upload']:32d} "
                  f"{fmt(max(0.0, result['previews_done_s_after_last_upload'])):>24s}", flush=True)
    demand = sum(p.verdict_s for _, p in arrivals), sum(p.media_s for _, p in arrivals)
    print(f"   work: verdict path {demand[0] / 3600:.0f} CPU h, previews {demand[1] / 3600:.0f} CPU h")


def fmt(seconds: float) -> str:
    if seconds != seconds:
        return "-"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def main() -> None:
    parser = argparse.ArgumentParser(description="stage costs, the simulation checked against real workers, capacity")
    parser.add_argument("--lesson-s", type=float, default=2700.0, help="length of the lesson recording")
    parser.add_argument("--video-s", type=float, help="length of the other kinds' videos (default: 240 s, a team's 180 s)")
    parser.add_argument("--profiles", type=Path, help="skip the real runs: stage costs from this JSON (written by a run)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--decode-factor", type=float, default=1.0,
                        help="the capacity table again with every decoding message this many times as costly")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-peak-"))
    try:
        if args.profiles:
            profiles = {k: Profile(**v) for k, v in json.loads(args.profiles.read_text()).items()}
        else:
            profiles, _ = real_part(work, args.lesson_s, args.video_s)
            saved = Path(tempfile.gettempdir()) / "bench-peak-profiles.json"
            saved.write_text(json.dumps({k: v.__dict__ for k, v in profiles.items()}, indent=1))
            print(f"   (stage costs saved to {saved}: --profiles {saved} reruns the simulation alone)")
        capacity(profiles, args.seed)
        if args.decode_factor != 1.0:
            print(f"\n   ... with every decoding message {args.decode_factor:g} times as costly:")
            capacity({kind: profile.heavier(args.decode_factor) for kind, profile in profiles.items()}, args.seed)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
