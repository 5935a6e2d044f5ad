"""Browsing results: dates taken (EXIF, else the file's time), the date filter inside search,
sort by date over every match, several examples for and against, copying and CSV."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os

import numpy as np
import pytest
from PIL import Image

from clipcore.config import IndexParams
from clipcore.dates import DateRange, parse_date
from clipcore.errors import QueryError
from clipcore.export import copy_files, write_csv
from clipcore.indexer import index_folders
from clipcore.library import Library
from clipcore.search import Example, Searcher
from tests.helpers.e2e import make_photos

YEARS = (2019, 2020, 2021, 2022)
EXIF_DATE = "2020:06:01 09:30:00"


def _mtime(year: int, day: int = 10) -> float:
    return dt.datetime(year, 3, day, 12, 0).timestamp()


def _exif_jpeg(path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(np.kron(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8),
                                  np.ones((8, 8, 1), np.uint8)), "RGB")
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = EXIF_DATE
    exif.get_ifd(0x8769)[0x9011] = "+02:00"
    img.save(path, exif=exif, quality=90)
    os.utime(path, (_mtime(2023), _mtime(2023)))     # the file's time must not win over EXIF


@pytest.fixture(scope="module", params=["exact", "hnsw"])
def dated(request, tmp_path_factory, tiny_spec):
    """16 PNGs, 4 per year by file time (no EXIF), and one JPEG whose EXIF says 2020;
    searched exactly and through HNSW (exact_below=0)."""
    root = tmp_path_factory.mktemp("dated")
    photos = make_photos(root / "photos", 16, seed=7)
    for i, p in enumerate(photos):
        os.utime(p, (_mtime(YEARS[i % 4], 1 + i), _mtime(YEARS[i % 4], 1 + i)))
    jpeg = root / "photos" / "exif.jpg"
    _exif_jpeg(jpeg, 99)
    params = IndexParams(exact_below=0 if request.param == "hnsw" else 4000)
    with Library.open(root / "data", params) as library:
        list(index_folders(library, [str(root / "photos")], tiny_spec))
        yield library, photos, jpeg


def _never_load():
    pytest.fail("the model was loaded, but the query needed only stored vectors")


def test_date_taken_is_exif_else_the_file_time_marked_as_such(dated):
    library, photos, jpeg = dated
    row = library.find_image(str(jpeg))
    assert (row.date_taken, row.date_source) == ("2020-06-01T09:30:00+02:00", "exif")
    row = library.find_image(str(photos[1]))
    assert row.date_source == "file" and row.date_taken.startswith("2020-03-02T12:00:00")


def test_date_filter_returns_k_hits_while_more_exist(dated):
    library, photos, jpeg = dated
    searcher = Searcher(library, _never_load)
    everything = searcher.similar(photos[0], k=17)
    in_2021 = {str(p) for i, p in enumerate(photos) if YEARS[i % 4] == 2021}
    # the worst-ranked 2021 photos are not in the unfiltered top 3, yet the filter finds 3
    hits = searcher.similar(photos[0], k=3, after="2021-01-01", before="2021-12-31")
    assert len(hits) == 3 and {h.path for h in hits} <= in_2021
    ranked = [h.path for h in everything if h.path in in_2021]
    assert [h.path for h in hits] == ranked[:3]
    hits = searcher.similar(photos[0], k=10, dates=DateRange("2021-01-01", "2021-12-31"))
    assert {h.path for h in hits} == in_2021
    in_2020 = searcher.similar(photos[0], k=10, after="2020-01-01", before="2020-12-31")
    assert str(jpeg) in {h.path for h in in_2020} and len(in_2020) == 5   # EXIF date counts
    open_ended = searcher.similar(photos[0], k=20, after="2022-01-01")
    assert {h.path for h in open_ended} == {str(p) for i, p in enumerate(photos) if i % 4 == 3}


def test_date_sort_covers_every_match_above_the_threshold(dated):
    library, photos, _ = dated
    searcher = Searcher(library, _never_load)
    ranked = searcher.similar(photos[0], k=17)
    threshold = ranked[12].score           # 13 (or more, on ties) pass
    by_date = searcher.similar(photos[0], k=50, threshold=threshold, sort="date")
    assert {h.path for h in by_date} == {h.path for h in ranked if h.score >= threshold}
    dates = [h.date_taken[:19] for h in by_date]
    assert dates == sorted(dates, reverse=True)
    page2 = searcher.similar(photos[0], k=5, offset=5, threshold=threshold, sort="date")
    assert [h.path for h in page2] == [h.path for h in by_date[5:10]]


def test_relevance_pages_continue_where_the_first_stopped(dated):
    library, photos, _ = dated
    searcher = Searcher(library, _never_load)
    whole = searcher.similar(photos[3], k=12)
    assert [h.id for h in searcher.similar(photos[3], k=6, offset=6)] == [h.id for h in whole[6:]]


def test_more_like_these_is_the_mean_of_stored_vectors_without_a_model(dated):
    library, photos, _ = dated
    searcher = Searcher(library, _never_load)
    a, b = (library.find_image(str(p)) for p in photos[:2])
    va, vb = (library.vector(r.id, searcher.model_identity) for r in (a, b))
    mean = (va + vb) / np.linalg.norm(va + vb)
    hits = searcher.search(examples=[a.id, str(photos[1])], k=17)
    stored = {h.id: float(library.vector(h.id, searcher.model_identity) @ mean) for h in hits}
    assert all(abs(h.score - stored[h.id]) < 1e-4 for h in hits)      # scored by the mean
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {h.id for h in hits[:2]} == {a.id, b.id}


def test_less_like_this_pushes_a_photo_down(dated):
    library, photos, _ = dated
    searcher = Searcher(library, _never_load)
    plain = [h.path for h in searcher.search(examples=[photos[0]], k=17)]
    neighbour = plain[1]
    against = searcher.search(examples=[Example(photos[0]), Example(neighbour, -1.0)], k=17)
    assert [h.path for h in against].index(neighbour) > 1
    # cos(n, a - n) = (a.n - 1) / |a - n| < 0: the negative example now scores below zero
    assert next(h.score for h in against if h.path == neighbour) < 0


def test_bad_dates_are_one_sentence_query_errors():
    with pytest.raises(QueryError, match="YYYY-MM-DD"):
        parse_date("31/12/2021")
    with pytest.raises(QueryError, match="swap"):
        DateRange("2022-01-01", "2021-01-01")
    assert parse_date("2021") == dt.date(2021, 1, 1)
    assert DateRange("2021-01-01", "2021-12-31").label() == "2021"


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_copy_files_never_moves_and_suffixes_clashes(tmp_path):
    a = make_photos(tmp_path / "a", 2, prefix="x")
    b = make_photos(tmp_path / "b", 1, prefix="x", seed=3)      # same name as a[0]
    before = {p: _digest(p) for p in a + b}
    dest = tmp_path / "out"
    seen = []
    result = copy_files([str(a[0]), str(b[0]), str(a[1])], dest,
                        progress=lambda done, total, path: seen.append((done, total)))
    assert [os.path.basename(d) for _, d in result.copied] == ["x0000.png", "x0000 (2).png",
                                                               "x0001.png"]
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert {p: _digest(p) for p in a + b} == before              # originals untouched
    assert _digest(dest / "x0000 (2).png") == before[b[0]]
    again = copy_files([str(a[0])], dest)                         # never overwrites
    assert os.path.basename(again.copied[0][1]) == "x0000 (3).png"


def test_copy_files_stops_on_cancel_and_reports_unreadable(tmp_path):
    import threading

    photos = make_photos(tmp_path / "a", 3)
    cancel = threading.Event()
    result = copy_files([str(tmp_path / "gone.png"), str(photos[0]), str(photos[1])],
                        tmp_path / "out",
                        progress=lambda done, total, path: done == 2 and cancel.set(),
                        cancel=cancel)
    assert result.failed and result.failed[0][0].endswith("gone.png")
    assert len(result.copied) == 1 and result.cancelled


def test_csv_has_the_documented_header(dated):
    library, photos, jpeg = dated
    hits = Searcher(library, _never_load).similar(jpeg, k=2)
    out = io.StringIO()
    write_csv(hits, out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "path,score,date_taken,id"
    assert lines[1].split(",")[0] == str(jpeg) and lines[1].endswith(f",{hits[0].id}")
    assert "2020-06-01T09:30:00+02:00" in lines[1]


def test_a_schema_1_catalog_gets_dates_from_file_times(tmp_path):
    """Upgrading an older catalog: indexed photos without an EXIF date get their file's time,
    marked "file"; EXIF dates are marked "exif"; skipped files stay undated."""
    import sqlite3

    from clipcore.catalog import Catalog
    from clipcore.catalog.schema import MIGRATIONS

    db = sqlite3.connect(tmp_path / "catalog.sqlite")
    for sql in MIGRATIONS[0]:
        db.execute(sql)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO folders (id, path, added_ns) VALUES (1, ?, 0)", (b"/p",))
    mtime = int(dt.datetime(2018, 8, 9, 10, 11, 12).timestamp() * 1e9)
    for i, (taken, status) in enumerate([("2020-01-02T03:04:05", "ok"), (None, "ok"),
                                         (None, "skipped")]):
        db.execute("INSERT INTO images (folder_id, path, size, mtime_ns, date_taken, status) "
                   "VALUES (1, ?, 1, ?, ?, ?)", (f"/p/{i}.jpg".encode(), mtime, taken, status))
    db.commit()
    db.close()
    catalog = Catalog(tmp_path)
    rows = catalog.images_by_ids([1, 2, 3])
    assert (rows[1].date_taken, rows[1].date_source) == ("2020-01-02T03:04:05", "exif")
    assert (rows[2].date_taken, rows[2].date_source) == ("2018-08-09T10:11:12", "file")
    assert (rows[3].date_taken, rows[3].date_source) == (None, None)
    assert list(catalog.image_ids_taken_between("2018-01-01", "2019-01-01")) == [2]
    catalog.close()
