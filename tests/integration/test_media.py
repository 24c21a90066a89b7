"""Renditions and thumbnails checked with ffprobe: format, geometry, exact seams."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipeline import media, transcode
from pipeline.layout import Layout
from pipeline.models import Material
from pipeline.probe import probe_video
from pipeline.sample import VideoSpec, make_video
from pipeline.storage import LocalStore
from tests import media as testmedia

pytestmark = pytest.mark.integration


def ffprobe(path: Path, *args: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", *args, str(path)], capture_output=True, check=True, timeout=120)
    return json.loads(out.stdout)


def stream(path: Path, kind: str) -> dict:
    return next(s for s in ffprobe(path, "-show_streams")["streams"] if s["codec_type"] == kind)


def gray_rows(path: Path, at: float | None = 0.5) -> bytes:
    seek = ["-ss", str(at)] if at is not None else []
    return subprocess.run(["ffmpeg", "-v", "error", *seek, "-i", str(path), "-frames:v", "1", "-vf", "format=gray",
                           "-f", "rawvideo", "-"], capture_output=True, check=True, timeout=60).stdout


@pytest.fixture
def store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def put_video(store: LocalStore, path: Path, key: str) -> tuple[Material, object]:
    store.put_file(key, path)
    digest = store.sha256(key)
    return Material(path=path.name, size=path.stat().st_size, sha256=digest, kind="video", key=key), probe_video(store, key)


def test_rendition_format_and_faststart(store, tmp_path, ffmpeg_available):
    material, probe = put_video(store, make_video(tmp_path / "src.mp4", VideoSpec(duration_s=3)), "members/0.mp4")
    keys = media.make_rendition(store, Layout("s", embedded=True), material, probe)
    out = store.path(keys["720p"])
    video, audio = stream(out, "video"), stream(out, "audio")
    assert (video["codec_name"], video["profile"], video["pix_fmt"], video["width"], video["height"]) == ("h264", "High", "yuv420p", 1280, 720)
    assert (audio["codec_name"], audio["profile"], audio["channels"]) == ("aac", "LC", 2)
    data = out.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")


def test_rotated_source_comes_out_upright(store, tmp_path, ffmpeg_available):
    # Left half white, right half black; displayed rotated 90 degrees: one half on top.
    src = tmp_path / "halves.mp4"
    testmedia.run([*testmedia.FF, "-f", "lavfi", "-i", "color=c=white:s=960x1080:d=2,format=yuv420p", "-f", "lavfi",
                   "-i", "color=c=black:s=960x1080:d=2,format=yuv420p", "-filter_complex", "[0][1]hstack", *testmedia.X264, str(tmp_path / "flat.mp4")])
    testmedia.run([*testmedia.FF, "-i", str(tmp_path / "flat.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(src)])
    material, probe = put_video(store, src, "members/r.mp4")
    out = store.path(media.make_rendition(store, Layout("s", embedded=True), material, probe)["720p"])
    video = stream(out, "video")
    assert (video["width"], video["height"]) == (1280, 720)
    assert not any("rotation" in side for side in video.get("side_data_list", []))
    frame = gray_rows(out)
    column = [frame[row * 1280 + 640] for row in range(720)]
    top, bottom = sum(column[40:320]) / 280, sum(column[400:680]) / 280
    assert abs(top - bottom) > 150            # the halves are now one above the other
    assert frame[360 * 1280 + 5] < 30 and frame[360 * 1280 + 1274] < 30   # pillarbox, not stretched


def test_anamorphic_source_fills_the_frame_undistorted(store, tmp_path, ffmpeg_available):
    src = tmp_path / "hdv.mp4"
    testmedia.run([*testmedia.FF, "-f", "lavfi", "-i", "color=c=gray:s=1440x1080:d=2,format=yuv420p", "-vf", "setsar=4/3",
                   *testmedia.X264, str(src)])
    material, probe = put_video(store, src, "members/h.mp4")
    out = store.path(media.make_rendition(store, Layout("s", embedded=True), material, probe)["720p"])
    frame = gray_rows(out)
    assert frame[360 * 1280 + 2] > 80 and frame[360 * 1280 + 1277] > 80    # no bars: 16:9 displayed fills 16:9
    assert stream(out, "video")["sample_aspect_ratio"] in ("1:1", None)
    poster = gray_rows(store.path(media.make_thumbnails(store, Layout("s", embedded=True), material, probe)["poster.jpg"]), None)
    assert poster[360 * 1280 + 2] > 80 and poster[360 * 1280 + 1277] > 80  # the poster too, not squeezed


def test_segmented_encode_keeps_every_frame_and_a_continuous_audio(store, tmp_path, ffmpeg_available):
    src = tmp_path / "long.mp4"
    testmedia.run([*testmedia.FF, "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=10:d=100", "-f", "lavfi", "-i", "sine=d=100",
                   *testmedia.X264, "-g", "50", *testmedia.AAC, "-shortest", str(src)])
    material, probe = put_video(store, src, "members/l.mp4")
    layout = Layout("s", embedded=True)
    spec = transcode.RenditionSpec(segment_threshold_s=30, segment_s=25)
    assert media.segment_count(probe, spec) == 4
    count = media.split_source(store, layout, material, probe, spec=spec)
    assert count == 4
    for index in range(count):
        media.encode_piece(store, layout, material, probe, index, spec=spec)
    media.encode_audio_piece(store, layout, material, probe, spec=spec)
    keys = media.join_pieces(store, layout, material, probe, count)
    out = store.path(keys["720p"])
    assert list(store.list(media.work_prefix(layout, material))) == []      # work objects removed
    frames = lambda p: int(ffprobe(p, "-count_frames", "-select_streams", "v:0", "-show_streams")["streams"][0]["nb_read_frames"])
    assert frames(out) == frames(src) == 1000
    assert abs(float(stream(out, "video")["duration"]) - 100.0) <= 0.1
    packets = ffprobe(out, "-select_streams", "a:0", "-show_packets", "-show_entries", "packet=pts_time,duration_time")["packets"]
    gaps = [float(b["pts_time"]) - float(a["pts_time"]) - float(a["duration_time"]) for a, b in zip(packets, packets[1:])]
    assert max(abs(g) for g in gaps) <= 1024 / 48000 + 1e-6


def test_poster_storyboard_and_vtt(store, tmp_path, ffmpeg_available):
    material, probe = put_video(store, testmedia.with_black(tmp_path / "b.mp4"), "members/b.mp4")
    keys = media.make_thumbnails(store, Layout("s", embedded=True), material, probe)
    assert set(keys) == {"poster.jpg", "poster-small.jpg", "storyboard.jpg", "storyboard.vtt"}
    sizes = {name: (stream(store.path(keys[name]), "video")["width"], stream(store.path(keys[name]), "video")["height"])
             for name in ("poster.jpg", "poster-small.jpg", "storyboard.jpg")}
    # 8 s of video: 8 tiles of 160x90 in a row (one per second), not a 10x10 sprite of black tiles
    assert sizes == {"poster.jpg": (1280, 720), "poster-small.jpg": (320, 180), "storyboard.jpg": (1280, 90)}
    poster = gray_rows(store.path(keys["poster.jpg"]), None)
    assert sum(poster) / len(poster) > 40                                   # not the black stretch
    vtt = store.path(keys["storyboard.vtt"]).read_text().splitlines()
    assert vtt[0] == "WEBVTT" and sum("#xywh=" in line for line in vtt) == 8
