"""The `smartedu` command."""

from __future__ import annotations

import contextlib
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
from pipeline.sheet import STATUS_LABELS

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Checks submissions of the smart-education platform activity.")
err = Console(stderr=True)

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


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
    skip_media: bool = typer.Option(False, "--skip-media", help="no renditions or thumbnails: the rules only"),
) -> None:
    """Run the whole pipeline on one archive in this process (no Redis, no object store)."""
    from pipeline.errors import EventError
    from pipeline.models import UploadEvent, parse_event
    from pipeline.embedded import check_submission

    configure_logging(get_settings().log_level or "WARNING")
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
    with err.status("开始检查…", spinner="dots") if show_progress else contextlib.nullcontext() as status:
        def progress(stage: str, text: str) -> None:
            if status is not None:
                status.update(f"[bold]{stage}[/bold] {text}")

        verdict = check_submission(upload, archive, out_dir, rules, main_work=main_work, progress=progress, media=not skip_media,
                                   state_dir=state)
    if as_json:
        sys.stdout.write(verdict.model_dump_json(indent=2) + "\n")
    else:
        _print_summary(verdict, out_dir)
    raise typer.Exit(exit_code(verdict.status))


def _print_summary(verdict, out_dir: Path) -> None:
    console = Console()
    colour = {"pass": "green", "warn": "yellow", "fail": "red", "error": "magenta"}[verdict.status]
    console.print(f"[bold]{verdict.submission_id}[/bold] ({verdict.project}): [{colour}]{verdict.status} · {STATUS_LABELS[verdict.status]}[/{colour}]")
    for finding in verdict.findings:
        console.print(f"  {finding.severity:<4} {finding.code:<28} {finding.message}", markup=False, highlight=False)
    console.print(f"  materials: {len(verdict.materials)}  videos: {len(verdict.videos)}  documents: {len(verdict.documents)}")
    if verdict.error:
        console.print(f"  error in {verdict.error.get('stage')}: {verdict.error.get('reason')}", markup=False)
    console.print(f"  verdict: {out_dir / 'verdict.json'}")
    if (out_dir / "report.html").is_file():
        console.print(f"  report:  {out_dir / 'report.html'}")


@app.command()
def report(
    output: Path = typer.Option(..., "--output", help="the sheet to write (.xlsx or .csv)"),
    fmt: str = typer.Option("xlsx", "--format", help="xlsx | csv"),
    out: Optional[Path] = typer.Option(None, "--out", help="verdicts under this folder (embedded mode); default: the bucket"),
    district: Optional[str] = typer.Option(None, "--district"),
    project: Optional[str] = typer.Option(None, "--project", help="case | lesson | team"),
    status_filter: Optional[str] = typer.Option(None, "--status", help="pass | warn | fail | error"),
) -> None:
    """The reviewers' sheet: one row per submission, quotas per district and award counts."""
    from pipeline import sheet

    if fmt not in ("xlsx", "csv"):
        raise _usage_error("--format must be xlsx or csv")
    if project is not None and project not in ("case", "lesson", "team"):
        raise _usage_error("--project must be case, lesson or team")
    if status_filter is not None and status_filter not in ("pass", "warn", "fail", "error"):
        raise _usage_error("--status must be pass, warn, fail or error")
    rules = _rules()
    output.parent.mkdir(parents=True, exist_ok=True)
    if out is not None:
        if not out.is_dir():
            raise _usage_error(f"no such folder: {out}")
        found = list(sheet.verdicts_under(out))
        pages = {v["submission_id"]: folder / "report.html" for v, folder in found}
        verdicts = sheet.latest_verdicts(v for v, _ in found)

        def link(sid: str) -> str:
            page = pages.get(sid)
            return os.path.relpath(page, output.resolve().parent) if page and page.is_file() else ""
    else:
        verdicts, link = _bucket_verdicts()
    rows = [sheet.entry_row(v, link(v["submission_id"])) for v in verdicts]
    rows = sheet.filter_rows(rows, district=district, project=project, status=status_filter)
    quotas, awards = sheet.quota_rows(rows, rules), sheet.award_rows(rows, rules)
    if fmt == "csv":
        sheet.write_csv(output, rows, rules)
    else:
        sheet.write_xlsx(output, rows, quotas, awards, rules)
    for line in sheet.summary_lines(rows, quotas, awards, rules):
        err.print(line, markup=False, highlight=False)
    err.print(f"written: {output}", markup=False, highlight=False)


def _bucket_verdicts():
    """The latest verdicts in the bucket, and links to their pages (SMARTEDU_REPORT_BASE_URL + key)."""
    from pipeline import sheet
    from pipeline.layout import Layout
    from pipeline.storage.s3 import S3Store

    settings = get_settings()
    store = S3Store.from_settings(settings)

    def read_one(key: str) -> dict | None:
        try:
            verdict = store.get_json(key)
        except ValueError:
            return None
        return verdict if isinstance(verdict, dict) and isinstance(verdict.get("submission_id"), str) else None

    def read_all():
        from concurrent.futures import ThreadPoolExecutor
        from itertools import islice

        keys = (k for k in store.list("verdicts/") if k.endswith(".json"))
        with ThreadPoolExecutor(max_workers=8) as pool:     # one GET each: latency-bound, not CPU
            yield from (v for v in pool.map(read_one, islice(keys, sheet.MAX_VERDICTS)) if v is not None)

    def link(sid: str) -> str:
        key = Layout(sid).report()
        return f"{settings.report_base_url.rstrip('/')}/{key}" if settings.report_base_url else key

    return sheet.latest_verdicts(read_all()), link


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


