"""Transfer syntax transcoding: native rewriting and the codec matrix.

Every transcode produces a :class:`TranscodeRecord` naming the path taken
(PS3.2 Table N.5-9: SUPPORTED, NEW_UID or NOT_SUPPORTED). The codec matrix
(:mod:`storecore.transcode.matrix`) imports numpy and is loaded on first use,
so that the native path keeps its start-up cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storecore.transcode.native import NATIVE_CODEC, transcode_dataset, transcode_file
from storecore.transcode.records import TranscodePath, TranscodeRecord

if TYPE_CHECKING:
    from storecore.transcode.codecs import DEFAULT_REGISTRY, Codec, CodecRegistry
    from storecore.transcode.matrix import PathDecision, transcode, transcode_path

__all__ = [
    "DEFAULT_REGISTRY",
    "NATIVE_CODEC",
    "Codec",
    "CodecRegistry",
    "PathDecision",
    "TranscodePath",
    "TranscodeRecord",
    "transcode",
    "transcode_dataset",
    "transcode_file",
    "transcode_path",
]

_LAZY = {
    "DEFAULT_REGISTRY": "storecore.transcode.codecs",
    "Codec": "storecore.transcode.codecs",
    "CodecRegistry": "storecore.transcode.codecs",
    "PathDecision": "storecore.transcode.matrix",
    "transcode": "storecore.transcode.matrix",
    "transcode_path": "storecore.transcode.matrix",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
