"""Activity state in one SQLite file under `--state` (the embedded mode)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import json

from ..duplication import Indexed
from ..reuse import Indexed as MediaIndexed
from .base import ActivityState, TopicEntry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (sid TEXT PRIMARY KEY, text TEXT NOT NULL, first_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fps (hash INTEGER NOT NULL, sid TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fps_hash ON fps (hash);
CREATE INDEX IF NOT EXISTS fps_sid ON fps (sid);
CREATE TABLE IF NOT EXISTS media (mkey TEXT PRIMARY KEY, sid TEXT NOT NULL, path TEXT NOT NULL, first_seen REAL NOT NULL,
                                  print TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS media_keys (key INTEGER NOT NULL, mkey TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS media_clusters (mkey TEXT PRIMARY KEY, cluster TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS media_keys_key ON media_keys (key);
CREATE INDEX IF NOT EXISTS media_keys_mkey ON media_keys (mkey);
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
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(docs)")}
        if "cluster" not in columns:              # a state written before copies were clustered
            with self.db:
                self.db.execute("ALTER TABLE docs ADD COLUMN cluster TEXT")

    @property
    def db(self) -> sqlite3.Connection:
        connection = getattr(self._connections, "db", None)
        if connection is None:
            connection = self._connections.db = sqlite3.connect(self.path, timeout=30)
        return connection

    def _grouped(self, sql: str, values: list, *extra) -> list[tuple]:
        rows: list[tuple] = []
        for i in range(0, len(values), _CHUNK):
            chunk = values[i:i + _CHUNK]
            rows += self.db.execute(sql.format(marks=",".join("?" * len(chunk))), (*chunk, *extra)).fetchall()
        return rows

    def holders(self, fingerprints):
        found: dict[int, list[str]] = {}
        for h, sid in self._grouped("SELECT hash, sid FROM fps WHERE hash IN ({marks}) ORDER BY rowid", sorted(fingerprints)):
            found.setdefault(h, []).append(sid)
        return found

    def documents(self, submission_ids):
        rows = self._grouped("SELECT sid, first_seen, cluster FROM docs WHERE sid IN ({marks})", sorted(submission_ids))
        return {sid: Indexed(first_seen, cluster or sid) for sid, first_seen, cluster in rows}

    def text(self, submission_id):
        row = self.db.execute("SELECT text FROM docs WHERE sid = ?", (submission_id,)).fetchone()
        return row[0] if row else None

    def size(self):
        return self.db.execute("SELECT count(*) FROM docs").fetchone()[0]

    def replace(self, submission_id, text, fingerprints, cluster, now, max_holders):
        with self.db:
            self.db.execute("DELETE FROM fps WHERE sid = ?", (submission_id,))
            row = self.db.execute("SELECT first_seen FROM docs WHERE sid = ?", (submission_id,)).fetchone()
            self.db.execute("INSERT OR REPLACE INTO docs (sid, text, first_seen, cluster) VALUES (?, ?, ?, ?)",
                            (submission_id, text, row[0] if row else now, cluster))
            self.db.executemany("INSERT INTO fps (hash, sid) SELECT ?, ? WHERE (SELECT count(*) FROM fps WHERE hash = ?) < ?",
                                [(h, submission_id, h, max_holders) for h in sorted(fingerprints)])

    def topics_of(self, author):
        rows = self.db.execute("SELECT sid, project, author, title FROM topics WHERE author = ?", (author,)).fetchall()
        return [TopicEntry(*row) for row in rows]

    def register_topics(self, submission_id, entries):
        with self.db:
            self.db.execute("DELETE FROM topics WHERE sid = ?", (submission_id,))
            self.db.executemany("INSERT INTO topics VALUES (?, ?, ?, ?)",
                                [(e.submission_id, e.project, e.author, e.title) for e in entries])

    def media_holders(self, keys):
        found: dict[int, list[str]] = {}
        for key, mkey in self._grouped("SELECT key, mkey FROM media_keys WHERE key IN ({marks}) ORDER BY rowid", sorted(keys)):
            found.setdefault(key, []).append(mkey)
        return found

    def media_prints(self, media_keys):
        rows = self._grouped("SELECT mkey, sid, path, first_seen, print FROM media WHERE mkey IN ({marks})", sorted(media_keys))
        return {mkey: MediaIndexed(mkey, sid, path, first_seen, json.loads(data)) for mkey, sid, path, first_seen, data in rows}

    def media_clusters(self, media_keys):
        return dict(self._grouped("SELECT mkey, cluster FROM media_clusters WHERE mkey IN ({marks})", sorted(media_keys)))

    def register_media(self, media_key, submission_id, path, keys, print_, now, max_holders, cluster=None):
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO media_clusters (mkey, cluster) VALUES (?, ?)", (media_key, cluster or media_key))
            self.db.execute("DELETE FROM media_keys WHERE mkey = ?", (media_key,))
            row = self.db.execute("SELECT first_seen FROM media WHERE mkey = ?", (media_key,)).fetchone()
            self.db.execute("INSERT OR REPLACE INTO media (mkey, sid, path, first_seen, print) VALUES (?, ?, ?, ?, ?)",
                            (media_key, submission_id, path, row[0] if row else now, json.dumps(print_)))
            self.db.executemany("INSERT INTO media_keys (key, mkey) SELECT ?, ? WHERE (SELECT count(*) FROM media_keys WHERE key = ?) < ?",
                                [(key, media_key, key, max_holders) for key in sorted(keys)])
