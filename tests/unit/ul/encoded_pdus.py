"""Annotated PDU and item bytes, written by hand from PS3.8 Section 9.3 and PS3.7 Annex D.3.3.

Each byte string names its fields. They are independent of storecore's encoder:
``test_pdu.py`` decodes them, encodes the values back and expects the same bytes.
UIDs used (lengths in brackets):

- 1.2.840.10008.3.1.1.1 [21], the DICOM Application Context Name
- 1.2.840.10008.1.1 [17], Verification SOP Class
- 1.2.840.10008.1.2 [17], Implicit VR Little Endian
- 1.2.840.10008.1.2.1 [19], Explicit VR Little Endian
- 1.2.840.10008.5.1.4.1.1.2 [25], CT Image Storage
- 1.2.3.4.5.6.7.8 [15], an implementation class UID
"""

from __future__ import annotations

import struct

# --------------------------------------------------------------------------
# Items and sub-items (PS3.8 9.3.2-9.3.3, PS3.8 Annex D, PS3.7 Annex D.3.3)

APPLICATION_CONTEXT_ITEM = (
    b"\x10"  # Item-type: Application Context (10H)
    b"\x00"  # reserved
    b"\x00\x15"  # Item-length: 21
    b"1.2.840.10008.3.1.1.1"  # Application-context-name
)

ABSTRACT_SYNTAX_SUB_ITEM = (
    b"\x30"  # Item-type: Abstract Syntax (30H)
    b"\x00"  # reserved
    b"\x00\x11"  # Item-length: 17
    b"1.2.840.10008.1.1"  # Abstract-syntax-name: Verification
)

TRANSFER_SYNTAX_SUB_ITEM = (
    b"\x40"  # Item-type: Transfer Syntax (40H)
    b"\x00"  # reserved
    b"\x00\x11"  # Item-length: 17
    b"1.2.840.10008.1.2"  # Transfer-syntax-name: Implicit VR Little Endian
)

PRESENTATION_CONTEXT_RQ_ITEM = (
    b"\x20"  # Item-type: Presentation Context, RQ (20H)
    b"\x00"  # reserved
    b"\x00\x45"  # Item-length: 69 = 4 + 21 + 21 + 23
    b"\x01"  # Presentation-context-ID: 1
    b"\x00\x00\x00"  # reserved (3 bytes)
    + ABSTRACT_SYNTAX_SUB_ITEM  # Abstract Syntax Sub-Item: Verification
    + TRANSFER_SYNTAX_SUB_ITEM  # Transfer Syntax Sub-Item: Implicit VR LE
    + b"\x40"  # Item-type: Transfer Syntax (40H)
    b"\x00"  # reserved
    b"\x00\x13"  # Item-length: 19
    b"1.2.840.10008.1.2.1"  # Transfer-syntax-name: Explicit VR Little Endian
)

PRESENTATION_CONTEXT_AC_ITEM = (
    b"\x21"  # Item-type: Presentation Context, AC (21H)
    b"\x00"  # reserved
    b"\x00\x19"  # Item-length: 25 = 4 + 21
    b"\x01"  # Presentation-context-ID: 1
    b"\x00"  # reserved
    b"\x00"  # Result/Reason: 0 acceptance
    b"\x00" + TRANSFER_SYNTAX_SUB_ITEM  # reserved  # the accepted syntax: Implicit VR LE
)

PRESENTATION_CONTEXT_AC_REJECTED_ITEM = (
    b"\x21"  # Item-type: Presentation Context, AC (21H)
    b"\x00"  # reserved
    b"\x00\x19"  # Item-length: 25
    b"\x03"  # Presentation-context-ID: 3
    b"\x00"  # reserved
    b"\x03"  # Result/Reason: 3 abstract-syntax-not-supported (provider rejection)
    b"\x00" + TRANSFER_SYNTAX_SUB_ITEM  # reserved  # not significant when rejected
)

MAXIMUM_LENGTH_SUB_ITEM = (
    b"\x51"  # Item-type: Maximum Length (51H)
    b"\x00"  # reserved
    b"\x00\x04"  # Item-length: 4
    b"\x00\x00\x3f\xfe"  # Maximum-length-received: 16382
)

IMPLEMENTATION_CLASS_UID_SUB_ITEM = (
    b"\x52"  # Item-type: Implementation Class UID (52H)
    b"\x00"  # reserved
    b"\x00\x0f"  # Item-length: 15
    b"1.2.3.4.5.6.7.8"  # Implementation-class-uid
)

ASYNCHRONOUS_OPERATIONS_WINDOW_SUB_ITEM = (
    b"\x53"  # Item-type: Asynchronous Operations Window (53H)
    b"\x00"  # reserved
    b"\x00\x04"  # Item-length: 4
    b"\x00\x05"  # Maximum-number-operations-invoked: 5
    b"\x00\x03"  # Maximum-number-operations-performed: 3
)

