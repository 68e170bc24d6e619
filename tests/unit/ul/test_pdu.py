"""PDU and item encoding and decoding (PS3.8 Section 9.3, PS3.7 Annex D.3.3)."""

from __future__ import annotations

import logging
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storecore.errors import LocalProtocolError, RemoteProtocolError
from storecore.ul import (
    A_ABORT,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    A_RELEASE_RP,
    A_RELEASE_RQ,
    P_DATA_TF,
    PDU,
    PDV,
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    SCP_SCU_RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UnknownUserItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
    UserItem,
    decode_pdu,
    encode_pdu,
    read_pdu_header,
    validate_ae_title,
)

from . import encoded_pdus as enc
from .strategies import pdus

USER_INFORMATION = UserInformation(
    (
        MaximumLength(16382),
        ImplementationClassUID("1.2.3.4.5.6.7.8"),
        ImplementationVersionName("STORECORE_TEST"),
    )
)

# Each fixture and the value it encodes, written out independently of the decoder.
EXPECTED: list[tuple[str, bytes, PDU]] = [
    (
        "A-ASSOCIATE-RQ",
        enc.A_ASSOCIATE_RQ,
        A_ASSOCIATE_RQ(
            "ANY-SCP",
            "ECHOSCU",
            (
                PresentationContextRQ(
                    1, "1.2.840.10008.1.1", ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
                ),
            ),
            USER_INFORMATION,
            "1.2.840.10008.3.1.1.1",
            1,
        ),
    ),
    (
        "A-ASSOCIATE-AC",
        enc.A_ASSOCIATE_AC,
        A_ASSOCIATE_AC(
            "ANY-SCP",
            "ECHOSCU",
            (
                PresentationContextAC(1, 0, "1.2.840.10008.1.2"),
                PresentationContextAC(3, 3, "1.2.840.10008.1.2"),
            ),
            USER_INFORMATION,
        ),
    ),
    ("A-ASSOCIATE-RJ", enc.A_ASSOCIATE_RJ, A_ASSOCIATE_RJ(1, 1, 7)),
    (
        "P-DATA-TF",
        enc.P_DATA_TF,
        P_DATA_TF(
            (
                PDV(1, 0x03, b"\x00\x00\x00\x00\x04\x00\x00\x00\x12\x00\x00\x00"),
                PDV(1, 0x00, b"\x08\x00\x05\x00"),
            )
        ),
    ),
    ("A-RELEASE-RQ", enc.A_RELEASE_RQ, A_RELEASE_RQ()),
    ("A-RELEASE-RP", enc.A_RELEASE_RP, A_RELEASE_RP()),
    ("A-ABORT provider", enc.A_ABORT_PROVIDER, A_ABORT(2, 6)),
    ("A-ABORT user", enc.A_ABORT_USER, A_ABORT(0, 0)),
]

