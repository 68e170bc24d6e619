"""Byte-level dataset tools: the scanner, the summary, Part 10 files.

Nothing here builds pydicom objects: values stay in the caller's buffer and are
addressed by offset.
"""

from storecore.dataset._scan import Scanner, Token, TokenKind, inflate, lookup_dictionary_vr, scan
from storecore.dataset.part10 import (
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    FileMeta,
    encode_file_meta,
    read_file_meta,
    write_part10,
)
from storecore.dataset.summary import SUMMARY_TAGS, Summary, summarize, summarize_file

__all__ = [
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "SUMMARY_TAGS",
    "FileMeta",
    "Scanner",
    "Summary",
    "Token",
    "TokenKind",
    "encode_file_meta",
    "inflate",
    "lookup_dictionary_vr",
    "read_file_meta",
    "scan",
    "summarize",
    "summarize_file",
    "write_part10",
]
