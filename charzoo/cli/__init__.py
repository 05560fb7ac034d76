"""The ``charzoo`` command line: list models, train, sample, score and inspect model files.

::

    charzoo models [--trace]                 # available models (and every plugin found)
    charzoo pretrained                       # models shipped with charzoo, ready to sample
    charzoo generate names-gru -n 10         # sample a pretrained model (or a .cz file)
    charzoo fit mlp names -o names.cz --param block_size=4 --max-steps 5000 --threads 1
    charzoo fit mlp names -o names.cz --resume names.cz --max-steps 2000   # train on
    charzoo fit mixture names -o mix.cz --member ngram:order=5 --member transformer
    charzoo encode corpus.txt -o corpus.czb  # ids on disk; then: charzoo fit gru corpus.czb ...
    charzoo generate names.cz -n 20 --temperature 0.8 --novel names
    charzoo score names.cz test.txt
    charzoo info names.cz

``DATA`` is a UTF-8 text file (one text per line in document mode, the whole file in stream
mode; a byte-order mark is skipped, ``\r\n`` and ``\r`` line ends read as ``\n``), an encoded
corpus ``.czb`` (one stream, memory-mapped), or one of the bundled corpora ``names``,
``dinos``, ``shakespeare``. Errors print one line and exit with status 1 (2 for usage errors;
130 for Ctrl-C); ``--debug`` shows the traceback.

Start-up is kept short: ``import charzoo`` imports nothing heavy, and torch, scikit-learn and
the plugins are imported only by the commands that need them, after the Ctrl-C handling is in
place, so Ctrl-C at any moment prints one line.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings

from charzoo.cli.inputs import CLIError
from charzoo.cli.parser import build_parser
from charzoo.cli.signals import exit_now, on_sigint, one_line_warnings

__all__ = ["build_parser", "main", "run"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``charzoo`` command; returns the exit status.

    Ctrl-C prints one line at any moment: while training and saving it raises
    ``KeyboardInterrupt`` (training stops and keeps the best weights, the save finishes or
    leaves the old file); anywhere else the command exits at once with status 130.
    """
    with on_sigint(exit_now):
        parser = build_parser()
        args = parser.parse_args(argv)
        if not args.debug:
            warnings.showwarning = one_line_warnings
        try:
            return args.func(args)
        except KeyboardInterrupt:
            print("charzoo: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # output piped into `head`: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except Exception as exc:
            if args.debug:
                raise
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if isinstance(exc, FileNotFoundError) and exc.filename:
                message = f"no such file: {exc.filename}"
            elif isinstance(exc, MemoryError) or "can't allocate memory" in message:
                message = (
                    "not enough memory for this request; lower n, max_length or the model size"
                )
            elif not isinstance(exc, (ValueError, TypeError, OSError, CLIError)):
                message = f"internal error ({type(exc).__name__}: {message}); rerun with --debug"
            print(f"charzoo: error: {message}", file=sys.stderr)
            return 1


def run() -> None:
    """Console-script entry point: :func:`main`, with Ctrl-C giving one line until exit."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, exit_now)
    sys.exit(main())
