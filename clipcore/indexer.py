"""The indexing pipeline as a generator of progress events (one pipeline, three drivers: the
CLI prints the events, tests assert on them, the desktop worker turns them into signals).

1. scan: ``scanner.scan_folder`` stats every file; the diff against the catalog is one SELECT
   per folder and dict look-ups, so an unchanged library costs a stat per file and nothing more
   (no model load, no file read).
2. moves, removals and scan problems are committed at once. A file that vanished and a new file
   with the same size and ``scanner.content_hash`` is a move: the row keeps its id and vectors.
3. new / changed / not-yet-embedded files: decoded and preprocessed for the model
   (``imaging.decode_for_model``, the same function image queries use) by a thread pool a few batches ahead of the encoder (Pillow releases the GIL),
   each file decoded once (the thumbnail comes from the same decode, and so does the date taken:
   EXIF DateTimeOriginal, else the file's modification time, marked "file"), encoded in batches.
4. every ``commit_every`` images or ``commit_seconds`` seconds: one catalog transaction + the
   vector index update (+ save), so a crash loses at most the part since the last commit and the
   next run resumes. Cancel (a threading.Event) is checked between batches and while waiting
   for a decode (every :data:`CANCEL_POLL_SECONDS`): photos decoded but not yet encoded are left
   for the next run, what is encoded is committed, and the last event says
   ``summary.cancelled``. A cancelled run does not wait for decodes still in flight (a large
   WebP or PNG has no reduced decode and can take seconds); their threads end on their own.

The writer lock is held for the whole run. Nothing is ever written inside the photo folders.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Callable, Collection, Generator, Iterable, Iterator

from . import offline, scanner
from .dates import SOURCE_EXIF, SOURCE_FILE, file_date
from .catalog import Changes, ImageStatus, IndexedImage, KnownImage, SkippedImage
from .library import Library
from .indexer_plan import Plan, Work, find_moves, keep_offline, restore
from .perimage import encode_batch, encode_crops, prepare
from .progress import IndexSummary, Phase, ProgressEvent

if TYPE_CHECKING:
    from .config import ModelSpec
    from .encoder import Encoder

__all__ = ["index_folders", "IndexSummary", "ProgressEvent", "Phase"]

log = logging.getLogger(__name__)

COMMIT_EVERY = 256          # images per catalog transaction ...
COMMIT_SECONDS = 10.0       # ... or this many seconds, whichever comes first
PREFETCH_BATCHES = 3        # decoded batches queued ahead of the encoder
SCAN_EVENT_SECONDS = 0.25   # progress events during the scan at most this often
CANCEL_POLL_SECONDS = 0.1   # how often a wait for a decode looks at the cancel event


def index_folders(library: Library, folders: Iterable[str], spec: ModelSpec | None = None, *,
                  encoder: Encoder | None = None, cancel: threading.Event | None = None,
                  batch_size: int | None = None,
                  workers: int | None = None, thumbnails: Callable | None = None,
                  thumb_size: int = 256, commit_every: int = COMMIT_EVERY,
                  commit_seconds: float = COMMIT_SECONDS,
                  exclude: Iterable[str] = (),
                  download: Callable | None = None,
                  defer: Collection[str] = frozenset(),
                  crops: bool = True) -> Iterator[ProgressEvent]:
    """Scan ``folders`` (adding them to the library), embed new/changed images, keep moved ones,
    remove deleted ones; commit every ``commit_every`` images or ``commit_seconds`` seconds.

    ``spec``: the ModelSpec to index with; None -> ``encoder.spec``, the library's model, or the
    default preset. ``encoder``: an Encoder, or None (loaded from ``spec`` only if there is
    work). ``cancel``: a threading.Event checked between batches. ``batch_size``: images per
    encoder call (default ``encoder.batch_size``). ``workers``: decode threads (default
    cores - 1, at least 1). ``thumbnails``: optional callable(path, PIL RGB image whose longest
    side is <= ``thumb_size`` px), fed from the same decode, called from the decode threads.
    ``exclude``: folders never scanned; photos already indexed under them are removed from the
    library (the files themselves are never touched).
    ``download``: called with each :class:`~clipcore.download.DownloadProgress` while missing
    weights are fetched (when this call loads the model).
    ``defer``: files left alone this run (still being written, see clipcore.watch): not
    indexed, and their rows not removed.
    ``crops``: a photo wider or taller than 1.4:1 also gets vectors of square crops covering
    it (clipcore/crops.py), so a search finds what the model's centre crop cuts away.

    The last event has phase "done" and a summary. When the model differs from the library's,
    the library switches to it (``Library.set_model_spec``) only once every image has a vector
    for it, so search keeps using the old vectors meanwhile. Raises LibraryBusyError (another
    process is indexing), DiskFullError (what was committed before is kept), ModelNotFoundError.
    """
    start = time.monotonic()
    summary = IndexSummary()
    if spec is None:
        spec = encoder.spec if encoder is not None else library.model_spec()
    if spec is None:
        from .presets import resolve_model_spec
        spec = resolve_model_spec(None)
    identity = encoder.identity if encoder is not None else spec.identity()
    with library.writer_lock.hold():
        roots: dict[str, int] = {}       # what to scan -> its library folder's id
        for folder in folders:
            info = library.add_folder(folder)   # a sub-folder of a library folder: its parent
            roots[os.path.abspath(os.fsdecode(folder))] = info.id
        for root in list(roots):                # a folder inside another one given: once
            if any(root.startswith(other.rstrip(os.sep) + os.sep) for other in roots):
                del roots[root]
        plan = yield from _scan(library, roots, identity, summary, cancel, tuple(exclude),
                                frozenset(defer))
        planned = len(plan.work)
        left = collections.Counter(w.folder_id for w in plan.work)   # _embed counts down
        if plan.complete:
            library.catalog.purge_tombstones()
            restored = plan.changes.indexed
            library.apply(plan.changes, spec if restored else None,
                          len(restored[0].vector) if restored else None)
            if plan.work and not _cancelled(cancel):
                if encoder is None:
                    yield ProgressEvent(Phase.LOAD_MODEL, 0, len(plan.work), 0.0, None, None)
                    from .encoder import Encoder
                    encoder = Encoder.load(spec, progress=download, cancel=cancel)
                work, plan.work = collections.deque(plan.work), []   # _embed frees it as it goes
                yield from _embed(library, work, spec, encoder, summary, cancel,
                                  batch_size or encoder.batch_size,
                                  workers or max(1, (os.cpu_count() or 2) - 1),
                                  thumbnails, thumb_size, commit_every, commit_seconds, left,
                                  crops)
            library.set_pending({fid: left[fid] for fid in set(roots.values())})
        summary.cancelled = _cancelled(cancel) or not plan.complete
        if not summary.cancelled and library.model_identity() != identity \
                and library.missing_vectors(identity) == 0 and library.count(identity):
            library.set_model_spec(spec)
        library.save_indexes()
        if encoder is not None and not summary.cancelled:
            _refresh_tags(library, encoder)
    summary.seconds = time.monotonic() - start
    yield ProgressEvent(Phase.DONE, planned, planned, summary.images_per_second, 0.0,
                        None, summary)


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def _scan(library: Library, roots: dict[str, int], identity: str, summary: IndexSummary,
          cancel: threading.Event | None, exclude: tuple[str, ...] = (),
          defer: frozenset[str] = frozenset()) -> Generator[ProgressEvent, None, Plan]:
    """Walk the folders (path -> library folder id; a path may be a sub-folder of its library
    folder: only it is scanned and diffed) against the catalog. Returns a Plan (generator
    return)."""
    plan = Plan()
    gone: dict[str, KnownImage] = {}     # path -> catalog row of files not seen
    seen, last_event = 0, time.monotonic()
    scanned: list[offline.ScannedFolder] = []
    folder_paths = {f.id: f.path for f in library.folders()}
    for root, folder_id in roots.items():
        known = library.folder_state(folder_id, identity)
        inside = root.rstrip(os.sep) + os.sep
        if any(not p.startswith(inside) for p in known):   # a sub-folder: only its own rows
            known = {p: row for p, row in known.items() if p.startswith(inside)}
        volumes = {p: v for p, v in library.volumes(folder_id).items() if offline.inside(p, root)}
        ctx = offline.ScannedFolder(folder_id, root, volumes, sorted(known), is_folder=folder_paths
                                    .get(folder_id) == root, reason=offline.reachability(root))
        scanned.append(ctx)
        if ctx.reason is not None:
            continue                     # nothing is read, nothing is removed
        protected: list[str] = []        # folders the scanner could not read: keep their rows
        sniffed = scanner.Remembered(library.sniffed(root))
        for item in scanner.scan_folder(root, exclude, ignored=summary.ignored, sniffed=sniffed,
                                        devices=ctx.devices):
            seen += 1
            if isinstance(item, scanner.ScanProblem):
                protected.append(item.path.rstrip(os.sep) + os.sep)
                if item.folder:          # not a file: reported, never counted as a skipped file
                    summary.unreadable_folders[item.path] = item.reason
                    log.warning("Could not read the folder %s (%s); the photos already indexed "
                                "in it are kept.", item.path, item.reason)
                    stale = known.pop(item.path, None)     # recorded as a "file" by older runs
                    if stale is not None:
                        plan.changes.removed.append(stale.id)
                    continue
                row = known.pop(item.path, None)
                if row is None or row.status != ImageStatus.SKIPPED:
                    plan.changes.skipped.append(SkippedImage(item.path, folder_id, -1, -1, item.reason))
                    summary.skip(item.reason)
                else:
                    summary.unchanged += 1
                continue
            ctx.found.append(item.path)
            row = known.pop(item.path, None)
            if item.path in defer:
                continue
            if row is None:
                plan.work.append(Work(item, folder_id, None))
            elif (row.size, row.mtime_ns) != (item.size, item.mtime_ns):
                plan.work.append(Work(item, folder_id, row.id))
            elif row.status == ImageStatus.OK and not row.has_vector:   # not embedded with this model yet
                plan.work.append(Work(item, folder_id, row.id))
            else:
                summary.unchanged += 1
            now = time.monotonic()
            if now - last_event >= SCAN_EVENT_SECONDS:
                last_event = now
                if _cancelled(cancel):
                    plan.complete = False
                    return plan
                yield ProgressEvent(Phase.SCAN, seen, 0, 0.0, None, item.path)
        ctx.found.sort()
        gone.update((p, row) for p, row in known.items()
                    if not any(p.startswith(prefix) for prefix in protected))
        if sniffed.used != sniffed.loaded:   # new answers, or files gone: keep what is true now
            library.remember_sniffed(root, sniffed.used)
    if _cancelled(cancel):
        plan.complete = False
        return plan
    find_moves(plan, gone, summary)
    for ctx in scanned:
        keep_offline(plan, gone, ctx, summary)
    plan.changes.removed += [row.id for row in gone.values()]
    restore(library, plan, identity, summary)
    summary.removed = len(plan.changes.removed)
    for w in plan.work:
        if w.image_id is None:
            summary.new += 1
        else:
            summary.changed += 1
    return plan


# -- decode + encode ------------------------------------------------------------------------
def _refresh_tags(library: Library, encoder: Encoder) -> None:
    """Smart albums follow the library: score the new photos for every tag (tags.py)."""
    from .tags import refresh_tags

    try:
        refresh_tags(library, encoder, model_identity=encoder.identity)
    except Exception:  # tags are a view; indexing has succeeded either way
        log.warning("Could not update the tags after indexing.", exc_info=True)


def _embed(library: Library, work: collections.deque, spec: ModelSpec, encoder: Encoder,
           summary: IndexSummary, cancel: threading.Event | None,
           batch_size: int, workers: int, thumbnails: Callable | None, thumb_size: int,
           commit_every: int, commit_seconds: float,
           left: collections.Counter, crops: bool = True) -> Iterator[ProgressEvent]:
    total, done, encoded = len(work), 0, 0
    pending = Changes()
    began = last_commit = time.monotonic()
    ahead = batch_size * PREFETCH_BATCHES
    queue: collections.deque = collections.deque()

    def rate() -> float:
        elapsed = time.monotonic() - began
        return done / elapsed if elapsed > 0 else 0.0

    def event(phase: Phase, current: str | None) -> ProgressEvent:
        r = rate()
        return ProgressEvent(phase, done, total, r, (total - done) / r if r > 0 else None, current)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clipcore-decode")
    with _pool_closed(pool, cancel):
        while True:
            while len(queue) < ahead and work:
                queue.append(pool.submit(prepare, work.popleft(), encoder, thumbnails,
                                         thumb_size, crops))
            if not queue:
                break
            batch: list = []
            while queue and len(batch) < batch_size:
                if not _ready(queue[0], cancel):
                    break
                p = queue.popleft().result()
                done += 1
                left[p.work.folder_id] -= 1
                if p.gone:
                    if p.work.image_id is not None:
                        pending.removed.append(p.work.image_id)
                        summary.removed += 1
                    _uncount(summary, p.work)
                elif p.skip is not None:
                    pending.skipped.append(SkippedImage(p.work.entry.path, p.work.folder_id,
                                                        p.size, p.mtime_ns, p.skip))
                    summary.skip(p.skip)
                    _uncount(summary, p.work)
                else:
                    batch.append(p)
            if _cancelled(cancel):          # decoded, not encoded: left for the next run
                for p in batch:
                    left[p.work.folder_id] += 1
                done -= len(batch)
                break
            if batch:
                vectors, failures = encode_batch(encoder, batch)
                encode_crops(encoder, batch, failures)
                for i, p in enumerate(batch):
                    if i in failures:
                        pending.skipped.append(SkippedImage(
                            p.work.entry.path, p.work.folder_id, p.size, p.mtime_ns,
                            failures[i]))
                        summary.skip(failures[i])
                        _uncount(summary, p.work)
                        continue
                    encoded += 1
                    vec, d = vectors[i], p.decoded
                    taken, source = ((d.date_taken, SOURCE_EXIF) if d.date_taken else
                                     (file_date(p.mtime_ns), SOURCE_FILE))
                    pending.indexed.append(IndexedImage(
                        p.work.entry.path, p.work.folder_id, p.size, p.mtime_ns, vec,
                        p.digest, d.width, d.height, taken, source,
                        perceptual_hash=p.perceptual, crops=p.crop_vectors))
            yield event(Phase.ENCODE, (batch[-1] if batch else p).work.entry.path)
            if len(pending) >= commit_every or time.monotonic() - last_commit >= commit_seconds:
                library.apply(pending, spec, encoder.dim)
                pending, last_commit = Changes(), time.monotonic()
                yield event(Phase.COMMIT, None)
            if _cancelled(cancel):
                break
    library.apply(pending, spec, encoder.dim)
    elapsed = time.monotonic() - began
    summary.images_per_second = encoded / elapsed if elapsed > 0 else 0.0
    yield event(Phase.COMMIT, None)


def _ready(future: Future, cancel: threading.Event | None) -> bool:
    """Wait for ``future`` (a decode); False as soon as ``cancel`` is set while waiting."""
    while not future.done():
        if _cancelled(cancel):
            return False
        wait([future], timeout=CANCEL_POLL_SECONDS)
    return True


@contextlib.contextmanager
def _pool_closed(pool: ThreadPoolExecutor, cancel: threading.Event | None) -> Iterator[None]:
    """Shut ``pool`` down on leaving: queued decodes are dropped; decodes in flight are waited
    for, unless the run was cancelled (then their threads finish on their own)."""
    try:
        yield
    finally:
        pool.shutdown(wait=not _cancelled(cancel), cancel_futures=True)


def _uncount(summary: IndexSummary, w: Work) -> None:
    """A planned file turned out gone or unreadable: it is not new/changed after all."""
    if w.image_id is None:
        summary.new -= 1
    else:
        summary.changed -= 1

