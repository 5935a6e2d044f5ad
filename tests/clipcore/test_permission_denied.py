"""A photo or folder the user may not read is reported as "permission denied" and the rest is
indexed. chmod 000 does not stop root (CI often runs as root), so the PermissionError is faked
where the engine meets the file system; these tests run under any user."""

from __future__ import annotations

import errno
import os

from clipcore import imaging, scanner
from clipcore.indexer import index_folders
from clipcore.library import Library
from tests.helpers.e2e import make_photos


def _deny(monkeypatch, module, name, denied: str):
    """Make ``module.os.<name>(path, ...)`` raise PermissionError for ``denied``."""
    real = getattr(os, name)

    def guarded(path, *args, **kwargs):
        if os.fspath(path) == denied:
            raise PermissionError(errno.EACCES, "Permission denied", denied)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(module.os, name, guarded)


def test_an_unreadable_photo_is_skipped_as_permission_denied(tmp_path, tiny_spec, monkeypatch):
    photos = make_photos(tmp_path / "photos", 4)
    _deny(monkeypatch, imaging, "open", str(photos[1]))
    with Library.open(tmp_path / "data") as library:
        summary = list(index_folders(library, [str(tmp_path / "photos")], tiny_spec))[-1].summary
        skipped = {row.path: row.skip_reason for row in library.skipped()}
        indexed = {str(p) for p in photos
                   if library.vector(library.find_image(str(p)).id, tiny_spec.identity()) is not None}
    assert skipped == {str(photos[1]): "permission denied"}
    assert summary.skipped == 1 and summary.skip_reasons == {"permission denied": 1}
    assert indexed == {str(p) for p in photos} - {str(photos[1])}


def test_an_unreadable_folder_is_a_problem_and_the_scan_goes_on(tmp_path, monkeypatch):
    locked = make_photos(tmp_path / "locked", 2)
    readable = make_photos(tmp_path / "open", 2)
    _deny(monkeypatch, scanner, "scandir", str(tmp_path / "locked"))
    found = list(scanner.scan_folder(str(tmp_path)))
    problems = {p.path: p.reason for p in found if isinstance(p, scanner.ScanProblem)}
    files = sorted(f.path for f in found if not isinstance(f, scanner.ScanProblem))
    assert problems == {str(tmp_path / "locked"): "permission denied"}
    assert files == sorted(map(str, readable))
    assert not set(files) & set(map(str, locked))
