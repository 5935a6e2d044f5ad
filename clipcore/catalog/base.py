"""What a table mixin of the catalog may use: this thread's connection, transactions, snapshots.

:class:`Table` declares them; :class:`~.connection.Database` provides them. Table modules import
this module only (never ``connection``), so ``schema`` can import their ``MIGRATION`` lists.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

__all__ = ["Table"]


class Table:
    """Base of the catalog's table mixins (``FoldersTable``, ``ImagesTable``...)."""

    path: Path   # the catalog file

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; reads only, writes use :meth:`transaction`)."""
        raise NotImplementedError

    def transaction(self, what: str = "the catalog") -> AbstractContextManager[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` yielding the connection; see Database."""
        raise NotImplementedError

    def snapshot(self) -> AbstractContextManager[None]:
        """A read transaction (one consistent WAL snapshot); see Database."""
        raise NotImplementedError
