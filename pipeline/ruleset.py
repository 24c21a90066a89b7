"""The notice's rules as typed data: every limit and date the stages check against.

The values live in `config/rules/*.yaml`; `config.rules` reads and validates a file into `Rules`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .duplication import BaseText, DuplicationSettings, load_base


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Deadlines(_Frozen):
    upload: datetime
    school_recommendation: datetime
    district_recommendation: datetime


class ArchiveRules(_Frozen):
    max_bytes: int
    max_total_uncompressed_bytes: int
    max_member_ratio: float
    ratio_min_bytes: int
    max_members: int
    max_depth: int
    max_name_bytes: int
    ignored_patterns: list[str]
    ignored_dirs: list[str]
    inner_archive_extensions: list[str]
    max_videos_analysed: int
    max_documents_analysed: int
    max_lzma_dictionary_bytes: int = 64 * 1024 * 1024


class RoleRule(_Frozen):
    role: str
    label: str
    kinds: list[str]
    keywords: list[str]
    headings: list[str] = Field(default_factory=list)
    markers: list[str] = Field(default_factory=list)
    min_markers: int = 2
    single: bool = False
    fill_kinds: list[str] | None = None

    @property
    def weak_kinds(self) -> list[str]:
        """Kinds that may take the role without evidence of their own (only or best candidate)."""
        return self.kinds if self.fill_kinds is None else self.fill_kinds


class AppNameRule(_Frozen):
    app: str                          # who made such names (微信, 手机相机, Office/WPS ...): role_evidence names it
    patterns: list[str]               # regular expressions matched at the start of a folded name


class ClassifyRules(_Frozen):
    attachment_numbers: dict[str, dict[int, str]]
    main_roles: dict[str, str]
    title_roles: dict[str, list[str]]
    head_lines: int
    head_chars: int
    marker_chars: int
    form_max_chars: int
    max_content_reads: int
    preferred_suffixes: list[str]
    title_similarity: float
    app_names: list[AppNameRule] = Field(default_factory=list)
    app_folders: list[str] = Field(default_factory=list)      # regular expressions matching a whole folded folder name


class OcrRules(_Frozen):
    max_members: int
    max_pages: int
    max_side: int
    max_pixels: int
    max_screened: int
    min_paper_share: float
    min_score: float
    name_hints: list[str]


class AuthorRules(_Frozen):
    max: dict[str, dict[str, int]]
    same_unit: dict[str, list[str]]


class VideoRules(_Frozen):
    containers: list[str]
    min_long_side: int
    min_short_side: int
    aspect: tuple[int, int]
    aspect_tolerance: float
    max_duration_s: dict[str, float]
    duration_tolerance_s: float
    probe_timeout_s: float
    max_decode_pixels: int


class QcRules(_Frozen):
    analysis_width: int
    black_min_s: float
    black_picture_ratio: float
    black_pixel_threshold: float
    freeze_min_s: float
    freeze_noise_db: float
    silence_min_s: float
    silence_noise_db: float
    shake_window_s: float
    shake_threshold: float
    shake_min_share: float
    timeout_factor: float
    crop_sample_fps: float
    crop_black_limit: float
    bars_max_area_share: float
    bars_min_time_share: float
    idet_frames: int
    idet_column_step: int = 1         # idet reads every k-th column of the first frames
    skip_loop_filter: bool = False    # the QC pass decodes without the deblocking filter
    shake_fps: float = 1000.0         # vidstabdetect sees about this many frames a second
    interlaced_min_share: float
    quiet_lufs: float
    clip_peak_dbfs: float
    clip_min_s: float
    window_threshold_s: float         # a longer video's picture is analysed in windows ...
    window_s: float                   # ... of about this length, which workers take in parallel


class UpscaleRules(_Frozen):
    min_height: int                  # only pictures at least this tall are checked (the 1080p claim)
    candidate_sizes: list[tuple[int, int]]   # (width, height) an editing app scales up from
    min_samples: int
    max_samples: int
    cpu_share: float                 # of the video's duration the estimate may spend
    frame_cost_s: float              # CPU per judged frame (measured by bench/bench_picture.py)
    min_frames: int                  # frames with detail needed before anything is said
    min_detail: float                # a frame whose coarsest round trip loses less (8-bit MSE) is too flat to judge
    knee_threshold: float            # vertical knee at the candidate: 1 native, >1.5 upscaled
    cross_threshold: float           # the horizontal knee at the matching width must agree
    stripe_threshold: float          # a stripe's own knee that counts as showing it ...
    min_stripe_share: float          # ... in at least this share of the frame's stripes with detail
    firm_score: float                # the agreeing frames' median knee a warning needs
    min_agreeing_share: float
    timeout_s: float


class SubtitleRules(_Frozen):
    roles: list[str]
    sample_every_s: float
    max_samples: int
    min_text_share: float
    min_distinct_lines: int
    band: float
    centre_tolerance: float          # a caption's centre lies within 0.5 +/- this of the width
    max_lines: int                   # caption lines read per sample (the lowest)
    page_min_lines: int              # this many other lines in the band: page text, not captions
    max_centre_spread: float         # captions' centres lie this close (share of the width)
    base_tolerance: float            # captions sit on one baseline: within this share of the band's height
    min_samples: int
    full_decode_max_s: float
    cpu_share: float
    base_s: float
    hard_cap_s: float


class DuplicationRules(_Frozen):
    roles: list[str]
    threshold: float
    run_length: int
    winnow_window: int
    top_sources: int
    base_texts: list[str]            # the notice's templates (paths resolved against the rules file by config.rules)
    base_gram: int
    base_gap: int
    base_min_line: int
    common_min_documents: int
    common_document_share: float
    max_holders: int
    max_candidates: int

    def settings(self) -> DuplicationSettings:
        return DuplicationSettings(run_length=self.run_length, window=self.winnow_window, threshold=self.threshold,
                                   top=self.top_sources, common_min_documents=self.common_min_documents,
                                   common_document_share=self.common_document_share, max_candidates=self.max_candidates,
                                   max_holders=self.max_holders)

    def base(self) -> BaseText:
        return load_base(tuple(self.base_texts), self.base_gram, self.base_gap, self.base_min_line)


class DocumentBounds(_Frozen):
    """How much of one document is read: past any bound the rest is left out and named."""

    max_pages: int                    # PDF pages whose text is extracted
    max_chars: int                    # characters kept of any document
    max_paragraphs: int               # .docx paragraphs (and table rows) read
    max_slides: int                   # .pptx slides read
    max_rows: int                     # spreadsheet rows read
    cpu_s: float                      # one document's extraction, whatever its format


class CostRules(_Frozen):
    """What one upload may cost (pipeline/cost.py): the budgets and the model that spends them."""

    verdict_cpu_s: float              # the whole verdict path of one submission
    previews_cpu_s: float             # its previews (renditions and thumbnails)
    documents_cpu_s: float            # of the verdict budget, kept for the documents
    video_cpu_per_s: float            # the verdict path per second of 1080p25 video (QC, sound, subtitle and upscale sampling)
    preview_cpu_per_s: float          # a 720p preview per second of 1080p25 source
    reference_pixels: int             # 1920*1080: costs scale with the frame's pixels ...
    reference_fps: float              # ... and its frame rate, from these
    role_video_weight: float          # a video holding a project role gets this share of the video budget ...
    other_video_weight: float         # ... against this for each other analysed video
    over_limit_margin: float          # a video over its role's limit is analysed to the limit plus this share ...
    rest_samples: int                 # ... and this many windows of the rest
    rest_sample_s: float
    documents: DocumentBounds


class ReuseRules(_Frozen):
    """The same footage, sound or photos in two submissions (pipeline/reuse.py)."""

    min_quality: int                 # PDQ quality under this: a flat frame, never compared
    max_distance: int                # bits between two frames of one picture (re-encoded, resized, padded)
    index_distance: int              # a frame this close to the last indexed one is not indexed again
    distinct_distance: int           # a matched frame this far from the last new one shows something new
    min_distinct: int                # ... and a stretch needs this many (a still slide template is one)
    min_stretch_s: float             # a match is a stretch this long, never a frame
    min_matched_share: float         # of the stretch's sampled frames that agree
    max_gap_s: float
    sound_max_bits: int              # Chromaprint items this close agree
    sound_min_share: float           # a one-second window agrees when this share of its items do
    sound_min_windows_share: float   # ... and a sound stretch needs this share of its seconds agreeing
    common_min_submissions: int      # a frame this many other submissions share is common (a bumper, opening screens)
    max_candidates: int
    min_shared_keys: int             # index keys a candidate shares with the query before the exact check
    max_holders: int
    topic_min_share: float           # the same author's footage covering this share of both videos, in another project: same topic
    fpcalc_timeout_s: float
    pictures_per_archive: int        # photos and pictures inside documents fingerprinted per archive
    picture_min_side: int            # smaller pictures are icons and logos, not evidence
    picture_max_distance: int
    picture_timeout_s: float


class TopicRules(_Frozen):
    title_similarity: float


class QuotaRules(_Frozen):
    per_kind: dict[str, int]
    kind_labels: dict[str, str]
    development_zone_suffixes: list[str]
    city_school_districts: list[str]
    districts: dict[str, str] = Field(default_factory=dict)
    exempt_applicant_types: list[str]
    counted_statuses: list[str]

    def kind_of(self, district: str | None) -> str:
        """county, development_zone or city_school, from the explicit table, then the name."""
        name = (district or "").strip()
        if name in self.districts:
            return self.districts[name]
        if any(name == d or name.startswith(d) for d in self.city_school_districts):
            return "city_school"
        if any(name.endswith(suffix) for suffix in self.development_zone_suffixes):
            return "development_zone"
        return "county"


class AwardRules(_Frozen):
    first: float
    second: float
    third: float
    rounding: Literal["floor", "round", "ceil"]


class Rules(_Frozen):
    rules_version: str
    activity: str
    deadlines: Deadlines
    archive: ArchiveRules
    kinds: dict[str, list[str]]
    roles: list[RoleRule]
    classify: ClassifyRules
    ocr: OcrRules
    required_materials: dict[str, dict[str, list[str]]]
    applicant_types: dict[str, list[str]]
    authors: AuthorRules
    video: VideoRules
    qc: QcRules
    upscale: UpscaleRules
    subtitles: SubtitleRules
    duplication: DuplicationRules
    cost: CostRules
    reuse: ReuseRules
    topics: TopicRules
    project_labels: dict[str, str]
    applicant_type_labels: dict[str, str]
    quotas: QuotaRules
    awards: AwardRules
    digest: str = Field(default="", description="sha256 of the file, for audit")

    def role_label(self, role: str | None) -> str:
        for rule in self.roles:
            if rule.role == role:
                return rule.label
        return role or "未识别"

    def role_rule(self, role: str) -> RoleRule | None:
        return next((rule for rule in self.roles if rule.role == role), None)

    def kind_of(self, name: str) -> str:
        lowered = name.lower()
        for kind, extensions in self.kinds.items():
            if any(lowered.endswith(ext) for ext in extensions):
                return kind
        return "other"

    def required_roles(self, project: str, applicant_type: str) -> list[str]:
        return self.required_materials.get(project, {}).get(applicant_type, [])
