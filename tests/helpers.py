"""Running the real `smartedu` command and building submission variants."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from pipeline.sample import SampleSpec, VideoSpec, build_sample, make_video

SMARTEDU = str(Path(sys.prefix) / "bin" / "smartedu")


def run_check(archive: Path, *args: str, out: Path, event: dict | None = None, timeout: float = 300, env: dict | None = None,
              state: Path | None = None):
    """`smartedu check ... --json`; returns (exit code, verdict dict or None, stderr).

    Each run keeps its own activity state unless `state` is shared on purpose (duplication and
    topic tests), so unrelated samples never meet in one duplication index."""
    state = state or out.parent / f".state-{out.name}"
    cmd = [SMARTEDU, "check", str(archive), "--out", str(out), "--state", str(state), "--json", *args]
    if event is not None:
        event_path = out.parent / f"{out.name}.event.json"
        event_path.parent.mkdir(parents=True, exist_ok=True)
        event_path.write_text(json.dumps(event, ensure_ascii=False), encoding="utf-8")
        cmd += ["--event", str(event_path)]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, env={**os.environ, **(env or {})})
    verdict = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, verdict, proc.stderr.decode(errors="replace")


def codes(verdict: dict, severity: str | None = None) -> set[str]:
    return {f["code"] for f in verdict["findings"] if severity is None or f["severity"] == severity}


def sample(tmp: Path, name: str, **spec) -> tuple[Path, dict]:
    video = spec.pop("video", None)
    built = SampleSpec(**spec, video=video or VideoSpec(duration_s=2.0))
    archive = tmp / f"{name}.zip"
    event = build_sample(archive, built)
    return archive, event


def replace_member(archive: Path, member_suffix: str, new_bytes: bytes) -> None:
    """Swap the bytes of the first member whose name ends with `member_suffix`."""
    with zipfile.ZipFile(archive) as source:
        items = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
        replaced = False
        for info, data in items:
            if not replaced and info.filename.endswith(member_suffix):
                data, replaced = new_bytes, True
            target.writestr(info, data)
    assert replaced, member_suffix


def add_member(archive: Path, name: str, data: bytes) -> None:
    with zipfile.ZipFile(archive, "a") as target:
        target.writestr(name, data)


def video_bytes(tmp: Path, name: str, spec: VideoSpec) -> bytes:
    return make_video(tmp / name, spec).read_bytes()


def save_as(source: Path, target_ext: str) -> Path:
    """LibreOffice's 'save as' into another format (legacy Word, PDF ...), with a private profile."""
    outdir = source.parent / f"lo-{target_ext}"
    profile = (source.parent / f"lo-profile-{target_ext}").as_uri()
    subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation={profile}", "--convert-to", target_ext,
                    "--outdir", str(outdir), str(source)], check=True, capture_output=True, timeout=120)
    produced = outdir / f"{source.stem}.{target_ext}"
    assert produced.is_file(), f"LibreOffice produced no {target_ext}"
    return produced


def comparable_verdict(verdict: dict) -> dict:
    """What two modes' verdicts must share: everything but object keys, the run id, times and
    timestamps (the timing keys stay)."""
    out = json.loads(json.dumps(verdict))
    out.pop("created_at")
    out.pop("run_id")
    out["timings"] = sorted(out["timings"])
    for material in out["materials"]:
        material.pop("key")
    for video in out["videos"]:
        video["renditions"] = sorted(video["renditions"])
        video["thumbnails"] = sorted(video["thumbnails"])
    return out
