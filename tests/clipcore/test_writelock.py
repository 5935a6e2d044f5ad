"""The writer lock of a data directory: one writer at a time across processes and threads,
re-entrant for its holder, a clear "library is busy" sentence after the timeout, and no lock
left behind by a writer that dies."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clipcore.errors import LibraryBusyError
from clipcore.writelock import BUSY_MESSAGE, WriterLock

ROOT = Path(__file__).resolve().parents[2]
HOLD = ("import sys\nfrom clipcore.writelock import WriterLock\n"
        "lock = WriterLock(sys.argv[1])\n"
        "with lock.hold():\n"
        "    print('held', flush=True); sys.stdin.readline()\n")


def _holder(data_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(data_dir)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if proc.stdout.readline().strip() != "held":
        with proc:
            proc.kill()
        pytest.fail("the lock-holding process did not take the lock")
    return proc


def test_the_holder_can_take_it_again_and_other_threads_wait_then_hear_busy(tmp_path):
    lock = WriterLock(tmp_path, timeout=0.3)
    outcome = []

    def other_thread():
        try:
            with lock.hold():
                outcome.append("got it")
        except LibraryBusyError as err:
            outcome.append(str(err))

    with lock.hold(), lock.hold():   # re-entrant: an indexer inside a folder update
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(30)
    assert outcome == [BUSY_MESSAGE]
    assert "\n" not in BUSY_MESSAGE and "busy" in BUSY_MESSAGE
    thread = threading.Thread(target=other_thread)   # released: the other thread gets it
    thread.start()
    thread.join(30)
    assert outcome[-1] == "got it"


def test_a_waiting_writer_gets_the_lock_when_the_holder_lets_go(tmp_path):
    lock = WriterLock(tmp_path, timeout=60)
    got = threading.Event()

    def waiter():
        with lock.hold():
            got.set()

    with lock.hold():
        thread = threading.Thread(target=waiter)
        thread.start()
        assert not got.wait(0.3)   # still held: the waiter waits
    assert got.wait(30)
    thread.join(30)


def test_another_process_is_busy_until_the_holder_exits_and_timeout_0_does_not_wait(tmp_path):
    with _holder(tmp_path) as holder:     # (leaving closes its pipes and waits for it)
        try:
            lock = WriterLock(tmp_path, timeout=60)
            started = time.monotonic()
            with pytest.raises(LibraryBusyError, match="busy"), lock.hold(timeout=0):
                pass
            assert time.monotonic() - started < 30    # did not wait for the 60 s default
        finally:
            holder.stdin.close()
            holder.wait(30)
    with lock.hold(timeout=5):
        pass


def test_a_writer_that_dies_leaves_no_lock(tmp_path):
    with _holder(tmp_path) as holder:
        holder.kill()
        holder.wait(30)
    with WriterLock(tmp_path, timeout=5).hold():
        pass