# Each user information sub-item fixture and its value; (bytes, value, in an RQ?).
SUB_ITEMS: list[tuple[str, bytes, UserItem, bool]] = [
    ("maximum length", enc.MAXIMUM_LENGTH_SUB_ITEM, MaximumLength(16382), True),
    (
        "implementation class UID",
        enc.IMPLEMENTATION_CLASS_UID_SUB_ITEM,
        ImplementationClassUID("1.2.3.4.5.6.7.8"),
        True,
    ),
    (
        "implementation version name",
        enc.IMPLEMENTATION_VERSION_NAME_SUB_ITEM,
        ImplementationVersionName("STORECORE_TEST"),
        True,
    ),
    (
        "asynchronous operations window",
        enc.ASYNCHRONOUS_OPERATIONS_WINDOW_SUB_ITEM,
        AsynchronousOperationsWindow(5, 3),
        True,
    ),
    (
        "SCP/SCU role selection",
        enc.SCP_SCU_ROLE_SELECTION_SUB_ITEM,
        SCP_SCU_RoleSelection("1.2.840.10008.5.1.4.1.1.2", True, False),
        True,
    ),
    (
        "SOP class extended negotiation",
        enc.SOP_CLASS_EXTENDED_NEGOTIATION_SUB_ITEM,
        SOPClassExtendedNegotiation("1.2.840.10008.5.1.4.1.1.2", b"\x02\x00\x00\x00\x01\x00"),
        True,
    ),
    (
        "SOP class common extended negotiation",
        enc.SOP_CLASS_COMMON_EXTENDED_NEGOTIATION_SUB_ITEM,
        SOPClassCommonExtendedNegotiation(
            "1.2.840.10008.5.1.4.1.1.88.40",
            "1.2.840.10008.4.2",
            ("1.2.840.10008.5.1.4.1.1.88.22",),
        ),
        True,
    ),
    (
        "user identity RQ",
        enc.USER_IDENTITY_RQ_SUB_ITEM,
        UserIdentityRQ(2, True, b"user", b"secret"),
        True,
    ),
    ("user identity AC", enc.USER_IDENTITY_AC_SUB_ITEM, UserIdentityAC(b"tokn"), False),
    ("unknown sub-item", enc.UNKNOWN_USER_SUB_ITEM, UnknownUserItem(0x60, b"abc"), True),
]


def decode(data: bytes, **kwargs: bool) -> PDU:
    header = read_pdu_header(data)
    assert header is not None
    pdu_type, length = header
    assert length == len(data) - 6
    return decode_pdu(pdu_type, data[6:], **kwargs)


def abort_of(data: bytes, **kwargs: bool) -> tuple[int, int]:
    """The (source, reason) a malformed PDU is refused with."""
    with pytest.raises(RemoteProtocolError) as info:
        decode(data, **kwargs)
    return info.value.abort_source, info.value.abort_reason


def with_length(pdu_type: int, body: bytes) -> bytes:
    return struct.pack(">BBI", pdu_type, 0, len(body)) + body


# --------------------------------------------------------------------------
# The fixtures


