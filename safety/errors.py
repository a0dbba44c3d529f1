"""How does a bad input end? With one line and exit status 2, before any work.

`DataError` is the bad input a user can fix (a file, an option, a folder); `common.run_cli` prints
it as `error: <one line>` and exits with status 2. The line is made printable first (`printable`),
since it may quote a file name or a value read from an untrusted file.
"""

from pathlib import Path


class DataError(Exception):
    """Bad input the user can fix: reported as one line and exit status 2."""


def printable(text: str) -> str:
    """`text` on one line: newlines, escape bytes and other unprintable characters shown escaped."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def file_kind(path: Path) -> str:
    """What `path` is, in words, for an error that refuses it: "a folder", "a FIFO", ..."""
    kinds = {"a folder": path.is_dir(), "a regular file": path.is_file(), "a FIFO": path.is_fifo(),
             "a character device": path.is_char_device(),
             "a block device": path.is_block_device()}
    return next((name for name, is_kind in kinds.items() if is_kind),
                "a socket or other special file")
