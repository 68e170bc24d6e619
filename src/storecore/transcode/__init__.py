"""Transfer syntax transcoding: native rewriting now, the codec matrix later.

Every transcode produces a :class:`TranscodeRecord` naming the path taken
(PS3.2 Table N.5-9: SUPPORTED, NEW_UID or NOT_SUPPORTED).
"""

from storecore.transcode.native import NATIVE_CODEC, transcode_dataset, transcode_file
from storecore.transcode.records import TranscodePath, TranscodeRecord

__all__ = [
    "NATIVE_CODEC",
    "TranscodePath",
    "TranscodeRecord",
    "transcode_dataset",
    "transcode_file",
]
