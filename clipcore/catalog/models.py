"""The ``models`` table: one row per model identity that has vectors (id, dim, spec fields)."""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from ..config import ModelSpec
from ..errors import CatalogError
from .base import Table

__all__ = ["ModelRow", "ModelsTable", "ensure_model"]


class ModelRow(NamedTuple):
    id: int
    identity: str
    dim: int          # embedding size D


def ensure_model(c: sqlite3.Connection, spec: ModelSpec, dim: int) -> int:
    """Inside a transaction: the models row for ``spec`` (created if new); returns its id.
    Raises CatalogError when the model is known with another dim."""
    identity = spec.identity()
    row = c.execute("SELECT id, dim FROM models WHERE identity = ?", (identity,)).fetchone()
    if row:
        if row[1] != dim:
            raise CatalogError(f"Model {identity} gave {dim}-d vectors but the catalog has {row[1]}-d ones.")
        return int(row[0])
    cur = c.execute(
        "INSERT INTO models (identity, dim, name, pretrained, checkpoint, preset) VALUES (?, ?, ?, ?, ?, ?)",
        (identity, dim, spec.name, spec.pretrained, spec.checkpoint, spec.preset))
    return int(cur.lastrowid or 0)


class ModelsTable(Table):
    def model(self, identity: str) -> ModelRow | None:
        """The model's row, or None when it has never had vectors in this catalog."""
        row = self.conn().execute("SELECT id, dim FROM models WHERE identity = ?",
                                  (identity,)).fetchone()
        return ModelRow(row[0], identity, row[1]) if row else None

    def model_id(self, identity: str) -> int | None:
        row = self.model(identity)
        return row.id if row else None

    def model_dim(self, identity: str) -> int | None:
        row = self.model(identity)
        return row.dim if row else None