@pytest.mark.parametrize(("name", "data", "value"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_fixture_decodes_to_its_value(name: str, data: bytes, value: PDU) -> None:
    assert decode(data) == value


@pytest.mark.parametrize(("name", "data", "value"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_value_encodes_to_its_fixture(name: str, data: bytes, value: PDU) -> None:
    assert encode_pdu(value) == data


@pytest.mark.parametrize(
    ("name", "data", "item", "in_rq"), SUB_ITEMS, ids=[s[0] for s in SUB_ITEMS]
)
def test_user_sub_item_fixture(name: str, data: bytes, item: UserItem, in_rq: bool) -> None:
    whole = enc.rq_with_user_items(data) if in_rq else enc.ac_with_user_items(data)
    pdu = decode(whole)
    assert isinstance(pdu, A_ASSOCIATE_RQ | A_ASSOCIATE_AC)
    assert pdu.user_information.items == (item,)
    assert encode_pdu(pdu) == whole


def test_all_sub_items_together_keep_their_order() -> None:
    rq_items = [s for s in SUB_ITEMS if s[3]]
    whole = enc.rq_with_user_items(*(s[1] for s in reversed(rq_items)))
    pdu = decode(whole)
    assert isinstance(pdu, A_ASSOCIATE_RQ)
    assert pdu.user_information.items == tuple(s[2] for s in reversed(rq_items))
    assert encode_pdu(pdu) == whole
    info = pdu.user_information
    assert info.maximum_length == 16382
    assert info.implementation_class_uid == "1.2.3.4.5.6.7.8"
    assert info.implementation_version_name == "STORECORE_TEST"
    assert info.asynchronous_operations_window == AsynchronousOperationsWindow(5, 3)
    assert len(info.role_selections) == len(info.sop_class_extended) == 1
    assert len(info.sop_class_common_extended) == 1
    assert info.user_identity_rq == UserIdentityRQ(2, True, b"user", b"secret")
    assert info.user_identity_ac is None
    assert info.unknown == (UnknownUserItem(0x60, b"abc"),)


def test_empty_user_information_has_no_values() -> None:
    info = UserInformation()
    assert info.maximum_length is None and info.implementation_class_uid is None
    assert info.implementation_version_name is None and info.asynchronous_operations_window is None
    assert info.user_identity_rq is None and info.role_selections == ()


def test_pdv_flags() -> None:
    command_last, data_more = decode(enc.P_DATA_TF).pdvs  # type: ignore[union-attr]
    assert command_last.is_command and command_last.is_last
    assert not data_more.is_command and not data_more.is_last


def test_pdvs_are_views_of_the_body_not_copies() -> None:
    body = bytearray(enc.P_DATA_TF[6:])
    pdu = decode_pdu(4, body)
    assert isinstance(pdu, P_DATA_TF)
    first = pdu.pdvs[0].data
    assert isinstance(first, memoryview) and first.obj is body
    body[6] = 0xEE  # the first data byte of the first PDV
    assert first[0] == 0xEE


def test_rejected_context_transfer_syntax_is_not_tested() -> None:
    # Table 9-18: when the result is not acceptance, the sub-item's value is not tested.
    item = enc.PRESENTATION_CONTEXT_AC_REJECTED_ITEM
    bad = item[:8] + b"\x40\x00\x00\x03\xff\x00x"
    bad = bad[:2] + struct.pack(">H", len(bad) - 4) + bad[4:]
    body = enc.A_ASSOCIATE_AC[6 : 6 + 68] + enc.APPLICATION_CONTEXT_ITEM + bad
    body += enc.USER_INFORMATION_ITEM
    pdu = decode(with_length(2, body))
    assert isinstance(pdu, A_ASSOCIATE_AC)
    assert pdu.presentation_contexts[0].result == 3


def test_ac_called_and_calling_titles_are_not_tested() -> None:
    # PS3.8 Table 9-17: bytes 11-42 of the AC are reserved and not tested when received.
    data = bytearray(enc.A_ASSOCIATE_AC)
    data[10:26] = b"\\\x01" + bytes(14)
    pdu = decode(bytes(data))
    assert isinstance(pdu, A_ASSOCIATE_AC)
    assert pdu.calling_ae_title == "ECHOSCU"


# --------------------------------------------------------------------------
# Headers


@pytest.mark.parametrize("size", range(6))
def test_read_pdu_header_needs_six_bytes(size: int) -> None:
    assert read_pdu_header(enc.A_ASSOCIATE_RQ[:size]) is None


def test_read_pdu_header() -> None:
    assert read_pdu_header(enc.A_ASSOCIATE_RQ) == (1, 215)
    assert read_pdu_header(memoryview(b"\x04\xff\xff\xff\xff\xff")) == (4, 0xFFFFFFFF)
    assert read_pdu_header(bytearray(b"\x99\x00\x00\x00\x00\x02")) == (0x99, 2)


# --------------------------------------------------------------------------
# Round trips


@given(pdus)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip(pdu: PDU) -> None:
    data = encode_pdu(pdu)
    decoded = decode(data)
    assert decoded == pdu
    assert encode_pdu(decoded) == data  # and the canonical bytes survive the trip


# --------------------------------------------------------------------------
# Malformed input: the A-ABORT source and reason (PS3.8 Table 9-26)


@pytest.mark.parametrize("pdu_type", [0x00, 0x08, 0x10, 0x81, 0xFF])
def test_unrecognized_pdu_type(pdu_type: int) -> None:
    assert abort_of(with_length(pdu_type, b"\x00\x00\x00\x00")) == (2, 1)


@pytest.mark.parametrize("cut", [0, 1, 30, 67, 68, 70, 100, 150, 214])
def test_truncated_a_associate_rq(cut: int) -> None:
    assert abort_of(with_length(1, enc.A_ASSOCIATE_RQ[6 : 6 + cut])) == (2, 6)


@pytest.mark.parametrize("cut", [0, 5, 17, 27])
def test_truncated_p_data_tf(cut: int) -> None:
    assert abort_of(with_length(4, enc.P_DATA_TF[6 : 6 + cut])) == (2, 6)


@pytest.mark.parametrize(
    ("fixture", "length"),
    [(enc.A_RELEASE_RQ, 5), (enc.A_RELEASE_RP, 3), (enc.A_ABORT_USER, 0), (enc.A_ASSOCIATE_RJ, 8)],
)
def test_fixed_size_pdus_of_the_wrong_length(fixture: bytes, length: int) -> None:
    assert abort_of(with_length(fixture[0], (fixture[6:] + bytes(8))[:length])) == (2, 6)


def replace(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1
    return data.replace(old, new, 1)


BAD_ITEM_LENGTHS = [
    # the application context item claims more than the PDU holds
    ("item past the PDU", replace(enc.A_ASSOCIATE_RQ, b"\x10\x00\x00\x15", b"\x10\x00\x01\x15")),
    # the presentation context's abstract syntax sub-item runs past its item
    (
        "sub-item past its item",
        replace(enc.A_ASSOCIATE_RQ, b"\x30\x00\x00\x11", b"\x30\x00\x00\x50"),
    ),
    # the presentation context item shorter than its fixed fields
    ("short context item", enc.rq_with_user_items()[:74] + b""),
    # Maximum Length sub-item of length 3
    (
        "maximum length of 3 bytes",
        enc.rq_with_user_items(b"\x51\x00\x00\x03\x00\x40\x00"),
    ),
    # Asynchronous Operations Window of length 2
    ("window of 2 bytes", enc.rq_with_user_items(b"\x53\x00\x00\x02\x00\x01")),
    # role selection whose UID length runs past the sub-item
    ("role UID past its item", enc.rq_with_user_items(b"\x54\x00\x00\x04\x00\x09\x01\x00")),
    # role values other than 0 and 1
    ("role value 2", enc.rq_with_user_items(b"\x54\x00\x00\x07\x00\x03" + b"1.2" + b"\x02\x00")),
    # user identity with trailing bytes
    (
        "user identity trailing bytes",
        enc.rq_with_user_items(b"\x58\x00\x00\x09\x01\x00\x00\x01u\x00\x00zz"),
    ),
    # user identity type 9
    ("user identity type 9", enc.rq_with_user_items(b"\x58\x00\x00\x07\x09\x00\x00\x01u\x00\x00")),
    # stray bytes after the last item
    ("stray bytes", enc.rq_with_user_items(b"\x51\x00\x00\x04\x00\x00\x40\x00\x51\x00")),
    # PDV item length 1 (less than context ID and header)
    ("PDV length 1", with_length(4, b"\x00\x00\x00\x01\x01\x00")),
    # P-DATA-TF without PDV
    ("P-DATA-TF empty", with_length(4, b"")),
]


@pytest.mark.parametrize(("name", "data"), BAD_ITEM_LENGTHS, ids=[b[0] for b in BAD_ITEM_LENGTHS])
def test_bad_item_lengths_and_values(name: str, data: bytes) -> None:
    if name == "short context item":
        data = with_length(1, enc.A_ASSOCIATE_RQ[6:74] + b"\x20\x00\x00\x02\x01\x00")
    assert abort_of(data) == (2, 6)


@pytest.mark.parametrize(
    "title",
    [
        b"                ",  # all spaces: "shall not be used" (PS3.8 9.3.2)
        b"BACK\\SLASH      ",  # backslash excluded from the AE VR
        b"TAB\tTITLE       ",  # control character
        b"NUL\x00PADDED\x00\x00\x00\x00\x00\x00",
        b"CAF\xc9",  # not ISO 646
    ],
)
@pytest.mark.parametrize("field", ["called", "calling"])
def test_invalid_ae_title(title: bytes, field: str) -> None:
    data = bytearray(enc.A_ASSOCIATE_RQ)
    start = 10 if field == "called" else 26
    data[start : start + 16] = title.ljust(16)
    assert abort_of(bytes(data)) == (2, 6)


@pytest.mark.parametrize("context_id", [0, 2, 254])
def test_context_id_even_or_zero(context_id: int) -> None:
    rq = bytearray(enc.A_ASSOCIATE_RQ)
    rq[6 + 68 + 25 + 4] = context_id  # Presentation-context-ID of the RQ item
    assert abort_of(bytes(rq)) == (2, 6)
    ac = bytearray(enc.A_ASSOCIATE_AC)
    ac[6 + 68 + 25 + 4] = context_id
    assert abort_of(bytes(ac)) == (2, 6)
    pdata = bytearray(enc.P_DATA_TF)
    pdata[10] = context_id
    assert abort_of(bytes(pdata)) == (2, 6)


def test_duplicate_context_ids() -> None:
    body = enc.A_ASSOCIATE_RQ[6 : 6 + 68] + enc.APPLICATION_CONTEXT_ITEM
    body += enc.PRESENTATION_CONTEXT_RQ_ITEM * 2 + enc.USER_INFORMATION_ITEM
    assert abort_of(with_length(1, body)) == (2, 6)


def test_unknown_item_type_is_unrecognized_parameter() -> None:
    data = enc.rq_with_user_items()
    body = data[6:] + b"\x33\x00\x00\x00"  # item type 33H is not defined
    assert abort_of(with_length(1, body)) == (2, 4)
    inner = replace(enc.A_ASSOCIATE_RQ, b"\x40\x00\x00\x13", b"\x3f\x00\x00\x13")
    assert abort_of(inner) == (2, 4)


@pytest.mark.parametrize(
    "body_change",
    [
        "ac item in rq",
        "second application context",
        "second user information",
        "abstract syntax at top level",
        "transfer syntax first",
        "second maximum length",
        "user identity ac in rq",
    ],
)
def test_unexpected_parameters(body_change: str) -> None:
    fixed = enc.A_ASSOCIATE_RQ[6 : 6 + 68]
    app, pc, user = (
        enc.APPLICATION_CONTEXT_ITEM,
        enc.PRESENTATION_CONTEXT_RQ_ITEM,
        enc.USER_INFORMATION_ITEM,
    )
    if body_change == "ac item in rq":
        body = fixed + app + pc + enc.PRESENTATION_CONTEXT_AC_ITEM + user
    elif body_change == "second application context":
        body = fixed + app + pc + app + user
    elif body_change == "second user information":
        body = fixed + app + pc + user + user
    elif body_change == "abstract syntax at top level":
        body = fixed + app + pc + enc.ABSTRACT_SYNTAX_SUB_ITEM + user
    elif body_change == "transfer syntax first":
        subs = enc.TRANSFER_SYNTAX_SUB_ITEM + enc.ABSTRACT_SYNTAX_SUB_ITEM
        item = b"\x20\x00" + struct.pack(">H", 4 + len(subs)) + b"\x01\x00\x00\x00" + subs
        body = fixed + app + item + user
    elif body_change == "second maximum length":
        body = enc.rq_with_user_items(enc.MAXIMUM_LENGTH_SUB_ITEM * 2)[6:]
    else:
        body = enc.rq_with_user_items(enc.USER_IDENTITY_AC_SUB_ITEM)[6:]
    assert abort_of(with_length(1, body)) == (2, 5)


def test_user_identity_rq_in_ac_and_common_extended_in_ac() -> None:
    assert abort_of(enc.ac_with_user_items(enc.USER_IDENTITY_RQ_SUB_ITEM)) == (2, 5)
    assert abort_of(enc.ac_with_user_items(enc.SOP_CLASS_COMMON_EXTENDED_NEGOTIATION_SUB_ITEM)) == (
        2,
        5,
    )


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("no application context", enc.PRESENTATION_CONTEXT_RQ_ITEM + enc.USER_INFORMATION_ITEM),
        ("no presentation context", enc.APPLICATION_CONTEXT_ITEM + enc.USER_INFORMATION_ITEM),
        ("no user information", enc.APPLICATION_CONTEXT_ITEM + enc.PRESENTATION_CONTEXT_RQ_ITEM),
    ],
)
def test_missing_items(name: str, body: bytes) -> None:
    assert abort_of(with_length(1, enc.A_ASSOCIATE_RQ[6 : 6 + 68] + body)) == (2, 6)


@pytest.mark.parametrize(
    "uid", [b"1.02.3", b"1..2", b".1.2", b"1.2.", b"1.2.a", b"", b"1" + b".2" * 40]
)
def test_invalid_uids(uid: bytes) -> None:
    item = b"\x52\x00" + struct.pack(">H", len(uid)) + uid
    assert abort_of(enc.rq_with_user_items(item)) == (2, 6)


def test_uid_nul_padding_is_refused_unless_lenient(caplog: pytest.LogCaptureFixture) -> None:
    # PS3.5 9.1: no NUL pad "when used for network negotiation"; pynetdicom#240 met one.
    padded = b"\x52\x00\x00\x10" + b"1.2.3.4.5.6.7.8\x00"
    data = enc.rq_with_user_items(padded)
    assert abort_of(data) == (2, 6)
    with caplog.at_level(logging.WARNING, logger="storecore.ul.pdu"):
        pdu = decode(data, lenient_uid_padding=True)
    assert isinstance(pdu, A_ASSOCIATE_RQ)
    assert pdu.user_information.implementation_class_uid == "1.2.3.4.5.6.7.8"
    assert "lenient_uid_padding" in caplog.text


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"\x00\x00\x03\x00", "A-ABORT source 3"),
        (b"\x00\x00\x02\x07", "A-ABORT provider reason 7"),
    ],
)
def test_invalid_abort_values(body: bytes, what: str) -> None:
    assert abort_of(with_length(7, body)) == (2, 6)