@app.command()
def worker(
    queues: Optional[list[str]] = typer.Option(None, "--queues", "-Q", help="queues to consume (default: all)"),
    processes: int = typer.Option(1, "--processes", "-p", help="worker processes"),
    threads: int = typer.Option(2, "--threads", "-t", help="threads per process"),
) -> None:
    """Run dramatiq workers for the pipeline's actors (one command runs a complete node)."""
    from config.policy import all_queues

    wanted = queues or all_queues()
    unknown = sorted(set(wanted) - set(all_queues()))
    if unknown:
        raise _usage_error(f"unknown queue(s): {', '.join(unknown)}; known: {', '.join(all_queues())}")
    settings = get_settings()
    os.environ.setdefault("dramatiq_prom_port", str(settings.metrics_port))
    # dramatiq's multiprocess metrics files: this node's own folder (dramatiq clears it on start)
    os.environ.setdefault("dramatiq_prom_db", str(settings.work_dir / "prometheus"))
    # A process holds at most one unacked message per queue and thread (dramatiq's default is
    # two): a held message waits for its process even when another one is idle.
    os.environ.setdefault("dramatiq_queue_prefetch", str(threads))
    if settings.ffmpeg_threads:
        # one process per core: OpenMP inside ffmpeg's filters (vidstab) and the OCR models
        # would otherwise take every core from each process
        os.environ.setdefault("OMP_NUM_THREADS", str(settings.ffmpeg_threads))
    argv = [sys.executable, "-m", "dramatiq", "workers.actors", "--processes", str(processes), "--threads", str(threads),
            "--queues", *wanted]
    os.execv(sys.executable, argv)


@app.command()
def ingest(
    claim_idle_s: float = typer.Option(60.0, "--claim-idle", help="claim back entries pending this long on a dead consumer"),
    reconcile: bool = typer.Option(True, "--reconcile/--no-reconcile", help="run the reconciler beside ingest"),
) -> None:
    """Read upload events from the stream smartedu:uploads and start their runs (and reconcile)."""
    import threading

    from workers.actors import build_reconciler, start_submission
    from workers.ingest import run_ingest
    from workers.reconcile import reconcile_forever

    settings = get_settings()
    stop = _stop_on_signals()
    if reconcile:
        threading.Thread(target=reconcile_forever, args=(build_reconciler(), stop, settings.reconcile_interval_s),
                         name="reconciler", daemon=True).start()
    if settings.ingest_http_port or settings.notify_list:
        _bucket_notifications(settings, stop)
    run_ingest(_redis(), start_submission, stop, claim_idle_ms=int(claim_idle_s * 1000))


def _bucket_notifications(settings, stop) -> None:
    """The HTTP endpoint (notifications in, status out), MinIO's Redis list, and the pairing sweep."""
    import threading

    from pipeline.storage.s3 import S3Store
    from workers.http_api import IngestAPI, serve
    from workers.ingest import consumer_name
    from workers.notifications import BucketIntake, consume_list, sweep_forever
    from workers.ops import submission_status
    from workers.redis_conn import confirm_replicated

    client, store = _redis(), S3Store.from_settings(settings)
    intake = BucketIntake(client, S3Store.from_settings(settings, bucket=settings.uploads_bucket), settings.uploads_bucket,
                          pairing_timeout_s=settings.pairing_timeout_s, rescan_every_s=settings.notify_rescan_s,
                          confirm=lambda what: confirm_replicated(client, settings, what))
    if settings.ingest_http_port:
        api = IngestAPI(intake, lambda sid: submission_status(client, store, sid),
                        notify_secret=settings.notify_secret.get_secret_value(), status_token=settings.status_token.get_secret_value())
        serve(api, settings.ingest_http_host, settings.ingest_http_port, stop)
    if settings.notify_list:
        threading.Thread(target=consume_list, args=(client, intake, settings.notify_list, consumer_name(), stop),
                         name="notify-list", daemon=True).start()
    threading.Thread(target=sweep_forever, args=(intake, stop, min(15.0, max(1.0, settings.pairing_timeout_s / 4))),
                     name="pairing-sweep", daemon=True).start()


@app.command()
def exporter(port: int = typer.Option(9292, "--port", help="where Prometheus scrapes the deployment's numbers")) -> None:
    """Export queue depth and age, dead letters, workers alive, verdicts and latency (one per deployment)."""
    from config.policy import all_queues
    from workers.exporter import serve

    settings = get_settings()
    configure_logging(settings.log_level or "INFO", json=True)
    serve(_redis(), all_queues(), settings.heartbeat_ms, port, _stop_on_signals())


