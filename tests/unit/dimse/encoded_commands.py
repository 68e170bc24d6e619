"""Annotated command sets, one per implemented message (PS3.7 9.3 and 10.3).

Written element by element in Implicit VR Little Endian: tag (group, element
little endian), 4-byte length, value. They were laid out independently of
storecore's encoder; ``test_messages.py`` checks that pynetdicom reads them as
the messages in :data:`FIXTURES` and that storecore encodes and decodes them
byte for byte.
"""

from __future__ import annotations

from storecore.dimse import (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_EVENT_REPORT_RQ,
    N_EVENT_REPORT_RSP,
    Message,
)


def _hex(text: str) -> bytes:
    """Bytes from hex pairs, ignoring ``#`` comments and whitespace."""
    return bytes.fromhex("".join(line.split("#")[0] for line in text.splitlines()))


CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
STORAGE_COMMITMENT = "1.2.840.10008.1.20.1"
STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"  # the well-known instance (PS3.4 J.3.5)

C_ECHO_RQ_BYTES = _hex(
    """
    00 00 00 00 04 00 00 00  # (0000,0000) Command Group Length, 4 bytes
    38 00 00 00  # 56: the bytes after this value
    00 00 02 00 12 00 00 00  # (0000,0002) 18 bytes: Affected SOP Class UID, Verification + NUL
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 31 2e
    31 00
    00 00 00 01 02 00 00 00  # (0000,0100) 2 bytes: Command Field 0030H C-ECHO-RQ
    30 00
    00 00 10 01 02 00 00 00  # (0000,0110) 2 bytes: Message ID 1
    01 00
    00 00 00 08 02 00 00 00  # (0000,0800) 2 bytes: Command Data Set Type 0101H: none
    01 01
    """
)

C_ECHO_RSP_BYTES = _hex(
    """
    00 00 00 00 04 00 00 00  # (0000,0000) Command Group Length, 4 bytes
    42 00 00 00  # 66: the bytes after this value
    00 00 02 00 12 00 00 00  # (0000,0002) 18 bytes: Affected SOP Class UID, Verification + NUL
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 31 2e
    31 00
    00 00 00 01 02 00 00 00  # (0000,0100) 2 bytes: Command Field 8030H C-ECHO-RSP
    30 80
    00 00 20 01 02 00 00 00  # (0000,0120) 2 bytes: Message ID Being Responded To 1
    01 00
    00 00 00 08 02 00 00 00  # (0000,0800) 2 bytes: Command Data Set Type 0101H: none
    01 01
    00 00 00 09 02 00 00 00  # (0000,0900) 2 bytes: Status 0000H Success
    00 00
    """
)

C_STORE_RQ_BYTES = _hex(
    """
    00 00 00 00 04 00 00 00  # (0000,0000) Command Group Length, 4 bytes
    76 00 00 00  # 118: the bytes after this value
    00 00 02 00 1a 00 00 00  # (0000,0002) 26 bytes: Affected SOP Class UID, CT Image Storage
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 35 2e
    31 2e 34 2e 31 2e 31 2e 32 00
    00 00 00 01 02 00 00 00  # (0000,0100) 2 bytes: Command Field 0001H C-STORE-RQ
    01 00
    00 00 10 01 02 00 00 00  # (0000,0110) 2 bytes: Message ID 7
    07 00
    00 00 00 07 02 00 00 00  # (0000,0700) 2 bytes: Priority 0002H LOW
    02 00
    00 00 00 08 02 00 00 00  # (0000,0800) 2 bytes: Command Data Set Type 0001H: data set follows
    01 00
    00 00 00 10 0a 00 00 00  # (0000,1000) 10 bytes: Affected SOP Instance UID "1.2.3.4.5" + NUL
    31 2e 32 2e 33 2e 34 2e 35 00
    00 00 30 10 08 00 00 00  # (0000,1030) 8 bytes: Move Originator AE Title "MOVESCU" + space
    4d 4f 56 45 53 43 55 20
    00 00 31 10 02 00 00 00  # (0000,1031) 2 bytes: Move Originator Message ID 3
    03 00
    """
)

