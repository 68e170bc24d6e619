"""The command set fast path (storecore._ext._command): what it accepts, what it leaves to
the strict decoder, and that its bytes and messages are the Python code's."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from storecore._ext._command import CommandCodec
from storecore.dimse import (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    CommandSetError,
    Message,
    decode_command,
    encode_c_store_rsp,
    encode_command,
)
from storecore.dimse.messages import _CODEC, _decode_strict, _encode_command_py
from storecore.errors import DatasetError, LocalProtocolError
from storecore.limits import Limits

from .encoded_commands import C_STORE_RQ_BYTES, CT_IMAGE_STORAGE, FIXTURES
from .test_messages import command, element, store_rq, us

IDS = [name for name, _, _ in FIXTURES]


@pytest.mark.parametrize(("name", "data", "msg"), FIXTURES, ids=IDS)
def test_fixtures_take_the_fast_path(name: str, data: bytes, msg: Message) -> None:
    decoded = _CODEC.decode(data)
    assert type(decoded) is type(msg)
    assert decoded == msg
    assert _CODEC.decode(bytearray(data)) == msg
    assert _CODEC.decode(memoryview(data)) == msg
    assert _CODEC.encode(msg) == data == _encode_command_py(msg)


def test_decoded_message_is_the_classes_own() -> None:
    msg = decode_command(C_STORE_RQ_BYTES)
    assert isinstance(msg, C_STORE_RQ)
    assert not hasattr(msg, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.MessageID = 2  # type: ignore[misc]
    assert hash(msg) == hash(dataclasses.replace(msg))
    assert type(msg.MessageID) is int and type(msg.Priority) is int


def test_optional_fields_decode() -> None:
    rq = C_STORE_RQ(
        9,
        CT_IMAGE_STORAGE,
        "1.2.3.4.5",
        Priority=2,
        MoveOriginatorApplicationEntityTitle="MOVER",
        MoveOriginatorMessageID=4,
    )
    assert _CODEC.decode(encode_command(rq)) == rq
    rsp = C_STORE_RSP(9, 0xC000, OffendingElement=(0x00100010, 0x7FE00010), ErrorComment="bad")
    assert _CODEC.decode(encode_command(rsp)) == rsp
    # text keeps no insignificant spaces, as the class itself keeps it
    data = store_rq(t1030=b" AE ")
    assert _CODEC.decode(data) == C_STORE_RQ(
        7, CT_IMAGE_STORAGE, "1.2.3.4", MoveOriginatorApplicationEntityTitle="AE"
    )
    # an empty optional element says nothing: None, as the strict decoder reads it
    assert _CODEC.decode(store_rq(t1031=b"")) == C_STORE_RQ(7, CT_IMAGE_STORAGE, "1.2.3.4")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        C_STORE_RQ_BYTES[:-2],
        store_rq(t1000=b"1.2.3.4"),  # odd length
        store_rq(t1000=b"1.2.03.4"),  # leading zero
        store_rq(t1000=b"1.2.3.4 "),  # space padding
        store_rq(t1000=b"1.23\x00\x00"),  # two NULs
        store_rq(t1000=b"1.2.\xc3\xa9"),
        store_rq(t1000=b""),  # required and empty
        store_rq(skip=(0x1000,)),
        store_rq(skip=(0x0100,)),
        store_rq(t0100=us(0x0020)),  # C-FIND-RQ
        store_rq(t0100=us(1) + us(1)),
        store_rq(t0110=us(7) + us(8)),
        store_rq(t0700=us(3)),
        store_rq(t0800=us(0x0101)),
        store_rq(t0902=b"hi"),  # not an element of C-STORE-RQ
        store_rq(t1030=b"A\\B "),
        store_rq(t1030=b"    "),
        store_rq(t1030=b"A" * 18),
        store_rq(t1030=b"\x00A"),
        store_rq() + element(0x0000_1031, us(1)),  # after the group
        command(element(0x0000_0110, us(1)), element(0x0000_0100, us(0x0030))),  # order
        command(element(0x0000_0100, us(0x0030)), element(0x0008_0016, b"1.2\x00")),
        element(0x0000_0000, us(4)) + element(0x0000_0100, us(0x0030)),  # UL of 2 bytes
    ],
)
def test_what_the_fast_path_declines_the_strict_decoder_refuses(data: bytes) -> None:
    assert _CODEC.decode(data) is None
    with pytest.raises((DatasetError, CommandSetError)) as fast:
        decode_command(data)
    with pytest.raises((DatasetError, CommandSetError)) as strict:
        _decode_strict(data)
    assert type(fast.value) is type(strict.value)
    assert str(fast.value) == str(strict.value)
    assert vars(fast.value) == vars(strict.value)


def test_undefined_length_and_sequences_are_declined() -> None:
    seq = struct.pack("<HHI", 0, 0x0901, 0xFFFF_FFFF) + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    data = command(element(0x0000_0100, us(0x8001)), seq)
    assert _CODEC.decode(data) is None
    with pytest.raises(DatasetError, match="no sequences"):
        decode_command(data)


def test_element_length_limit_is_the_scanners() -> None:
    limits = Limits(max_element_length=16)
    assert _CODEC.decode(C_STORE_RQ_BYTES, limits.max_element_length) is None
    with pytest.raises(DatasetError, match="element length over the limit"):
        decode_command(C_STORE_RQ_BYTES, limits=limits)
    assert decode_command(C_STORE_RQ_BYTES, limits=Limits(max_element_length=26)) == (
        decode_command(C_STORE_RQ_BYTES)
    )


def test_leniencies_change_nothing_for_valid_command_sets(caplog: pytest.LogCaptureFixture) -> None:
    for _, data, msg in FIXTURES:
        assert decode_command(data, lenient_unexpected_elements=True) == msg
        assert decode_command(data, lenient_uid_padding=True) == msg
    assert caplog.text == ""


def test_encode_falls_back_to_the_python_encoder() -> None:
    rq = C_STORE_RQ(1, CT_IMAGE_STORAGE, "1.2.3")
    odd = dataclasses.replace(rq)
    object.__setattr__(odd, "Priority", True)  # a value no valid message holds
    assert _CODEC.encode(odd) is None
    assert encode_command(odd) == _encode_command_py(odd)
    assert _CODEC.encode(object()) is None


def test_encode_c_store_rsp_is_the_messages_encoding() -> None:
    rq = C_STORE_RQ(300, CT_IMAGE_STORAGE, "1.2.826.0.1.3680043.8.498.1")
    for status in (0x0000, 0xB000, 0xA700, 0xFFFF):
        expected = encode_command(
            C_STORE_RSP(300, status, rq.AffectedSOPClassUID, rq.AffectedSOPInstanceUID)
        )
        assert encode_c_store_rsp(rq, status) == expected


@pytest.mark.parametrize("status", [-1, 0x10000, True, 1.0, None])
def test_encode_c_store_rsp_refuses_what_the_message_refuses(status: object) -> None:
    rq = C_STORE_RQ(1, CT_IMAGE_STORAGE, "1.2.3")
    with pytest.raises(LocalProtocolError) as info:
        encode_c_store_rsp(rq, status)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError) as made:
        C_STORE_RSP(1, status, CT_IMAGE_STORAGE, "1.2.3")  # type: ignore[arg-type]
    assert str(info.value) == str(made.value)


def test_encode_values_checks_the_encoding_only() -> None:
    values = (1, 0, CT_IMAGE_STORAGE, "1.2.3", None, None, 0x0101)
    assert _CODEC.encode_values(C_STORE_RSP, values) == encode_command(C_STORE_RSP(*values))  # type: ignore[arg-type]
    assert _CODEC.encode_values(C_STORE_RSP, values[:-1]) is None
    assert _CODEC.encode_values(C_ECHO_RQ, values) is None  # C-ECHO-RQ has 3 fields
    assert _CODEC.encode_values(dict, ()) is None
    for bad in ("1.2.é", "\ud800", b"1.2", 12):
        assert _CODEC.encode_values(C_STORE_RSP, (1, 0, bad, "1.2.3", None, None, 0x0101)) is None
    for tags in ((), (1 << 32,), (-1,), [0x00100010], (True,)):
        assert (
            _CODEC.encode_values(C_STORE_RSP, (1, 0xC000, None, None, tags, None, 0x0101)) is None
        )
    # an odd text is padded with a space, an odd UID with a NUL
    echo = _CODEC.encode_values(C_ECHO_RSP, (1, 0, "1.2.3", "odd", 0x0101))
    assert echo is not None and echo.endswith(b"odd ") and b"1.2.3\x00" in echo


def test_codec_specs_are_checked() -> None:
    field = ("MessageID", 0x0110, "US", True)
    with pytest.raises(ValueError, match="two fields"):
        CommandCodec([(C_ECHO_RQ, 0x0030, "never", [field, field])])
    with pytest.raises(ValueError, match="not a command element"):
        CommandCodec([(C_ECHO_RQ, 0x0030, "never", [("X", 0x0100, "US", True)])])
    with pytest.raises(ValueError, match="not a command element"):
        CommandCodec([(C_ECHO_RQ, 0x0030, "never", [("X", 0x0008_0016, "UI", True)])])
    with pytest.raises(ValueError, match="more than"):
        CommandCodec(
            [(C_ECHO_RQ, 0x0030, "never", [(f"F{i}", i + 1, "US", False) for i in range(17)])]
        )
    with pytest.raises(KeyError):
        CommandCodec([(C_ECHO_RQ, 0x0030, "never", [("X", 0x0110, "SQ", True)])])
    with pytest.raises(KeyError):
        CommandCodec([(C_ECHO_RQ, 0x0030, "sometimes", [field])])
