"""Exploring a library beyond search (issue 13): duplicate review, visual groups, the map and
auto-tags, each a view over a clipcore job run in a :class:`~desktop.workers.JobWorker`."""
