"""A test's own connection to a catalog file (to look into it, or damage it on purpose)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from os import PathLike


@contextlib.contextmanager
def open_db(path: str | PathLike) -> Iterator[sqlite3.Connection]:
    """``with open_db(path) as db:`` a sqlite3 connection, committed when the block ends
    without an error (rolled back otherwise) and always closed: ``with sqlite3.connect(...)``
    only ends the transaction and leaves the connection open (a ResourceWarning on 3.13)."""
    db = sqlite3.connect(path)
    try:
        with db:
            yield db
    finally:
        db.close()
