"""The `smartedu` command."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from config.logging import configure_logging
from config.rules import load_rules
from config.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Checks submissions of the smart-education platform activity.")
err = Console(stderr=True)

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
STATUS_ZH = {"pass": "通过", "warn": "通过（有提醒）", "fail": "不通过", "error": "处理出错"}


def exit_code(status: str) -> int:
    return {"pass": EXIT_OK, "warn": EXIT_OK, "fail": EXIT_FAIL}.get(status, EXIT_ERROR)


def _usage_error(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(EXIT_ERROR)


def _rules():
    try:
        return load_rules(get_settings().rules)
    except (OSError, ValueError) as exc:
        raise _usage_error(f"cannot load rules file: {exc}") from exc


@app.command()
def check(
    archive: Path = typer.Argument(..., help="the submission's zip"),
    event: Optional[Path] = typer.Option(None, "--event", help="the upload event JSON"),
    project: Optional[str] = typer.Option(None, "--project", help="case | lesson | team (without --event)"),
    main_work: Optional[Path] = typer.Option(None, "--main-work", help="the separately uploaded main work"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default ./out/<submission_id>/)"),
    state: Path = typer.Option(Path("out/.state"), "--state", help="what outlives one submission"),
    as_json: bool = typer.Option(False, "--json", help="print the verdict JSON alone on stdout"),
) -> None:
    """Run the whole pipeline on one archive in this process (no Redis, no object store)."""
    from pipeline.errors import EventError
    from pipeline.models import UploadEvent, parse_event
    from pipeline.submission import check_submission

    configure_logging(os.environ.get("SMARTEDU_LOG_LEVEL", "WARNING"))
    if not archive.is_file():
        raise _usage_error(f"no such archive: {archive}")
    if main_work is not None and not main_work.is_file():
        raise _usage_error(f"no such main work file: {main_work}")
    if event is not None:
        try:
            upload = parse_event(event.read_bytes())
        except (OSError, EventError) as exc:
            raise _usage_error(str(exc)) from exc
        if project and project != upload.project:
            raise _usage_error(f"--project {project} contradicts the event's project {upload.project}")
    else:
        if project not in ("case", "lesson", "team"):
            raise _usage_error("without --event, --project must be case, lesson or team")
        sid = re.sub(r"[^A-Za-z0-9._-]", "-", archive.stem)[:64].strip(".") or "submission"
        upload = UploadEvent(submission_id=sid, project=project, archive={"bucket": "local", "key": archive.name})
    rules = _rules()
    out_dir = out or Path("out") / upload.submission_id
    state.mkdir(parents=True, exist_ok=True)
    show_progress = not as_json and err.is_terminal
    with err.status("开始检查…", spinner="dots") if show_progress else _nullcontext() as status:
        def progress(stage: str, text: str) -> None:
            if status is not None:
                status.update(f"[bold]{stage}[/bold] {text}")

        verdict = check_submission(upload, archive, out_dir, rules, main_work=main_work, progress=progress)
    if as_json:
        sys.stdout.write(verdict.model_dump_json(indent=2) + "\n")
    else:
        _print_summary(verdict, out_dir)
    raise typer.Exit(exit_code(verdict.status))


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _print_summary(verdict, out_dir: Path) -> None:
    console = Console()
    colour = {"pass": "green", "warn": "yellow", "fail": "red", "error": "magenta"}[verdict.status]
    console.print(f"[bold]{verdict.submission_id}[/bold] ({verdict.project}): [{colour}]{verdict.status} · {STATUS_ZH[verdict.status]}[/{colour}]")
    for finding in verdict.findings:
        console.print(f"  {finding.severity:<4} {finding.code:<28} {finding.message}", markup=False, highlight=False)
    console.print(f"  materials: {len(verdict.materials)}  videos: {len(verdict.videos)}  documents: {len(verdict.documents)}")
    if verdict.error:
        console.print(f"  error in {verdict.error.get('stage')}: {verdict.error.get('reason')}", markup=False)
    console.print(f"  verdict: {out_dir / 'verdict.json'}")


@app.command()
def sample(
    output: Path = typer.Argument(..., help="the zip to write"),
    project: str = typer.Option("case", "--project", help="case | lesson | team"),
    applicant_type: Optional[str] = typer.Option(None, "--applicant-type", help="teacher | school | district | team"),
    event: Optional[Path] = typer.Option(None, "--event", help="also write the matching upload event here"),
    submission_id: Optional[str] = typer.Option(None, "--submission-id"),
) -> None:
    """Make a conformant sample submission (1080p H.264/AAC video, .docx and .pptx documents)."""
    from pipeline.sample import SampleSpec, build_sample

    if project not in ("case", "lesson", "team"):
        raise _usage_error("--project must be case, lesson or team")
    allowed = _rules().applicant_types.get(project, [])
    if applicant_type is not None and applicant_type not in allowed:
        raise _usage_error(f"--applicant-type for {project} must be one of {', '.join(allowed)}")
    spec = SampleSpec(project=project, applicant_type=applicant_type, submission_id=submission_id)
    built = build_sample(output, spec, event)
    err.print(f"sample {built['submission_id']} ({project}) written to {output}" + (f", event to {event}" if event else ""))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
