"""Differential tests against pynetdicom 3 (and pydicom, which it encodes with).

Three directions:

1. storecore encodes, pydicom (via ``pynetdicom.dsutils.decode``) reads every
   element back;
2. pynetdicom builds the same message from its DIMSE primitive and encodes it:
   the bytes are identical, and storecore decodes them to the same message;
3. a command Dataset built directly with pydicom and encoded by
   ``pynetdicom.dsutils.encode`` decodes with storecore to the expected message.
"""

from __future__ import annotations

import dataclasses
from io import BytesIO
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pydicom.dataset import Dataset
from pynetdicom import dimse_messages as pnd_messages
from pynetdicom import dimse_primitives as pnd_primitives
from pynetdicom.dsutils import decode as pnd_decode
from pynetdicom.dsutils import encode as pnd_encode

from storecore.dimse import (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    DATA_SET_PRESENT,
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_EVENT_REPORT_RQ,
    N_EVENT_REPORT_RSP,
    Message,
    decode_command,
    encode_command,
    has_dataset,
)

from .strategies import BY_TYPE

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# our class -> (pynetdicom primitive, pynetdicom message, the primitive's data set parameter)
_PND: dict[type[Any], tuple[type[Any], type[Any], str | None]] = {
    C_ECHO_RQ: (pnd_primitives.C_ECHO, pnd_messages.C_ECHO_RQ, None),
    C_ECHO_RSP: (pnd_primitives.C_ECHO, pnd_messages.C_ECHO_RSP, None),
    C_STORE_RQ: (pnd_primitives.C_STORE, pnd_messages.C_STORE_RQ, "DataSet"),
    C_STORE_RSP: (pnd_primitives.C_STORE, pnd_messages.C_STORE_RSP, None),
    N_EVENT_REPORT_RQ: (
        pnd_primitives.N_EVENT_REPORT,
        pnd_messages.N_EVENT_REPORT_RQ,
        "EventInformation",
    ),
    N_EVENT_REPORT_RSP: (
        pnd_primitives.N_EVENT_REPORT,
        pnd_messages.N_EVENT_REPORT_RSP,
        "EventReply",
    ),
    N_ACTION_RQ: (pnd_primitives.N_ACTION, pnd_messages.N_ACTION_RQ, "ActionInformation"),
    N_ACTION_RSP: (pnd_primitives.N_ACTION, pnd_messages.N_ACTION_RSP, "ActionReply"),
}


def _fields(msg: Message) -> dict[str, Any]:
    return {
        f.name: getattr(msg, f.name)
        for f in dataclasses.fields(msg)
        if getattr(msg, f.name) is not None
    }


def _assert_dataset_is(ds: Dataset, msg: Message, length: int) -> None:
    """Every element of the pydicom-read command set is the message's, and nothing else."""
    expected = {"CommandGroupLength", "CommandField", *_fields(msg)}
    assert {elem.keyword for elem in ds} == expected
    assert ds.CommandGroupLength == length - 12
    assert ds.CommandField == msg.CommandField
    for name, value in _fields(msg).items():
        elem = ds[name]
        if elem.VR == "AT":
            tags = [int(t) for t in elem.value] if elem.VM > 1 else [int(elem.value)]
            assert tags == list(value), name
        else:
            assert elem.value == value, name


@pytest.mark.parametrize("kind", list(BY_TYPE))
def test_pydicom_reads_what_storecore_writes(kind: str) -> None:
    @_SETTINGS
    @given(BY_TYPE[kind])
    def check(msg: Message) -> None:
        data = encode_command(msg)
        ds = pnd_decode(BytesIO(data), True, True)
        _assert_dataset_is(ds, msg, len(data))

    check()


def _pynetdicom_bytes(msg: Message) -> bytes:
    primitive_cls, message_cls, data_set_parameter = _PND[type(msg)]
    primitive = primitive_cls()
    for name, value in _fields(msg).items():
        if name == "CommandDataSetType":
            continue  # pynetdicom derives it from the data set parameter
        setattr(primitive, name, list(value) if isinstance(value, tuple) else value)
    if has_dataset(msg):
        assert data_set_parameter is not None
        setattr(primitive, data_set_parameter, BytesIO(b"\x00\x00"))
    message = message_cls()
    message.primitive_to_message(primitive)
    data = pnd_encode(message.command_set, True, True)
    assert isinstance(data, bytes)
    return data