SCP_SCU_ROLE_SELECTION_SUB_ITEM = (
    b"\x54"  # Item-type: SCP/SCU Role Selection (54H)
    b"\x00"  # reserved
    b"\x00\x1d"  # Item-length: 29 = 2 + 25 + 2
    b"\x00\x19"  # UID-length: 25
    b"1.2.840.10008.5.1.4.1.1.2"  # SOP-class-uid: CT Image Storage
    b"\x01"  # SCU-role: 1 support
    b"\x00"  # SCP-role: 0 non-support
)

IMPLEMENTATION_VERSION_NAME_SUB_ITEM = (
    b"\x55"  # Item-type: Implementation Version Name (55H)
    b"\x00"  # reserved
    b"\x00\x0e"  # Item-length: 14
    b"STORECORE_TEST"  # Implementation-version-name
)

SOP_CLASS_EXTENDED_NEGOTIATION_SUB_ITEM = (
    b"\x56"  # Item-type: SOP Class Extended Negotiation (56H)
    b"\x00"  # reserved
    b"\x00\x21"  # Item-length: 33 = 2 + 25 + 6
    b"\x00\x19"  # SOP-class-uid-length: 25
    b"1.2.840.10008.5.1.4.1.1.2"  # SOP-class-uid: CT Image Storage
    # Service-class-application-information, here PS3.4 Table B.3-1 (Storage):
    b"\x02"  # Level of support: 2, level 2 SCP
    b"\x00"  # reserved
    b"\x00"  # Level of Digital Signature support: 0 unspecified
    b"\x00"  # reserved
    b"\x01"  # Element Coercion: 1 may coerce
    b"\x00"  # reserved
)

SOP_CLASS_COMMON_EXTENDED_NEGOTIATION_SUB_ITEM = (
    b"\x57"  # Item-type: SOP Class Common Extended Negotiation (57H)
    b"\x00"  # Sub-Item-version: 0
    b"\x00\x53"  # Item-length: 83 = 2 + 29 + 2 + 17 + 2 + 31
    b"\x00\x1d"  # SOP-class-uid-length: 29
    b"1.2.840.10008.5.1.4.1.1.88.40"  # SOP-class-uid: Procedure Log Storage
    b"\x00\x11"  # Service-class-uid-length: 17
    b"1.2.840.10008.4.2"  # Service-class-uid: Storage Service Class
    b"\x00\x1f"  # Related-general-sop-class-identification-length: 31
    b"\x00\x1d"  # Related-general-sop-class-uid-length: 29
    b"1.2.840.10008.5.1.4.1.1.88.22"  # Related-general-sop-class-uid: Enhanced SR
)

USER_IDENTITY_RQ_SUB_ITEM = (
    b"\x58"  # Item-type: User Identity (58H)
    b"\x00"  # reserved
    b"\x00\x10"  # Item-length: 16 = 2 + 2 + 4 + 2 + 6
    b"\x02"  # User-Identity-Type: 2 username and passcode
    b"\x01"  # Positive-response-requested: 1
    b"\x00\x04"  # Primary-field-length: 4
    b"user"  # Primary-field: the username
    b"\x00\x06"  # Secondary-field-length: 6
    b"secret"  # Secondary-field: the passcode
)

USER_IDENTITY_AC_SUB_ITEM = (
    b"\x59"  # Item-type: User Identity (59H)
    b"\x00"  # reserved
    b"\x00\x06"  # Item-length: 6
    b"\x00\x04"  # Server-response-length: 4
    b"tokn"  # Server-response
)

UNKNOWN_USER_SUB_ITEM = (
    b"\x60"  # Item-type: 60H, no sub-item PS3.7 defines
    b"\x00"  # reserved
    b"\x00\x03"  # Item-length: 3
    b"abc"  # whatever it means to its sender
)

USER_INFORMATION_ITEM = (
    b"\x50"  # Item-type: User Information (50H)
    b"\x00"  # reserved
    b"\x00\x2d"  # Item-length: 45 = 8 + 19 + 18
    + MAXIMUM_LENGTH_SUB_ITEM  # 16382
    + IMPLEMENTATION_CLASS_UID_SUB_ITEM  # 1.2.3.4.5.6.7.8
    + IMPLEMENTATION_VERSION_NAME_SUB_ITEM  # STORECORE_TEST
)

# --------------------------------------------------------------------------
# The seven PDUs (PS3.8 Section 9.3)

A_ASSOCIATE_RQ = (
    b"\x01"  # PDU-type: A-ASSOCIATE-RQ (01H)
    b"\x00"  # reserved
    b"\x00\x00\x00\xd7"  # PDU-length: 215 = 68 + 25 + 73 + 49
    b"\x00\x01"  # Protocol-version: bit 0, version 1
    b"\x00\x00"  # reserved
    b"ANY-SCP         "  # Called-AE-title, space padded to 16
    b"ECHOSCU         "  # Calling-AE-title, space padded to 16
    + bytes(32)  # reserved, 32 bytes of 00H
    + APPLICATION_CONTEXT_ITEM  # 25 bytes
    + PRESENTATION_CONTEXT_RQ_ITEM  # 73 bytes: Verification, Implicit then Explicit VR LE
    + USER_INFORMATION_ITEM  # 49 bytes
)

