"""The catalog package: the status values it reads and writes are exactly the schema's."""

from __future__ import annotations

import re

import pytest

from clipcore.catalog import Catalog, ImageStatus
from tests.helpers.sqlite import open_db


def test_image_status_values_are_the_schemas(tmp_path):
    Catalog(tmp_path).close()
    with open_db(tmp_path / "catalog.sqlite") as db:
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'images'").fetchone()[0]
    allowed = re.search(r"status IN \(([^)]*)\)", sql).group(1)
    assert {v.strip(" '") for v in allowed.split(",")} == {s.value for s in ImageStatus}


def test_a_status_outside_the_schema_is_refused(tmp_path):
    from clipcore.catalog.images import upsert_image

    catalog = Catalog(tmp_path)
    try:
        with pytest.raises(ValueError):
            with catalog.transaction() as c:
                upsert_image(c, str(tmp_path / "x.jpg"), 1, 1, 1, "deleted")
        assert str(ImageStatus.SKIPPED) == "skipped" == ImageStatus.SKIPPED
    finally:
        catalog.close()
