"""Load and concurrency: two processes on one data directory, and search while indexing.

- While one process (here: the test, playing the app) is indexing, a second `clipcore index`
  on the same data directory says the library is busy (exit 1, one line) instead of writing,
  and `clipcore search` keeps answering from what is committed.
- Searches in one thread while the indexer writes a few thousand images in another always
  return valid, committed images, and a stored vector finds its own image first.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from clipcore.config import IndexParams
from clipcore.indexer import index_folders
from clipcore.library import Library
from tests.helpers.e2e import TINY_CONFIG, assert_one_line_error, make_photos, run_cli


def _drain(events):
    for event in events:
        last = event
    return last


def test_second_writer_is_told_the_library_is_busy(tmp_path, tiny_spec):
    data_dir = tmp_path / "data"
    first = make_photos(tmp_path / "first", 40, seed=1)
    second = make_photos(tmp_path / "second", 5, seed=2)
    with Library.open(data_dir) as library:
        _drain(index_folders(library, [str(first[0].parent)], tiny_spec))
        committed = library.count(tiny_spec.identity())
        more = make_photos(tmp_path / "first", 60, seed=3, prefix="more")

        # The "app" is indexing: its pipeline is paused mid-run, holding the library.
        events = index_folders(library, [str(first[0].parent)], tiny_spec, batch_size=4)
        for event in events:
            if event.phase == "encode" and event.done:
                break
        # a second writer (it waits for the lock, then gives up) and a reader, side by side
        with ThreadPoolExecutor(2) as pool:
            other = pool.submit(run_cli, ["index", second[0].parent, "--model", TINY_CONFIG], data_dir)
            reader = pool.submit(run_cli, ["search", "anything", "-k", 5, "--json"], data_dir)
            other, reader = other.result(), reader.result()
        assert_one_line_error(other, "busy")
        assert reader.returncode == 0, reader.stderr
        assert len(json.loads(reader.stdout)) == 5

        _drain(events)   # the app finishes; nothing of the refused run got in
        assert library.count(tiny_spec.identity()) == committed + len(more)
        assert all(library.find_image(str(p)) is None for p in second)


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("load") / "photos"
    make_photos(folder, 2000, seed=5, size=16)
    return folder


@pytest.mark.slow
def test_search_while_indexing_returns_only_committed_images(big_folder, tmp_path, tiny_spec):
    identity = tiny_spec.identity()
    early = make_photos(tmp_path / "early", 200, seed=6, size=16)
    gone = early[:50]
    with Library.open(tmp_path / "data", params=IndexParams(exact_below=0)) as library:
        _drain(index_folders(library, [str(early[0].parent)], tiny_spec))
        gone_ids = {library.find_image(str(p)).id for p in gone}
        for path in gone:
            path.unlink()
        valid_paths = {str(p) for p in early[50:]} | {str(p) for p in big_folder.iterdir()}

        failure: list[BaseException] = []

        def index_in_background():
            try:
                _drain(index_folders(library, [str(early[0].parent), str(big_folder)], tiny_spec))
            except BaseException as exc:  # reported by the main thread
                failure.append(exc)

        writer = threading.Thread(target=index_in_background)
        writer.start()
        searches = during_indexing = 0
        rng = np.random.default_rng(0)
        while writer.is_alive() or searches < 20:
            during_indexing += writer.is_alive()
            query = rng.standard_normal(32).astype(np.float32)
            query /= np.linalg.norm(query)
            for image_id, _ in library.nearest(query, identity, k=10):
                if image_id in gone_ids:   # allowed until its removal is committed
                    continue
                vector = library.vector(image_id, identity)
                assert vector is not None, "a search returned an image without a committed vector"
                assert library.nearest(vector, identity, k=1)[0][0] == image_id
                [row] = library.images([image_id])
                assert row.path in valid_paths
            searches += 1
        writer.join()
        assert not failure, failure
        assert during_indexing > 0, "indexing finished before any search ran"

        assert library.count(identity) == len(valid_paths)
        everything = library.nearest(query, identity, k=len(valid_paths) + 100)
        assert {row.path for row in library.images([i for i, _ in everything])} == valid_paths