C_STORE_RSP_BYTES = _hex(
    """
    00 00 00 00 04 00 00 00  # (0000,0000) Command Group Length, 4 bytes
    5c 00 00 00  # 92: the bytes after this value
    00 00 00 01 02 00 00 00  # (0000,0100) 2 bytes: Command Field 8001H C-STORE-RSP
    01 80
    00 00 20 01 02 00 00 00  # (0000,0120) 2 bytes: Message ID Being Responded To 7
    07 00
    00 00 00 08 02 00 00 00  # (0000,0800) 2 bytes: Command Data Set Type 0101H: none
    01 01
    00 00 00 09 02 00 00 00  # (0000,0900) 2 bytes: Status B006H Elements Discarded
    06 b0
    00 00 01 09 08 00 00 00  # (0000,0901) 8 bytes: Offending Element (0010,0010), (0008,0018)
    10 00 10 00 08 00 18 00
    00 00 02 09 0a 00 00 00  # (0000,0902) 10 bytes: Error Comment "dropped 2" + space
    64 72 6f 70 70 65 64 20 32 20
    00 00 00 10 0a 00 00 00  # (0000,1000) 10 bytes: Affected SOP Instance UID "1.2.3.4.5" + NUL
    31 2e 32 2e 33 2e 34 2e 35 00
    """
)

N_EVENT_REPORT_RQ_BYTES = _hex(
    """
    00 00 00 00 04 00 00 00  # (0000,0000) Command Group Length, 4 bytes
    62 00 00 00  # 98: the bytes after this value
    00 00 02 00 14 00 00 00  # (0000,0002) 20 bytes: Affected SOP Class UID Storage Commitment
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 31 2e
    32 30 2e 31
    00 00 00 01 02 00 00 00  # (0000,0100) 2 bytes: Command Field 0100H N-EVENT-REPORT-RQ
    00 01
    00 00 10 01 02 00 00 00  # (0000,0110) 2 bytes: Message ID 9
    09 00
    00 00 00 08 02 00 00 00  # (0000,0800) 2 bytes: Command Data Set Type 0001H: Event Information
    01 00
    00 00 00 10 16 00 00 00  # (0000,1000) 22 bytes: Affected SOP Instance UID, well-known
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 31 2e
    32 30 2e 31 2e 31
    00 00 02 10 02 00 00 00  # (0000,1002) 2 bytes: Event Type ID 2: complete, failures exist
    02 00
    """
)

N_EVENT_REPORT_RSP_BYTES = _hex(
    """
    00 00 00 00 04 00 00 00  # (0000,0000) Command Group Length, 4 bytes
    8c 00 00 00  # 140: the bytes after this value
    00 00 02 00 14 00 00 00  # (0000,0002) 20 bytes: Affected SOP Class UID Storage Commitment
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 31 2e
    32 30 2e 31
    00 00 00 01 02 00 00 00  # (0000,0100) 2 bytes: Command Field 8100H N-EVENT-REPORT-RSP
    00 81
    00 00 20 01 02 00 00 00  # (0000,0120) 2 bytes: Message ID Being Responded To 9
    09 00
    00 00 00 08 02 00 00 00  # (0000,0800) 2 bytes: Command Data Set Type 0101H: none
    01 01
    00 00 00 09 02 00 00 00  # (0000,0900) 2 bytes: Status 0110H Processing failure
    10 01
    00 00 02 09 0e 00 00 00  # (0000,0902) 14 bytes: Error Comment "index offline" + space
    69 6e 64 65 78 20 6f 66 66 6c 69 6e 65 20
    00 00 03 09 02 00 00 00  # (0000,0903) 2 bytes: Error ID 42
    2a 00
    00 00 00 10 16 00 00 00  # (0000,1000) 22 bytes: Affected SOP Instance UID
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 31 2e
    32 30 2e 31 2e 31
    00 00 02 10 02 00 00 00  # (0000,1002) 2 bytes: Event Type ID 2
    02 00
    """
)

N_ACTION_RQ_BYTES = _hex(
    """
    00 00 00 00 04 00 00 00  # (0000,0000) Command Group Length, 4 bytes
    62 00 00 00  # 98: the bytes after this value
    00 00 03 00 14 00 00 00  # (0000,0003) 20 bytes: Requested SOP Class UID Storage Commitment
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 31 2e
    32 30 2e 31
    00 00 00 01 02 00 00 00  # (0000,0100) 2 bytes: Command Field 0130H N-ACTION-RQ
    30 01
    00 00 10 01 02 00 00 00  # (0000,0110) 2 bytes: Message ID 5
    05 00
    00 00 00 08 02 00 00 00  # (0000,0800) 2 bytes: Command Data Set Type 0001H: Action Information
    01 00
    00 00 01 10 16 00 00 00  # (0000,1001) 22 bytes: Requested SOP Instance UID, well-known
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 31 2e
    32 30 2e 31 2e 31
    00 00 08 10 02 00 00 00  # (0000,1008) 2 bytes: Action Type ID 1: Request Storage Commitment
    01 00
    """
)

