"""The tag tables: ``tags`` (what the user defined), ``tag_vectors`` (each tag's vector per model,
with the generation its members are scored up to) and ``tag_members`` (the photos that have the
tag, with their score). See clipcore/tags.py for what a score is."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from .base import Table

__all__ = ["MIGRATION", "TagRow", "TagsTable"]

MIGRATION: list[str] = [
    """CREATE TABLE tags (
           id         INTEGER PRIMARY KEY,
           name       TEXT NOT NULL UNIQUE,
           words      TEXT NOT NULL,
           threshold  REAL NOT NULL,
           examples   TEXT NOT NULL DEFAULT '[]',
           created_ns INTEGER NOT NULL)""",
    """CREATE TABLE tag_vectors (
           tag_id    INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
           model_id  INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
           vector    BLOB NOT NULL,
           scored_to INTEGER NOT NULL,
           PRIMARY KEY (tag_id, model_id)) WITHOUT ROWID""",
    """CREATE TABLE tag_members (
           tag_id   INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
           model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
           image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
           score    REAL NOT NULL,
           PRIMARY KEY (tag_id, model_id, image_id)) WITHOUT ROWID""",
    "CREATE INDEX tag_members_image ON tag_members(image_id)",
]


@dataclass(frozen=True)
class TagRow:
    """A tag as stored: ``examples`` are absolute paths; ``threshold`` a calibrated score."""

    id: int
    name: str
    words: str
    threshold: float
    examples: list[str]


def _tag(r: tuple) -> TagRow:
    return TagRow(r[0], r[1], r[2], float(r[3]), json.loads(r[4]))


class TagsTable(Table):
    def tags(self) -> list[TagRow]:
        """Every tag, by name."""
        rows = self.conn().execute("SELECT id, name, words, threshold, examples FROM tags ORDER BY name")
        return [_tag(r) for r in rows]

    def tag(self, name: str) -> TagRow | None:
        r = self.conn().execute("SELECT id, name, words, threshold, examples FROM tags WHERE name = ?",
                                (name,)).fetchone()
        return _tag(r) if r else None

    def save_tag(self, name: str, words: str, threshold: float, examples: list[str],
                 vectors: dict[int, np.ndarray]) -> int:
        """Create or redefine the tag ``name`` with its vector per model id; its old members
        are dropped (scored again by the next refresh). Returns the tag id."""
        with self.transaction("the tags") as c:
            c.execute("""INSERT INTO tags (name, words, threshold, examples, created_ns)
                         VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET
                         words = excluded.words, threshold = excluded.threshold,
                         examples = excluded.examples""",
                      (name, words, float(threshold), json.dumps(examples), time.time_ns()))
            tag_id = c.execute("SELECT id FROM tags WHERE name = ?", (name,)).fetchone()[0]
            c.execute("DELETE FROM tag_members WHERE tag_id = ?", (tag_id,))
            c.execute("DELETE FROM tag_vectors WHERE tag_id = ?", (tag_id,))
            for model_id, vector in vectors.items():
                c.execute("INSERT INTO tag_vectors (tag_id, model_id, vector, scored_to) "
                          "VALUES (?, ?, ?, -1)",
                          (tag_id, model_id, np.asarray(vector, "<f4").tobytes()))
        return tag_id

    def set_tag_threshold(self, tag_id: int, threshold: float) -> None:
        """Change only the threshold; members are scored again by the next refresh."""
        with self.transaction("the tags") as c:
            c.execute("UPDATE tags SET threshold = ? WHERE id = ?", (float(threshold), tag_id))
            c.execute("DELETE FROM tag_members WHERE tag_id = ?", (tag_id,))
            c.execute("UPDATE tag_vectors SET scored_to = -1 WHERE tag_id = ?", (tag_id,))

    def delete_tag(self, name: str) -> bool:
        with self.transaction("the tags") as c:
            return c.execute("DELETE FROM tags WHERE name = ?", (name,)).rowcount > 0

    def tag_vector(self, tag_id: int, model_id: int) -> tuple[np.ndarray, int] | None:
        """(vector (D,) float32, generation its members are scored up to) or None."""
        r = self.conn().execute("SELECT vector, scored_to FROM tag_vectors WHERE tag_id = ? AND "
                                "model_id = ?", (tag_id, model_id)).fetchone()
        return (np.frombuffer(r[0], "<f4").astype(np.float32), r[1]) if r else None

    def put_tag_members(self, tag_id: int, model_id: int, scored: np.ndarray, members: np.ndarray,
                        scores: np.ndarray, scored_to: int) -> None:
        """Replace the membership of the images ``scored`` (ids): ``members`` (ids) have the tag
        with ``scores``; record that every vector up to generation ``scored_to`` is scored."""
        with self.transaction("the tag members") as c:
            c.executemany("DELETE FROM tag_members WHERE tag_id = ? AND model_id = ? AND image_id = ?",
                          [(tag_id, model_id, int(i)) for i in scored])
            c.executemany("INSERT INTO tag_members (tag_id, model_id, image_id, score) VALUES (?, ?, ?, ?)",
                          [(tag_id, model_id, int(i), float(s)) for i, s in zip(members, scores)])
            c.execute("UPDATE tag_vectors SET scored_to = ? WHERE tag_id = ? AND model_id = ?",
                      (scored_to, tag_id, model_id))

    def tag_members(self, tag_id: int, model_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids (n,) int64, scores (n,) float32), best score first."""
        rows = self.conn().execute("SELECT image_id, score FROM tag_members WHERE tag_id = ? AND "
                                   "model_id = ? ORDER BY score DESC", (tag_id, model_id)).fetchall()
        return (np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.float32))

    def tag_counts(self, model_id: int) -> dict[int, int]:
        rows = self.conn().execute("SELECT tag_id, count(*) FROM tag_members WHERE model_id = ? "
                                   "GROUP BY tag_id", (model_id,))
        return {r[0]: r[1] for r in rows}
