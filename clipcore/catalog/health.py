"""Checks of the catalog file itself: SQLite's ``PRAGMA quick_check``."""

from __future__ import annotations

from .base import Table

__all__ = ["HealthTable"]

MAX_PROBLEMS = 20    # quick_check lines kept


class HealthTable(Table):
    def quick_check(self) -> list[str]:
        """SQLite's ``PRAGMA quick_check``: an empty list when the file's structure is sound,
        else its first problems (one line each). O(N) in the file size, without the index
        consistency checks of integrity_check. Raises CatalogDamagedError when the file is so
        damaged that even the check cannot run."""
        rows = self.conn().execute(f"PRAGMA quick_check({MAX_PROBLEMS})").fetchall()
        return [str(r[0]) for r in rows if str(r[0]) != "ok"]
