"""Which explanation the window shows when the results grid is empty.

A pure decision over the window's state (no widgets), so every case is easy to test and new
states have one place to go. The window shows the returned :class:`EmptyPage` in its
:class:`~desktop.widgets.notices.EmptyState` and runs the page's ``action`` by name.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EmptyPage", "choose_empty_page"]


@dataclass(frozen=True)
class EmptyPage:
    """``title``, ``body`` (rich text), and an optional button: ``action`` is its name
    ("add", "settings", "lower"), ``button`` its label."""

    title: str
    body: str
    action: str = ""
    button: str = ""


def choose_empty_page(*, model_state: str, model_message: str, have_folders: bool,
                      indexing: bool, search_error: str, query_label: str | None,
                      hit_count: int, min_score: float) -> EmptyPage:
    """The page for an empty grid, most urgent first.

    ``model_state`` is the controller's ("loading" | "ready" | "missing" | "error") with its
    message; ``query_label`` is None when nothing is being searched; ``hit_count`` is what the
    search returned before the minimum-score filter (``min_score``, a cosine similarity).
    """
    if model_state in ("missing", "error"):
        title = "Model weights missing" if model_state == "missing" else "The model could not load"
        return EmptyPage(title, f"{model_message}<br><br>Choose another model in Settings; "
                         "photos already indexed stay indexed.", "settings", "Settings…")
    if not have_folders and not indexing:
        return EmptyPage("Add a folder of photos",
                         "Choose a folder (or drop one on this window); clipdesk indexes "
                         "its photos so you can search them by what they show.",
                         "add", "Add folder…")
    if search_error:
        return EmptyPage("Cannot search", search_error)
    if query_label is not None and hit_count:
        return EmptyPage("Nothing above the minimum score",
                         f"All {hit_count:,} results score below {min_score:.2f}; lower the "
                         "minimum score.", "lower", "Show all")
    if query_label is not None:
        return EmptyPage("Nothing found", f"No photo matched {query_label}. "
                         "Try other words, or add more folders.")
    hint = " Indexing is running; what is already indexed can be searched." if indexing else ""
    return EmptyPage("Search your photos",
                     "Type what you are looking for (beach + sunset - people), or "
                     "drop or paste a photo to find similar ones." + hint)
