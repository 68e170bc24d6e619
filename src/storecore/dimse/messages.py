"""DIMSE command sets: the messages, their encoding and their strict decoding.

A DIMSE message is a command set, optionally followed by a data set (PS3.7
Section 6.3). The command set is always encoded in Implicit VR Little Endian,
holds only group 0000 elements in ascending tag order, and begins with Command
Group Length (0000,0000), the number of bytes that follow it (PS3.7 Sections
6.3.1 and 9.3/10.3; the elements are those of the Annex E.1 registry).

:func:`encode_command` writes a message's whole command set, and
:func:`encode_c_store_rsp` the C-STORE-RSP that answers a request, without
making the message object. :func:`decode_command` reads one, never with
pydicom, and is strict:

- bytes that cannot be a command set (truncated, odd value lengths, a wrong
  Command Group Length, elements out of order or outside group 0000, values
  whose length is not a whole number of the VR's values) raise
  :class:`~storecore.errors.DatasetError` with the byte offset. The peer's
  message cannot be trusted far enough to answer it: the association is
  aborted.
- well-formed command sets that are wrong for their message (an unknown
  Command Field, a missing required element, a malformed UID, a value out of
  range, an element the message does not define) raise :class:`CommandSetError`,
  which carries the status to answer a request with (see its documentation
  for the choice of codes) and, when the Message ID could be read, builds the
  response.

Both directions go first through :class:`storecore._ext._command.CommandCodec`,
which reads or writes a valid command set in one pass and checks each field
once. It declines (returns None) whatever it cannot read or write exactly as
the Python code here would, and that code then runs: the strict decoder,
over storecore's scanner, builds every error. The two decoders are held to
each other by ``tests/property/test_command_props.py`` and
``tests/fuzz/fuzz_command.py``.

References
----------
PS3.7 Sections 6.3, 9.3 (DIMSE-C protocol), 10.3 (DIMSE-N protocol), Annex E
(command dictionary); PS3.5 Sections 6.2 (value representations), 7.1 (data
elements), 9.1 (UID encoding).
"""

from __future__ import annotations

import enum
import logging
import re
import struct
from dataclasses import dataclass, fields
from typing import ClassVar, NamedTuple, TypeAlias, cast

from storecore._ext._command import CommandCodec
from storecore._typing import Buffer
from storecore.dataset import TokenKind, scan
from storecore.dimse import status as st
from storecore.dimse._tags import (
    ACTION_TYPE_ID,
    AFFECTED_SOP_CLASS_UID,
    AFFECTED_SOP_INSTANCE_UID,
    COMMAND_DATA_SET_TYPE,
    COMMAND_FIELD,
    COMMAND_GROUP_LENGTH,
    ERROR_COMMENT,
    ERROR_ID,
    EVENT_TYPE_ID,
    MESSAGE_ID,
    MESSAGE_ID_BEING_RESPONDED_TO,
    MOVE_ORIGINATOR_APPLICATION_ENTITY_TITLE,
    MOVE_ORIGINATOR_MESSAGE_ID,
    OFFENDING_ELEMENT,
    PRIORITY,
    REQUESTED_SOP_CLASS_UID,
    REQUESTED_SOP_INSTANCE_UID,
    STATUS,
    tag_str,
)
from storecore.errors import DatasetError, LocalProtocolError, RemoteProtocolError
from storecore.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "IMPLICIT_VR_LITTLE_ENDIAN",
    "NO_DATA_SET",
    "DATA_SET_PRESENT",
    "VERIFICATION_SOP_CLASS",
    "CommandField",
    "Priority",
    "CommandSetError",
    "C_ECHO_RQ",
    "C_ECHO_RSP",
    "C_STORE_RQ",
    "C_STORE_RSP",
    "N_EVENT_REPORT_RQ",
    "N_EVENT_REPORT_RSP",
    "N_ACTION_RQ",
    "N_ACTION_RSP",
    "Message",
    "MESSAGE_TYPES",
    "encode_command",
    "encode_c_store_rsp",
    "decode_command",
    "has_dataset",
]

_log = logging.getLogger(__name__)

#: The transfer syntax of every command set (PS3.7 Section 6.3.1).
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
#: Command Data Set Type (0000,0800) when no data set follows (PS3.7 Annex E.1).
NO_DATA_SET = 0x0101
#: The value we send when a data set follows; any value but 0101H means one does.
DATA_SET_PRESENT = 0x0001
#: The Verification SOP Class, the Affected SOP Class of C-ECHO (PS3.4 A.4).
VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"


class CommandField(enum.IntEnum):
    """Command Field (0000,0100) values of PS3.7 Annex E.1.

    storecore implements the C-ECHO, C-STORE, N-EVENT-REPORT and N-ACTION
    messages; the others are listed so that decoding can tell an operation it
    does not implement (answered "Unrecognized operation") from garbage.

    References
    ----------
    PS3.7 Annex E, Table E.1-1.
    """

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_GET_RQ = 0x0010
    C_GET_RSP = 0x8010
    C_FIND_RQ = 0x0020
    C_FIND_RSP = 0x8020
    C_MOVE_RQ = 0x0021
    C_MOVE_RSP = 0x8021
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030
    N_EVENT_REPORT_RQ = 0x0100
    N_EVENT_REPORT_RSP = 0x8100
    N_GET_RQ = 0x0110
    N_GET_RSP = 0x8110
    N_SET_RQ = 0x0120
    N_SET_RSP = 0x8120
    N_ACTION_RQ = 0x0130
    N_ACTION_RSP = 0x8130
    N_CREATE_RQ = 0x0140
    N_CREATE_RSP = 0x8140
    N_DELETE_RQ = 0x0150
    N_DELETE_RSP = 0x8150
    C_CANCEL_RQ = 0x0FFF


