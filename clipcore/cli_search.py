"""The `clipcore search` and `clipcore similar` commands: filters (folder, dates), sort,
several example images for and against, and output as a table, JSON, CSV or copies."""

from __future__ import annotations

import json
import os
import sys

from .errors import QueryError
from .textout import path_fields, shown

__all__ = ["add_search_commands"]


def add_search_commands(sub, common) -> None:
    """Add `search` and `similar` to the argparse sub-parsers ``sub`` (``common``: the shared
    options parser)."""
    from .cli import _positive_int, _similarity

    for name, helptext in (("search", "search photos by text and/or images"),
                           ("similar", "find photos like one or more images")):
        p = sub.add_parser(name, parents=[common], help=helptext)
        if name == "search":
            p.add_argument("query", nargs="+", metavar="QUERY",
                           help="e.g. '2:beach + sunset - people'; a term may be an image path")
        else:
            p.add_argument("images", nargs="+", metavar="IMAGE",
                           help="image files (indexed or not): results are like all of them "
                                "(the mean of their vectors)")
            p.add_argument("--less", action="append", default=[], metavar="IMAGE",
                           help="results are less like this image (repeatable)")
        p.add_argument("-k", type=_positive_int, default=10, metavar="N",
                       help="number of results (default: 10)")
        p.add_argument("--threshold", type=_similarity, metavar="S",
                       help="only results with cosine similarity >= S (between -1 and 1)")
        p.add_argument("--folder", metavar="DIR", help="only results inside this library folder")
        p.add_argument("--after", metavar="DATE",
                       help="only photos taken on or after DATE (YYYY-MM-DD)")
        p.add_argument("--before", metavar="DATE",
                       help="only photos taken on or before DATE (YYYY-MM-DD)")
        p.add_argument("--sort", choices=["relevance", "date"], default="relevance",
                       help="relevance (best first, default) or date (newest first, over all "
                            "results above --threshold)")
        out = p.add_mutually_exclusive_group()
        out.add_argument("--json", action="store_true",
                         help='print a JSON array of {"path", "score", "id", "date_taken"}')
        out.add_argument("--csv", action="store_true",
                         help="print CSV with the header path,score,date_taken,id")
        p.add_argument("--copy-to", metavar="DIR",
                       help="copy the results into DIR (never moves; clashing names get a "
                            "suffix) and print where each went")
        p.set_defaults(run=_cmd_search)


def _cmd_search(args) -> int:
    from .cli import EXIT_OK, EXIT_USAGE, _model_spec, _open_library
    from .cli_report import DownloadBar
    from .dates import DateRange
    from .search import Example, Searcher

    try:
        dates = DateRange(args.after, args.before)
    except QueryError as exc:   # a typo on the command line: usage error, one line
        print(f"clipcore: error: {shown(exc)}", file=sys.stderr)
        return EXIT_USAGE
    with _open_library(args) as library:
        spec = _model_spec(args, library, indexed=True)

        def load_encoder():
            from .encoder import Encoder

            with DownloadBar() as download:
                return Encoder.load(spec, progress=download)

        searcher = Searcher(library, load_encoder, spec.identity())
        options = dict(k=args.k, threshold=args.threshold, folder=args.folder, dates=dates,
                       sort=args.sort)
        if args.command == "search":
            hits = searcher.search(" ".join(args.query), **options)
        else:
            examples = [Example(_image_arg(a), 1.0) for a in args.images]
            examples += [Example(_image_arg(a), -1.0) for a in args.less]
            hits = searcher.search(examples=examples, **options)
    if args.json:
        json.dump([{**path_fields(h.path), "score": h.score, "id": h.id,
                    "date_taken": h.date_taken} for h in hits], sys.stdout, indent=2)
        print()
    elif args.csv:
        from .export import write_csv

        write_csv(hits, sys.stdout)
    elif not hits:
        print("No results." + (" Try a lower --threshold." if args.threshold is not None else ""))
    elif not args.copy_to:
        print(" score  date taken  path")
        for h in hits:
            print(f"{h.score:6.3f}  {(h.date_taken or '')[:10]:<10}  {shown(h.path)}")
    if args.copy_to and hits:
        return _copy_hits(hits, args.copy_to, sys.stderr if args.json or args.csv else sys.stdout)
    return EXIT_OK


def _image_arg(path: str) -> str:
    """An absolute path (the Searcher says what is wrong with a missing file or a folder)."""
    return os.path.abspath(os.path.expanduser(path))


def _copy_hits(hits, dest: str, out) -> int:
    from .cli import EXIT_ERROR, EXIT_OK
    from .export import copy_files

    result = copy_files([h.path for h in hits], dest)
    for src, dst in result.copied:
        print(f"{shown(src)} -> {shown(dst)}", file=out)
    for src, reason in result.failed:
        print(f"clipcore: error: could not copy {shown(src)}: {shown(reason)}", file=sys.stderr)
    print(f"Copied {len(result.copied)} of {len(hits)} photos to {shown(os.path.abspath(dest))} "
          "(originals untouched).", file=sys.stderr)
    return EXIT_ERROR if result.failed else EXIT_OK
