"""Ctrl-C ends a run with one line and exit status 130 at any moment, also while the script is still
importing torch (a second or two), where Python's own handler would print the import's traceback.

A script imports this module before anything else; `common.run_cli` then hands SIGINT back to Python
(KeyboardInterrupt), so that a run folder being written is cleaned up as on any other failure.
"""

import signal
import sys

INTERRUPTED_STATUS = 130  # 128 + SIGINT, what a shell reports for a command ended by Ctrl-C


def exit_quietly(signal_number, frame) -> None:
    print("interrupted", file=sys.stderr)
    raise SystemExit(INTERRUPTED_STATUS)


# Only where Ctrl-C would interrupt: a shell's background job ignores SIGINT, and keeps ignoring it.
if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, exit_quietly)
