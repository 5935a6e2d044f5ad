"""The ``settings`` table (key/value text): the library's model spec and identity."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

from ..config import ModelSpec
from .base import Table

__all__ = ["SettingsTable", "write_model"]

MODEL_SPEC = "model_spec"          # JSON of the ModelSpec fields
MODEL_IDENTITY = "model_identity"  # ModelSpec.identity() when it was set


def _put(c: sqlite3.Connection, key: str, value: str) -> None:
    c.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
              "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


def write_model(c: sqlite3.Connection, spec: ModelSpec) -> None:
    """Inside a transaction: make ``spec`` the library's model."""
    _put(c, MODEL_SPEC, json.dumps(dataclasses.asdict(spec)))
    _put(c, MODEL_IDENTITY, spec.identity())


def has_model(c: sqlite3.Connection) -> bool:
    """Inside a transaction: whether the library has a model yet."""
    return c.execute("SELECT 1 FROM settings WHERE key = ?", (MODEL_IDENTITY,)).fetchone() is not None


class SettingsTable(Table):
    def get_setting(self, key: str) -> str | None:
        row = self.conn().execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def model_spec(self) -> ModelSpec | None:
        """The spec the library is indexed with, or None before its first vectors."""
        raw = self.get_setting(MODEL_SPEC)
        return ModelSpec(**json.loads(raw)) if raw else None

    def model_identity(self) -> str | None:
        """The identity of the library's model as recorded when it was set (no file reads)."""
        return self.get_setting(MODEL_IDENTITY)

    def set_model_spec(self, spec: ModelSpec) -> None:
        """Make ``spec`` the library's model (one transaction). Raises CatalogError kinds."""
        with self.transaction("the library's model") as c:
            write_model(c, spec)
