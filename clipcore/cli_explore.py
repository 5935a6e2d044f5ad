"""The ``clipcore`` commands that explore a library: ``duplicates``, ``groups``, ``map``, ``tag``.

Each prints a readable listing, or with ``--json`` a JSON document on stdout; progress and
warnings go to stderr. Ctrl+C cancels (exit code 130) without changing anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .errors import ClipcoreError, NotIndexedError
from .textout import shown

__all__ = ["add_commands"]


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"must be a cosine similarity between -1 and 1 (e.g. 0.9), not '{text}'")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (e.g. 1.5), not '{text}'") from None


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add the exploring commands to the ``clipcore`` sub-parsers."""
    from .duplicates import DEFAULT_THRESHOLD

    p = sub.add_parser("duplicates", parents=[common],
                       help="find near-duplicate and identical photos")
    p.add_argument("--threshold", type=_threshold, default=DEFAULT_THRESHOLD, metavar="T",
                   help=f"cosine similarity for candidate pairs (default: {DEFAULT_THRESHOLD}); "
                        "candidates are confirmed by perceptual hashes")
    p.add_argument("--json", action="store_true",
                   help='print a JSON array of {"keep", "paths", "similarity"}')
    p.set_defaults(run=_cmd_duplicates)

    p = sub.add_parser("groups", parents=[common], help="group photos that look alike, named")
    p.add_argument("--groups", type=int, metavar="K", help="number of groups (default: chosen)")
    p.add_argument("--vocabulary", metavar="FILE",
                   help="labels to name groups with, one per line (default: everyday labels)")
    p.add_argument("--regroup", action="store_true",
                   help="cluster again instead of updating the cached groups")
    p.add_argument("--json", action="store_true", help='print a JSON array of {"name", "paths"}')
    p.set_defaults(run=_cmd_groups)

    p = sub.add_parser("map", parents=[common], help="draw a 2-D map of the library to a PNG")
    p.add_argument("--out", required=True, metavar="PNG", help="the image file to write")
    p.add_argument("--size", type=int, default=2048, metavar="PX", help="width and height (2048)")
    p.add_argument("--method", choices=["auto", "pca", "umap"], default="auto",
                   help="layout (default: UMAP from 200 photos, else PCA)")
    p.set_defaults(run=_cmd_map)

    p = sub.add_parser("tag", parents=[common], help="auto-tags (smart albums): add, list, show")
    tag = p.add_subparsers(dest="tag_command", metavar="ACTION", required=True)
    q = tag.add_parser("add", parents=[common], help="define a tag by words (and examples)")
    q.add_argument("name", metavar="NAME")
    q.add_argument("words", metavar="WORDS", help="what the photos show, e.g. 'a receipt'")
    q.add_argument("--example", action="append", default=[], metavar="IMG",
                   help="an example photo (repeatable)")
    q.add_argument("--threshold", type=_number, metavar="T",
                   help="score a photo needs (default: 1.5; higher = fewer photos)")
    q.set_defaults(run=_cmd_tag_add)
    q = tag.add_parser("list", parents=[common], help="list the tags with their photo counts")
    q.add_argument("--json", action="store_true")
    q.set_defaults(run=_cmd_tag_list)
    q = tag.add_parser("show", parents=[common], help="list the photos that have a tag")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--json", action="store_true", help='print {"name", "paths", "scores"}')
    q.set_defaults(run=_cmd_tag_show)
    q = tag.add_parser("remove", parents=[common], help="delete a tag (photos are not touched)")
    q.add_argument("name", metavar="NAME")
    q.set_defaults(run=_cmd_tag_remove)


def _library(args):
    from .cli import _open_library

    return _open_library(args)


def _need_vectors(library) -> None:
    if not library.has_vectors():
        raise NotIndexedError(f"No photos are indexed in {library.data_dir} yet; run "
                              "'clipcore index DIR' first.")


def _encoder(args, library):
    from .cli import _model_spec
    from .encoder import Encoder

    return Encoder.load(_model_spec(args, library, indexed=True))


class _Bar:
    """progress(done, total, phase) -> a tqdm bar on stderr, one per phase."""

    def __init__(self):
        self.bar: Any = None             # tqdm
        self.phase: str | None = None

    def __call__(self, done: int, total: int, phase: str) -> None:
        from tqdm import tqdm

        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total, desc=phase, file=sys.stderr, dynamic_ncols=True,
                            leave=False)
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _dump(value) -> None:
    # ASCII JSON: exact names, and a name that is not UTF-8 keeps its bytes as \udcXX escapes
    # (clipcore.textout) instead of raw bytes that would make the output invalid UTF-8.
    json.dump(value, sys.stdout, indent=2)
    print()


