"""The flow's run state in one SQLite file: the same completion sets and once-only notices as
`RunState`, for running the flow without Redis (its unit tests, with dramatiq's StubBroker)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (sid TEXT PRIMARY KEY, run TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS progress (sid TEXT, run TEXT, field TEXT, value TEXT, PRIMARY KEY (sid, run, field));
CREATE TABLE IF NOT EXISTS members (sid TEXT, run TEXT, grp TEXT, side TEXT, name TEXT, PRIMARY KEY (sid, run, grp, side, name));
CREATE TABLE IF NOT EXISTS notices (seq INTEGER PRIMARY KEY AUTOINCREMENT, sid TEXT, run TEXT, kind TEXT, status TEXT,
                                    key TEXT, reason TEXT, UNIQUE (sid, run, kind));
CREATE TABLE IF NOT EXISTS inflight (sid TEXT, kind TEXT, at REAL, PRIMARY KEY (sid, kind));
CREATE TABLE IF NOT EXISTS timings (stage TEXT, seconds REAL, ok INTEGER);
"""
_MISSING = ("SELECT name FROM members WHERE sid = ? AND run = ? AND grp = ? AND side = 'expected' EXCEPT "
            "SELECT name FROM members WHERE sid = ? AND run = ? AND grp = ? AND side = 'done'")


