"""``python -m charzoo``: the command line (see :mod:`charzoo.cli`)."""

import os
import signal


def _exit_now(signum, frame):  # Ctrl-C during start-up: one line, no traceback
    os.write(2, b"charzoo: interrupted\n")
    os._exit(130)


signal.signal(signal.SIGINT, _exit_now)

from charzoo.cli import run  # noqa: E402  (after the handler: the import can be interrupted)

run()
