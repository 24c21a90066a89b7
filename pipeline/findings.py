"""The contract's finding codes: severity and the one Chinese sentence a teacher reads."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .models import Finding

if TYPE_CHECKING:
    from .ruleset import Rules

# What the notice says, by the rule a code checks: templates over the rules file's limits, so
# that a rules file for another year shows its own figures (see `notice_for`).
NOTICE_WORDS: dict[str, str] = {
    "archive": "以zip压缩包附件形式提交，附件大小不超过{archive_mb}MB。",
    "materials": "按通知“报送要求”提交报名表及各项目要求的材料。",
    "main_work": "主作品需单独上传到市教育云平台活动专区，余下材料打包上传。",
    "authors": "教师案例作者不超过{case_authors}人（须来自同一单位）；课例作者限报{lesson_authors}人；团队成员限报{team_authors}人。",
    "deadline": "作品上传{upload_deadline}前完成。",
    "video": "视频类材料采用MP4格式，画面比例为{aspect}，分辨率不低于{min_short}p（{min_long}*{min_short}）。",
    "duration": "案例介绍视频时长不超过{case_video_min}分钟，课堂教学实录时长不超过{lesson_video_min}分钟。",
    "picture": "要求图像稳定、构图合理，声音清晰。",
    "subtitles": "建议关键事件配有字幕。",
    "duplication": "案例介绍重复率须低于{duplication_pct}%。",
    "topic": "同一课题不得重复参加案例评选。",
    "fraud": "有弄虚作假行为的，取消活动参与资格；相似主题不参加多个项目的评选。",
}



@dataclass(frozen=True)
class FindingKind:
    """One code of the contract: its severity, the sentence a teacher reads (a template over the
    finding's detail: {file} and the measured values), and which words of the notice it applies."""

    severity: str
    message: str
    notice: str        # a key of NOTICE_WORDS


# Every finding code, one line each.
FINDINGS: dict[str, FindingKind] = {
    "ARCHIVE_TOO_LARGE": FindingKind("fail", "压缩包{file}大小为{size_mb:.1f}MB，超过{limit_mb:.0f}MB的上限，请压缩或删减素材后重新上传。",
                             "archive"),
    "ARCHIVE_UNREADABLE": FindingKind("fail", "压缩包{file}无法读取（{reason}），请用标准zip格式重新压缩后上传。",
                             "archive"),
    "ARCHIVE_ENCRYPTED": FindingKind("fail", "压缩包中的{file}设置了密码，请去掉密码后重新压缩上传。",
                             "archive"),
    "ARCHIVE_UNSAFE_PATH": FindingKind("fail", "压缩包中的{file}路径不安全（{reason}），该文件未被解压，请按普通文件夹重新压缩。",
                             "archive"),
    "ARCHIVE_BOMB": FindingKind("fail", "压缩包{file}异常（{reason}），已停止解压，请检查后重新压缩上传。",
                             "archive"),
    "ARCHIVE_EMPTY": FindingKind("fail", "压缩包{file}中没有可用的文件，请放入报名表和作品材料后重新上传。",
                             "archive"),
    "ARCHIVE_NESTED": FindingKind("info", "压缩包中的{file}是内层压缩包，已解压其中的{members}个文件。",
                             "archive"),
    "ARCHIVE_UNSUPPORTED_INNER": FindingKind("warn", "压缩包中的{file}是{format}格式的内层压缩包，未能解压，请将其中文件直接放入zip压缩包。",
                             "archive"),
    "ARCHIVE_NAME_ENCODING": FindingKind("info", "压缩包中的文件名按{encoding}编码识别，例如{file}。",
                             "archive"),
    "MATERIAL_MISSING": FindingKind("fail", "压缩包{file}中缺少{label}，本项目要求提交该材料。",
                             "materials"),
    "ANALYSIS_LIMITED": FindingKind("info", "{scope_text}{file}{limited_text}。",
                             "materials"),
    "MATERIAL_UNRECOGNIZED": FindingKind("info", "未能从文件名、文件夹或内容识别{file}属于哪类材料，已按相关素材处理。",
                             "materials"),
    "ROLE_INFERRED": FindingKind("info", "{file}被推定为{label}（依据：{reason}），请审核时核对。",
                             "materials"),
    "MAIN_WORK_MISMATCH": FindingKind("warn", "单独上传的主作品{file}{reason}，请确认两处上传的是同一文件。",
                             "main_work"),
    "REGISTRATION_FORM_UNPARSED": FindingKind("warn", "报名表{file}中的栏目未能读取（{reason}），请使用附件2的模板填写。",
                             "materials"),
    "REGISTRATION_FORM_MISMATCH": FindingKind("warn", "报名表{file}中的{label}为“{form_value}”，与上传信息“{event_value}”不一致，请核对。",
                             "materials"),
    "AUTHORS_TOO_MANY": FindingKind("fail", "作者共{count}人，超过本项目{limit}人的上限（{source}）。",
                             "authors"),
    "AUTHORS_DIFFERENT_UNITS": FindingKind("fail", "教师案例的作者须来自同一单位，现为{count}个单位：{units_text}。",
                             "authors"),
    "SUBMITTED_AFTER_DEADLINE": FindingKind("fail", "作品上传时间为{uploaded_at_text}，晚于截止时间{deadline_text}。",
                             "deadline"),
    "VIDEO_UNREADABLE": FindingKind("fail", "视频{file}无法读取（{reason}），请重新导出MP4文件。",
                             "video"),
    "VIDEO_NOT_MP4": FindingKind("fail", "视频{file}的实际格式是{container}，不是要求的MP4格式，请转换为MP4后重新上传。",
                             "video"),
    "VIDEO_RESOLUTION_LOW": FindingKind("fail", "视频{file}的分辨率为{display_width}x{display_height}，低于要求的{required_text}。",
                             "video"),
    "VIDEO_ASPECT_NOT_16_9": FindingKind("fail", "视频{file}的画面比例为{aspect_text}（{display_width}x{display_height}），不是要求的16:9。",
                             "video"),
    "VIDEO_TOO_LONG": FindingKind("fail", "视频{file}时长为{duration_text}，超过{label}{limit_text}的上限。",
                             "duration"),
    "VIDEO_NO_AUDIO": FindingKind("warn", "视频{file}没有声音轨道，请确认导出时包含音频。",
                             "picture"),
    "VIDEO_SHAKY": FindingKind("warn", "视频{file}画面抖动明显（抖动时段占{share_pct:.0f}%），通知要求图像稳定，建议使用三脚架或防抖后重新导出。",
                             "picture"),
    "VIDEO_BLACK_SEGMENTS": FindingKind("warn", "视频{file}有{count}段黑屏，共{total_s:.1f}秒，首段在{first_text}。",
                             "picture"),
    "VIDEO_FROZEN_SEGMENTS": FindingKind("warn", "视频{file}有{count}段画面静止，共{total_s:.1f}秒，首段在{first_text}。",
                             "picture"),
    "AUDIO_SILENT_SEGMENTS": FindingKind("warn", "视频{file}有{count}段无声，共{total_s:.1f}秒，首段在{first_text}。",
                             "picture"),
    "VIDEO_BLACK_BARS": FindingKind("warn", "视频{file}的有效画面只占画面的{area_pct:.0f}%（{aspect_text}画面{sides}加黑边，{time_pct:.0f}%的时间如此），通知要求16:9画面，请按16:9拍摄或裁切后重新导出。",
                             "video"),
    "VIDEO_UPSCALED": FindingKind("warn", "视频{file}标称{width}x{height}，但画面细节只相当于约{native_width}x{native_height}（{share_pct:.0f}%的抽样画面一致），疑似由低分辨率放大而来，通知要求1080p拍摄。",
                             "video"),
    "VIDEO_INTERLACED": FindingKind("warn", "视频{file}{evidence_text}，通知要求1080p逐行视频，预览已去隔行，建议导出时选择逐行。",
                             "video"),
    "AUDIO_TOO_QUIET": FindingKind("warn", "视频{file}的整体响度为{lufs:.1f} LUFS，低于{limit_lufs:.0f} LUFS，讲话声音偏小，请提高音量后重新导出（建议约-16至-23 LUFS）。",
                             "picture"),
    "AUDIO_CLIPPED": FindingKind("warn", "视频{file}的声音有{count}处削波失真，共{total_s:.1f}秒，首处在{first_text}，请降低录音音量后重新录制或导出。",
                             "picture"),
    "SUBTITLES_ABSENT": FindingKind("warn", "视频{file}未检测到字幕（无字幕轨、无同名字幕文件，画面下方{checked_text}），通知建议关键事件配有字幕。",
                             "subtitles"),
    "DOCUMENT_UNREADABLE": FindingKind("warn", "文档{file}无法提取文字（{reason}）。",
                             "materials"),
    "DUPLICATION_HIGH": FindingKind("fail", "案例介绍{file}的重复率为{rate_pct:.1f}%，须低于{limit_pct:.0f}%。",
                             "duplication"),
    "TOPIC_IN_MULTIPLE_PROJECTS": FindingKind("fail", "作者{author}的{what_text}已在{other_project}项目中提交（{other_submission}），同一课题不得重复参加。",
                             "topic"),
    "VIDEO_REUSED": FindingKind("warn", "视频{file}的{ranges_text}（占{share_pct:.0f}%）与作品{other_submission}中“{other_path}”的{source_text}{what_text}相同，请审核是否使用了他人素材。",
                             "fraud"),
    "PICTURE_REUSED": FindingKind("info", "{file}{inside_text}{count_text}与作品{other_submission}中的图片“{other_path}”相同或高度相似，请审核是否使用了他人素材。",
                             "fraud"),
}


class _TolerantFormatter(string.Formatter):
    """A missing or ill-typed value prints as '?' instead of breaking the sentence."""

    def get_value(self, key, args, kwargs):
        return kwargs.get(key, "?") if isinstance(key, str) else super().get_value(key, args, kwargs)

    def format_field(self, value, format_spec):
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


_FORMATTER = _TolerantFormatter()


def make_finding(code: str, path: str | None = None, *, severity: str | None = None, **detail: Any) -> Finding:
    """Build a finding with the contract's severity and its Chinese sentence.

    Keys in `detail` that end in `_text` only feed the sentence and are not stored;
    `file_text` names the file when the finding has no member path (the archive itself).
    """
    kind = FINDINGS[code]
    default_severity, template = kind.severity, kind.message
    named = detail.get("file_text") or path
    message = _FORMATTER.vformat(template, (), {**detail, "file": f"“{named}”" if named else ""})
    stored = {k: v for k, v in detail.items() if not k.endswith("_text")}
    return Finding(code=code, severity=severity or default_severity, message=message, path=path, detail=stored)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "未知"
    seconds = max(0.0, seconds)
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}小时{minutes}分{rest:04.1f}秒"
    return f"{minutes}分{rest:04.1f}秒"