def test_user_abort_reason_is_not_tested() -> None:
    # Table 9-26: with the service-user source the reason is not significant.
    assert decode(with_length(7, b"\x00\x00\x00\x09")) == A_ABORT(0, 0)


@pytest.mark.parametrize("body", [b"\x00\x03\x01\x01", b"\x00\x01\x04\x01", b"\x00\x01\x02\x03"])
def test_invalid_reject_values(body: bytes) -> None:
    assert abort_of(with_length(3, body)) == (2, 6)


def test_invalid_version_name_and_context_result() -> None:
    assert abort_of(enc.rq_with_user_items(b"\x55\x00\x00\x00")) == (2, 6)  # empty
    assert abort_of(enc.rq_with_user_items(b"\x55\x00\x00\x11" + b"A" * 17)) == (2, 6)
    ac = bytearray(enc.A_ASSOCIATE_AC)
    ac[6 + 68 + 25 + 6] = 5  # Result/Reason 5 is not defined
    assert abort_of(bytes(ac)) == (2, 6)


@given(st.integers(1, 7), st.binary(max_size=300))
@settings(max_examples=400, deadline=None)
def test_random_bodies_decode_or_raise_remote_protocol_error(pdu_type: int, body: bytes) -> None:
    try:
        decode_pdu(pdu_type, body)
    except RemoteProtocolError as exc:
        assert exc.abort_source == 2 and exc.abort_reason in (1, 4, 5, 6)


