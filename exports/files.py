"""Writing export files: complete or absent, with the permissions a plain open() gives."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from exports.formatting import N_


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(out: Path) -> Iterator[BinaryIO]:
    """A binary stream to a temporary file beside `out`, renamed to `out` when the block ends
    normally and deleted when it raises: readers never see a half-written export."""
    out = Path(out)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 -> what open() would give
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# Write errors that mean "no room": the disk (or the user's quota) is full, or a size limit.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
NO_SPACE_MESSAGE = N_("the server ran out of disk space while writing the file")  # gettext where shown


def out_of_space(error: BaseException | None) -> bool:
    """Whether error (or what caused it: XlsxWriter wraps OS errors) is a full disk."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, OSError) and error.errno in _NO_SPACE:
            return True
        inner = next((a for a in getattr(error, "args", ()) if isinstance(a, BaseException)), None)
        error = error.__cause__ or error.__context__ or inner
        seen += 1
    return False
