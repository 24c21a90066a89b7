"""Test media made by ffmpeg at test time: each compliance case of the notice."""

from __future__ import annotations

import subprocess
from pathlib import Path

FF = ["ffmpeg", "-v", "error", "-y"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
AAC = ["-c:a", "aac", "-b:a", "64k"]


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, timeout=300)


def camera(path: Path, x: str, y: str, *, duration: float = 10, fps: int = 25) -> Path:
    """A 1080p 'camera' looking at a test card: the crop offsets are the camera's motion."""
    run([*FF, "-f", "lavfi", "-i", f"testsrc2=s=2400x1350:r={fps}:d={duration}", "-f", "lavfi", "-i", f"sine=d={duration}",
         "-filter_complex", f"[0:v]crop=1920:1080:'{x}':'{y}'[v]", "-map", "[v]", "-map", "1:a", *X264, *AAC, "-shortest", str(path)])
    return path


def tripod(path: Path) -> Path:
    return camera(path, "200", "135")


def handheld_walk(path: Path) -> Path:
    return camera(path, "240+60*sin(2*PI*1.7*t)+25*sin(2*PI*3.1*t+1)+8*sin(2*PI*7*t)",
                  "135+40*sin(2*PI*1.9*t+2)+15*sin(2*PI*4.3*t)")


def with_black(path: Path) -> Path:
    """2 s of picture, 4 s of black, 2 s of picture; the tone runs throughout."""
    run([*FF, "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=10:d=2", "-f", "lavfi", "-i", "color=c=black:s=1920x1080:r=10:d=4",
         "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=10:d=2", "-f", "lavfi", "-i", "sine=d=8",
         "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1:a=0[v]", "-map", "[v]", "-map", "3:a", *X264, *AAC, str(path)])
    return path


def with_freeze(path: Path) -> Path:
    """2 s of moving picture, then one frame held for 13 s, then 2 s of picture."""
    run([*FF, "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=10:d=2", "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=10:d=0.1",
         "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=10:d=2", "-f", "lavfi", "-i", "sine=d=17",
         "-filter_complex", "[1:v]loop=loop=129:size=1:start=0,setpts=N/10/TB[held];[0:v][held][2:v]concat=n=3:v=1:a=0[v]",
         "-map", "[v]", "-map", "3:a", *X264, *AAC, str(path)])
    return path


def with_silence(path: Path) -> Path:
    """A moving picture over 20 s; the tone stops from 2 s to 19 s."""
    run([*FF, "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=10:d=21", "-f", "lavfi", "-i", "sine=d=2",
         "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono:d=17", "-f", "lavfi", "-i", "sine=d=2",
         "-filter_complex", "[1:a][2:a][3:a]concat=n=3:v=0:a=1[a]", "-map", "0:v", "-map", "[a]", *X264, *AAC, str(path)])
    return path


def long_recording(path: Path, seconds: int, tmp: Path) -> Path:
    """A long 1080p recording made cheaply: 20 s at 1 fps, looped by stream copy."""
    base = tmp / f"base-{seconds}.mp4"
    run([*FF, "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=1:d=20", "-f", "lavfi", "-i", "sine=d=20",
         *X264, "-crf", "40", "-g", "20", *AAC, "-shortest", str(base)])
    run([*FF, "-stream_loop", str(seconds // 20 + 1), "-i", str(base), "-c", "copy", "-t", str(seconds),
         "-movflags", "+faststart", str(path)])
    base.unlink()
    return path


# (kind, seconds) of the picture of `across_seams`; the sound is a tone with silence from 44 s to 62 s
SEAMED_PICTURE = (("moving", 13), ("black", 6), ("moving", 7), ("held", 14), ("moving", 7), ("black", 3), ("moving", 14))


def across_seams(path: Path, *, size: str = "640x360", fps: int = 10) -> Path:
    """64 s whose black (13-19 s, 47-50 s), frozen (26-40 s) and silent (44-62 s) stretches each
    cross a seam of 16 s windows (16, 32, 48 s), the frozen one with less than the detector's
    10 s on either side of it."""
    inputs, labels = [], []
    for index, (kind, seconds) in enumerate(SEAMED_PICTURE):
        if kind == "black":
            inputs += ["-f", "lavfi", "-i", f"color=c=black:s={size}:r={fps}:d={seconds}"]
            labels.append(f"[{index}:v]")
        elif kind == "held":
            inputs += ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}:d={1 / fps}"]
            labels.append(f"[h{index}]")
        else:
            inputs += ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}:d={seconds}"]
            labels.append(f"[{index}:v]")
    held = "".join(f"[{i}:v]loop=loop={s * fps - 1}:size=1:start=0,setpts=N/{fps}/TB[h{i}];"
                   for i, (kind, s) in enumerate(SEAMED_PICTURE) if kind == "held")
    tone = len(SEAMED_PICTURE)
    inputs += ["-f", "lavfi", "-i", "sine=f=440:d=44", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono:d=18",
               "-f", "lavfi", "-i", "sine=f=440:d=2"]
    graph = (f"{held}{''.join(labels)}concat=n={len(SEAMED_PICTURE)}:v=1:a=0[v];"
             f"[{tone}:a]aresample=44100[a0];[{tone + 1}:a]aresample=44100[a1];[{tone + 2}:a]aresample=44100[a2];"
             f"[a0][a1][a2]concat=n=3:v=0:a=1[a]")
    run([*FF, *inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]", *X264, "-g", str(fps * 2), *AAC, str(path)])
    return path