@app.command("reconcile")
def reconcile_cmd(once: bool = typer.Option(False, "--once", help="one pass, print what it did, exit")) -> None:
    """Find runs whose messages were lost and re-send them (safe to run beside another reconciler)."""
    from workers.actors import build_reconciler
    from workers.reconcile import reconcile_forever

    reconciler = build_reconciler()
    if once:
        report = reconciler.run_pass()
        typer.echo(json.dumps(report.__dict__ if report else {"skipped": "another reconciler holds the lock"}, ensure_ascii=False))
        return
    reconcile_forever(reconciler, _stop_on_signals(), get_settings().reconcile_interval_s)


def _stop_on_signals():
    import signal
    import threading

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


@app.command()
def submit(event: Path = typer.Argument(..., help="the upload event JSON")) -> None:
    """Validate an upload event and enqueue it, as ingest does; prints the run id."""
    from pipeline.errors import EventError
    from pipeline.models import parse_event

    try:
        upload = parse_event(event.read_bytes())
    except (OSError, EventError) as exc:
        raise _usage_error(str(exc)) from exc
    from workers.actors import start_submission

    try:
        run_id = start_submission(upload)
    except EventError as exc:
        raise _usage_error(str(exc)) from exc
    typer.echo(json.dumps({"submission_id": upload.submission_id, "run_id": run_id}))


def _redis():
    from workers.redis_conn import connect

    return connect(get_settings())


@app.command()
def status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Queues (ready, delayed, in flight, dead), workers alive, submissions in flight, stage p50/p95."""
    from config.policy import all_queues
    from workers.ops import status as read_status

    data = read_status(_redis(), all_queues())
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    console = Console()
    console.print(f"workers alive: {data['workers_alive']}   in progress: {data['in_progress']}"
                  f" (oldest {data['oldest_in_progress_s']} s)   failed: {data['failed']}")
    console.print(f"{'queue':12} {'ready':>7} {'delayed':>8} {'in flight':>10} {'dead':>6}")
    for row in data["queues"]:
        console.print(f"{row['queue']:12} {row['ready']:7} {row['delayed']:8} {row['in_flight']:10} {row['dead']:6}")
    console.print(f"{'stage (1 h)':12} {'count':>7} {'p50 s':>8} {'p95 s':>10}")
    for stage, row in data["stages_last_hour"].items():
        console.print(f"{stage:12} {row['count']:7} {row['p50']:8.2f} {row['p95']:10.2f}")
    rec = data["reconciler"]
    console.print(f"reconciler: last pass {rec['last_pass_s_ago']} s ago, watching {rec['watching']} idle runs, "
                  + (", ".join(f"{k} {v}" for k, v in sorted(rec["counters"].items()) if k != "passes") or "nothing done"))
    waiting = data["uploads_waiting"]
    console.print(f"bucket uploads: {waiting['manifests']} manifests waiting for their zip, "
                  f"{waiting['unpaired']} uploads waiting for a manifest")
    for action in rec["recent_actions"]:
        console.print(f"  {action.get('action')}: {action.get('submission_id')} {action.get('part')} ({action.get('reason')})")


@app.command()
def rerun(
    submission_ids: Optional[list[str]] = typer.Argument(None),
    failed: bool = typer.Option(False, "--failed", help="every submission whose last verdict was `error`"),
    since: Optional[str] = typer.Option(None, "--since", help="with --failed: ISO time, e.g. 2023-07-24T00:00:00+08:00"),
) -> None:
    """Start a new run of submissions from their stored events (the new verdict replaces the old)."""
    from datetime import datetime

    from workers.ops import failed_since

    ids = list(submission_ids or [])
    if failed:
        since_ts = datetime.fromisoformat(since).timestamp() if since else 0.0
        ids += failed_since(_redis(), since_ts)
    if not ids:
        raise _usage_error("name submission ids or use --failed")
    from pipeline.layout import Layout
    from pipeline.models import parse_event
    from workers.actors import flow, start_submission

    for sid in dict.fromkeys(ids):
        run = flow.state.current_run(sid)
        layout = Layout(sid)
        data = flow.store.get_json(layout.event(run)) if run else None
        if data is None:      # the run state expired: any stored event of the submission
            keys = sorted(flow.store.list(layout.events_prefix()))
            data = flow.store.get_json(keys[-1]) if keys else None
        if data is None:
            err.print(f"{sid}: no stored event, skipped")
            continue
        typer.echo(json.dumps({"submission_id": sid, "run_id": start_submission(parse_event(data))}))


@app.command("dead-letters")
def dead_letters_cmd(action: str = typer.Argument("list", help="list | requeue")) -> None:
    """List dead-lettered messages, or put them back on their queues."""
    from config.policy import all_queues
    from workers.ops import dead_letters, requeue_dead_letters

    if action == "list":
        for row in dead_letters(_redis(), all_queues()):
            typer.echo(json.dumps({k: v for k, v in row.items() if k != "raw"}, ensure_ascii=False))
    elif action == "requeue":
        from workers.actors import broker

        typer.echo(f"requeued {requeue_dead_letters(_redis(), broker, all_queues())}")
    else:
        raise _usage_error("action must be list or requeue")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
