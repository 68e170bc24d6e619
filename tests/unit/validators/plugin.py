"""Install the third-party plug-in of tests/data/acme_validators on sys.path for one test."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data" / "acme_validators"


@contextmanager
def installed_plugin(site: Path) -> Iterator[Path]:
    """The distribution's module and dist-info copied into `site`, put first on sys.path.

    This is what ``pip install --target`` leaves: importlib.metadata finds its
    entry points there like those of any installed distribution.
    """
    site.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "acme_validators.py", site)
    shutil.copytree(DATA / "acme_validators-1.0.dist-info", site / "acme_validators-1.0.dist-info")
    sys.path.insert(0, str(site))
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("acme_validators", None)