@pytest.mark.parametrize("kind", list(BY_TYPE))
def test_same_bytes_as_pynetdicom(kind: str) -> None:
    @_SETTINGS
    @given(BY_TYPE[kind])
    def check(msg: Message) -> None:
        # pynetdicom always writes 0001H when a data set follows
        if has_dataset(msg):
            msg = dataclasses.replace(msg, CommandDataSetType=DATA_SET_PRESENT)
        theirs = _pynetdicom_bytes(msg)
        assert encode_command(msg) == theirs
        assert decode_command(theirs) == msg

    check()


def _command_dataset(**elements: Any) -> bytes:
    """A command set built with pydicom alone, encoded by pynetdicom."""
    ds = Dataset()
    ds.CommandGroupLength = 0
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    body = pnd_encode(ds, True, True)
    assert body is not None
    ds.CommandGroupLength = len(body) - 12
    data = pnd_encode(ds, True, True)
    assert data is not None
    return data


@pytest.mark.parametrize(
    ("elements", "expected"),
    [
        (
            {
                "AffectedSOPClassUID": "1.2.840.10008.1.1",
                "CommandField": 0x0030,
                "MessageID": 65535,
                "CommandDataSetType": 0x0101,
            },
            C_ECHO_RQ(65535),
        ),
        (
            {
                "AffectedSOPClassUID": "1.2.840.10008.5.1.4.1.1.4",
                "CommandField": 0x0001,
                "MessageID": 12,
                "Priority": 1,
                "CommandDataSetType": 0x0102,  # any value but 0101H means a data set
                "AffectedSOPInstanceUID": "2.25.123456789012345678901234567890",
                "MoveOriginatorApplicationEntityTitle": "ORTHANC",
                "MoveOriginatorMessageID": 4,
            },
            C_STORE_RQ(
                12,
                "1.2.840.10008.5.1.4.1.1.4",
                "2.25.123456789012345678901234567890",
                1,
                "ORTHANC",
                4,
                0x0102,
            ),
        ),
        (
            {
                "CommandField": 0x8001,
                "MessageIDBeingRespondedTo": 12,
                "CommandDataSetType": 0x0101,
                "Status": 0xA900,
                "OffendingElement": [0x00080016],
                "ErrorComment": "SOP Class UID mismatch",
            },
            C_STORE_RSP(
                12, 0xA900, OffendingElement=(0x00080016,), ErrorComment="SOP Class UID mismatch"
            ),
        ),
        (
            {
                "RequestedSOPClassUID": "1.2.840.10008.1.20.1",
                "CommandField": 0x0130,
                "MessageID": 2,
                "CommandDataSetType": 0x0000,
                "RequestedSOPInstanceUID": "1.2.840.10008.1.20.1.1",
                "ActionTypeID": 1,
            },
            N_ACTION_RQ(2, "1.2.840.10008.1.20.1", "1.2.840.10008.1.20.1.1", 1, 0x0000),
        ),
        (
            {
                "AffectedSOPClassUID": "1.2.840.10008.1.20.1",
                "CommandField": 0x8130,
                "MessageIDBeingRespondedTo": 2,
                "CommandDataSetType": 0x0101,
                "Status": 0x0124,
                "ErrorComment": "not allowed",
            },
            N_ACTION_RSP(2, 0x0124, "1.2.840.10008.1.20.1", ErrorComment="not allowed"),
        ),
        (
            {
                "AffectedSOPClassUID": "1.2.840.10008.1.20.1",
                "CommandField": 0x0100,
                "MessageID": 8,
                "CommandDataSetType": 0x0001,
                "AffectedSOPInstanceUID": "1.2.840.10008.1.20.1.1",
                "EventTypeID": 1,
            },
            N_EVENT_REPORT_RQ(8, "1.2.840.10008.1.20.1", "1.2.840.10008.1.20.1.1", 1),
        ),
        (
            {
                "CommandField": 0x8100,
                "MessageIDBeingRespondedTo": 8,
                "CommandDataSetType": 0x0101,
                "Status": 0x0110,
                "ErrorComment": "disk",
                "ErrorID": 7,
            },
            N_EVENT_REPORT_RSP(8, 0x0110, ErrorComment="disk", ErrorID=7),
        ),
        (
            {
                "CommandField": 0x8030,
                "MessageIDBeingRespondedTo": 65535,
                "CommandDataSetType": 0x0101,
                "Status": 0x0122,
            },
            C_ECHO_RSP(65535, 0x0122, AffectedSOPClassUID=None),
        ),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, dict) else "",
)
def test_decode_what_pydicom_builds(elements: dict[str, Any], expected: Message) -> None:
    assert decode_command(_command_dataset(**elements)) == expected
