"""One clipdesk per library: a second start hands its folders to the running one and exits.

The running app listens on a local socket (QLocalServer: a Unix socket, or a named pipe on
Windows) named after the user and the data directory, so two libraries (``CLIPDESK_DATA_DIR``)
can still run side by side. A new start first tries to connect: when someone answers, it sends
one JSON line ``{"folders": [...]}``, waits for ``ok``, and exits 0; the running window comes
to the front and adds the folders. A socket left behind by a crashed run answers nobody and
is removed before listening.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

__all__ = ["server_name", "send_to_running", "InstanceServer"]

CONNECT_MS = 500     # a running instance answers at once; nobody there fails at once
REPLY_MS = 3000      # the running one may be busy for a moment (e.g. painting a big grid)


def server_name(data_dir: str | os.PathLike) -> str:
    """The local socket name for this user and data directory (short: socket paths are
    limited to ~100 bytes)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):   # no user name (some containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    key = hashlib.sha256(f"{user}\0{os.path.realpath(data_dir)}".encode()).hexdigest()[:16]
    return f"clipdesk-{key}"


def send_to_running(name: str, folders: list[str]) -> bool:
    """Hand ``folders`` to a clipdesk already running under ``name``; True when one runs (then
    this process should exit), False when none does (a socket left by a crash refuses)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return False
    socket.write(json.dumps({"folders": folders}).encode() + b"\n")
    socket.waitForBytesWritten(REPLY_MS)
    socket.waitForReadyRead(REPLY_MS)   # "ok"; a busy instance may answer late, but it runs:
    socket.disconnectFromServer()       # never start a second window (or take its socket)
    return True


class InstanceServer(QObject):
    """Listens for later starts; ``activated(list[str])`` carries the folders they were given
    (empty: just come to the front). Emitted on the GUI thread."""

    activated = Signal(object)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self.server.listen(name):
            QLocalServer.removeServer(name)   # a stale socket from a run that crashed
            self.server.listen(name)
        self.server.newConnection.connect(self._accept)

    @property
    def listening(self) -> bool:
        return self.server.isListening()

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.setParent(self)
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        try:
            message = json.loads(bytes(socket.readLine().data()))
            folders = [str(f) for f in message.get("folders", [])]
        except (ValueError, AttributeError, TypeError):
            folders = []
        socket.write(b"ok\n")
        socket.flush()
        self.activated.emit(folders)
