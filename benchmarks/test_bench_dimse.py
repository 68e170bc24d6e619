"""Group ``dimse``: one command set read, one written, per message (PS3.7 Sections 6.3.1, 9.3).

What a Storage SCP does per instance besides the dataset bytes: decode the
C-STORE-RQ's command set and write the C-STORE-RSP's. The request is a real
one: what dcmtk's storescu 3.6.7 sent storecore's SCP for a Secondary Capture
image of the network benchmark's small corpus.

``decode`` (cases ``c-store-rq``, ``c-echo-rq``): storecore's
``decode_command`` (the C fast path, ``storecore._ext._command``);
``storecore-strict`` (the Python decoder over storecore's scanner, which builds
the errors, and was the only one before the fast path); pynetdicom
(``dsutils.decode`` and ``message_to_primitive``, as its DIMSE provider does).

``encode`` (case ``c-store-rsp``, success): storecore's ``encode_c_store_rsp``
(from the request, no message object); ``storecore-message``
(``encode_command(C_STORE_RSP(...))``: the message made and checked, then
written); pynetdicom (a ``C_STORE`` primitive, ``primitive_to_message`` and
``dsutils.encode``).

Every benchmark asserts its result: the request's fields, and for the
response the same bytes from each implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

import pytest
from pynetdicom import dimse_messages
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import decode, encode

from storecore.dimse import (
    C_ECHO_RQ,
    C_STORE_RQ,
    C_STORE_RSP,
    Message,
    decode_command,
    encode_c_store_rsp,
    encode_command,
)
from storecore.dimse.messages import _decode_strict


def _hex(text: str) -> bytes:
    """Bytes from hex pairs, ignoring ``#`` comments and whitespace."""
    return bytes.fromhex("".join(line.split("#")[0] for line in text.splitlines()))


# dcmtk storescu 3.6.7 -> storecore SCP, as captured (PS3.7 Table 9.3-1)
C_STORE_RQ_DCMTK = _hex(
    """
    00 00 00 00 04 00 00 00  80 00 00 00  # (0000,0000) Command Group Length: 128
    00 00 02 00 1a 00 00 00  # (0000,0002) 26 bytes: Secondary Capture Image Storage + NUL
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 35 2e 31 2e 34 2e 31 2e 31 2e 37 00
    00 00 00 01 02 00 00 00  01 00  # (0000,0100) Command Field: C-STORE-RQ
    00 00 10 01 02 00 00 00  01 00  # (0000,0110) Message ID: 1
    00 00 00 07 02 00 00 00  00 00  # (0000,0700) Priority: MEDIUM
    00 00 00 08 02 00 00 00  01 00  # (0000,0800) Command Data Set Type: a data set follows
    00 00 00 10 2e 00 00 00  # (0000,1000) 46 bytes: Affected SOP Instance UID + NUL
    32 2e 32 35 2e 32 37 31 38 32 38 31 38 32 38 34 35 39 30 34 35 32 33 35 33 36 30
    32 38 37 34 37 31 33 35 32 36 36 32 34 39 2e 33 2e 31 00
    """
)
REQUEST = C_STORE_RQ(
    MessageID=1,
    AffectedSOPClassUID="1.2.840.10008.5.1.4.1.1.7",
    AffectedSOPInstanceUID="2.25.271828182845904523536028747135266249.3.1",
)
DECODE_CASES: dict[str, tuple[bytes, Message]] = {
    "c-store-rq": (C_STORE_RQ_DCMTK, REQUEST),
    "c-echo-rq": (encode_command(C_ECHO_RQ(MessageID=3)), C_ECHO_RQ(MessageID=3)),
}
PYNETDICOM_MESSAGES = {
    "c-store-rq": dimse_messages.C_STORE_RQ,
    "c-echo-rq": dimse_messages.C_ECHO_RQ,
}


def _pynetdicom_decode(case: str) -> Callable[[bytes], object]:
    def read(data: bytes) -> object:
        msg = PYNETDICOM_MESSAGES[case]()
        msg.command_set = decode(BytesIO(data), True, True)
        return msg.message_to_primitive()

    return read


@pytest.mark.benchmark(group="dimse")
@pytest.mark.parametrize("case", list(DECODE_CASES))
@pytest.mark.parametrize("impl", ["storecore", "storecore-strict", "pynetdicom"])
def test_decode(benchmark, impl: str, case: str) -> None:
    data, expected = DECODE_CASES[case]
    if impl == "pynetdicom":
        primitive = benchmark(_pynetdicom_decode(case), data)
        assert primitive.MessageID == expected.MessageID  # type: ignore[attr-defined]
        assert primitive.AffectedSOPClassUID == expected.AffectedSOPClassUID  # type: ignore[attr-defined]
        return
    fn = decode_command if impl == "storecore" else _decode_strict
    assert benchmark(fn, data) == expected


def _storecore_message(request: C_STORE_RQ, status: int) -> bytes:
    return encode_command(
        C_STORE_RSP(
            request.MessageID, status, request.AffectedSOPClassUID, request.AffectedSOPInstanceUID
        )
    )


def _pynetdicom_encode(request: C_STORE_RQ, status: int) -> bytes:
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = request.MessageID
    primitive.Status = status
    primitive.AffectedSOPClassUID = request.AffectedSOPClassUID
    primitive.AffectedSOPInstanceUID = request.AffectedSOPInstanceUID
    msg = dimse_messages.C_STORE_RSP()
    msg.primitive_to_message(primitive)
    data: bytes = encode(msg.command_set, True, True)
    return data


ENCODERS: dict[str, Callable[[C_STORE_RQ, int], bytes]] = {
    "storecore": encode_c_store_rsp,
    "storecore-message": _storecore_message,
    "pynetdicom": _pynetdicom_encode,
}


@pytest.mark.benchmark(group="dimse")
@pytest.mark.parametrize("case", ["c-store-rsp"])
@pytest.mark.parametrize("impl", list(ENCODERS))
def test_encode(benchmark, impl: str, case: str) -> None:
    request = decode_command(C_STORE_RQ_DCMTK)
    assert isinstance(request, C_STORE_RQ)
    data = benchmark(ENCODERS[impl], request, 0x0000)
    assert data == _pynetdicom_encode(request, 0x0000)
    assert decode_command(data) == C_STORE_RSP(
        1, 0x0000, request.AffectedSOPClassUID, request.AffectedSOPInstanceUID
    )
