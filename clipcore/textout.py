"""What the ``clipcore`` command prints: names made safe for a terminal, exact in JSON.

Plain text (:func:`shown`): a file name is data from anyone, and printed raw, an ESC / OSC
sequence in it can retitle or clear the terminal and a newline can fake extra output lines.
Like ``ls`` (GNU ``--quoting-style=escape``), every control character is shown as an escape:
``\\n``, ``\\t``, ``\\r`` and ``\\xNN`` for the other C0 controls, DEL and the C1 controls
(U+0080-U+009F, which some terminals obey too), ``\\uNNNN`` for the Unicode line/paragraph
separators and the bidirectional-override controls (which reorder what is shown). Bytes of a
file name that are not valid UTF-8 (a surrogate-escaped ``str``, see os.fsdecode) are shown as
``\\xNN``. Everything else, backslashes included, is printed as it is.

JSON (:func:`path_fields`): ``"path"`` is the name as text, exactly (JSON escapes control
characters itself); a name that is not valid UTF-8 keeps its undecodable bytes as lone
surrogates U+DC80-U+DCFF (Python's ``surrogateescape``: ``os.fsencode(path)`` in Python gives
the bytes back), and then also gets ``"path_bytes"``: the name's exact bytes in base64, for
every other JSON reader.
"""

from __future__ import annotations

import base64
import logging
import os
import re

__all__ = ["SafeFormatter", "path_fields", "shown"]

_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
# C0, DEL, C1; Unicode line / paragraph separators; bidi embedding, override and isolate
# controls; lone surrogates (undecodable bytes of a file name).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\udc80-\udcff]")


def _escape(match: re.Match) -> str:
    ch = match.group()
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if code <= 0x9F:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"     # the original byte
    return f"\\u{code:04x}"


def shown(text) -> str:
    """``text`` (str, or anything ``str()`` takes) with every character that could drive a
    terminal or fake a line shown as an escape (see the module docstring)."""
    return _UNSAFE.sub(_escape, str(text))


def path_fields(path: str) -> dict[str, str]:
    """``{"path": path}`` plus ``"path_bytes"`` (base64 of the exact bytes) when ``path`` is not
    valid UTF-8 text. See the module docstring for the encoding."""
    fields = {"path": path}
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        fields["path_bytes"] = base64.b64encode(os.fsencode(path)).decode("ascii")
    return fields


class SafeFormatter(logging.Formatter):
    """A logging formatter that shows the message with control characters escaped (one line);
    a traceback attached to the record (debug logging only) is printed as it is."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return shown(super().formatMessage(record))