class LocalRunState:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self.lock = threading.Lock()       # worker threads share the connection
        with self.lock, self.db:
            self.db.executescript(_SCHEMA)

    def _write(self, sql: str, *args) -> int:
        with self.lock, self.db:
            return self.db.execute(sql, args).rowcount

    def _rows(self, sql: str, *args) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def _set(self, submission_id: str, run_id: str, **fields) -> None:
        with self.lock, self.db:
            self.db.executemany("INSERT OR REPLACE INTO progress VALUES (?, ?, ?, ?)",
                                [(submission_id, run_id, k, str(v)) for k, v in fields.items()])

    # runs -----------------------------------------------------------------
    def start_run(self, submission_id: str, run_id: str) -> None:
        self._write("INSERT OR REPLACE INTO runs VALUES (?, ?)", submission_id, run_id)
        self._set(submission_id, run_id, started_at=time.time(), touched_at=time.time(), stage="queued")
        self._write("INSERT OR REPLACE INTO inflight VALUES (?, 'verdict', ?)", submission_id, time.time())

    def current_run(self, submission_id: str) -> str | None:
        rows = self._rows("SELECT run FROM runs WHERE sid = ?", submission_id)
        return rows[0][0] if rows else None

    def is_current(self, submission_id: str, run_id: str) -> bool:
        return self.current_run(submission_id) == run_id

    def set_stage(self, submission_id: str, run_id: str, stage: str) -> None:
        self._set(submission_id, run_id, stage=stage, touched_at=time.time())

    def progress(self, submission_id: str, run_id: str) -> dict:
        return dict(self._rows("SELECT field, value FROM progress WHERE sid = ? AND run = ?", submission_id, run_id))

    # completion sets -------------------------------------------------------
    def _names(self, submission_id: str, run_id: str, group: str, side: str) -> set[str]:
        return {row[0] for row in self._rows("SELECT name FROM members WHERE sid = ? AND run = ? AND grp = ? AND side = ?",
                                             submission_id, run_id, group, side)}

    def expect(self, submission_id: str, run_id: str, group: str, names: list[str], *, replace: bool = True) -> None:
        with self.lock, self.db:
            if replace:
                self.db.execute("DELETE FROM members WHERE sid = ? AND run = ? AND grp = ?", (submission_id, run_id, group))
            self.db.executemany("INSERT OR IGNORE INTO members VALUES (?, ?, ?, 'expected', ?)",
                                [(submission_id, run_id, group, name) for name in names])

    def mark_done(self, submission_id: str, run_id: str, group: str, name: str) -> bool:
        """Record a finished name; True when every expected name is done (the insert and the
        check are one step, as Redis's MULTI makes them: exactly one caller sees completion)."""
        with self.lock, self.db:
            self.db.execute("INSERT OR IGNORE INTO members VALUES (?, ?, ?, 'done', ?)", (submission_id, run_id, group, name))
            self.db.execute("INSERT OR REPLACE INTO progress VALUES (?, ?, 'touched_at', ?)", (submission_id, run_id, str(time.time())))
            missing = self.db.execute(_MISSING, (submission_id, run_id, group, submission_id, run_id, group)).fetchall()
        return not missing

    def pending(self, submission_id: str, run_id: str, group: str) -> set[str]:
        return {row[0] for row in self._rows(_MISSING, submission_id, run_id, group, submission_id, run_id, group)}

    def complete(self, submission_id: str, run_id: str, group: str) -> bool:
        return not self.pending(submission_id, run_id, group)

    def expected(self, submission_id: str, run_id: str, group: str) -> set[str]:
        return self._names(submission_id, run_id, group, "expected")

    def expect_parts(self, submission_id: str, run_id: str, names: list[str]) -> None:
        self.expect(submission_id, run_id, "parts", names)
        self._set(submission_id, run_id, expected=len(names))

    def part_done(self, submission_id: str, run_id: str, name: str) -> bool:
        return self.mark_done(submission_id, run_id, "parts", name)

    def all_done(self, submission_id: str, run_id: str) -> bool:
        return self.complete(submission_id, run_id, "parts")

    # notices --------------------------------------------------------------
    def announce(self, submission_id: str, run_id: str, kind: str, status: str, key: str, reason: str = "") -> bool:
        return self._write("INSERT OR IGNORE INTO notices (sid, run, kind, status, key, reason) VALUES (?, ?, ?, ?, ?, ?)",
                           submission_id, run_id, kind, status, key, reason[:500]) == 1

    def notices(self, submission_id: str | None = None) -> list[dict]:
        rows = self._rows("SELECT sid, run, kind, status, key, reason FROM notices WHERE ? IS NULL OR sid = ? ORDER BY seq",
                          submission_id, submission_id)
        return [dict(zip(("submission_id", "run_id", "kind", "status", "key", "reason"), row)) for row in rows]

    def finish(self, submission_id: str, run_id: str, status: str, *, media_pending: bool = False) -> None:
        self._write("DELETE FROM inflight WHERE sid = ? AND kind = 'verdict'", submission_id)
        if media_pending:
            self._write("INSERT OR REPLACE INTO inflight VALUES (?, 'media', ?)", submission_id, time.time())
        self._set(submission_id, run_id, stage="done", status=status)

    def media_finished(self, submission_id: str) -> None:
        self._write("DELETE FROM inflight WHERE sid = ? AND kind = 'media'", submission_id)

    def record_verdict(self, submission_id: str, run_id: str, status: str) -> float | None:
        started = self.progress(submission_id, run_id).get("started_at")
        seconds = max(0.0, time.time() - float(started)) if started else None
        self._add("", "metrics", f"status:{status}", 1)
        return seconds

    def metrics(self) -> dict:
        return self.progress("", "metrics")

    def _add(self, submission_id: str, run_id: str, field: str, amount: float) -> None:
        """Add to a number in one statement (threads share the state: no read-then-write)."""
        self._write("INSERT INTO progress VALUES (?, ?, ?, ?) ON CONFLICT (sid, run, field) "
                    "DO UPDATE SET value = CAST(value AS REAL) + CAST(excluded.value AS REAL)",
                    submission_id, run_id, field, str(amount))

    def inflight(self, kind: str = "verdict") -> list[str]:
        return [row[0] for row in self._rows("SELECT sid FROM inflight WHERE kind = ?", kind)]

    # timings --------------------------------------------------------------
    def add_seconds(self, submission_id: str, run_id: str, what: str, seconds: float) -> None:
        self._add(submission_id, run_id, f"seconds:{what}", seconds)

    def seconds(self, submission_id: str, run_id: str, what: str) -> float | None:
        value = self.progress(submission_id, run_id).get(f"seconds:{what}")
        return float(value) if value is not None else None

    def record_timing(self, stage: str, seconds: float, ok: bool) -> None:
        self._write("INSERT INTO timings VALUES (?, ?, ?)", stage, seconds, int(ok))
