"""The domain model: what comes in (an upload event) and what goes out (a verdict)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import EventError

Project = Literal["case", "lesson", "team"]
ApplicantType = Literal["teacher", "school", "district", "team"]
Severity = Literal["fail", "warn", "info"]
Status = Literal["pass", "warn", "fail", "error"]
SubtitleKind = Literal["embedded", "sidecar", "burned_in", "none"]

SUBMISSION_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"


class ObjectRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    bucket: str = Field(min_length=1, max_length=63)
    key: str = Field(min_length=1, max_length=1024)


class Author(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    unit: str | None = Field(default=None, max_length=200)


class UploadEvent(BaseModel):
    """One submission (or re-submission) as the upload service announces it."""

    model_config = ConfigDict(extra="ignore")

    submission_id: str = Field(pattern=SUBMISSION_ID_PATTERN)
    project: Project
    applicant_type: ApplicantType | None = None
    district: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=500)
    authors: list[Author] = Field(default_factory=list, max_length=100)
    archive: ObjectRef
    main_work: ObjectRef | None = None
    uploaded_at: AwareDatetime | None = None  # required in events; None only for `smartedu check` without one
    callback_url: str | None = Field(default=None, max_length=2048)

    @field_validator("submission_id")
    @classmethod
    def _not_dots(cls, value: str) -> str:
        if value in {".", ".."}:
            raise ValueError("submission_id may not be '.' or '..'")
        return value

    @property
    def effective_applicant_type(self) -> str:
        """The applicant type, defaulted from the project where the event leaves it out."""
        if self.applicant_type:
            return self.applicant_type
        return "team" if self.project == "team" else "teacher"


def parse_event(raw: bytes | str | dict) -> UploadEvent:
    """Validate an upload event.

    Raises:
        EventError: not JSON, a required field missing or of the wrong type.
    """
    try:
        data = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EventError(f"event is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EventError("event is not a JSON object")
    problems = [f"{name}: missing" for name in ("submission_id", "project", "archive", "uploaded_at") if data.get(name) in (None, "")]
    try:
        event = UploadEvent.model_validate(data)
    except ValidationError as exc:
        problems += [f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {err['msg']}" for err in exc.errors()[:10]
                     if err["type"] != "missing"]
        event = None
    if problems or event is None:
        raise EventError("invalid event: " + "; ".join(dict.fromkeys(problems)))
    return event


class Finding(BaseModel):
    code: str
    severity: Severity
    message: str
    path: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


RoleSource = Literal["name", "folder", "attachment", "content", "ocr", "title", "only_candidate", "best_candidate",
                     "junk", "unrecognized"]


class Material(BaseModel):
    """One archive member, as unpacked; `role_source` and `role_evidence` say why it has its role."""

    path: str
    role: str | None = None
    role_source: RoleSource | None = None
    role_evidence: str | None = None
    size: int
    sha256: str
    kind: str
    key: str | None = None
    compressed_size: int | None = None
    from_archive: str | None = None


class AudioStream(BaseModel):
    codec: str | None = None
    channels: int | None = None
    sample_rate: int | None = None
    bitrate: int | None = None
    language: str | None = None


class SubtitleStream(BaseModel):
    codec: str | None = None
    language: str | None = None


class VideoProbe(BaseModel):
    """What the probes measured, in displayed terms where it matters."""

    container: str | None = None
    brand: str | None = None
    compatible_brands: list[str] = Field(default_factory=list)
    is_mp4: bool = False
    video_codec: str | None = None
    video_profile: str | None = None
    width: int | None = None
    height: int | None = None
    sample_aspect_ratio: float | None = None
    rotation: int = 0
    display_width: int | None = None
    display_height: int | None = None
    display_aspect: float | None = None
    duration_s: float | None = None
    fps: float | None = None
    variable_fps: bool = False
    frame_count: int | None = None
    bitrate: int | None = None
    pix_fmt: str | None = None
    audio: list[AudioStream] = Field(default_factory=list)
    subtitle_streams: list[SubtitleStream] = Field(default_factory=list)
    faststart: bool = False
    field_order: str | None = None       # progressive | tt | bb | tb | bt | interlaced (order unknown)
    probed_with: list[str] = Field(default_factory=list)
    disagreements: dict[str, Any] = Field(default_factory=dict)


class Segment(BaseModel):
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


class ActivePicture(BaseModel):
    """The picture inside black bars (cropdetect, in analysis pixels), and how much of the time it holds."""

    width: int
    height: int
    x: int
    y: int
    frame_width: int
    frame_height: int
    area_share: float          # of the frame
    time_share: float          # of the sampled seconds with a picture
    samples: int


class Loudness(BaseModel):
    """EBU R128 over the whole soundtrack; clipped: 100 ms stretches at full scale."""

    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    loudness_range_lu: float | None = None
    clipped: list[Segment] = Field(default_factory=list)


def flagged_interlaced(field_order: str | None) -> bool:
    """The container's field order says interlaced (tt, bb, tb, bt)."""
    return field_order not in (None, "progressive")