def _cmd_duplicates(args) -> int:
    from .duplicates import find_duplicates

    bar = _Bar()
    with _library(args) as library:
        _need_vectors(library)
        try:
            groups = find_duplicates(library, args.threshold, progress=bar)
        finally:
            bar.close()
    if args.json:
        _dump([{"keep": g.paths[0], "paths": g.paths, "similarity": round(g.similarity, 4)}
               for g in groups])
    elif not groups:
        print("No duplicates found." + ("" if args.threshold <= 0.8 else
                                       " Try a lower --threshold to look wider."))
    else:
        copies = sum(len(g.paths) - 1 for g in groups)
        print(f"{len(groups)} group(s) of duplicates, {copies} photo(s) could go:")
        for g in groups:
            kind = "identical files" if g.exact else f"similarity {g.similarity:.3f}"
            print(f"\n  keep  {shown(g.paths[0])}   ({kind})")
            for path in g.paths[1:]:
                print(f"  copy  {shown(path)}")
    return 0


def _cmd_groups(args) -> int:
    from .cli import _model_spec
    from .encoder import Encoder
    from .group_cache import library_groups
    from .vocabulary import load_labels

    if args.groups is not None and args.groups < 1:
        raise ClipcoreError(f"--groups must be at least 1, not {args.groups}.")
    labels = load_labels(args.vocabulary)
    bar = _Bar()
    with _library(args) as library:
        _need_vectors(library)
        spec = _model_spec(args, library, indexed=True)
        try:   # cached per model (group_cache); the model loads only to name new groups
            groups = library_groups(library, lambda: Encoder.load(spec),
                                    model_identity=spec.identity(), labels=labels,
                                    k=args.groups, refit=args.regroup, progress=bar)
        finally:
            bar.close()
        paths = {r.id: r.path for r in library.images([i for g in groups for i in g.ids])}
    if args.json:
        _dump([{"name": g.name, "paths": [paths[i] for i in g.ids if i in paths]} for g in groups])
    else:
        for g in groups:
            print(f"{len(g.ids):6d}  {shown(g.name)}   (cover: {shown(paths.get(g.ids[0], '?'))})")
    return 0


def _cmd_map(args) -> int:
    from .libmap import fit_layout, render_png

    out = os.path.abspath(os.path.expanduser(args.out))
    if not os.path.isdir(os.path.dirname(out)):
        raise ClipcoreError(f"The folder of {out} does not exist; create it or choose another path.")
    bar = _Bar()
    with _library(args) as library:
        _need_vectors(library)
        ids, vectors = library.all_vectors()
        try:
            model = fit_layout(ids, vectors, args.method, progress=bar)
        finally:
            bar.close()
        thumbs = _thumbnails(library, model.ids) if len(model.ids) <= 2_000 else None
    try:
        render_png(model.coords, out, size=max(64, args.size), thumbnails=thumbs)
    except OSError as exc:
        raise ClipcoreError(f"Could not write {out} ({exc.strerror or exc}).") from exc
    print(f"Wrote {out}: {len(model.ids)} photos, {model.method.upper()} layout.")
    return 0


def _thumbnails(library, ids) -> list:
    from .errors import ImageError
    from .imaging import make_thumbnail

    out: list = []
    for row in library.images(ids.tolist()):
        try:
            out.append(make_thumbnail(row.path, 64))
        except (ImageError, OSError):
            out.append(None)
    return out


def _cmd_tag_add(args) -> int:
    from .tags import DEFAULT_THRESHOLD, TagDef, check_name, define_tag

    check_name(args.name)
    examples = [os.path.abspath(os.path.expanduser(e)) for e in args.example]
    for path in examples:
        if not os.path.isfile(path):
            raise ClipcoreError(f"The example photo {path} does not exist; check the path.")
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    with _library(args) as library:
        _need_vectors(library)
        encoder = _encoder(args, library)
        count = define_tag(library, encoder, TagDef(args.name, args.words, threshold, examples))
    print(f"Tag '{args.name}' saved: {count} photo(s) have it. Search them with 'tag:{args.name}'.")
    return 0


def _cmd_tag_list(args) -> int:
    from .tags import list_tags

    with _library(args) as library:
        tags = list_tags(library)
    if args.json:
        _dump([{"name": t.name, "words": t.words, "threshold": t.threshold,
                "examples": t.examples, "count": n} for t, n in tags])
    elif not tags:
        print("No tags yet; add one with: clipcore tag add NAME \"words\"")
    else:
        for t, n in tags:
            print(f"{t.name:20s} {n:6d} photo(s)   \"{t.words}\"  threshold {t.threshold:g}"
                  + (f", {len(t.examples)} example(s)" if t.examples else ""))
    return 0


def _cmd_tag_show(args) -> int:
    from .tags import tag_members

    with _library(args) as library:
        members = tag_members(library, args.name)
    if args.json:
        _dump({"name": args.name, "paths": [p for p, _ in members],
               "scores": [round(s, 3) for _, s in members]})
    elif not members:
        print(f"No photo has the tag '{args.name}'; lower its threshold with "
              f"'clipcore tag add {args.name} \"...\" --threshold T'.")
    else:
        for path, score in members:
            print(f"{score:6.2f}  {shown(path)}")
    return 0


def _cmd_tag_remove(args) -> int:
    with _library(args) as library:
        if not library.catalog.delete_tag(args.name):
            raise ClipcoreError(f"There is no tag '{args.name}'; 'clipcore tag list' lists them.")
    print(f"Removed the tag '{args.name}' (no photo was touched).")
    return 0
