"""The contract's finding codes: severity and the one Chinese sentence a teacher reads."""

from __future__ import annotations

import string
from typing import Any

from .models import Finding

# code -> (severity, message template). Templates name the file ({file}) and the measured
# value; they are formatted with the finding's detail.
CATALOG: dict[str, tuple[str, str]] = {
    "ARCHIVE_TOO_LARGE": ("fail", "压缩包{file}大小为{size_mb:.1f}MB，超过{limit_mb:.0f}MB的上限，请压缩或删减素材后重新上传。"),
    "ARCHIVE_UNREADABLE": ("fail", "压缩包{file}无法读取（{reason}），请用标准zip格式重新压缩后上传。"),
    "ARCHIVE_ENCRYPTED": ("fail", "压缩包中的{file}设置了密码，请去掉密码后重新压缩上传。"),
    "ARCHIVE_UNSAFE_PATH": ("fail", "压缩包中的{file}路径不安全（{reason}），该文件未被解压，请按普通文件夹重新压缩。"),
    "ARCHIVE_BOMB": ("fail", "压缩包{file}异常（{reason}），已停止解压，请检查后重新压缩上传。"),
    "ARCHIVE_EMPTY": ("fail", "压缩包{file}中没有可用的文件，请放入报名表和作品材料后重新上传。"),
    "ARCHIVE_NESTED": ("info", "压缩包中的{file}是内层压缩包，已解压其中的{members}个文件。"),
    "ARCHIVE_UNSUPPORTED_INNER": ("warn", "压缩包中的{file}是{format}格式的内层压缩包，未能解压，请将其中文件直接放入zip压缩包。"),
    "ARCHIVE_NAME_ENCODING": ("info", "压缩包中的文件名按{encoding}编码识别，例如{file}。"),
    "MATERIAL_MISSING": ("fail", "压缩包{file}中缺少{label}，本项目要求提交该材料。"),
    "ANALYSIS_LIMITED": ("info", "{scope_text}{file}{limited_text}。"),
    "MATERIAL_UNRECOGNIZED": ("info", "未能从文件名、文件夹或内容识别{file}属于哪类材料，已按相关素材处理。"),
    "ROLE_INFERRED": ("info", "{file}被推定为{label}（依据：{reason}），请审核时核对。"),
    "MAIN_WORK_MISMATCH": ("warn", "单独上传的主作品{file}{reason}，请确认两处上传的是同一文件。"),
    "REGISTRATION_FORM_UNPARSED": ("warn", "报名表{file}中的栏目未能读取（{reason}），请使用附件2的模板填写。"),
    "REGISTRATION_FORM_MISMATCH": ("warn", "报名表{file}中的{label}为“{form_value}”，与上传信息“{event_value}”不一致，请核对。"),
    "AUTHORS_TOO_MANY": ("fail", "作者共{count}人，超过本项目{limit}人的上限（{source}）。"),
    "AUTHORS_DIFFERENT_UNITS": ("fail", "教师案例的作者须来自同一单位，现为{count}个单位：{units_text}。"),
    "SUBMITTED_AFTER_DEADLINE": ("fail", "作品上传时间为{uploaded_at_text}，晚于截止时间{deadline_text}。"),
    "VIDEO_UNREADABLE": ("fail", "视频{file}无法读取（{reason}），请重新导出MP4文件。"),
    "VIDEO_NOT_MP4": ("fail", "视频{file}的实际格式是{container}，不是要求的MP4格式，请转换为MP4后重新上传。"),
    "VIDEO_RESOLUTION_LOW": ("fail", "视频{file}的分辨率为{display_width}x{display_height}，低于要求的{required_text}。"),
    "VIDEO_ASPECT_NOT_16_9": ("fail", "视频{file}的画面比例为{aspect_text}（{display_width}x{display_height}），不是要求的16:9。"),
    "VIDEO_TOO_LONG": ("fail", "视频{file}时长为{duration_text}，超过{label}{limit_text}的上限。"),
    "VIDEO_NO_AUDIO": ("warn", "视频{file}没有声音轨道，请确认导出时包含音频。"),
    "VIDEO_SHAKY": ("warn", "视频{file}画面抖动明显（抖动时段占{share_pct:.0f}%），通知要求图像稳定，建议使用三脚架或防抖后重新导出。"),
    "VIDEO_BLACK_SEGMENTS": ("warn", "视频{file}有{count}段黑屏，共{total_s:.1f}秒，首段在{first_text}。"),
    "VIDEO_FROZEN_SEGMENTS": ("warn", "视频{file}有{count}段画面静止，共{total_s:.1f}秒，首段在{first_text}。"),
    "AUDIO_SILENT_SEGMENTS": ("warn", "视频{file}有{count}段无声，共{total_s:.1f}秒，首段在{first_text}。"),
    "VIDEO_BLACK_BARS": ("warn", "视频{file}的有效画面只占画面的{area_pct:.0f}%（{aspect_text}画面{sides}加黑边，{time_pct:.0f}%的时间如此），通知要求16:9画面，请按16:9拍摄或裁切后重新导出。"),
    "VIDEO_UPSCALED": ("warn", "视频{file}标称{width}x{height}，但画面细节只相当于约{native_width}x{native_height}（{share_pct:.0f}%的抽样画面一致），疑似由低分辨率放大而来，通知要求1080p拍摄。"),
    "VIDEO_INTERLACED": ("warn", "视频{file}{evidence_text}，通知要求1080p逐行视频，预览已去隔行，建议导出时选择逐行。"),
    "AUDIO_TOO_QUIET": ("warn", "视频{file}的整体响度为{lufs:.1f} LUFS，低于{limit_lufs:.0f} LUFS，讲话声音偏小，请提高音量后重新导出（建议约-16至-23 LUFS）。"),
    "AUDIO_CLIPPED": ("warn", "视频{file}的声音有{count}处削波失真，共{total_s:.1f}秒，首处在{first_text}，请降低录音音量后重新录制或导出。"),
    "SUBTITLES_ABSENT": ("warn", "视频{file}未检测到字幕（无字幕轨、无同名字幕文件，画面下方{checked_text}），通知建议关键事件配有字幕。"),
    "DOCUMENT_UNREADABLE": ("warn", "文档{file}无法提取文字（{reason}）。"),
    "DUPLICATION_HIGH": ("fail", "案例介绍{file}的重复率为{rate_pct:.1f}%，须低于{limit_pct:.0f}%。"),
    "TOPIC_IN_MULTIPLE_PROJECTS": ("fail", "作者{author}的同一课题《{title}》已在{other_project}项目中提交（{other_submission}），同一课题不得重复参加。"),
}