A_ASSOCIATE_AC = (
    b"\x02"  # PDU-type: A-ASSOCIATE-AC (02H)
    b"\x00"  # reserved
    b"\x00\x00\x00\xc8"  # PDU-length: 200 = 68 + 25 + 29 + 29 + 49
    b"\x00\x01"  # Protocol-version: bit 0, version 1
    b"\x00\x00"  # reserved
    b"ANY-SCP         "  # reserved: the Called-AE-title of the RQ, not tested
    b"ECHOSCU         "  # reserved: the Calling-AE-title of the RQ, not tested
    + bytes(32)  # reserved
    + APPLICATION_CONTEXT_ITEM
    + PRESENTATION_CONTEXT_AC_ITEM  # context 1 accepted, Implicit VR LE
    + PRESENTATION_CONTEXT_AC_REJECTED_ITEM  # context 3 rejected, reason 3
    + USER_INFORMATION_ITEM
)

A_ASSOCIATE_RJ = (
    b"\x03"  # PDU-type: A-ASSOCIATE-RJ (03H)
    b"\x00"  # reserved
    b"\x00\x00\x00\x04"  # PDU-length: 4
    b"\x00"  # reserved
    b"\x01"  # Result: 1 rejected-permanent
    b"\x01"  # Source: 1 DICOM UL service-user
    b"\x07"  # Reason/Diag.: 7 called-AE-title-not-recognized
)

P_DATA_TF = (
    b"\x04"  # PDU-type: P-DATA-TF (04H)
    b"\x00"  # reserved
    b"\x00\x00\x00\x1c"  # PDU-length: 28 = 18 + 10
    # PDV item 1
    b"\x00\x00\x00\x0e"  # Item-length: 14
    b"\x01"  # Presentation-context-ID: 1
    b"\x03"  # Message Control Header: command (bit 0), last fragment (bit 1)
    b"\x00\x00\x00\x00\x04\x00\x00\x00\x12\x00\x00\x00"  # (0000,0000) UL 4: 18
    # PDV item 2
    b"\x00\x00\x00\x06"  # Item-length: 6
    b"\x01"  # Presentation-context-ID: 1
    b"\x00"  # Message Control Header: data set, not the last fragment
    b"\x08\x00\x05\x00"  # the first bytes of a data set: tag (0008,0005)
)

A_RELEASE_RQ = (
    b"\x05"  # PDU-type: A-RELEASE-RQ (05H)
    b"\x00"  # reserved
    b"\x00\x00\x00\x04"  # PDU-length: 4
    b"\x00\x00\x00\x00"  # reserved
)

A_RELEASE_RP = (
    b"\x06"  # PDU-type: A-RELEASE-RP (06H)
    b"\x00"  # reserved
    b"\x00\x00\x00\x04"  # PDU-length: 4
    b"\x00\x00\x00\x00"  # reserved
)

A_ABORT_PROVIDER = (
    b"\x07"  # PDU-type: A-ABORT (07H)
    b"\x00"  # reserved
    b"\x00\x00\x00\x04"  # PDU-length: 4
    b"\x00"  # reserved
    b"\x00"  # reserved
    b"\x02"  # Source: 2 DICOM UL service-provider
    b"\x06"  # Reason/Diag.: 6 invalid-PDU-parameter value
)

A_ABORT_USER = (
    b"\x07"  # PDU-type: A-ABORT (07H)
    b"\x00"  # reserved
    b"\x00\x00\x00\x04"  # PDU-length: 4
    b"\x00"  # reserved
    b"\x00"  # reserved
    b"\x00"  # Source: 0 DICOM UL service-user
    b"\x00"  # Reason/Diag.: not significant, sent as 00H
)


def rq_with_user_items(*sub_items: bytes) -> bytes:
    """:data:`A_ASSOCIATE_RQ` with its User Information sub-items replaced by ``sub_items``."""
    user = b"".join(sub_items)
    user_item = struct.pack(">BBH", 0x50, 0, len(user)) + user
    body = A_ASSOCIATE_RQ[6 : 6 + 68] + APPLICATION_CONTEXT_ITEM + PRESENTATION_CONTEXT_RQ_ITEM
    body += user_item
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def ac_with_user_items(*sub_items: bytes) -> bytes:
    """:data:`A_ASSOCIATE_AC` with its User Information sub-items replaced by ``sub_items``."""
    user = b"".join(sub_items)
    user_item = struct.pack(">BBH", 0x50, 0, len(user)) + user
    body = A_ASSOCIATE_AC[6 : 6 + 68] + APPLICATION_CONTEXT_ITEM + PRESENTATION_CONTEXT_AC_ITEM
    body += PRESENTATION_CONTEXT_AC_REJECTED_ITEM + user_item
    return struct.pack(">BBI", 0x02, 0, len(body)) + body