@given(pdus, st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_pdus_decode_or_raise_remote_protocol_error(pdu: PDU, data: st.DataObject) -> None:
    raw = bytearray(encode_pdu(pdu)[6:])
    for _ in range(data.draw(st.integers(1, 4))):
        if raw and data.draw(st.booleans()):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        else:
            del raw[data.draw(st.integers(0, len(raw))) :]
    try:
        decode_pdu(pdu.pdu_type, bytes(raw))
    except RemoteProtocolError as exc:
        assert exc.abort_source == 2 and exc.abort_reason in (4, 5, 6)


# --------------------------------------------------------------------------
# Constructors and the encoder refuse what the standard does not allow


@pytest.mark.parametrize(
    "make",
    [
        lambda: PresentationContextRQ(2, "1.2.3", ("1.2",)),
        lambda: PresentationContextRQ(0, "1.2.3", ("1.2",)),
        lambda: PresentationContextRQ(257, "1.2.3", ("1.2",)),
        lambda: PresentationContextRQ(1, "1.2.3", ()),
        lambda: PresentationContextRQ(1, "1.02", ("1.2",)),
        lambda: PresentationContextAC(1, 5, "1.2"),
        lambda: PresentationContextAC(1, 0, ""),
        lambda: MaximumLength(-1),
        lambda: MaximumLength(1 << 32),
        lambda: ImplementationVersionName(""),
        lambda: ImplementationVersionName("X" * 17),
        lambda: ImplementationVersionName("caf\u00e9"),
        lambda: AsynchronousOperationsWindow(1 << 16, 0),
        lambda: UserIdentityRQ(6, False, b"u"),
        lambda: UserIdentityRQ(1, False, b""),
        lambda: UserIdentityRQ(1, False, b"u", b"p"),
        lambda: UnknownUserItem(0x51, b""),
        lambda: UserInformation((MaximumLength(1), MaximumLength(2))),
        lambda: UserInformation((UserIdentityRQ(1, False, b"u"), UserIdentityAC())),
        lambda: A_ASSOCIATE_RQ("", "B", (PresentationContextRQ(1, "1.2", ("1.2",)),)),
        lambda: A_ASSOCIATE_RQ("A" * 17, "B", (PresentationContextRQ(1, "1.2", ("1.2",)),)),
        lambda: A_ASSOCIATE_RQ("A", "B", ()),
        lambda: A_ASSOCIATE_RQ(
            "A",
            "B",
            (
                PresentationContextRQ(1, "1.2", ("1.2",)),
                PresentationContextRQ(1, "1.3", ("1.2",)),
            ),
        ),
        lambda: A_ASSOCIATE_RJ(3, 1, 1),
        lambda: A_ASSOCIATE_RJ(1, 2, 3),
        lambda: A_ABORT(0, 2),
        lambda: A_ABORT(3, 0),
    ],
)
def test_constructors_refuse_invalid_values(make: object) -> None:
    with pytest.raises(LocalProtocolError):
        make()  # type: ignore[operator]


def test_validate_ae_title_strips_non_significant_spaces() -> None:
    assert validate_ae_title("  STORE SCP  ") == "STORE SCP"
    rq = A_ASSOCIATE_RQ(" A ", "B  ", (PresentationContextRQ(1, "1.2", ("1.2",)),))
    assert (rq.called_ae_title, rq.calling_ae_title) == ("A", "B")


@pytest.mark.parametrize(
    "pdu",
    [
        P_DATA_TF(()),
        P_DATA_TF((PDV(2, 0, b""),)),
        P_DATA_TF((PDV(1, 256, b""),)),
        A_ASSOCIATE_RQ(
            "A",
            "B",
            (PresentationContextRQ(1, "1.2", ("1.2",) * 10000),),
        ),
    ],
)
def test_encoder_refuses(pdu: PDU) -> None:
    with pytest.raises(LocalProtocolError):
        encode_pdu(pdu)


def test_encoder_takes_memoryview_fragments() -> None:
    payload = bytearray(b"abcdef")
    data = encode_pdu(P_DATA_TF((PDV(3, 2, memoryview(payload)[2:]),)))
    assert data == b"\x04\x00\x00\x00\x00\x0a\x00\x00\x00\x06\x03\x02cdef"
