"""The ``state`` table: the generation counter and the catalog's random id."""

from __future__ import annotations

import sqlite3

from .base import Table

__all__ = ["StateTable", "bump_generation", "current_generation"]


def bump_generation(c: sqlite3.Connection) -> int:
    """Inside a transaction: increment and return the generation."""
    c.execute("UPDATE state SET generation = generation + 1")
    return int(c.execute("SELECT generation FROM state").fetchone()[0])


def current_generation(c: sqlite3.Connection) -> int:
    """Inside a transaction: the generation, unchanged."""
    return int(c.execute("SELECT generation FROM state").fetchone()[0])


class StateTable(Table):
    def generation(self) -> int:
        """The counter bumped by every transaction that changes vectors."""
        return int(self.conn().execute("SELECT generation FROM state").fetchone()[0])

    def catalog_uid(self) -> str:
        """A random id made when the catalog was created (32 hex digits): tells a recreated
        catalog from the one a vector-index file was built from."""
        return str(self.conn().execute("SELECT catalog_uid FROM state").fetchone()[0])
