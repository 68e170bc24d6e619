"""Type aliases shared by the package (Python 3.11 has no collections.abc.Buffer)."""

from __future__ import annotations

import mmap
from typing import TypeAlias

Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap

__all__ = ["Buffer"]