# What the notice asks, per code: the line a teacher reads under each finding in report.html.
NOTICE: dict[str, str] = {
    **dict.fromkeys(["ARCHIVE_TOO_LARGE", "ARCHIVE_UNREADABLE", "ARCHIVE_ENCRYPTED", "ARCHIVE_UNSAFE_PATH", "ARCHIVE_BOMB",
                     "ARCHIVE_EMPTY", "ARCHIVE_NESTED", "ARCHIVE_UNSUPPORTED_INNER", "ARCHIVE_NAME_ENCODING"],
                    "以zip压缩包附件形式提交，附件大小不超过700MB。"),
    **dict.fromkeys(["MATERIAL_MISSING", "MATERIAL_UNRECOGNIZED", "ROLE_INFERRED", "ANALYSIS_LIMITED", "REGISTRATION_FORM_UNPARSED", "REGISTRATION_FORM_MISMATCH",
                     "DOCUMENT_UNREADABLE"], "按通知“报送要求”提交报名表及各项目要求的材料。"),
    "MAIN_WORK_MISMATCH": "主作品需单独上传到市教育云平台活动专区，余下材料打包上传。",
    **dict.fromkeys(["AUTHORS_TOO_MANY", "AUTHORS_DIFFERENT_UNITS"],
                    "教师案例作者不超过2人（须来自同一单位）；课例作者限报1人；团队成员限报6人。"),
    "SUBMITTED_AFTER_DEADLINE": "作品上传7月25日前完成。",
    **dict.fromkeys(["VIDEO_UNREADABLE", "VIDEO_NOT_MP4", "VIDEO_RESOLUTION_LOW", "VIDEO_ASPECT_NOT_16_9", "VIDEO_BLACK_BARS",
                     "VIDEO_UPSCALED", "VIDEO_INTERLACED"],
                    "视频类材料采用MP4格式，画面比例为16：9，分辨率不低于1080p（1920*1080）。"),
    "VIDEO_TOO_LONG": "案例介绍视频时长不超过6分钟，课堂教学实录时长不超过45分钟。",
    **dict.fromkeys(["VIDEO_NO_AUDIO", "VIDEO_SHAKY", "VIDEO_BLACK_SEGMENTS", "VIDEO_FROZEN_SEGMENTS", "AUDIO_SILENT_SEGMENTS",
                     "AUDIO_TOO_QUIET", "AUDIO_CLIPPED"],
                    "要求图像稳定、构图合理，声音清晰。"),
    "SUBTITLES_ABSENT": "建议关键事件配有字幕。",
    "DUPLICATION_HIGH": "案例介绍重复率须低于30%。",
    "TOPIC_IN_MULTIPLE_PROJECTS": "同一课题不得重复参加案例评选。",
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
    default_severity, template = CATALOG[code]
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