class Interlace(BaseModel):
    """idet's multi-frame verdict over the first frames, and the container's field order."""

    tff: int = 0
    bff: int = 0
    progressive: int = 0
    undetermined: int = 0
    field_order: str | None = None
    interlaced: bool = False             # idet found most frames interlaced (alone, fast motion can fool it)

    @property
    def interlaced_share(self) -> float:
        decided = self.tff + self.bff + self.progressive
        return (self.tff + self.bff) / decided if decided else 0.0

    @property
    def flagged(self) -> bool:
        """The container says interlaced."""
        return flagged_interlaced(self.field_order)

    @property
    def confirmed(self) -> bool:
        """Flagged interlaced and the frames show it: what the notice's 1080p (progressive) excludes."""
        return self.flagged and self.interlaced

    @property
    def deinterlace(self) -> str | None:
        """How the preview is deinterlaced: every frame when confirmed, the frames flagged so
        when only the flag says it, never on idet's word alone."""
        return "all" if self.confirmed else ("interlaced" if self.flagged else None)


class Upscale(BaseModel):
    """The picture's native size estimated from sampled frames (pipeline/upscale.py)."""

    native_width: int | None = None
    native_height: int | None = None
    agreeing_share: float = 0.0
    score: float | None = None           # median knee of the agreeing frames (<= 1 native, tens when upscaled)
    frames: int = 0                      # frames with enough detail to judge
    method: str = "rescale_knee"
    # Evidence too weak to say (no finding): the size most frames pointed at, and why it was
    # withheld (few_frames, disagree, weak_knee, half_lines: a 2:1 trip lands on the frame's own grid).
    suspected_width: int | None = None
    suspected_height: int | None = None
    withheld: str | None = None


class PictureWindow(BaseModel):
    """What the picture of one stretch of a long video gave (a message of its own in the
    distributed mode). It owns [start, end) and reads on past `end` by the longest stretch a
    detector needs, so that a black or frozen stretch crossing the seam is seen whole by one
    side or long enough by both; times are the video's own."""

    start: float
    end: float
    black: list[Segment] = Field(default_factory=list)
    frozen: list[Segment] = Field(default_factory=list)
    motions: list[tuple[float, float] | None] = Field(default_factory=list)   # frames in [start, end)
    crops: list[tuple[int, int, int, int]] = Field(default_factory=list)      # (w, h, x, y) sampled in [start, end)
    fields: tuple[int, int, int, int] | None = None                           # idet's counts (the first window)
    decode_errors: int = 0


class Soundtrack(BaseModel):
    """The sound of a long video, in one pass of its own (decoding the audio alone is cheap)."""

    silent: list[Segment] = Field(default_factory=list)
    loudness: Loudness | None = None
    decode_errors: int = 0


class QcResult(BaseModel):
    black: list[Segment] = Field(default_factory=list)
    frozen: list[Segment] = Field(default_factory=list)
    silent: list[Segment] = Field(default_factory=list)
    shaky: list[Segment] = Field(default_factory=list)
    shake_score: float | None = None
    shaky_share: float | None = None
    analysed_s: float | None = None
    decode_errors: int = 0
    active: ActivePicture | None = None
    loudness: Loudness | None = None
    interlace: Interlace | None = None
    upscale: Upscale | None = None


class SubtitleReport(BaseModel):
    kind: SubtitleKind = "none"
    evidence: dict[str, Any] = Field(default_factory=dict)


