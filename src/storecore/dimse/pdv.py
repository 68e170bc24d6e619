"""PDV assembly and fragmentation (PS3.8 Section 9.3.5, Annex E; PS3.7 Section 9.3.1).

Receiving: :class:`PDVAssembler` (C, :mod:`storecore._ext._pdu`) walks the PDV
items of P-DATA-TF bodies into whole command sets and dataset fragment views.

Sending: :func:`fragment` cuts a command set or a dataset (a buffer or an mmap)
into P-DATA-TF PDUs that respect the peer's maximum length, as
``(header, payload)`` pairs: the transport writes each pair with one
``sendmsg`` (header and payload together, never joined by a copy);
:func:`pdv_headers` gives the same PDUs' headers with the payloads' offsets,
for a payload sent straight from a file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from storecore._ext._pdu import COMMAND, DATA, PDVAssembler
from storecore._typing import Buffer

__all__ = ["COMMAND", "DATA", "PDVAssembler", "fragment", "pdv_headers", "UNLIMITED_FRAGMENT"]

#: PDV payload per PDU when the peer sets no maximum (Maximum Length 0, PS3.8 D.1):
#: 4 MiB, the largest PDU dcmtk itself accepts (ASC_MAXIMUMPDUSIZE).
UNLIMITED_FRAGMENT = 4 * 1024 * 1024 - 6

# PDU header (type 0x04, reserved, length) then PDV item header (item length,
# presentation context ID, message control header): PS3.8 Tables 9-22 and 9-23.
_HEADER = struct.Struct(">BBIIBB")


def fragment(
    context_id: int, data: Buffer, max_pdu_length: int, *, command: bool
) -> Iterator[tuple[bytes, memoryview]]:
    """Cut `data` into P-DATA-TF PDUs of one PDV each.

    Parameters
    ----------
    context_id : int
        The presentation context ID (odd, 1-255).
    data : bytes-like
        A whole command set or dataset (an mmap of a file keeps memory flat).
    max_pdu_length : int
        The peer's Maximum Length (PS3.8 D.1.1): the largest P-DATA-TF variable
        field it accepts, PDV item headers included; 0 means no limit.
    command : bool
        Command fragments (message control header bit 0 set) or dataset ones.

    Yields
    ------
    (bytes, memoryview)
        The 12 header bytes and a view of the payload. The last PDU's PDV has
        the last-fragment bit set (bit 1); an empty `data` yields one empty
        last fragment.

    References
    ----------
    PS3.8 Section 9.3.5 and Annex E.2.
    """
    view = memoryview(data).cast("B")
    for header, offset, size in pdv_headers(context_id, len(view), max_pdu_length, command=command):
        yield header, view[offset : offset + size]


def pdv_headers(
    context_id: int, total: int, max_pdu_length: int, *, command: bool
) -> Iterator[tuple[bytes, int, int]]:
    """The P-DATA-TF PDUs of `total` bytes, as :func:`fragment` cuts them, without the bytes.

    For a transport that sends each payload from elsewhere than a buffer (a
    file, with ``os.sendfile``).

    Parameters
    ----------
    context_id : int
        The presentation context ID (odd, 1-255).
    total : int
        The length of the command set or dataset.
    max_pdu_length : int
        The peer's Maximum Length (PS3.8 D.1.1); 0 means no limit.
    command : bool
        Command fragments or dataset ones.

    Yields
    ------
    (bytes, int, int)
        The 12 header bytes, and the offset and length of the payload in the
        message; an empty message yields one empty last fragment.

    References
    ----------
    PS3.8 Section 9.3.5 and Annex E.2.
    """
    if not (1 <= context_id <= 255 and context_id % 2):
        raise ValueError(f"presentation context ID {context_id} is not odd within 1-255")
    if max_pdu_length and max_pdu_length < 7:
        raise ValueError(f"a maximum length of {max_pdu_length} cannot carry a PDV")
    room = max_pdu_length - 6 if max_pdu_length else UNLIMITED_FRAGMENT
    base = 0x01 if command else 0x00
    offset = 0
    while True:
        size = min(room, total - offset)
        last = offset + size >= total
        control = base | (0x02 if last else 0x00)
        yield _HEADER.pack(0x04, 0, size + 6, size + 2, context_id, control), offset, size
        offset += size
        if last:
            return