N_ACTION_RSP_BYTES = _hex(
    """
    00 00 00 00 04 00 00 00  # (0000,0000) Command Group Length, 4 bytes
    6c 00 00 00  # 108: the bytes after this value
    00 00 02 00 14 00 00 00  # (0000,0002) 20 bytes: Affected SOP Class UID Storage Commitment
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 31 2e
    32 30 2e 31
    00 00 00 01 02 00 00 00  # (0000,0100) 2 bytes: Command Field 8130H N-ACTION-RSP
    30 81
    00 00 20 01 02 00 00 00  # (0000,0120) 2 bytes: Message ID Being Responded To 5
    05 00
    00 00 00 08 02 00 00 00  # (0000,0800) 2 bytes: Command Data Set Type 0101H: none
    01 01
    00 00 00 09 02 00 00 00  # (0000,0900) 2 bytes: Status 0000H Success
    00 00
    00 00 00 10 16 00 00 00  # (0000,1000) 22 bytes: Affected SOP Instance UID
    31 2e 32 2e 38 34 30 2e 31 30 30 30 38 2e 31 2e
    32 30 2e 31 2e 31
    00 00 08 10 02 00 00 00  # (0000,1008) 2 bytes: Action Type ID 1
    01 00
    """
)

#: (name, bytes, message) for every implemented message type.
FIXTURES: list[tuple[str, bytes, Message]] = [
    ("C-ECHO-RQ", C_ECHO_RQ_BYTES, C_ECHO_RQ(MessageID=1)),
    ("C-ECHO-RSP", C_ECHO_RSP_BYTES, C_ECHO_RSP(MessageIDBeingRespondedTo=1, Status=0x0000)),
    (
        "C-STORE-RQ",
        C_STORE_RQ_BYTES,
        C_STORE_RQ(
            MessageID=7,
            AffectedSOPClassUID=CT_IMAGE_STORAGE,
            AffectedSOPInstanceUID="1.2.3.4.5",
            Priority=0x0002,
            MoveOriginatorApplicationEntityTitle="MOVESCU",
            MoveOriginatorMessageID=3,
        ),
    ),
    (
        "C-STORE-RSP",
        C_STORE_RSP_BYTES,
        C_STORE_RSP(
            MessageIDBeingRespondedTo=7,
            Status=0xB006,
            AffectedSOPInstanceUID="1.2.3.4.5",
            OffendingElement=(0x00100010, 0x00080018),
            ErrorComment="dropped 2",
        ),
    ),
    (
        "N-EVENT-REPORT-RQ",
        N_EVENT_REPORT_RQ_BYTES,
        N_EVENT_REPORT_RQ(
            MessageID=9,
            AffectedSOPClassUID=STORAGE_COMMITMENT,
            AffectedSOPInstanceUID=STORAGE_COMMITMENT_INSTANCE,
            EventTypeID=2,
        ),
    ),
    (
        "N-EVENT-REPORT-RSP",
        N_EVENT_REPORT_RSP_BYTES,
        N_EVENT_REPORT_RSP(
            MessageIDBeingRespondedTo=9,
            Status=0x0110,
            AffectedSOPClassUID=STORAGE_COMMITMENT,
            AffectedSOPInstanceUID=STORAGE_COMMITMENT_INSTANCE,
            EventTypeID=2,
            ErrorComment="index offline",
            ErrorID=42,
        ),
    ),
    (
        "N-ACTION-RQ",
        N_ACTION_RQ_BYTES,
        N_ACTION_RQ(
            MessageID=5,
            RequestedSOPClassUID=STORAGE_COMMITMENT,
            RequestedSOPInstanceUID=STORAGE_COMMITMENT_INSTANCE,
            ActionTypeID=1,
        ),
    ),
    (
        "N-ACTION-RSP",
        N_ACTION_RSP_BYTES,
        N_ACTION_RSP(
            MessageIDBeingRespondedTo=5,
            Status=0x0000,
            AffectedSOPClassUID=STORAGE_COMMITMENT,
            AffectedSOPInstanceUID=STORAGE_COMMITMENT_INSTANCE,
            ActionTypeID=1,
        ),
    ),
]