class VideoScope(BaseModel):
    """What of one video the verdict path analyses and its previews cover (pipeline/cost.py)."""

    duration_s: float
    analysed_s: float                                   # the picture and sound from 0 to here
    samples: list[tuple[float, float]] = Field(default_factory=list)   # windows of the rest, analysed as a sample
    preview_s: float = 0.0                              # previews cover [0, preview_s)
    reason: str | None = None                           # over_limit or budget: why not the whole video
    cpu_budget_s: float = 0.0
    cpu_per_s: float = 0.0                              # the model's cost of one analysed second

    @property
    def limited(self) -> bool:
        return self.reason is not None

    @property
    def cpu_estimate_s(self) -> float:
        return round(self.cpu_per_s * (self.analysed_s + sum(b - a for a, b in self.samples)), 1)


class ReuseMatch(BaseModel):
    """A stretch of this video whose pictures and/or sound agree with another submission's."""

    submission_id: str
    path: str                                   # the other submission's video
    by: list[str]                               # "picture", "sound"
    query: tuple[float, float]                  # seconds in this video
    source: tuple[float, float]                 # seconds in the other one
    query_share: float                          # of this video's duration
    source_share: float
    matched: int                                # frames (pictures) or one-second windows (sound) that agree
    speed: float = 1.0
    distinct: int = 0                           # of the matched frames, how many show something new
    same_author: bool = False
    other_project: str | None = None
    source_media: str | None = None             # "<submission>/<sha256[:16]>": where its storyboard lies
    source_duration_s: float | None = None


class ReuseReport(BaseModel):
    """The video's fingerprint, in numbers, and what it matched."""

    frames: int = 0
    sound_items: int = 0
    duration_s: float = 0.0                     # the part fingerprinted (the analysed part of a long video)
    matches: list[ReuseMatch] = Field(default_factory=list)


class VideoReport(BaseModel):
    path: str
    role: str | None = None
    sha256: str
    probe: VideoProbe | None = None
    scope: VideoScope | None = None        # what was analysed (all of it unless `scope.reason` says why not)
    subtitles: SubtitleReport | None = None
    qc: QcResult | None = None
    renditions: dict[str, str] = Field(default_factory=dict)
    thumbnails: dict[str, str] = Field(default_factory=dict)
    media_error: str | None = None        # why the previews could not be made, when they could not
    reuse: ReuseReport | None = None      # footage or sound shared with another submission (VIDEO_REUSED)



class VideoJobResult(BaseModel):
    """What one job of a video's analysis gave: the whole of a short video, or one window,
    the sound, the subtitle search or the upscale estimate of a long one (each a message of
    its own in the distributed mode)."""

    job: str
    qc: QcResult | None = None
    window: PictureWindow | None = None
    sound: Soundtrack | None = None
    subtitles: SubtitleReport | None = None
    upscale: Upscale | None = None
    fingerprint: dict | None = None    # its part of the reuse fingerprint (pipeline/reuse.py): frames and/or sound
    error: dict | None = None          # the video could not be decoded: a PermanentError's code, reason and detail
    timings: dict[str, float] = Field(default_factory=dict)

class DocumentReport(BaseModel):
    path: str
    role: str | None = None
    sha256: str
    text_length: int = 0
    extracted_with: str | None = None
    duplication_rate: float | None = None           # copied over own characters, the notice's templates and common text excluded
    # CNKI-style: the rate, the largest single source's, the template share apart, the character counts
    duplication: dict[str, Any] | None = None
    best_matches: list[dict[str, Any]] = Field(default_factory=list)   # sources with their rate and the passages copied
    form_fields: dict[str, Any] | None = None
    ocr_pages: int = 0


class Verdict(BaseModel):
    submission_id: str
    project: str
    status: Status
    findings: list[Finding] = Field(default_factory=list)
    materials: list[Material] = Field(default_factory=list)
    videos: list[VideoReport] = Field(default_factory=list)
    documents: list[DocumentReport] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    pipeline_version: str
    rules_version: str
    created_at: datetime
    event: dict[str, Any] = Field(default_factory=dict)
    error: dict[str, Any] | None = None
    run_id: str | None = None