class Priority(enum.IntEnum):
    """Priority (0000,0700) of a C-STORE-RQ.

    References
    ----------
    PS3.7 Section 9.1.1.1.5 and Annex E.1.
    """

    MEDIUM = 0x0000
    HIGH = 0x0001
    LOW = 0x0002


# --------------------------------------------------------------------------
# Field checks, shared by construction (LocalProtocolError) and decoding
# (CommandSetError): a message object is valid whichever way it was made.


class _FieldError(LocalProtocolError):
    """A field value the standard does not allow; `kind`: "missing", "invalid", "unexpected"."""

    def __init__(self, tag: int, kind: str, message: str) -> None:
        super().__init__(f"{tag_str(tag)}: {message}")
        self.tag = tag
        self.kind = kind
        self.reason = message


# PS3.5 Section 9.1: components of digits, no leading zero unless the
# component is "0", separated by periods; at most 64 characters (Table 6.2-1).
_UID_RE = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
# AE and LO in a command set: the Default Character Repertoire without
# control characters or the backslash, which would split the value
# (PS3.5 Table 6.2-1; PS3.7 Annex C notes that Error Comment uses it only).
_TEXT_RE = re.compile(r"[\x20-\x5B\x5D-\x7E]*")


def _us(tag: int, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise _FieldError(tag, "invalid", f"{value!r} is not a US value (0-65535)")
    return int(value)


def _uid(tag: int, value: object) -> str:
    if not isinstance(value, str):
        raise _FieldError(tag, "invalid", f"{value!r} is not a UID string")
    if not 0 < len(value) <= 64 or not _UID_RE.fullmatch(value):
        raise _FieldError(tag, "invalid", f"{value!r} is not a valid UID (PS3.5 Section 9.1)")
    return value


def _text(tag: int, value: object, max_chars: int) -> str:
    # Leading and trailing spaces are not significant in AE and LO (PS3.5
    # Table 6.2-1), so the value is kept without them: encode -> decode is
    # then the identity.
    if not isinstance(value, str):
        raise _FieldError(tag, "invalid", f"{value!r} is not a string")
    text = value.strip(" ")
    if not text or len(text) > max_chars or not _TEXT_RE.fullmatch(text):
        raise _FieldError(
            tag,
            "invalid",
            f"{value!r} is not 1-{max_chars} characters of the Default Character Repertoire",
        )
    return text


def _at(tag: int, value: object) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not value:
        raise _FieldError(tag, "invalid", f"{value!r} is not a non-empty sequence of tags")
    for t in value:
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= 0xFFFF_FFFF:
            raise _FieldError(tag, "invalid", f"{t!r} is not an attribute tag")
    return tuple(value)


class _Field(NamedTuple):
    tag: int
    name: str
    vr: str
    required: bool


def _validate(msg: Message, spec: tuple[_Field, ...], data_set: str) -> None:
    for f in spec:
        value = getattr(msg, f.name)
        if value is None:
            if f.required:
                raise _FieldError(f.tag, "missing", f"{f.name} is required")
            continue
        if f.vr == "US":
            checked: object = _us(f.tag, value)
        elif f.vr == "UI":
            checked = _uid(f.tag, value)
        elif f.vr == "AE":
            checked = _text(f.tag, value, 16)
        elif f.vr == "LO":
            checked = _text(f.tag, value, 64)
        else:  # "AT"
            checked = _at(f.tag, value)
        if checked != value or type(checked) is not type(value):
            object.__setattr__(msg, f.name, checked)
    dst = msg.CommandDataSetType
    if data_set == "never" and dst != NO_DATA_SET:
        raise _FieldError(
            COMMAND_DATA_SET_TYPE, "invalid", f"must be 0101H (no data set), not {dst:04X}H"
        )
    if data_set == "always" and dst == NO_DATA_SET:
        raise _FieldError(COMMAND_DATA_SET_TYPE, "invalid", "a data set is required")
    priority = getattr(msg, "Priority", None)
    if priority is not None and priority not in Priority.__members__.values():
        raise _FieldError(PRIORITY, "invalid", f"{priority:04X}H is not LOW, MEDIUM or HIGH")


# --------------------------------------------------------------------------
# The messages. Field names are the DICOM keywords of the command elements;
# CommandField and CommandGroupLength are implied by the class and the encoding.


@dataclass(frozen=True, slots=True)
class C_ECHO_RQ:
    """C-ECHO-RQ: verify the association (PS3.7 Section 9.3.5.1, Table 9.3-12).

    References
    ----------
    PS3.7 Sections 9.1.5 and 9.3.5.1.
    """

    MessageID: int
    AffectedSOPClassUID: str = VERIFICATION_SOP_CLASS
    CommandDataSetType: int = NO_DATA_SET

    CommandField: ClassVar[int] = 0x0030
    _FIELDS: ClassVar[tuple[_Field, ...]] = (
        _Field(AFFECTED_SOP_CLASS_UID, "AffectedSOPClassUID", "UI", True),
        _Field(MESSAGE_ID, "MessageID", "US", True),
        _Field(COMMAND_DATA_SET_TYPE, "CommandDataSetType", "US", True),
    )
    _DATA_SET: ClassVar[str] = "never"

    def __post_init__(self) -> None:
        _validate(self, self._FIELDS, self._DATA_SET)


@dataclass(frozen=True, slots=True)
class C_ECHO_RSP:
    """C-ECHO-RSP (PS3.7 Section 9.3.5.2, Table 9.3-13).

    Error Comment is not in Table 9.3-13, and none of the Annex C sections of
    the C-ECHO statuses that were checked lists it; it is kept because
    pynetdicom's C-ECHO-RSP defines it, so that its responses decode.

    References
    ----------
    PS3.7 Sections 9.1.5, 9.3.5.2 and Annex C.
    """

    MessageIDBeingRespondedTo: int
    Status: int = st.SUCCESS
    AffectedSOPClassUID: str | None = VERIFICATION_SOP_CLASS
    ErrorComment: str | None = None
    CommandDataSetType: int = NO_DATA_SET

    CommandField: ClassVar[int] = 0x8030
    _FIELDS: ClassVar[tuple[_Field, ...]] = (
        _Field(AFFECTED_SOP_CLASS_UID, "AffectedSOPClassUID", "UI", False),
        _Field(MESSAGE_ID_BEING_RESPONDED_TO, "MessageIDBeingRespondedTo", "US", True),
        _Field(COMMAND_DATA_SET_TYPE, "CommandDataSetType", "US", True),
        _Field(STATUS, "Status", "US", True),
        _Field(ERROR_COMMENT, "ErrorComment", "LO", False),
    )
    _DATA_SET: ClassVar[str] = "never"

    def __post_init__(self) -> None:
        _validate(self, self._FIELDS, self._DATA_SET)


@dataclass(frozen=True, slots=True)
class C_STORE_RQ:
    """C-STORE-RQ: store one SOP Instance, the data set that follows (Table 9.3-1).

    References
    ----------
    PS3.7 Sections 9.1.1 and 9.3.1.1.
    """

    MessageID: int
    AffectedSOPClassUID: str
    AffectedSOPInstanceUID: str
    Priority: int = Priority.MEDIUM
    MoveOriginatorApplicationEntityTitle: str | None = None
    MoveOriginatorMessageID: int | None = None
    CommandDataSetType: int = DATA_SET_PRESENT

    CommandField: ClassVar[int] = 0x0001
    _FIELDS: ClassVar[tuple[_Field, ...]] = (
        _Field(AFFECTED_SOP_CLASS_UID, "AffectedSOPClassUID", "UI", True),
        _Field(MESSAGE_ID, "MessageID", "US", True),
        _Field(PRIORITY, "Priority", "US", True),
        _Field(COMMAND_DATA_SET_TYPE, "CommandDataSetType", "US", True),
        _Field(AFFECTED_SOP_INSTANCE_UID, "AffectedSOPInstanceUID", "UI", True),
        _Field(
            MOVE_ORIGINATOR_APPLICATION_ENTITY_TITLE,
            "MoveOriginatorApplicationEntityTitle",
            "AE",
            False,
        ),
        _Field(MOVE_ORIGINATOR_MESSAGE_ID, "MoveOriginatorMessageID", "US", False),
    )
    _DATA_SET: ClassVar[str] = "always"

    def __post_init__(self) -> None:
        _validate(self, self._FIELDS, self._DATA_SET)


@dataclass(frozen=True, slots=True)
class C_STORE_RSP:
    """C-STORE-RSP (PS3.7 Table 9.3-2, with the status fields of Annex C).

    References
    ----------
    PS3.7 Sections 9.1.1, 9.3.1.2, Annex C; PS3.4 Table B.2-1.
    """

    MessageIDBeingRespondedTo: int
    Status: int
    AffectedSOPClassUID: str | None = None
    AffectedSOPInstanceUID: str | None = None
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    CommandDataSetType: int = NO_DATA_SET

    CommandField: ClassVar[int] = 0x8001
    _FIELDS: ClassVar[tuple[_Field, ...]] = (
        _Field(AFFECTED_SOP_CLASS_UID, "AffectedSOPClassUID", "UI", False),
        _Field(MESSAGE_ID_BEING_RESPONDED_TO, "MessageIDBeingRespondedTo", "US", True),
        _Field(COMMAND_DATA_SET_TYPE, "CommandDataSetType", "US", True),
        _Field(STATUS, "Status", "US", True),
        _Field(OFFENDING_ELEMENT, "OffendingElement", "AT", False),
        _Field(ERROR_COMMENT, "ErrorComment", "LO", False),
        _Field(AFFECTED_SOP_INSTANCE_UID, "AffectedSOPInstanceUID", "UI", False),
    )
    _DATA_SET: ClassVar[str] = "never"

    def __post_init__(self) -> None:
        _validate(self, self._FIELDS, self._DATA_SET)


@dataclass(frozen=True, slots=True)
class N_EVENT_REPORT_RQ:
    """N-EVENT-REPORT-RQ: report an event, e.g. a Storage Commitment result (Table 10.3-1).

    References
    ----------
    PS3.7 Sections 10.1.1 and 10.3.1.1; PS3.4 Section J.3.3.
    """

    MessageID: int
    AffectedSOPClassUID: str
    AffectedSOPInstanceUID: str
    EventTypeID: int
    CommandDataSetType: int = DATA_SET_PRESENT

    CommandField: ClassVar[int] = 0x0100
    _FIELDS: ClassVar[tuple[_Field, ...]] = (
        _Field(AFFECTED_SOP_CLASS_UID, "AffectedSOPClassUID", "UI", True),
        _Field(MESSAGE_ID, "MessageID", "US", True),
        _Field(COMMAND_DATA_SET_TYPE, "CommandDataSetType", "US", True),
        _Field(AFFECTED_SOP_INSTANCE_UID, "AffectedSOPInstanceUID", "UI", True),
        _Field(EVENT_TYPE_ID, "EventTypeID", "US", True),
    )
    _DATA_SET: ClassVar[str] = "optional"

    def __post_init__(self) -> None:
        _validate(self, self._FIELDS, self._DATA_SET)


@dataclass(frozen=True, slots=True)
class N_EVENT_REPORT_RSP:
    """N-EVENT-REPORT-RSP (PS3.7 Table 10.3-2, with the status fields of Annex C).

    References
    ----------
    PS3.7 Sections 10.1.1, 10.3.1.2 and Annex C.
    """

    MessageIDBeingRespondedTo: int
    Status: int
    AffectedSOPClassUID: str | None = None
    AffectedSOPInstanceUID: str | None = None
    EventTypeID: int | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None
    CommandDataSetType: int = NO_DATA_SET

    CommandField: ClassVar[int] = 0x8100
    _FIELDS: ClassVar[tuple[_Field, ...]] = (
        _Field(AFFECTED_SOP_CLASS_UID, "AffectedSOPClassUID", "UI", False),
        _Field(MESSAGE_ID_BEING_RESPONDED_TO, "MessageIDBeingRespondedTo", "US", True),
        _Field(COMMAND_DATA_SET_TYPE, "CommandDataSetType", "US", True),
        _Field(STATUS, "Status", "US", True),
        _Field(ERROR_COMMENT, "ErrorComment", "LO", False),
        _Field(ERROR_ID, "ErrorID", "US", False),
        _Field(AFFECTED_SOP_INSTANCE_UID, "AffectedSOPInstanceUID", "UI", False),
        _Field(EVENT_TYPE_ID, "EventTypeID", "US", False),
    )
    _DATA_SET: ClassVar[str] = "optional"

    def __post_init__(self) -> None:
        _validate(self, self._FIELDS, self._DATA_SET)


@dataclass(frozen=True, slots=True)
class N_ACTION_RQ:
    """N-ACTION-RQ: ask for an action, e.g. a Storage Commitment request (Section 10.3.4.1).

    References
    ----------
    PS3.7 Sections 10.1.4 and 10.3.4.1; PS3.4 Section J.3.2.
    """

    MessageID: int
    RequestedSOPClassUID: str
    RequestedSOPInstanceUID: str
    ActionTypeID: int
    CommandDataSetType: int = DATA_SET_PRESENT

    CommandField: ClassVar[int] = 0x0130
    _FIELDS: ClassVar[tuple[_Field, ...]] = (
        _Field(REQUESTED_SOP_CLASS_UID, "RequestedSOPClassUID", "UI", True),
        _Field(MESSAGE_ID, "MessageID", "US", True),
        _Field(COMMAND_DATA_SET_TYPE, "CommandDataSetType", "US", True),
        _Field(REQUESTED_SOP_INSTANCE_UID, "RequestedSOPInstanceUID", "UI", True),
        _Field(ACTION_TYPE_ID, "ActionTypeID", "US", True),
    )
    _DATA_SET: ClassVar[str] = "optional"

    def __post_init__(self) -> None:
        _validate(self, self._FIELDS, self._DATA_SET)


@dataclass(frozen=True, slots=True)
class N_ACTION_RSP:
    """N-ACTION-RSP (PS3.7 Section 10.3.4.2, with the status fields of Annex C).

    References
    ----------
    PS3.7 Sections 10.1.4, 10.3.4.2 and Annex C.
    """

    MessageIDBeingRespondedTo: int
    Status: int
    AffectedSOPClassUID: str | None = None
    AffectedSOPInstanceUID: str | None = None
    ActionTypeID: int | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None
    CommandDataSetType: int = NO_DATA_SET

    CommandField: ClassVar[int] = 0x8130
    _FIELDS: ClassVar[tuple[_Field, ...]] = (
        _Field(AFFECTED_SOP_CLASS_UID, "AffectedSOPClassUID", "UI", False),
        _Field(MESSAGE_ID_BEING_RESPONDED_TO, "MessageIDBeingRespondedTo", "US", True),
        _Field(COMMAND_DATA_SET_TYPE, "CommandDataSetType", "US", True),
        _Field(STATUS, "Status", "US", True),
        _Field(ERROR_COMMENT, "ErrorComment", "LO", False),
        _Field(ERROR_ID, "ErrorID", "US", False),
        _Field(AFFECTED_SOP_INSTANCE_UID, "AffectedSOPInstanceUID", "UI", False),
        _Field(ACTION_TYPE_ID, "ActionTypeID", "US", False),
    )
    _DATA_SET: ClassVar[str] = "optional"

    def __post_init__(self) -> None:
        _validate(self, self._FIELDS, self._DATA_SET)


Message: TypeAlias = (
    C_ECHO_RQ
    | C_ECHO_RSP
    | C_STORE_RQ
    | C_STORE_RSP
    | N_EVENT_REPORT_RQ
    | N_EVENT_REPORT_RSP
    | N_ACTION_RQ
    | N_ACTION_RSP
)

#: The implemented message classes by Command Field value.
MESSAGE_TYPES: dict[int, type[Message]] = {
    cls.CommandField: cls
    for cls in (
        C_ECHO_RQ,
        C_ECHO_RSP,
        C_STORE_RQ,
        C_STORE_RSP,
        N_EVENT_REPORT_RQ,
        N_EVENT_REPORT_RSP,
        N_ACTION_RQ,
        N_ACTION_RSP,
    )
}

_RESPONSE_OF: dict[type[Message], type[Message]] = {
    C_ECHO_RQ: C_ECHO_RSP,
    C_STORE_RQ: C_STORE_RSP,
    N_EVENT_REPORT_RQ: N_EVENT_REPORT_RSP,
    N_ACTION_RQ: N_ACTION_RSP,
}

_SERVICE_OF: dict[type[Message], str] = {
    C_ECHO_RQ: st.C_ECHO,
    C_STORE_RQ: st.C_STORE,
    N_EVENT_REPORT_RQ: st.N_EVENT_REPORT,
    N_ACTION_RQ: st.N_ACTION,
}


def _codec_spec(
    cls: type[Message],
) -> tuple[type[Message], int, str, tuple[tuple[str, int, str, bool], ...]]:
    # The fast path's view of a class: its fields in constructor order (the
    # order the decoder fills and encode_values takes), each with the tag, VR
    # and requirement of its _FIELDS entry.
    by_name = {f.name: f for f in cls._FIELDS}
    names = [f.name for f in fields(cls)]
    if set(names) != set(by_name):
        raise TypeError(f"{cls.__name__}: the dataclass fields and _FIELDS differ")
    specs = tuple((n, by_name[n].tag, by_name[n].vr, by_name[n].required) for n in names)
    return cls, cls.CommandField, cls._DATA_SET, specs


_CODEC = CommandCodec([_codec_spec(cls) for cls in MESSAGE_TYPES.values()])


def has_dataset(msg: Message) -> bool:
    """Whether a data set follows the command set of `msg`.

    References
    ----------
    PS3.7 Annex E.1, Command Data Set Type (0000,0800): 0101H means none.
    """
    return msg.CommandDataSetType != NO_DATA_SET


# --------------------------------------------------------------------------
# The error a well-formed but invalid command set raises.


class CommandSetError(RemoteProtocolError):
    """A command set is well-formed but not valid for its message.

    Attributes
    ----------
    reason : str
        What was wrong, naming the element.
    status : int or None
        The status to answer the request with; None when the message is a
        response (a response is never answered). The choice, per service:

        - C-STORE-RQ: 0117H "Invalid SOP Instance" for a malformed Affected SOP
          Instance UID, 0122H "Refused: SOP Class not supported" for a
          malformed Affected SOP Class UID (PS3.7 9.1.1.1.9); anything else,
          missing elements included, C000H "Error: Cannot understand" with
          the element as Offending Element (PS3.4 Table B.2-1 lets Cxxx carry
          (0000,0901) and (0000,0902)).
        - C-ECHO-RQ: 0122H for a malformed Affected SOP Class UID, otherwise
          0212H "Mistyped argument": PS3.7 9.1.5.1.4 allows no other failure.
        - N-ACTION-RQ, N-EVENT-REPORT-RQ: 0117H / 0118H "No such SOP Class"
          for malformed instance / class UIDs, 0114H "No such argument" for an
          element the message does not define, otherwise 0115H "Invalid
          argument value". 0120H "Missing Attribute" (PS3.7 C.5.13) is not
          used: it reports the Attribute List of N-CREATE and N-SET, and
          neither 10.1.1.1.8 nor 10.1.4.1.10 lists it for these services.
        - An unknown Command Field, or one storecore does not implement:
          0211H "Unrecognized operation".
    message_id : int or None
        The request's Message ID (0000,0110), when it could be read.
    command_field : int or None
        Command Field (0000,0100), when it could be read.
    tag : int or None
        The offending element.
    data_set_follows : bool or None
        Whether Command Data Set Type announced a data set, which the PDV
        assembler must then consume; None if it could not be read.

    Notes
    -----
    When :attr:`can_respond` is false the peer cannot be answered and the
    association is aborted with A-ABORT source 0 (DICOM UL service-user),
    reason 0: DIMSE is a user of the Upper Layer (PS3.8 Section 9.3.8).

    References
    ----------
    PS3.7 Sections 9.1.1.1.9, 9.1.5.1.4, 10.1.1.1.8, 10.1.4.1.10 and Annex C.
    """

    def __init__(
        self,
        reason: str,
        *,
        status: int | None,
        message_id: int | None = None,
        command_field: int | None = None,
        tag: int | None = None,
        data_set_follows: bool | None = None,
    ) -> None:
        super().__init__(reason, abort_source=0, abort_reason=0)
        self.reason = reason
        self.status = status
        self.message_id = message_id
        self.command_field = command_field
        self.tag = tag
        self.data_set_follows = data_set_follows

    @property
    def can_respond(self) -> bool:
        """Whether :meth:`response` can build the answer."""
        return (
            self.status is not None
            and self.message_id is not None
            and self.command_field is not None
            and MESSAGE_TYPES.get(self.command_field) in _RESPONSE_OF
        )

    def response(self) -> Message:
        """The response that refuses the request with :attr:`status`.

        It carries Offending Element and Error Comment only where the status
        allows them (:class:`~storecore.dimse.status.StatusInfo`).

        Raises
        ------
        LocalProtocolError
            :attr:`can_respond` is false.
        """
        if not self.can_respond:
            raise LocalProtocolError("this command set error cannot be answered; abort instead")
        assert self.status is not None and self.message_id is not None  # can_respond
        assert self.command_field is not None
        request = MESSAGE_TYPES[self.command_field]
        info = st.status_info(self.status, _SERVICE_OF[request])
        comment = _comment(self.reason) if info.error_comment else None
        if request is C_STORE_RQ:
            offending = (self.tag,) if info.offending_element and self.tag is not None else None
            return C_STORE_RSP(
                self.message_id, self.status, OffendingElement=offending, ErrorComment=comment
            )
        if request is C_ECHO_RQ:
            return C_ECHO_RSP(
                self.message_id, self.status, AffectedSOPClassUID=None, ErrorComment=comment
            )
        if request is N_ACTION_RQ:
            return N_ACTION_RSP(self.message_id, self.status, ErrorComment=comment)
        return N_EVENT_REPORT_RSP(self.message_id, self.status, ErrorComment=comment)


def _comment(reason: str) -> str:
    # Error Comment is LO: 64 characters of the Default Character Repertoire.
    text = "".join(c if " " <= c <= "~" and c != "\\" else "?" for c in reason).strip()
    return text[:64].strip() or "invalid command set"


def _status_for(cls: type[Message], tag: int | None, kind: str) -> int | None:
    if cls not in _RESPONSE_OF:
        return None  # a response is never answered
    if cls is C_STORE_RQ:
        if kind == "invalid" and tag == AFFECTED_SOP_INSTANCE_UID:
            return st.INVALID_SOP_INSTANCE
        if kind == "invalid" and tag == AFFECTED_SOP_CLASS_UID:
            return st.SOP_CLASS_NOT_SUPPORTED
        return st.CANNOT_UNDERSTAND
    if cls is C_ECHO_RQ:
        if kind == "invalid" and tag == AFFECTED_SOP_CLASS_UID:
            return st.SOP_CLASS_NOT_SUPPORTED
        return st.MISTYPED_ARGUMENT
    # N-ACTION-RQ, N-EVENT-REPORT-RQ
    if kind == "invalid" and tag in (AFFECTED_SOP_INSTANCE_UID, REQUESTED_SOP_INSTANCE_UID):
        return st.INVALID_SOP_INSTANCE
    if kind == "invalid" and tag in (AFFECTED_SOP_CLASS_UID, REQUESTED_SOP_CLASS_UID):
        return st.NO_SUCH_SOP_CLASS
    if kind == "unexpected":
        return st.NO_SUCH_ARGUMENT
    return st.INVALID_ARGUMENT_VALUE


# --------------------------------------------------------------------------
# Encoding


def _element(tag: int, value: bytes) -> bytes:
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def _value(vr: str, value: object) -> bytes:
    if vr == "US":
        assert isinstance(value, int)
        return struct.pack("<H", value)
    if vr == "AT":
        assert isinstance(value, tuple)
        return b"".join(struct.pack("<HH", t >> 16, t & 0xFFFF) for t in value)
    assert isinstance(value, str)
    raw = value.encode("ascii")
    if len(raw) % 2:
        # PS3.5 Section 6.2: UI is padded with NUL, text VRs with a space.
        raw += b"\x00" if vr == "UI" else b" "
    return raw


def encode_command(msg: Message) -> bytes:
    """Encode the whole command set of `msg`, Command Group Length first.

    Elements are written in ascending tag order in Implicit VR Little Endian;
    UIDs are padded to even length with NUL, AE and LO values with a space.

    Parameters
    ----------
    msg : Message
        A message object; its fields were checked when it was made.

    Returns
    -------
    bytes
        The command set, ready to be sent in command PDVs.

    References
    ----------
    PS3.7 Sections 6.3.1, 9.3, 10.3 and Annex E; PS3.5 Sections 6.2 and 7.1.
    """
    data: bytes | None = _CODEC.encode(msg)
    if data is not None:
        return data
    return _encode_command_py(msg)


def _encode_command_py(msg: Message) -> bytes:
    # The reference encoder: what the fast path must write byte for byte, and
    # its fallback for a message holding a value it does not write.
    items: list[tuple[int, bytes]] = [(COMMAND_FIELD, struct.pack("<H", msg.CommandField))]
    for f in msg._FIELDS:
        value = getattr(msg, f.name)
        if value is not None:
            items.append((f.tag, _value(f.vr, value)))
    items.sort()
    body = b"".join(_element(tag, value) for tag, value in items)
    return _element(COMMAND_GROUP_LENGTH, struct.pack("<I", len(body))) + body


def encode_c_store_rsp(request: C_STORE_RQ, status: int) -> bytes:
    """Encode the C-STORE-RSP answering `request` with `status`, without making the message.

    The response carries Message ID Being Responded To, Status and the
    request's Affected SOP Class and Instance UIDs, and neither Offending
    Element nor Error Comment: the bytes are those of ``encode_command(
    C_STORE_RSP(request.MessageID, status, request.AffectedSOPClassUID,
    request.AffectedSOPInstanceUID))``, but the UIDs are not checked again
    (they were when `request` was made or decoded), which is what makes it
    cheap enough to answer every instance with.

    Parameters
    ----------
    request : C_STORE_RQ
        The request being answered.
    status : int
        The status (0-65535), e.g. 0000H Success (PS3.4 Table B.2-1).

    Returns
    -------
    bytes
        The command set, ready to be sent in command PDVs.

    Raises
    ------
    LocalProtocolError
        `status` is not a US value.

    References
    ----------
    PS3.7 Sections 9.1.1.1, 9.3.1.2 (Table 9.3-2) and 6.3.1; PS3.4 Table B.2-1.
    """
    values = (
        request.MessageID,
        status,
        request.AffectedSOPClassUID,
        request.AffectedSOPInstanceUID,
        None,
        None,
        NO_DATA_SET,
    )
    data: bytes | None = _CODEC.encode_values(C_STORE_RSP, values)
    if data is None:  # a value no C-STORE-RSP may hold: the class says which
        data = encode_command(C_STORE_RSP(*values))
    return data


# --------------------------------------------------------------------------
# Decoding


def decode_command(
    data: Buffer,
    *,
    limits: Limits = DEFAULT_LIMITS,
    lenient_unexpected_elements: bool = False,
    lenient_uid_padding: bool = False,
) -> Message:
    """Decode a whole command set into its message.

    Parameters
    ----------
    data : bytes, bytearray, memoryview or mmap
        Exactly the bytes of one command set (the assembled command PDVs).
    limits : Limits
        The element length limit applies to every element; the scanner's
        other limits, to the command sets the fast path leaves to it.
    lenient_unexpected_elements : bool
        Ignore (and log) group 0000 elements the message does not define,
        instead of raising. Bends PS3.7 Sections 9.3 and 10.3, whose tables
        list each message's fields; off by default.
    lenient_uid_padding : bool
        Accept UIDs padded with spaces or several NULs, as some old
        implementations send them, and log it. Bends PS3.5 Section 9.1 (one
        trailing NUL only); off by default.

    Returns
    -------
    Message
        One of :data:`MESSAGE_TYPES`.

    Raises
    ------
    DatasetError
        The bytes are not a command set: truncated, odd or impossible value
        lengths, Command Group Length missing, not first or not equal to the
        bytes that follow it, elements outside group 0000, out of order or
        repeated, sequences.
    CommandSetError
        The command set is not a valid message; see its ``status``.

    References
    ----------
    PS3.7 Sections 6.3.1, 9.3, 10.3 and Annex E; PS3.5 Sections 6.2, 7.1, 9.1.
    """
    view = data if type(data) is bytes else memoryview(data).cast("B")
    fast = _CODEC.decode(view, limits.max_element_length)
    if fast is not None:
        # The strict decoder would make the same message and log nothing,
        # whichever leniencies are on: they only change what it refuses.
        return cast(Message, fast)
    return _decode_strict(
        view,
        limits=limits,
        lenient_unexpected_elements=lenient_unexpected_elements,
        lenient_uid_padding=lenient_uid_padding,
    )


def _decode_strict(
    data: Buffer,
    *,
    limits: Limits = DEFAULT_LIMITS,
    lenient_unexpected_elements: bool = False,
    lenient_uid_padding: bool = False,
) -> Message:
    # The reference decoder, with storecore's scanner: it raises every error
    # of decode_command, and reads the command sets the fast path declines.
    mv = memoryview(data).cast("B")
    tokens = scan(mv, IMPLICIT_VR_LITTLE_ENDIAN, limits=limits)
    if not tokens:
        raise DatasetError("empty command set: Command Group Length (0000,0000) is missing", 0)
    elements: dict[int, tuple[int, int]] = {}
    previous = -1
    for tok in tokens:
        # the tag is formatted only for an error
        if tok.kind != TokenKind.ELEMENT or tok.depth != 0:
            raise DatasetError(
                "a command set holds no sequences or items", tok.offset, tag_str(tok.tag)
            )
        if tok.tag >> 16:
            raise DatasetError(
                "a command set holds only group 0000 elements (PS3.7 6.3.1)",
                tok.offset,
                tag_str(tok.tag),
            )
        if tok.tag <= previous:
            raise DatasetError(
                "elements repeated or not in ascending tag order (PS3.5 7.1)",
                tok.offset,
                tag_str(tok.tag),
            )
        previous = tok.tag
        elements[tok.tag] = (tok.value_offset, tok.length)

    first = tokens[0]
    if first.tag != COMMAND_GROUP_LENGTH:
        raise DatasetError(
            "a command set begins with Command Group Length (0000,0000)",
            first.offset,
            tag_str(first.tag),
        )
    if first.length != 4:
        raise DatasetError(
            f"Command Group Length is UL, 4 bytes, not {first.length}", first.offset, "(0000,0000)"
        )
    group_length = int.from_bytes(mv[first.value_offset : first.value_offset + 4], "little")
    following = len(mv) - (first.value_offset + 4)
    if group_length != following:
        raise DatasetError(
            f"Command Group Length is {group_length} but {following} bytes follow it",
            first.value_offset,
            "(0000,0000)",
        )
    return _Decoder(mv, elements, lenient_unexpected_elements, lenient_uid_padding).message()


class _Decoder:
    """Turns the (offset, length) of each element into a message object."""

    def __init__(
        self,
        mv: memoryview,
        elements: dict[int, tuple[int, int]],
        lenient_unexpected: bool,
        lenient_uid_padding: bool,
    ) -> None:
        self.mv = mv
        self.elements = elements
        self.lenient_unexpected = lenient_unexpected
        self.lenient_uid_padding = lenient_uid_padding
        self.command_field: int | None = None
        self.message_id: int | None = None
        self.data_set_follows: bool | None = None
        self.cls: type[Message] | None = None

    def fail(self, reason: str, tag: int | None, kind: str) -> CommandSetError:
        status = st.UNRECOGNIZED_OPERATION if self.cls is None else _status_for(self.cls, tag, kind)
        return CommandSetError(
            reason,
            status=status,
            message_id=self.message_id,
            command_field=self.command_field,
            tag=tag,
            data_set_follows=self.data_set_follows,
        )

    def raw(self, tag: int) -> bytes | None:
        where = self.elements.get(tag)
        if where is None:
            return None
        offset, length = where
        return bytes(self.mv[offset : offset + length])

    def us(self, tag: int, raw: bytes) -> int:
        if len(raw) != 2:
            # An even length (the scanner refused odd ones) that is not 2 is a
            # US value multiplicity other than the 1 of Annex E.
            raise _FieldError(tag, "invalid", f"value multiplicity must be 1, not {len(raw) // 2}")
        return int.from_bytes(raw, "little")

    def peek_us(self, tag: int) -> int | None:
        raw = self.raw(tag)
        if raw is None or len(raw) != 2:
            return None
        return int.from_bytes(raw, "little")

    def message(self) -> Message:
        # Read what a refusal needs first, so that every later error carries it.
        self.command_field = self.peek_us(COMMAND_FIELD)
        self.message_id = self.peek_us(MESSAGE_ID)
        data_set_type = self.peek_us(COMMAND_DATA_SET_TYPE)
        if data_set_type is not None:
            self.data_set_follows = data_set_type != NO_DATA_SET
        if self.command_field is None:
            raise self.fail(
                "Command Field (0000,0100) is missing or not one US value", COMMAND_FIELD, "missing"
            )
        cls = MESSAGE_TYPES.get(self.command_field)
        if cls is None:
            try:
                name = CommandField(self.command_field).name.replace("_", "-")
                why = f"{name} is not an operation storecore implements"
            except ValueError:
                why = f"Command Field {self.command_field:04X}H is not a DIMSE command"
            raise self.fail(why, COMMAND_FIELD, "invalid")
        self.cls = cls
        if cls not in _RESPONSE_OF:
            self.message_id = None  # a response has no Message ID of its own
        try:
            return self.build(cls)
        except _FieldError as exc:
            raise self.fail(str(exc), exc.tag, exc.kind) from None

    def build(self, cls: type[Message]) -> Message:
        spec = {f.tag: f for f in cls._FIELDS}
        for tag in self.elements:
            if tag in spec or tag in (COMMAND_GROUP_LENGTH, COMMAND_FIELD):
                continue
            if not self.lenient_unexpected:
                raise _FieldError(tag, "unexpected", f"not an element of {cls.__name__}")
            _log.warning(
                "ignoring %s in %s (lenient_unexpected_elements; PS3.7 9.3/10.3)",
                tag_str(tag),
                cls.__name__,
            )
        kwargs: dict[str, object] = {}
        for f in cls._FIELDS:
            raw = self.raw(f.tag)
            if not raw:
                if f.required:
                    state = "missing" if raw is None else "empty"
                    raise _FieldError(f.tag, "missing", f"{f.name} is required but {state}")
                # Absent, or zero-length (which says nothing): None, never the
                # class default, so that decode(encode(m)) == m.
                kwargs[f.name] = None
                continue
            kwargs[f.name] = self.value(f, raw)
        # Every field value was checked by value(); __post_init__ checks the
        # message-level rules (Command Data Set Type, Priority).
        return cls(**kwargs)  # type: ignore[arg-type]

    def value(self, f: _Field, raw: bytes) -> object:
        if f.vr == "US":
            return self.us(f.tag, raw)
        if f.vr == "AT":
            if len(raw) % 4:
                offset = self.elements[f.tag][0]
                raise DatasetError(
                    f"AT value length {len(raw)} is not a multiple of 4", offset, tag_str(f.tag)
                )
            return tuple(
                (int.from_bytes(raw[i : i + 2], "little") << 16)
                | int.from_bytes(raw[i + 2 : i + 4], "little")
                for i in range(0, len(raw), 4)
            )
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise _FieldError(f.tag, "invalid", f"{raw!r} is not ASCII") from None
        if f.vr == "UI":
            uid = text[:-1] if text.endswith("\x00") else text
            if self.lenient_uid_padding and uid != uid.rstrip(" \x00"):
                _log.warning(
                    "accepting padded UID %r in %s (lenient_uid_padding; PS3.5 9.1)",
                    text,
                    tag_str(f.tag),
                )
                uid = uid.rstrip(" \x00")
            return _uid(f.tag, uid)
        return _text(f.tag, text, 16 if f.vr == "AE" else 64)
