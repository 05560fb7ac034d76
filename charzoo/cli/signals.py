"""Ctrl-C and warnings on the command line: one line, never a traceback."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["exit_now", "on_sigint", "one_line_warnings"]


def one_line_warnings(message, category, filename, lineno, file=None, line=None) -> None:
    text = str(message).splitlines()[0] if str(message) else category.__name__
    print(f"charzoo: warning: {text}", file=sys.stderr)


def exit_now(signum: int, frame: object) -> None:
    """SIGINT outside training: one line and exit 130 at once (no traceback, no clean-up to
    wait for: nothing is being written)."""
    os.write(2, b"charzoo: interrupted\n")
    os._exit(130)


@contextmanager
def on_sigint(handler) -> Iterator[None]:
    """Install ``handler`` for SIGINT in the body (main thread only), then restore the old one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
