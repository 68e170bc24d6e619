"""Command set encoding and strict decoding: fixtures, checks, and every way to be wrong."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import struct
from io import BytesIO

import pytest
from pynetdicom.dsutils import decode as pnd_decode

from storecore.dimse import (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    MESSAGE_TYPES,
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_EVENT_REPORT_RSP,
    CommandField,
    CommandSetError,
    Message,
    Priority,
    decode_command,
    encode_command,
    has_dataset,
)
from storecore.errors import DatasetError, LocalProtocolError, RemoteProtocolError, StorecoreError

from .encoded_commands import (
    C_STORE_RQ_BYTES,
    CT_IMAGE_STORAGE,
    FIXTURES,
    STORAGE_COMMITMENT,
    STORAGE_COMMITMENT_INSTANCE,
)

IDS = [name for name, _, _ in FIXTURES]


def element(tag: int, value: bytes) -> bytes:
    """One Implicit VR Little Endian element, written without storecore."""
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def us(value: int) -> bytes:
    return struct.pack("<H", value)


def command(*elements: bytes, group_length: int | None = None) -> bytes:
    """A command set: Command Group Length (correct unless given) then `elements`."""
    body = b"".join(elements)
    length = len(body) if group_length is None else group_length
    return element(0x0000_0000, struct.pack("<I", length)) + body


def store_rq(*, skip: tuple[int, ...] = (), **replace: bytes) -> bytes:
    """A C-STORE-RQ with elements left out or replaced (by tag name)."""
    parts = {
        0x0002: b"1.2.840.10008.5.1.4.1.1.2\x00",
        0x0100: us(0x0001),
        0x0110: us(7),
        0x0700: us(0),
        0x0800: us(0x0001),
        0x1000: b"1.2.3.4\x00",
    }
    for name, value in replace.items():
        parts[int(name[1:], 16)] = value
    return command(*(element(tag, v) for tag, v in sorted(parts.items()) if tag not in skip))


# -- fixtures --------------------------------------------------------------------


@pytest.mark.parametrize(("name", "data", "msg"), FIXTURES, ids=IDS)
def test_fixture_encodes_byte_for_byte(name: str, data: bytes, msg: Message) -> None:
    assert encode_command(msg) == data


@pytest.mark.parametrize(("name", "data", "msg"), FIXTURES, ids=IDS)
def test_fixture_decodes(name: str, data: bytes, msg: Message) -> None:
    decoded = decode_command(data)
    assert type(decoded) is type(msg)
    assert decoded == msg
    assert decode_command(memoryview(data)) == msg
    assert decode_command(bytearray(data)) == msg


@pytest.mark.parametrize(("name", "data", "msg"), FIXTURES, ids=IDS)
def test_fixture_is_what_pynetdicom_reads(name: str, data: bytes, msg: Message) -> None:
    # An independent reading of the hand-written bytes.
    ds = pnd_decode(BytesIO(data), True, True)
    assert ds.CommandGroupLength == len(data) - 12
    assert ds.CommandField == msg.CommandField
    assert CommandField(ds.CommandField).name.replace("_", "-") == name
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        if value is None:
            assert f.name not in ds
        elif f.name == "OffendingElement":
            assert [int(t) for t in ds.OffendingElement] == list(value)
        else:
            assert ds[f.name].value == value, f.name


@pytest.mark.parametrize(("name", "data", "msg"), FIXTURES, ids=IDS)
def test_has_dataset(name: str, data: bytes, msg: Message) -> None:
    expected = name.endswith("-RQ") and not name.startswith("C-ECHO")
    assert has_dataset(msg) is expected


def test_message_types_cover_the_implemented_commands() -> None:
    assert {cls.__name__ for cls in MESSAGE_TYPES.values()} == {
        "C_ECHO_RQ",
        "C_ECHO_RSP",
        "C_STORE_RQ",
        "C_STORE_RSP",
        "N_EVENT_REPORT_RQ",
        "N_EVENT_REPORT_RSP",
        "N_ACTION_RQ",
        "N_ACTION_RSP",
    }
    for value, cls in MESSAGE_TYPES.items():
        assert CommandField(value).name == cls.__name__


# -- the message objects ---------------------------------------------------------


def test_messages_are_frozen_and_slotted() -> None:
    msg = C_ECHO_RQ(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.MessageID = 2  # type: ignore[misc]
    assert not hasattr(msg, "__dict__")


def test_defaults() -> None:
    echo = C_ECHO_RQ(3)
    assert echo.AffectedSOPClassUID == "1.2.840.10008.1.1"
    assert not has_dataset(echo)
    store = C_STORE_RQ(1, CT_IMAGE_STORAGE, "1.2.3")
    assert store.Priority == Priority.MEDIUM
    assert int(store.Priority) == 0
    assert has_dataset(store)
    assert not has_dataset(C_STORE_RSP(1, 0))
    assert has_dataset(N_ACTION_RQ(1, STORAGE_COMMITMENT, STORAGE_COMMITMENT_INSTANCE, 1))
    assert not has_dataset(
        N_ACTION_RQ(1, STORAGE_COMMITMENT, STORAGE_COMMITMENT_INSTANCE, 1, 0x0101)
    )


def test_text_values_are_kept_without_insignificant_spaces() -> None:
    msg = C_STORE_RQ(1, "1.2", "1.3", MoveOriginatorApplicationEntityTitle="  AE ")
    assert msg.MoveOriginatorApplicationEntityTitle == "AE"
    rsp = C_STORE_RSP(1, 0xC000, ErrorComment="why ", OffendingElement=[0x00100010])  # type: ignore[arg-type]
    assert rsp.ErrorComment == "why"
    assert rsp.OffendingElement == (0x00100010,)
    assert decode_command(encode_command(msg)) == msg


def _with_ae(title: str) -> C_STORE_RQ:
    return C_STORE_RQ(1, "1.2", "1.3", MoveOriginatorApplicationEntityTitle=title)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: C_ECHO_RQ(-1), "US value"),
        (lambda: C_ECHO_RQ(0x10000), "US value"),
        (lambda: C_ECHO_RQ(True), "US value"),
        (lambda: C_ECHO_RQ(1, "1.2.840.10008.01.1"), "not a valid UID"),  # leading zero
        (lambda: C_ECHO_RQ(1, "1.2.840."), "not a valid UID"),
        (lambda: C_ECHO_RQ(1, "1.2.abc"), "not a valid UID"),
        (lambda: C_ECHO_RQ(1, ""), "not a valid UID"),
        (lambda: C_ECHO_RQ(1, "1." + "2" * 63), "not a valid UID"),  # 65 characters
        (lambda: C_ECHO_RQ(1, CommandDataSetType=0x0001), "0101H"),
        (lambda: C_STORE_RQ(1, "1.2", "1.3", CommandDataSetType=0x0101), "data set is required"),
        (lambda: C_STORE_RQ(1, "1.2", "1.3", Priority=3), "LOW, MEDIUM or HIGH"),
        (lambda: _with_ae("A" * 17), "1-16 characters"),
        (lambda: _with_ae("A\\B"), "Default Character"),
        (lambda: _with_ae("   "), "1-16 characters"),
        (lambda: _with_ae("AÉ"), "Default Character"),
        (lambda: C_STORE_RSP(1, 0xC000, ErrorComment="x" * 65), "1-64 characters"),
        (lambda: C_STORE_RSP(1, 0xC000, ErrorComment="a\nb"), "Default Character"),
        (lambda: C_STORE_RSP(1, 0xC000, OffendingElement=()), "non-empty"),
        (lambda: C_STORE_RSP(1, 0xC000, OffendingElement=(1 << 32,)), "attribute tag"),
        (lambda: C_STORE_RSP(1, 0xC000, CommandDataSetType=1), "0101H"),
        (lambda: C_STORE_RSP(1, None), "Status is required"),  # type: ignore[arg-type]
        (lambda: N_ACTION_RQ(1, "1.2", "1.3", None), "ActionTypeID is required"),  # type: ignore[arg-type]
    ],
)
def test_invalid_values_are_refused_when_made(make: object, match: str) -> None:
    with pytest.raises(LocalProtocolError, match=match):
        make()  # type: ignore[operator]


# -- malformed bytes: DatasetError, the association is aborted ---------------------


@pytest.mark.parametrize("cut", [1, 8, 11, 12, 20, 45, len(C_STORE_RQ_BYTES) - 1])
def test_truncated_command_set(cut: int) -> None:
    with pytest.raises(DatasetError) as info:
        decode_command(C_STORE_RQ_BYTES[:cut])
    assert info.value.offset >= 0


def test_empty_command_set() -> None:
    with pytest.raises(DatasetError, match="empty command set"):
        decode_command(b"")


def test_odd_uid_length() -> None:
    data = store_rq(t1000=b"1.2.3.4")  # 7 bytes: the NUL pad is missing
    with pytest.raises(DatasetError, match="odd value length") as info:
        decode_command(data)
    assert info.value.path == "(0000,1000)"
    assert info.value.offset == data.index(b"\x00\x00\x00\x10\x07\x00\x00\x00")


@pytest.mark.parametrize("delta", [-2, 2, 1000])
def test_wrong_group_length(delta: int) -> None:
    good = store_rq()
    data = good[:8] + struct.pack("<I", len(good) - 12 + delta) + good[12:]
    with pytest.raises(DatasetError, match="Command Group Length is") as info:
        decode_command(data)
    assert info.value.offset == 8


def test_bytes_after_the_group() -> None:
    with pytest.raises(DatasetError, match="bytes follow it"):
        decode_command(store_rq() + element(0x0000_1031, us(1)))


def test_group_length_must_come_first_and_be_ul() -> None:
    body = element(0x0000_0100, us(0x0030)) + element(0x0000_0110, us(1))
    with pytest.raises(DatasetError, match="begins with Command Group Length"):
        decode_command(body)
    with pytest.raises(DatasetError, match="UL, 4 bytes, not 2"):
        decode_command(element(0x0000_0000, us(len(body))) + body)


def test_elements_outside_group_0000() -> None:
    data = command(element(0x0000_0100, us(0x0030)), element(0x0008_0016, b"1.2\x00"))
    with pytest.raises(DatasetError, match="only group 0000") as info:
        decode_command(data)
    assert info.value.path == "(0008,0016)"


@pytest.mark.parametrize(
    "elements",
    [
        (element(0x0000_0110, us(1)), element(0x0000_0100, us(0x0030))),  # out of order
        (element(0x0000_0100, us(0x0030)), element(0x0000_0100, us(0x0030))),  # repeated
    ],
)
def test_elements_out_of_order_or_repeated(elements: tuple[bytes, ...]) -> None:
    with pytest.raises(DatasetError, match="ascending tag order"):
        decode_command(command(*elements))


def test_no_sequences_in_a_command_set() -> None:
    item = b"\xfe\xff\x00\xe0\x00\x00\x00\x00"
    seq = struct.pack("<HHI", 0, 0x0901, 0xFFFF_FFFF) + item + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    with pytest.raises(DatasetError, match="no sequences"):
        decode_command(command(element(0x0000_0100, us(0x8001)), seq))


def test_at_value_that_is_not_whole_tags() -> None:
    rsp = command(
        element(0x0000_0100, us(0x8001)),
        element(0x0000_0120, us(1)),
        element(0x0000_0800, us(0x0101)),
        element(0x0000_0900, us(0xC000)),
        element(0x0000_0901, b"\x10\x00\x10\x00\x08\x00"),
    )
    with pytest.raises(DatasetError, match="not a multiple of 4"):
        decode_command(rsp)


# -- well-formed but invalid: CommandSetError with the status to answer ------------


def test_missing_message_id() -> None:
    with pytest.raises(CommandSetError, match="MessageID is required") as info:
        decode_command(store_rq(skip=(0x0110,)))
    err = info.value
    assert err.status == 0xC000  # Error: Cannot understand (PS3.4 B.2-1)
    assert err.tag == 0x0000_0110
    assert err.message_id is None
    assert err.command_field == 0x0001
    assert err.data_set_follows is True
    assert not err.can_respond  # no Message ID to answer: abort
    assert isinstance(err, RemoteProtocolError)
    assert (err.abort_source, err.abort_reason) == (0, 0)
    with pytest.raises(LocalProtocolError, match="abort"):
        err.response()


def test_missing_affected_sop_instance_uid_is_answered() -> None:
    with pytest.raises(CommandSetError) as info:
        decode_command(store_rq(skip=(0x1000,)))
    err = info.value
    assert (err.status, err.message_id, err.tag) == (0xC000, 7, 0x0000_1000)
    assert err.can_respond
    rsp = err.response()
    assert isinstance(rsp, C_STORE_RSP)
    assert rsp.MessageIDBeingRespondedTo == 7
    assert rsp.Status == 0xC000
    assert rsp.OffendingElement == (0x0000_1000,)
    assert rsp.ErrorComment is not None and "AffectedSOPInstanceUID" in rsp.ErrorComment
    assert decode_command(encode_command(rsp)) == rsp


@pytest.mark.parametrize(
    ("data", "status", "tag"),
    [
        # a malformed instance UID: Invalid SOP Instance (PS3.7 C.5.12)
        (store_rq(t1000=b"1.2.03.4"), 0x0117, 0x0000_1000),
        (store_rq(t1000=b"1.2.3.4 "), 0x0117, 0x0000_1000),
        # a malformed class UID: the class cannot be supported
        (store_rq(t0002=b"1.2.840.x\x00"), 0x0122, 0x0000_0002),
        # wrong multiplicity (an even length that is not 2)
        (store_rq(t0110=us(7) + us(8)), 0xC000, 0x0000_0110),
        (store_rq(t0700=us(3)), 0xC000, 0x0000_0700),  # no such Priority
        (store_rq(t0800=us(0x0101)), 0xC000, 0x0000_0800),  # C-STORE without a data set
        (store_rq(t1000=b""), 0xC000, 0x0000_1000),  # empty required value
        (store_rq(t1000=b"1.2.\xc3\xa9"), 0x0117, 0x0000_1000),  # not ASCII
    ],
)
def test_invalid_c_store_rq(data: bytes, status: int, tag: int) -> None:
    with pytest.raises(CommandSetError) as info:
        decode_command(data)
    assert (info.value.status, info.value.tag) == (status, tag)


def test_response_carries_only_the_fields_its_status_allows() -> None:
    # 0117H carries only the Affected SOP Instance UID (C.5.12): no comment, no element.
    with pytest.raises(CommandSetError) as info:
        decode_command(store_rq(t1000=b"1.2.03.4"))
    rsp = info.value.response()
    assert rsp == C_STORE_RSP(7, 0x0117)


def test_invalid_c_echo_rq() -> None:
    base = {
        0x0002: b"1.2.840.10008.1.1\x00",
        0x0100: us(0x0030),
        0x0110: us(4),
        0x0800: us(0x0101),
    }

    def echo(**replace: bytes) -> bytes:
        parts = dict(base)
        parts.update({int(k[1:], 16): v for k, v in replace.items()})
        return command(*(element(t, v) for t, v in sorted(parts.items())))

    assert decode_command(echo()) == C_ECHO_RQ(4)
    with pytest.raises(CommandSetError) as info:
        decode_command(echo(t0800=us(0x0000)))  # announces a data set
    assert info.value.status == 0x0212  # Mistyped argument (PS3.7 9.1.5.1.4)
    assert info.value.data_set_follows is True
    assert info.value.response() == C_ECHO_RSP(4, 0x0212, AffectedSOPClassUID=None)
    with pytest.raises(CommandSetError) as info:
        decode_command(echo(t0002=b"1.2.840.10008.1.1."))
    assert info.value.status == 0x0122


@pytest.mark.parametrize(
    ("replace", "skip", "status", "tag"),
    [
        ({}, (0x1008,), 0x0115, 0x0000_1008),  # missing Action Type ID: Invalid argument value
        ({0x0700: us(0)}, (), 0x0114, 0x0000_0700),  # Priority is no N-ACTION argument
        ({0x1001: b"1.2.840.10008.1.20.01.11"}, (), 0x0117, 0x0000_1001),
        ({0x0003: b"1.2.840..10008"}, (), 0x0118, 0x0000_0003),  # No such SOP Class
        ({0x1008: us(1) + us(2)}, (), 0x0115, 0x0000_1008),
    ],
)
def test_invalid_n_action_rq(
    replace: dict[int, bytes], skip: tuple[int, ...], status: int, tag: int
) -> None:
    parts = {
        0x0003: b"1.2.840.10008.1.20.1",
        0x0100: us(0x0130),
        0x0110: us(5),
        0x0800: us(0x0001),
        0x1001: b"1.2.840.10008.1.20.1.1",
        0x1008: us(1),
    }
    parts.update(replace)
    data = command(*(element(t, v) for t, v in sorted(parts.items()) if t not in skip))
    with pytest.raises(CommandSetError) as info:
        decode_command(data)
    err = info.value
    assert (err.status, err.tag, err.message_id) == (status, tag, 5)
    rsp = err.response()
    assert isinstance(rsp, N_ACTION_RSP)
    assert (rsp.MessageIDBeingRespondedTo, rsp.Status) == (5, status)


def test_invalid_n_event_report_rq() -> None:
    data = command(
        element(0x0000_0002, b"1.2.840.10008.1.20.1"),
        element(0x0000_0100, us(0x0100)),
        element(0x0000_0110, us(9)),
        element(0x0000_0800, us(0x0001)),
        element(0x0000_1000, b"1.2.840.10008.1.20.1.1"),
    )
    with pytest.raises(CommandSetError, match="EventTypeID is required") as info:
        decode_command(data)
    assert info.value.status == 0x0115
    rsp = info.value.response()
    assert rsp == N_EVENT_REPORT_RSP(9, 0x0115)


@pytest.mark.parametrize(
    ("field", "why"),
    [
        (0x1234, "1234H is not a DIMSE command"),
        (0x0020, "C-FIND-RQ is not an operation storecore implements"),
        (0x0FFF, "C-CANCEL-RQ is not an operation storecore implements"),
    ],
)
def test_unknown_or_unimplemented_command_field(field: int, why: str) -> None:
    data = command(element(0x0000_0100, us(field)), element(0x0000_0110, us(3)))
    with pytest.raises(CommandSetError, match=why) as info:
        decode_command(data)
    err = info.value
    assert err.status == 0x0211  # Unrecognized operation (PS3.7 C.5.23)
    assert (err.command_field, err.message_id) == (field, 3)
    assert not err.can_respond  # no response message for it here


def test_missing_command_field() -> None:
    with pytest.raises(CommandSetError, match="Command Field") as info:
        decode_command(command(element(0x0000_0110, us(3))))
    assert info.value.status == 0x0211
    assert not info.value.can_respond


def test_invalid_response_is_not_answered() -> None:
    data = command(
        element(0x0000_0100, us(0x8001)),
        element(0x0000_0120, us(7)),
        element(0x0000_0800, us(0x0101)),
    )
    with pytest.raises(CommandSetError, match="Status is required") as info:
        decode_command(data)
    assert info.value.status is None
    assert info.value.message_id is None
    assert not info.value.can_respond


def test_zero_length_optional_element_reads_as_absent() -> None:
    data = command(
        element(0x0000_0100, us(0x8001)),
        element(0x0000_0120, us(7)),
        element(0x0000_0800, us(0x0101)),
        element(0x0000_0900, us(0)),
        element(0x0000_0902, b""),
    )
    assert decode_command(data) == C_STORE_RSP(7, 0)


def test_absent_optional_fields_do_not_take_class_defaults() -> None:
    # C_ECHO_RSP defaults AffectedSOPClassUID to Verification when made; a
    # decoded response without the element must say None.
    data = command(
        element(0x0000_0100, us(0x8030)),
        element(0x0000_0120, us(1)),
        element(0x0000_0800, us(0x0101)),
        element(0x0000_0900, us(0)),
    )
    assert decode_command(data).AffectedSOPClassUID is None  # type: ignore[union-attr]


# -- named leniencies ----------------------------------------------------------------


def test_lenient_unexpected_elements(caplog: pytest.LogCaptureFixture) -> None:
    data = store_rq(t0902=b"hi")
    with pytest.raises(CommandSetError, match="not an element of C_STORE_RQ") as info:
        decode_command(data)
    assert (info.value.status, info.value.tag) == (0xC000, 0x0000_0902)
    with caplog.at_level(logging.WARNING, logger="storecore.dimse.messages"):
        msg = decode_command(data, lenient_unexpected_elements=True)
    assert msg == C_STORE_RQ(7, CT_IMAGE_STORAGE, "1.2.3.4")
    assert "lenient_unexpected_elements" in caplog.text
    assert "(0000,0902)" in caplog.text


def test_lenient_uid_padding(caplog: pytest.LogCaptureFixture) -> None:
    data = store_rq(t1000=b"1.2.3.4   ")
    with pytest.raises(CommandSetError):
        decode_command(data)
    with caplog.at_level(logging.WARNING, logger="storecore.dimse.messages"):
        msg = decode_command(data, lenient_uid_padding=True)
    assert msg == C_STORE_RQ(7, CT_IMAGE_STORAGE, "1.2.3.4")
    assert "lenient_uid_padding" in caplog.text
    # strict reading logs nothing
    caplog.clear()
    decode_command(store_rq(), lenient_uid_padding=True)
    assert caplog.text == ""


def test_every_error_is_a_storecore_error() -> None:
    # a few hundred single-byte corruptions of every fixture
    for _, data, _msg in FIXTURES:
        for i in range(len(data)):
            for byte in (0x00, 0x01, 0x2E, 0x80, 0xFF):
                bad = bytearray(data)
                bad[i] = byte
                with contextlib.suppress(StorecoreError):
                    decode_command(bytes(bad))
