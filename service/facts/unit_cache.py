"""Where pint keeps what building the UCUM registry produces: the user's cache directory, never the repository.

Pint parses its definition files and derives its unit tables on every start (about 1.5 s); given a cache folder it
stores both (keyed by a hash of each file's content, so a new pint or ucumvert release builds afresh) and reads them
back in a fraction of that. The folder is ``$XDG_CACHE_HOME/fasciculation-cds/pint`` (``~/.cache/...``); where it
cannot be written (a read-only file system) the registry is built without a cache, as before.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "fasciculation-cds"


def ucum_cache_folder() -> Path | None:
    """The pint cache folder, created if needed; None when it cannot be created or written."""
    folder = platformdirs.user_cache_path(APP_NAME, appauthor=False) / "pint"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK | os.X_OK) else None
