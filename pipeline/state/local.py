"""Activity state in one SQLite file under `--state` (the embedded mode)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from .base import ActivityState, TopicEntry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (sid TEXT PRIMARY KEY, text TEXT NOT NULL, first_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fps (hash INTEGER NOT NULL, sid TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fps_hash ON fps (hash);
CREATE INDEX IF NOT EXISTS fps_sid ON fps (sid);
CREATE TABLE IF NOT EXISTS topics (sid TEXT NOT NULL, project TEXT NOT NULL, author TEXT NOT NULL, title TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS topics_author ON topics (author);
"""
_CHUNK = 900


class LocalState(ActivityState):
    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "activity.sqlite3"
        self._connections = threading.local()     # one connection per thread (workers run several)
        self.db.executescript(_SCHEMA)

    @property
    def db(self) -> sqlite3.Connection:
        connection = getattr(self._connections, "db", None)
        if connection is None:
            connection = self._connections.db = sqlite3.connect(self.path, timeout=30)
        return connection

    def _grouped(self, sql: str, values: list[int], *extra) -> list[tuple]:
        rows: list[tuple] = []
        for i in range(0, len(values), _CHUNK):
            chunk = values[i:i + _CHUNK]
            rows += self.db.execute(sql.format(marks=",".join("?" * len(chunk))), (*chunk, *extra)).fetchall()
        return rows

    def _first_seen(self, submission_id: str) -> float:
        row = self.db.execute("SELECT first_seen FROM docs WHERE sid = ?", (submission_id,)).fetchone()
        return row[0] if row else time.time()

    def candidates(self, fingerprints, exclude, limit):
        before = self._first_seen(exclude)
        earlier = {row[0] for row in self.db.execute("SELECT sid FROM docs WHERE first_seen < ?", (before,))}
        counts: dict[str, int] = {}
        for sid, count in self._grouped("SELECT sid, count(*) FROM fps WHERE hash IN ({marks}) AND sid != ? GROUP BY sid",
                                        sorted(fingerprints), exclude):
            counts[sid] = counts.get(sid, 0) + count
        return [sid for sid, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if sid in earlier][:limit]

    def document_frequency(self, fingerprints):
        frequency: dict[int, int] = {}
        for h, count in self._grouped("SELECT hash, count(DISTINCT sid) FROM fps WHERE hash IN ({marks}) GROUP BY hash",
                                      sorted(fingerprints)):
            frequency[h] = frequency.get(h, 0) + count
        return frequency

    def text(self, submission_id):
        row = self.db.execute("SELECT text FROM docs WHERE sid = ?", (submission_id,)).fetchone()
        return row[0] if row else None

    def size(self):
        return self.db.execute("SELECT count(*) FROM docs").fetchone()[0]

    def replace(self, submission_id, text, fingerprints):
        with self.db:
            self.db.execute("DELETE FROM fps WHERE sid = ?", (submission_id,))
            self.db.execute("INSERT OR REPLACE INTO docs (sid, text, first_seen) VALUES (?, ?, ?)",
                            (submission_id, text, self._first_seen(submission_id)))
            self.db.executemany("INSERT INTO fps (hash, sid) VALUES (?, ?)", [(h, submission_id) for h in fingerprints])

    def topics_of(self, author):
        rows = self.db.execute("SELECT sid, project, author, title FROM topics WHERE author = ?", (author,)).fetchall()
        return [TopicEntry(*row) for row in rows]

    def register_topics(self, submission_id, entries):
        with self.db:
            self.db.execute("DELETE FROM topics WHERE sid = ?", (submission_id,))
            self.db.executemany("INSERT INTO topics VALUES (?, ?, ?, ?)",
                                [(e.submission_id, e.project, e.author, e.title) for e in entries])
