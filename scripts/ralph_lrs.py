"""Serve the Ralph LRS (openfun/ralph, ralph-malph 5.1) with its file-system backend, for
`make lrs` and the LRS sync tests (tests/lrs.py). Run it with the Ralph virtualenv's Python:

    .venv-ralph/bin/python scripts/ralph_lrs.py --data DIR [--host 127.0.0.1] [--port 8100]

What `ralph runserver -b fs` does (uvicorn serving ralph.api:app, settings from RALPH_*
variables: credentials in $RALPH_APP_DIR/auth.json), with two differences:

- each POST appends to the backend's file: Ralph 5.1's file-system LRS backend writes with the
  "create" operation, so the first POST creates fs_lrs.jsonl and every later one fails ("already
  exists and overwrite is not allowed", answered 500). An LRS that takes statements once is no
  LRS, so its default operation becomes "append" here: the only change to Ralph.
- no reloader (runserver always reloads on file changes, in a second process).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="folder of the statements file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    os.environ["RALPH_RUNSERVER_BACKEND"] = "fs"
    os.environ["RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH"] = str(args.data.resolve())

    import uvicorn
    from ralph.backends.data.base import BaseOperationType
    from ralph.backends.data.fs import FSDataBackend
    from ralph.conf import settings

    FSDataBackend.default_operation_type = BaseOperationType.APPEND
    from ralph.api import app

    uvicorn.run(app, host=args.host, port=args.port, log_config=settings.LOGGING, log_level="info")


if __name__ == "__main__":
    main()