def notice_limits(rules: "Rules") -> dict[str, Any]:
    """The figures the notice's words name, from the rules file (a 2024 file shows its own)."""
    deadline = rules.deadlines.upload
    limits = rules.video.max_duration_s
    return {"archive_mb": round(rules.archive.max_bytes / 1024 / 1024), "upload_deadline": f"{deadline.month}月{deadline.day}日",
            "case_authors": rules.authors.max.get("case", {}).get("teacher", "?"),
            "lesson_authors": rules.authors.max.get("lesson", {}).get("teacher", "?"),
            "team_authors": rules.authors.max.get("team", {}).get("team", "?"),
            "aspect": f"{rules.video.aspect[0]}：{rules.video.aspect[1]}", "min_long": rules.video.min_long_side,
            "min_short": rules.video.min_short_side,
            "case_video_min": f"{limits.get('application_video', 0) / 60:g}", "lesson_video_min": f"{limits.get('classroom_recording', 0) / 60:g}",
            "duplication_pct": f"{rules.duplication.threshold * 100:g}"}


def notice_for(code: str, rules: "Rules") -> str:
    """The notice's words a finding applies, with the rules file's limits in them."""
    kind = FINDINGS.get(code)
    return _FORMATTER.vformat(NOTICE_WORDS[kind.notice], (), notice_limits(rules)) if kind else ""
