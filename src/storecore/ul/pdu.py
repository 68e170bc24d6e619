"""The seven Upper Layer PDUs and their items: values, encoding and decoding.

Every PDU and item is a frozen, slotted dataclass named as PS3.8 names it. The
constructors check what PS3.8 and PS3.7 Annex D require of each field and raise
:class:`~storecore.errors.LocalProtocolError`; the decoders raise
:class:`~storecore.errors.RemoteProtocolError` carrying the A-ABORT source and
reason to send (PS3.8 Section 9.3.8, Table 9-26) and never ``IndexError`` or
``struct.error``: every read is bounds-checked first.

Strict by default. One leniency exists, ``lenient_uid_padding``: some
implementations pad odd-length UIDs with a trailing NUL although PS3.5 Section
9.1 excludes that padding in network negotiation (pynetdicom#240 saw it on an
Implementation Class UID).

This codec is the plain, complete one; P-DATA-TF PDUs on the hot path are framed
by the C extension ``storecore._ext._pdu``. Decoded PDVs are memoryview slices
of the body they were read from, never copies.

References
----------
PS3.8 Section 9.3 (PDU structure) and Annex D (Maximum Length); PS3.7 Annex D.3.3
(the User Information sub-items); PS3.5 Section 6.2 (AE VR) and Section 9.1
(UIDs).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Final, NamedTuple, TypeAlias

from storecore._typing import Buffer
from storecore.errors import LocalProtocolError, RemoteProtocolError
from storecore.uid import is_valid_uid

__all__ = [
    "APPLICATION_CONTEXT_NAME",
    "PDU_HEADER_LENGTH",
    "PDUType",
    "ItemType",
    "AbortSource",
    "AbortReason",
    "RejectResult",
    "RejectSource",
    "RejectReasonUser",
    "RejectReasonACSE",
    "RejectReasonPresentation",
    "ContextResult",
    "UserIdentityType",
    "PresentationContextRQ",
    "PresentationContextAC",
    "MaximumLength",
    "ImplementationClassUID",
    "ImplementationVersionName",
    "AsynchronousOperationsWindow",
    "SCP_SCU_RoleSelection",
    "SOPClassExtendedNegotiation",
    "SOPClassCommonExtendedNegotiation",
    "UserIdentityRQ",
    "UserIdentityAC",
    "UnknownUserItem",
    "UserItem",
    "UserInformation",
    "PDV",
    "A_ASSOCIATE_RQ",
    "A_ASSOCIATE_AC",
    "A_ASSOCIATE_RJ",
    "P_DATA_TF",
    "A_RELEASE_RQ",
    "A_RELEASE_RP",
    "A_ABORT",
    "PDU",
    "validate_ae_title",
    "encode_pdu",
    "decode_pdu",
    "read_pdu_header",
]

_log = logging.getLogger(__name__)

APPLICATION_CONTEXT_NAME: Final = "1.2.840.10008.3.1.1.1"
"""The DICOM Application Context Name (PS3.7 Annex A.2.1)."""

PDU_HEADER_LENGTH: Final = 6
"""PDU-type (1), reserved (1), PDU-length (4): PS3.8 Section 9.3.1."""

_MAX_ITEM_LENGTH: Final = 0xFFFF  # item-length fields are 2 bytes (PS3.8 9.3.2.x)
_MAX_PDU_LENGTH: Final = 0xFFFFFFFF  # the PDU-length field is 4 bytes (PS3.8 9.3.1)
_AE_TITLE_LENGTH: Final = 16
_ASSOCIATE_FIXED_LENGTH: Final = 68  # bytes 7-74 of Table 9-11 / 9-17


class PDUType(IntEnum):
    """PDU-type values.

    References
    ----------
    PS3.8 Section 9.3, Tables 9-11 to 9-26.
    """

    A_ASSOCIATE_RQ = 0x01
    A_ASSOCIATE_AC = 0x02
    A_ASSOCIATE_RJ = 0x03
    P_DATA_TF = 0x04
    A_RELEASE_RQ = 0x05
    A_RELEASE_RP = 0x06
    A_ABORT = 0x07


class ItemType(IntEnum):
    """Item-type values of the A-ASSOCIATE items and sub-items.

    References
    ----------
    PS3.8 Sections 9.3.2 and 9.3.3; PS3.8 Annex D; PS3.7 Annex D.3.3.
    """

    APPLICATION_CONTEXT = 0x10
    PRESENTATION_CONTEXT_RQ = 0x20
    PRESENTATION_CONTEXT_AC = 0x21
    ABSTRACT_SYNTAX = 0x30
    TRANSFER_SYNTAX = 0x40
    USER_INFORMATION = 0x50
    MAXIMUM_LENGTH = 0x51
    IMPLEMENTATION_CLASS_UID = 0x52
    ASYNCHRONOUS_OPERATIONS_WINDOW = 0x53
    SCP_SCU_ROLE_SELECTION = 0x54
    IMPLEMENTATION_VERSION_NAME = 0x55
    SOP_CLASS_EXTENDED_NEGOTIATION = 0x56
    SOP_CLASS_COMMON_EXTENDED_NEGOTIATION = 0x57
    USER_IDENTITY_RQ = 0x58
    USER_IDENTITY_AC = 0x59


class AbortSource(IntEnum):
    """A-ABORT PDU Source field.

    References
    ----------
    PS3.8 Section 9.3.8, Table 9-26.
    """

    SERVICE_USER = 0
    RESERVED = 1
    SERVICE_PROVIDER = 2


class AbortReason(IntEnum):
    """A-ABORT PDU Reason/Diag. field, significant when the source is the service-provider.

    References
    ----------
    PS3.8 Section 9.3.8, Table 9-26.
    """

    REASON_NOT_SPECIFIED = 0
    UNRECOGNIZED_PDU = 1
    UNEXPECTED_PDU = 2
    RESERVED = 3
    UNRECOGNIZED_PDU_PARAMETER = 4
    UNEXPECTED_PDU_PARAMETER = 5
    INVALID_PDU_PARAMETER_VALUE = 6


class RejectResult(IntEnum):
    """A-ASSOCIATE-RJ Result field.

    References
    ----------
    PS3.8 Section 9.3.4, Table 9-21.
    """

    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class RejectSource(IntEnum):
    """A-ASSOCIATE-RJ Source field.

    References
    ----------
    PS3.8 Section 9.3.4, Table 9-21.
    """

    SERVICE_USER = 1
    SERVICE_PROVIDER_ACSE = 2
    SERVICE_PROVIDER_PRESENTATION = 3


class RejectReasonUser(IntEnum):
    """A-ASSOCIATE-RJ Reason/Diag. with source 1, DICOM UL service-user.

    References
    ----------
    PS3.8 Section 9.3.4, Table 9-21.
    """

    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    CALLING_AE_TITLE_NOT_RECOGNIZED = 3
    CALLED_AE_TITLE_NOT_RECOGNIZED = 7


class RejectReasonACSE(IntEnum):
    """A-ASSOCIATE-RJ Reason/Diag. with source 2, service-provider (ACSE related function).

    References
    ----------
    PS3.8 Section 9.3.4, Table 9-21.
    """

    NO_REASON_GIVEN = 1
    PROTOCOL_VERSION_NOT_SUPPORTED = 2


class RejectReasonPresentation(IntEnum):
    """A-ASSOCIATE-RJ Reason/Diag. with source 3, service-provider (Presentation related function).

    References
    ----------
    PS3.8 Section 9.3.4, Table 9-21.
    """

    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2


# The Reason/Diag. values Table 9-21 defines or reserves for each source.
_REJECT_REASONS: Final = {1: range(1, 11), 2: range(1, 3), 3: range(0, 8)}


class ContextResult(IntEnum):
    """Presentation Context Item (AC) Result/Reason field.

    References
    ----------
    PS3.8 Section 9.3.3.2, Table 9-18.
    """

    ACCEPTANCE = 0
    USER_REJECTION = 1
    NO_REASON = 2
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 4


class UserIdentityType(IntEnum):
    """User-Identity-Type values.

    References
    ----------
    PS3.7 Annex D.3.3.7.1, Table D.3-14.
    """

    USERNAME = 1
    USERNAME_AND_PASSCODE = 2
    KERBEROS = 3
    SAML = 4
    JWT = 5


# --------------------------------------------------------------------------
# Field checks shared by the constructors (LocalProtocolError) and the decoders
# (which turn a LocalProtocolError into an A-ABORT with reason 6)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise LocalProtocolError(message)


def _check_uid(value: object, what: str) -> None:
    _require(
        isinstance(value, str) and is_valid_uid(value),
        f"{what} {value!r} is not a valid UID (PS3.5 Section 9.1)",
    )


def _check_context_id(value: object) -> None:
    # PS3.8 9.3.2.2: "Presentation-context-ID values shall be odd integers between 1 and 255"
    _require(
        isinstance(value, int) and 1 <= value <= 255 and value % 2 == 1,
        f"presentation context ID {value!r} is not an odd integer within 1..255",
    )


def _check_uint(value: object, bits: int, what: str) -> None:
    _require(
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value < (1 << bits),
        f"{what} {value!r} is not an unsigned {bits}-bit integer",
    )


def _check_bytes(value: object, limit: int, what: str) -> None:
    _require(
        isinstance(value, bytes) and len(value) <= limit,
        f"{what} must be bytes of at most {limit} bytes",
    )


def validate_ae_title(title: str) -> str:
    """Check an AE title and return it without its non-significant spaces.

    Parameters
    ----------
    title : str
        The title, with or without leading and trailing spaces.

    Returns
    -------
    str
        The title without leading and trailing spaces, 1 to 16 characters.

    Raises
    ------
    LocalProtocolError
        The title is empty or all spaces, longer than 16 characters once
        stripped, or holds a character outside the Default Character Repertoire
        (ISO 646 G0, 20H-7EH), a backslash or a control character.

    References
    ----------
    PS3.5 Section 6.2, "AE" VR; PS3.8 Section 9.3.2, Called-AE-title and
    Calling-AE-title fields.
    """
    _require(isinstance(title, str), f"AE title {title!r} is not a str")
    stripped = title.strip(" ")
    _require(stripped != "", "an AE title of only spaces shall not be used (PS3.8 9.3.2)")
    _require(
        len(stripped) <= _AE_TITLE_LENGTH, f"AE title {stripped!r} is longer than 16 characters"
    )
    for char in stripped:
        _require(
            " " <= char <= "~" and char != "\\",
            f"AE title {stripped!r} holds {char!r}: the AE VR excludes backslash, control "
            "characters and anything outside the Default Character Repertoire",
        )
    return stripped


def _check_reserved_title(value: object) -> str:
    # A-ASSOCIATE-AC bytes 11-42 are reserved: "sent with a value identical to the value
    # received in the same field of the A-ASSOCIATE-RQ PDU, but its value shall not be
    # tested when received" (PS3.8 Table 9-17). Only what encoding needs is checked.
    if not isinstance(value, str):
        raise LocalProtocolError(f"AE title field {value!r} is not a str")
    stripped = value.strip(" ")
    try:
        encoded = stripped.encode("latin-1")
    except UnicodeEncodeError:
        raise LocalProtocolError(f"AE title field {value!r} is not encodable") from None
    _require(len(encoded) <= _AE_TITLE_LENGTH, f"AE title field {value!r} exceeds 16 bytes")
    return stripped


# --------------------------------------------------------------------------
# Items of the A-ASSOCIATE-RQ and A-ASSOCIATE-AC PDUs


@dataclass(frozen=True, slots=True)
class PresentationContextRQ:
    """A Presentation Context Item of an A-ASSOCIATE-RQ (item type 20H).

    Attributes
    ----------
    context_id : int
        Presentation-context-ID, odd, 1 to 255.
    abstract_syntax : str
        The Abstract Syntax Sub-Item's name (30H).
    transfer_syntaxes : tuple of str
        One or more Transfer Syntax Sub-Items (40H), in the order proposed.

    References
    ----------
    PS3.8 Section 9.3.2.2, Tables 9-13 to 9-15.
    """

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_context_id(self.context_id)
        _check_uid(self.abstract_syntax, "abstract syntax")
        object.__setattr__(self, "transfer_syntaxes", tuple(self.transfer_syntaxes))
        _require(
            len(self.transfer_syntaxes) > 0,
            f"presentation context {self.context_id} proposes no transfer syntax",
        )
        for uid in self.transfer_syntaxes:
            _check_uid(uid, "transfer syntax")


@dataclass(frozen=True, slots=True)
class PresentationContextAC:
    """A Presentation Context Item of an A-ASSOCIATE-AC (item type 21H).

    Attributes
    ----------
    context_id : int
        Presentation-context-ID of the proposed context answered.
    result : int
        Result/Reason, a :class:`ContextResult` value (0 to 4).
    transfer_syntax : str
        The Transfer Syntax Sub-Item's name: the accepted syntax when ``result``
        is 0; otherwise not significant (PS3.8 Table 9-18) and not checked.

    References
    ----------
    PS3.8 Section 9.3.3.2, Tables 9-18 and 9-19.
    """

    context_id: int
    result: int
    transfer_syntax: str

    def __post_init__(self) -> None:
        _check_context_id(self.context_id)
        _require(
            isinstance(self.result, int) and 0 <= self.result <= 4,
            f"presentation context result {self.result!r} is not within 0..4 (Table 9-18)",
        )
        if self.result == ContextResult.ACCEPTANCE:
            _check_uid(self.transfer_syntax, "accepted transfer syntax")
        else:
            _require(
                isinstance(self.transfer_syntax, str)
                and self.transfer_syntax.isascii()
                and len(self.transfer_syntax) <= _MAX_ITEM_LENGTH,
                f"transfer syntax field {self.transfer_syntax!r} is not ASCII text",
            )


@dataclass(frozen=True, slots=True)
class MaximumLength:
    """Maximum Length Sub-Item (51H): the largest P-DATA-TF variable field the sender accepts.

    Attributes
    ----------
    maximum_length_received : int
        Maximum-length-received, 0 (no limit) to 0xFFFFFFFF.

    References
    ----------
    PS3.8 Annex D.1, Table D.1-1 (RQ) and D.1-2 (AC).
    """

    maximum_length_received: int

    def __post_init__(self) -> None:
        _check_uint(self.maximum_length_received, 32, "maximum length received")


@dataclass(frozen=True, slots=True)
class ImplementationClassUID:
    """Implementation Class UID Sub-Item (52H).

    References
    ----------
    PS3.7 Annex D.3.3.2, Tables D.3-1 and D.3-2.
    """

    implementation_class_uid: str

    def __post_init__(self) -> None:
        _check_uid(self.implementation_class_uid, "implementation class UID")


@dataclass(frozen=True, slots=True)
class ImplementationVersionName:
    """Implementation Version Name Sub-Item (55H): 1 to 16 ISO 646 (G0) characters.

    References
    ----------
    PS3.7 Annex D.3.3.2, Tables D.3-3 and D.3-4.
    """

    implementation_version_name: str

    def __post_init__(self) -> None:
        name = self.implementation_version_name
        _require(
            isinstance(name, str)
            and 1 <= len(name) <= 16
            and all(" " <= char <= "~" for char in name),
            f"implementation version name {name!r} is not 1 to 16 ISO 646 G0 characters",
        )


@dataclass(frozen=True, slots=True)
class AsynchronousOperationsWindow:
    """Asynchronous Operations Window Sub-Item (53H); 0 means unlimited.

    References
    ----------
    PS3.7 Annex D.3.3.3, Tables D.3-7 and D.3-8.
    """

    maximum_number_operations_invoked: int
    maximum_number_operations_performed: int

    def __post_init__(self) -> None:
        _check_uint(self.maximum_number_operations_invoked, 16, "operations invoked")
        _check_uint(self.maximum_number_operations_performed, 16, "operations performed")


@dataclass(frozen=True, slots=True)
class SCP_SCU_RoleSelection:
    """SCP/SCU Role Selection Sub-Item (54H).

    Attributes
    ----------
    sop_class_uid : str
        The SOP Class (or Meta SOP Class) the roles apply to.
    scu_role, scp_role : bool
        In an A-ASSOCIATE-RQ, support of each role by the requestor; in an
        A-ASSOCIATE-AC, acceptance (True) or rejection of each proposed role.

    References
    ----------
    PS3.7 Annex D.3.3.4, Tables D.3-9 and D.3-10.
    """

    sop_class_uid: str
    scu_role: bool
    scp_role: bool

    def __post_init__(self) -> None:
        _check_uid(self.sop_class_uid, "role selection SOP class UID")
        _require(
            isinstance(self.scu_role, bool) and isinstance(self.scp_role, bool),
            "SCU-role and SCP-role must be bool",
        )


@dataclass(frozen=True, slots=True)
class SOPClassExtendedNegotiation:
    """SOP Class Extended Negotiation Sub-Item (56H).

    Attributes
    ----------
    sop_class_uid : str
        The SOP Class the information applies to.
    service_class_application_information : bytes
        Defined by the Service Class (e.g. PS3.4 Annex B.3.1 for Storage).

    References
    ----------
    PS3.7 Annex D.3.3.5, Table D.3-11.
    """

    sop_class_uid: str
    service_class_application_information: bytes

    def __post_init__(self) -> None:
        _check_uid(self.sop_class_uid, "extended negotiation SOP class UID")
        _check_bytes(
            self.service_class_application_information,
            _MAX_ITEM_LENGTH - 2 - len(self.sop_class_uid),
            "service class application information",
        )


@dataclass(frozen=True, slots=True)
class SOPClassCommonExtendedNegotiation:
    """SOP Class Common Extended Negotiation Sub-Item (57H), A-ASSOCIATE-RQ only.

    Attributes
    ----------
    sop_class_uid : str
        The SOP Class the information applies to.
    service_class_uid : str
        The Service Class of that SOP Class.
    related_general_sop_class_uids : tuple of str
        Zero or more Related General SOP Class UIDs.

    References
    ----------
    PS3.7 Annex D.3.3.6, Tables D.3-12 and D.3-13.
    """

    sop_class_uid: str
    service_class_uid: str
    related_general_sop_class_uids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_uid(self.sop_class_uid, "common extended negotiation SOP class UID")
        _check_uid(self.service_class_uid, "service class UID")
        object.__setattr__(
            self, "related_general_sop_class_uids", tuple(self.related_general_sop_class_uids)
        )
        for uid in self.related_general_sop_class_uids:
            _check_uid(uid, "related general SOP class UID")


@dataclass(frozen=True, slots=True)
class UserIdentityRQ:
    """User Identity Sub-Item of an A-ASSOCIATE-RQ (58H).

    Attributes
    ----------
    user_identity_type : int
        A :class:`UserIdentityType` value, 1 to 5.
    positive_response_requested : bool
        Whether the requestor asks for a User Identity Sub-Item in the AC.
    primary_field : bytes
        Username, Kerberos ticket, SAML assertion or JSON Web Token.
    secondary_field : bytes
        The passcode; non-empty only with type 2 (username and passcode).

    References
    ----------
    PS3.7 Annex D.3.3.7.1, Table D.3-14.
    """

    user_identity_type: int
    positive_response_requested: bool
    primary_field: bytes
    secondary_field: bytes = b""

    def __post_init__(self) -> None:
        _require(
            isinstance(self.user_identity_type, int) and 1 <= self.user_identity_type <= 5,
            f"user identity type {self.user_identity_type!r} is not within 1..5",
        )
        _require(
            isinstance(self.positive_response_requested, bool),
            "positive-response-requested must be bool",
        )
        _check_bytes(self.primary_field, _MAX_ITEM_LENGTH - 6, "user identity primary field")
        _require(len(self.primary_field) > 0, "the user identity primary field is empty")
        _check_bytes(
            self.secondary_field,
            _MAX_ITEM_LENGTH - 6 - len(self.primary_field),
            "user identity secondary field",
        )
        _require(
            self.user_identity_type == UserIdentityType.USERNAME_AND_PASSCODE
            or not self.secondary_field,
            "only user identity type 2 carries a secondary field (PS3.7 Table D.3-14)",
        )


@dataclass(frozen=True, slots=True)
class UserIdentityAC:
    """User Identity Sub-Item of an A-ASSOCIATE-AC (59H).

    Attributes
    ----------
    server_response : bytes
        Kerberos server ticket, SAML response or JWT; empty for types 1 and 2.

    References
    ----------
    PS3.7 Annex D.3.3.7.2, Table D.3-15.
    """

    server_response: bytes = b""

    def __post_init__(self) -> None:
        _check_bytes(self.server_response, _MAX_ITEM_LENGTH - 2, "user identity server response")


@dataclass(frozen=True, slots=True)
class UnknownUserItem:
    """A User Information sub-item of a type this codec does not know, kept as read.

    References
    ----------
    PS3.8 Section 9.3.2.3 (User Information Item) and Annex D.
    """

    item_type: int
    data: bytes

    def __post_init__(self) -> None:
        _require(
            isinstance(self.item_type, int)
            and 0 <= self.item_type <= 255
            and self.item_type not in _USER_DECODERS,
            f"item type {self.item_type!r} is a known sub-item or not a byte",
        )
        _check_bytes(self.data, _MAX_ITEM_LENGTH, "unknown user item data")


UserItem: TypeAlias = (
    MaximumLength
    | ImplementationClassUID
    | ImplementationVersionName
    | AsynchronousOperationsWindow
    | SCP_SCU_RoleSelection
    | SOPClassExtendedNegotiation
    | SOPClassCommonExtendedNegotiation
    | UserIdentityRQ
    | UserIdentityAC
    | UnknownUserItem
)

# Sub-items of which PS3.7 Annex D allows one per User Information Item.
_SINGLE_USER_ITEMS: Final = (
    MaximumLength,
    ImplementationClassUID,
    ImplementationVersionName,
    AsynchronousOperationsWindow,
    UserIdentityRQ,
    UserIdentityAC,
)


@dataclass(frozen=True, slots=True)
class UserInformation:
    """The User Information Item (50H): its sub-items, in the order they travel.

    Attributes
    ----------
    items : tuple of UserItem
        The sub-items. At most one each of Maximum Length, Implementation
        Class UID, Implementation Version Name, Asynchronous Operations Window
        and User Identity.

    References
    ----------
    PS3.8 Sections 9.3.2.3 and 9.3.3.3; PS3.8 Annex D; PS3.7 Annex D.3.3.
    """

    items: tuple[UserItem, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        seen: set[type] = set()
        for item in self.items:
            _require(
                isinstance(item, _USER_ITEM_TYPES), f"{item!r} is not a user information sub-item"
            )
            if isinstance(item, _SINGLE_USER_ITEMS):
                _require(type(item) not in seen, f"more than one {type(item).__name__} sub-item")
                seen.add(type(item))
        _require(
            not (UserIdentityRQ in seen and UserIdentityAC in seen),
            "both User Identity RQ and AC sub-items",
        )

    def _first(self, kind: type) -> object | None:
        for item in self.items:
            if type(item) is kind:
                return item
        return None

    @property
    def maximum_length(self) -> int | None:
        """Maximum-length-received of the Maximum Length sub-item, or None if absent."""
        item = self._first(MaximumLength)
        return item.maximum_length_received if isinstance(item, MaximumLength) else None

    @property
    def implementation_class_uid(self) -> str | None:
        """The Implementation Class UID, or None if absent."""
        item = self._first(ImplementationClassUID)
        return item.implementation_class_uid if isinstance(item, ImplementationClassUID) else None

    @property
    def implementation_version_name(self) -> str | None:
        """The Implementation Version Name, or None if absent."""
        item = self._first(ImplementationVersionName)
        if isinstance(item, ImplementationVersionName):
            return item.implementation_version_name
        return None

    @property
    def asynchronous_operations_window(self) -> AsynchronousOperationsWindow | None:
        """The Asynchronous Operations Window sub-item, or None if absent."""
        item = self._first(AsynchronousOperationsWindow)
        return item if isinstance(item, AsynchronousOperationsWindow) else None

    @property
    def role_selections(self) -> tuple[SCP_SCU_RoleSelection, ...]:
        """The SCP/SCU Role Selection sub-items."""
        return tuple(i for i in self.items if isinstance(i, SCP_SCU_RoleSelection))

    @property
    def sop_class_extended(self) -> tuple[SOPClassExtendedNegotiation, ...]:
        """The SOP Class Extended Negotiation sub-items."""
        return tuple(i for i in self.items if isinstance(i, SOPClassExtendedNegotiation))

    @property
    def sop_class_common_extended(self) -> tuple[SOPClassCommonExtendedNegotiation, ...]:
        """The SOP Class Common Extended Negotiation sub-items."""
        return tuple(i for i in self.items if isinstance(i, SOPClassCommonExtendedNegotiation))

    @property
    def user_identity_rq(self) -> UserIdentityRQ | None:
        """The User Identity (RQ) sub-item, or None if absent."""
        item = self._first(UserIdentityRQ)
        return item if isinstance(item, UserIdentityRQ) else None

    @property
    def user_identity_ac(self) -> UserIdentityAC | None:
        """The User Identity (AC) sub-item, or None if absent."""
        item = self._first(UserIdentityAC)
        return item if isinstance(item, UserIdentityAC) else None

    @property
    def unknown(self) -> tuple[UnknownUserItem, ...]:
        """Sub-items of types this codec does not know, as read."""
        return tuple(i for i in self.items if isinstance(i, UnknownUserItem))


_USER_ITEM_TYPES: Final = (
    MaximumLength,
    ImplementationClassUID,
    ImplementationVersionName,
    AsynchronousOperationsWindow,
    SCP_SCU_RoleSelection,
    SOPClassExtendedNegotiation,
    SOPClassCommonExtendedNegotiation,
    UserIdentityRQ,
    UserIdentityAC,
    UnknownUserItem,
)


# --------------------------------------------------------------------------
# The seven PDUs


@dataclass(frozen=True, slots=True)
class A_ASSOCIATE_RQ:
    """The A-ASSOCIATE-RQ PDU (type 01H).

    Attributes
    ----------
    called_ae_title, calling_ae_title : str
        Checked by :func:`validate_ae_title`; kept without padding spaces.
    presentation_contexts : tuple of PresentationContextRQ
        One or more, with distinct IDs.
    user_information : UserInformation
        The User Information Item.
    application_context_name : str
        The Application Context Item; DICOM's own by default.
    protocol_version : int
        Bit 0 set for version 1, the only one defined.

    References
    ----------
    PS3.8 Section 9.3.2, Table 9-11.
    """

    pdu_type: ClassVar[int] = PDUType.A_ASSOCIATE_RQ

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextRQ, ...]
    user_information: UserInformation = UserInformation()
    application_context_name: str = APPLICATION_CONTEXT_NAME
    protocol_version: int = 0x0001

    def __post_init__(self) -> None:
        object.__setattr__(self, "called_ae_title", validate_ae_title(self.called_ae_title))
        object.__setattr__(self, "calling_ae_title", validate_ae_title(self.calling_ae_title))
        _check_associate_common(self, PresentationContextRQ)


@dataclass(frozen=True, slots=True)
class A_ASSOCIATE_AC:
    """The A-ASSOCIATE-AC PDU (type 02H).

    Attributes
    ----------
    called_ae_title, calling_ae_title : str
        Reserved fields sent back as received in the A-ASSOCIATE-RQ and not
        checked when received (PS3.8 Table 9-17).
    presentation_contexts : tuple of PresentationContextAC
        One result per proposed context, with distinct IDs.
    user_information : UserInformation
        The User Information Item.
    application_context_name : str
        The Application Context Item.
    protocol_version : int
        Bit 0 set for version 1.

    References
    ----------
    PS3.8 Section 9.3.3, Table 9-17.
    """

    pdu_type: ClassVar[int] = PDUType.A_ASSOCIATE_AC

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextAC, ...]
    user_information: UserInformation = UserInformation()
    application_context_name: str = APPLICATION_CONTEXT_NAME
    protocol_version: int = 0x0001

    def __post_init__(self) -> None:
        object.__setattr__(self, "called_ae_title", _check_reserved_title(self.called_ae_title))
        object.__setattr__(self, "calling_ae_title", _check_reserved_title(self.calling_ae_title))
        _check_associate_common(self, PresentationContextAC)


def _check_associate_common(pdu: A_ASSOCIATE_RQ | A_ASSOCIATE_AC, context_type: type) -> None:
    _check_uint(pdu.protocol_version, 16, "protocol version")
    _check_uid(pdu.application_context_name, "application context name")
    object.__setattr__(pdu, "presentation_contexts", tuple(pdu.presentation_contexts))
    _require(len(pdu.presentation_contexts) > 0, "no presentation context item (PS3.8 9.3.2)")
    ids = set()
    for context in pdu.presentation_contexts:
        _require(isinstance(context, context_type), f"{context!r} is not a {context_type.__name__}")
        _require(
            context.context_id not in ids, f"presentation context ID {context.context_id} twice"
        )
        ids.add(context.context_id)
    _require(
        isinstance(pdu.user_information, UserInformation), "user_information is not UserInformation"
    )


@dataclass(frozen=True, slots=True)
class A_ASSOCIATE_RJ:
    """The A-ASSOCIATE-RJ PDU (type 03H).

    Attributes
    ----------
    result : int
        1 rejected-permanent or 2 rejected-transient (:class:`RejectResult`).
    source : int
        1 service-user, 2 service-provider (ACSE), 3 service-provider
        (Presentation) (:class:`RejectSource`).
    reason : int
        Reason/Diag., a value Table 9-21 defines or reserves for ``source``.

    References
    ----------
    PS3.8 Section 9.3.4, Table 9-21.
    """

    pdu_type: ClassVar[int] = PDUType.A_ASSOCIATE_RJ

    result: int
    source: int
    reason: int

    def __post_init__(self) -> None:
        _require(self.result in (1, 2), f"A-ASSOCIATE-RJ result {self.result!r} is not 1 or 2")
        reasons = _REJECT_REASONS.get(self.source)
        if reasons is None:
            raise LocalProtocolError(f"A-ASSOCIATE-RJ source {self.source!r} is not 1, 2 or 3")
        _require(
            self.reason in reasons,
            f"A-ASSOCIATE-RJ reason {self.reason!r} is not defined for source {self.source}",
        )


class PDV(NamedTuple):
    """One Presentation Data Value Item of a P-DATA-TF PDU.

    Attributes
    ----------
    presentation_context_id : int
        Odd, 1 to 255.
    message_control_header : int
        Bit 0: command (1) or data set (0); bit 1: last fragment (1). Bits 2-7
        are sent as 0 and not checked (PS3.8 Annex E.2).
    data : bytes or memoryview
        The fragment; a memoryview of the received PDU when decoded.

    References
    ----------
    PS3.8 Section 9.3.5.1 (Table 9-23) and Annex E.
    """

    presentation_context_id: int
    message_control_header: int
    data: bytes | bytearray | memoryview

    @property
    def is_command(self) -> bool:
        """Whether the fragment is of a Command (bit 0 of the header)."""
        return bool(self.message_control_header & 0x01)

    @property
    def is_last(self) -> bool:
        """Whether this is the last fragment of its Command or Data Set (bit 1)."""
        return bool(self.message_control_header & 0x02)


@dataclass(frozen=True, slots=True)
class P_DATA_TF:
    """The P-DATA-TF PDU (type 04H): one or more PDVs.

    The PDVs are checked when encoded and when decoded, not on construction,
    which is kept cheap because one is made per PDU on the data path.

    References
    ----------
    PS3.8 Section 9.3.5, Table 9-22.
    """

    pdu_type: ClassVar[int] = PDUType.P_DATA_TF

    pdvs: tuple[PDV, ...]


@dataclass(frozen=True, slots=True)
class A_RELEASE_RQ:
    """The A-RELEASE-RQ PDU (type 05H); its 4-byte variable field is reserved.

    References
    ----------
    PS3.8 Section 9.3.6, Table 9-24.
    """

    pdu_type: ClassVar[int] = PDUType.A_RELEASE_RQ


@dataclass(frozen=True, slots=True)
class A_RELEASE_RP:
    """The A-RELEASE-RP PDU (type 06H); its 4-byte variable field is reserved.

    References
    ----------
    PS3.8 Section 9.3.7, Table 9-25.
    """

    pdu_type: ClassVar[int] = PDUType.A_RELEASE_RP


@dataclass(frozen=True, slots=True)
class A_ABORT:
    """The A-ABORT PDU (type 07H).

    Attributes
    ----------
    source : int
        0 service-user, 1 reserved, 2 service-provider (:class:`AbortSource`).
    reason : int
        Reason/Diag. (:class:`AbortReason`); significant only when the source
        is the service-provider, 0 otherwise.

    References
    ----------
    PS3.8 Section 9.3.8, Table 9-26.
    """

    pdu_type: ClassVar[int] = PDUType.A_ABORT

    source: int = AbortSource.SERVICE_USER
    reason: int = AbortReason.REASON_NOT_SPECIFIED

    def __post_init__(self) -> None:
        _require(self.source in (0, 1, 2), f"A-ABORT source {self.source!r} is not 0, 1 or 2")
        _require(
            isinstance(self.reason, int) and 0 <= self.reason <= 6,
            f"A-ABORT reason {self.reason!r} is not within 0..6",
        )
        # Table 9-26: with a source other than the service-provider the reason "shall not
        # be significant. It shall be sent with a value 00H".
        _require(
            self.source == AbortSource.SERVICE_PROVIDER or self.reason == 0,
            "an A-ABORT reason is sent only with the service-provider source",
        )


PDU: TypeAlias = (
    A_ASSOCIATE_RQ
    | A_ASSOCIATE_AC
    | A_ASSOCIATE_RJ
    | P_DATA_TF
    | A_RELEASE_RQ
    | A_RELEASE_RP
    | A_ABORT
)


# --------------------------------------------------------------------------
# Encoding

_ITEM_HEADER: Final = struct.Struct(">BBH")  # item-type, reserved, item-length
_PDU_HEADER: Final = struct.Struct(">BBI")  # PDU-type, reserved, PDU-length
_PDV_HEADER: Final = struct.Struct(">IBB")  # item-length, context ID, message control header
_U16: Final = struct.Struct(">H")


def _item(item_type: int, value: bytes, what: str = "") -> bytes:
    if len(value) > _MAX_ITEM_LENGTH:
        raise LocalProtocolError(
            f"{what or hex(item_type)} item of {len(value)} bytes exceeds the 2-byte item length"
        )
    return _ITEM_HEADER.pack(item_type, 0, len(value)) + value


def _length_prefixed(value: bytes) -> bytes:
    if len(value) > _MAX_ITEM_LENGTH:
        raise LocalProtocolError(f"a field of {len(value)} bytes exceeds its 2-byte length")
    return _U16.pack(len(value)) + value


def _encode_user_item(item: UserItem) -> bytes:
    if isinstance(item, MaximumLength):
        return _item(0x51, item.maximum_length_received.to_bytes(4, "big"))
    if isinstance(item, ImplementationClassUID):
        return _item(0x52, item.implementation_class_uid.encode("ascii"))
    if isinstance(item, AsynchronousOperationsWindow):
        value = struct.pack(
            ">HH", item.maximum_number_operations_invoked, item.maximum_number_operations_performed
        )
        return _item(0x53, value)
    if isinstance(item, SCP_SCU_RoleSelection):
        value = _length_prefixed(item.sop_class_uid.encode("ascii"))
        return _item(0x54, value + bytes((item.scu_role, item.scp_role)))
    if isinstance(item, ImplementationVersionName):
        return _item(0x55, item.implementation_version_name.encode("ascii"))
    if isinstance(item, SOPClassExtendedNegotiation):
        value = _length_prefixed(item.sop_class_uid.encode("ascii"))
        return _item(0x56, value + item.service_class_application_information)
    if isinstance(item, SOPClassCommonExtendedNegotiation):
        related = b"".join(
            _length_prefixed(uid.encode("ascii")) for uid in item.related_general_sop_class_uids
        )
        value = (
            _length_prefixed(item.sop_class_uid.encode("ascii"))
            + _length_prefixed(item.service_class_uid.encode("ascii"))
            + _length_prefixed(related)
        )
        # Byte 2 is the Sub-Item-version, 0 (PS3.7 Table D.3-12), not a reserved byte.
        return _item(0x57, value)
    if isinstance(item, UserIdentityRQ):
        value = (
            bytes((item.user_identity_type, item.positive_response_requested))
            + _length_prefixed(item.primary_field)
            + _length_prefixed(item.secondary_field)
        )
        return _item(0x58, value)
    if isinstance(item, UserIdentityAC):
        return _item(0x59, _length_prefixed(item.server_response))
    return _item(item.item_type, item.data)


def _encode_associate(pdu: A_ASSOCIATE_RQ | A_ASSOCIATE_AC) -> bytes:
    parts = [
        struct.pack(
            ">HH16s16s32s",
            pdu.protocol_version,
            0,
            pdu.called_ae_title.encode("latin-1").ljust(_AE_TITLE_LENGTH),
            pdu.calling_ae_title.encode("latin-1").ljust(_AE_TITLE_LENGTH),
            b"",  # reserved, 32 bytes of 00H (struct pads)
        ),
        _item(0x10, pdu.application_context_name.encode("ascii")),
    ]
    for context in pdu.presentation_contexts:
        if isinstance(context, PresentationContextRQ):
            value = bytes((context.context_id, 0, 0, 0)) + _item(
                0x30, context.abstract_syntax.encode("ascii")
            )
            value += b"".join(_item(0x40, ts.encode("ascii")) for ts in context.transfer_syntaxes)
            parts.append(_item(0x20, value, "presentation context"))
        else:
            value = bytes((context.context_id, 0, context.result, 0)) + _item(
                0x40, context.transfer_syntax.encode("ascii")
            )
            parts.append(_item(0x21, value, "presentation context"))
    user = b"".join(_encode_user_item(item) for item in pdu.user_information.items)
    parts.append(_item(0x50, user, "user information"))
    return b"".join(parts)


def _encode_pdvs(pdu: P_DATA_TF) -> list[bytes | bytearray | memoryview]:
    _require(len(pdu.pdvs) > 0, "a P-DATA-TF PDU carries at least one PDV (PS3.8 9.3.5)")
    parts: list[bytes | bytearray | memoryview] = []
    for context_id, control, data in pdu.pdvs:
        _check_context_id(context_id)
        _check_uint(control, 8, "message control header")
        length = len(data) if not isinstance(data, memoryview) else data.nbytes
        _require(length <= _MAX_PDU_LENGTH - 6, "a PDV is longer than a PDU can carry")
        parts.append(_PDV_HEADER.pack(length + 2, context_id, control))
        parts.append(data)
    return parts


def encode_pdu(pdu: PDU) -> bytes:
    """Encode a PDU, its 6-byte header included.

    Parameters
    ----------
    pdu : PDU
        Any of the seven PDU values.

    Returns
    -------
    bytes
        The PDU as it travels. A P-DATA-TF's fragments are copied once, into
        this result.

    Raises
    ------
    LocalProtocolError
        A field does not fit its length field, or a P-DATA-TF PDV is invalid
        (no PDV, an even or out-of-range context ID).

    References
    ----------
    PS3.8 Section 9.3.
    """
    if isinstance(pdu, P_DATA_TF):
        parts = _encode_pdvs(pdu)
        length = sum(len(p) if not isinstance(p, memoryview) else p.nbytes for p in parts)
        _require(length <= _MAX_PDU_LENGTH, "a P-DATA-TF PDU exceeds the 4-byte PDU length")
        return b"".join([_PDU_HEADER.pack(0x04, 0, length), *parts])
    if isinstance(pdu, A_ASSOCIATE_RQ | A_ASSOCIATE_AC):
        body = _encode_associate(pdu)
    elif isinstance(pdu, A_ASSOCIATE_RJ):
        body = bytes((0, pdu.result, pdu.source, pdu.reason))
    elif isinstance(pdu, A_RELEASE_RQ | A_RELEASE_RP):
        body = bytes(4)
    elif isinstance(pdu, A_ABORT):
        body = bytes((0, 0, pdu.source, pdu.reason))
    else:
        raise LocalProtocolError(f"{pdu!r} is not a PDU")
    return _PDU_HEADER.pack(pdu.pdu_type, 0, len(body)) + body


# --------------------------------------------------------------------------
# Decoding


def _invalid(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, AbortSource.SERVICE_PROVIDER, 6)


def _unexpected(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, AbortSource.SERVICE_PROVIDER, 5)


def _unrecognized(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, AbortSource.SERVICE_PROVIDER, 4)


def read_pdu_header(buf: Buffer) -> tuple[int, int] | None:
    """Read the PDU-type and PDU-length of the PDU at the start of ``buf``.

    Parameters
    ----------
    buf : bytes-like
        Received bytes, starting at a PDU boundary.

    Returns
    -------
    tuple of (int, int) or None
        ``(pdu_type, length)``, the length being that of the body after the
        6-byte header; None if fewer than 6 bytes are available yet. The type
        is not checked here: :func:`decode_pdu` does that.

    References
    ----------
    PS3.8 Section 9.3.1 (PDU-type, reserved byte, 4-byte PDU-length).
    """
    if len(buf) < PDU_HEADER_LENGTH:
        return None
    pdu_type, _reserved, length = _PDU_HEADER.unpack_from(buf, 0)
    return pdu_type, length


def _items(data: bytes, start: int, what: str) -> list[tuple[int, int, bytes]]:
    """Split ``data[start:]`` into (item-type, item offset, item value) of 4-byte-header items."""
    items = []
    pos, end = start, len(data)
    while pos < end:
        if end - pos < 4:
            raise _invalid(f"{what}: {end - pos} stray bytes where an item header was expected")
        # Item-type (1), reserved (1, not tested), Item-length (2): PS3.8 9.3.2.x
        item_type, _reserved, length = _ITEM_HEADER.unpack_from(data, pos)
        if pos + 4 + length > end:
            raise _invalid(
                f"{what}: item {item_type:02X}H of length {length} runs past its container "
                f"at offset {pos}"
            )
        items.append((item_type, pos, data[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return items


def _ascii(raw: bytes, what: str) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise _invalid(f"{what} {raw!r} is not ASCII") from None


def _uid(raw: bytes, what: str, lenient: bool) -> str:
    if raw.endswith(b"\x00"):
        # PS3.5 9.1 pads an odd-length UID with one NUL "except when used for network
        # negotiation": a NUL here is an error unless lenient_uid_padding is on.
        if not lenient:
            raise _invalid(
                f"{what} {raw!r} ends with a NUL pad, which PS3.5 Section 9.1 excludes in "
                "network negotiation (lenient_uid_padding accepts it)"
            )
        _log.warning("lenient_uid_padding: accepted %s %r with a trailing NUL", what, raw)
        raw = raw[:-1]
    value = _ascii(raw, what)
    if not is_valid_uid(value):
        raise _invalid(f"{what} {value!r} is not a valid UID (PS3.5 Section 9.1)")
    return value


def _length_prefixed_field(value: bytes, pos: int, what: str) -> tuple[bytes, int]:
    """Read a 2-byte length and that many bytes at ``pos``; return them and the next offset."""
    if len(value) - pos < 2:
        raise _invalid(f"{what}: its 2-byte length field is cut off")
    (length,) = _U16.unpack_from(value, pos)
    if pos + 2 + length > len(value):
        raise _invalid(f"{what}: length {length} runs past the end of its sub-item")
    return value[pos + 2 : pos + 2 + length], pos + 2 + length


def _fixed(value: bytes, size: int, what: str) -> None:
    if len(value) != size:
        raise _invalid(f"{what} sub-item has length {len(value)}, not {size}")


def _decode_maximum_length(value: bytes, lenient: bool) -> UserItem:
    _fixed(value, 4, "Maximum Length")  # PS3.8 Table D.1-1: Maximum-length-received, 4 bytes
    return MaximumLength(int.from_bytes(value, "big"))


def _decode_implementation_class_uid(value: bytes, lenient: bool) -> UserItem:
    # PS3.7 Table D.3-1: Implementation-class-uid, the whole item value
    return ImplementationClassUID(_uid(value, "implementation class UID", lenient))


def _decode_asynchronous_operations_window(value: bytes, lenient: bool) -> UserItem:
    # PS3.7 Table D.3-7: Maximum-number-operations-invoked (2), -performed (2)
    _fixed(value, 4, "Asynchronous Operations Window")
    invoked, performed = struct.unpack(">HH", value)
    return AsynchronousOperationsWindow(invoked, performed)


def _role(value: int, what: str) -> bool:
    if value not in (0, 1):
        raise _invalid(f"{what} {value} is not 0 or 1 (PS3.7 Table D.3-9)")
    return value == 1


def _decode_role_selection(value: bytes, lenient: bool) -> UserItem:
    # PS3.7 Table D.3-9: UID-length (2), SOP-class-uid, SCU-role (1), SCP-role (1)
    raw, pos = _length_prefixed_field(value, 0, "SCP/SCU Role Selection")
    if len(value) - pos != 2:
        raise _invalid("SCP/SCU Role Selection: SCU-role and SCP-role are not the last 2 bytes")
    uid = _uid(raw, "role selection SOP class UID", lenient)
    return SCP_SCU_RoleSelection(
        uid, _role(value[pos], "SCU-role"), _role(value[pos + 1], "SCP-role")
    )


def _decode_implementation_version_name(value: bytes, lenient: bool) -> UserItem:
    # PS3.7 Table D.3-3: Implementation-version-name, 1 to 16 ISO 646 G0 characters
    return ImplementationVersionName(_ascii(value, "implementation version name"))


def _decode_sop_class_extended(value: bytes, lenient: bool) -> UserItem:
    # PS3.7 Table D.3-11: SOP-class-uid-length (2), SOP-class-uid,
    # Service-class-application-information (the rest)
    raw, pos = _length_prefixed_field(value, 0, "SOP Class Extended Negotiation")
    uid = _uid(raw, "extended negotiation SOP class UID", lenient)
    return SOPClassExtendedNegotiation(uid, value[pos:])


def _decode_sop_class_common_extended(value: bytes, lenient: bool) -> UserItem:
    # PS3.7 Table D.3-12: SOP-class-uid-length (2), SOP-class-uid, Service-class-uid-length
    # (2), Service-class-uid, Related-general-sop-class-identification-length (2) and the
    # identification: Related-general-sop-class-uid-length (2) and uid pairs (Table D.3-13).
    what = "SOP Class Common Extended Negotiation"
    raw_sop, pos = _length_prefixed_field(value, 0, what)
    raw_service, pos = _length_prefixed_field(value, pos, what)
    identification, pos = _length_prefixed_field(value, pos, what)
    if pos != len(value):
        raise _invalid(f"{what}: {len(value) - pos} bytes after the related SOP classes")
    related = []
    inner = 0
    while inner < len(identification):
        raw, inner = _length_prefixed_field(identification, inner, "related general SOP classes")
        related.append(_uid(raw, "related general SOP class UID", lenient))
    return SOPClassCommonExtendedNegotiation(
        _uid(raw_sop, "common extended negotiation SOP class UID", lenient),
        _uid(raw_service, "service class UID", lenient),
        tuple(related),
    )


def _decode_user_identity_rq(value: bytes, lenient: bool) -> UserItem:
    # PS3.7 Table D.3-14: User-Identity-Type (1), Positive-response-requested (1),
    # Primary-field-length (2), Primary-field, Secondary-field-length (2), Secondary-field
    what = "User Identity (RQ)"
    if len(value) < 2:
        raise _invalid(f"{what}: shorter than its fixed fields")
    if value[1] not in (0, 1):
        raise _invalid(f"{what}: positive-response-requested {value[1]} is not 0 or 1")
    primary, pos = _length_prefixed_field(value, 2, what)
    secondary, pos = _length_prefixed_field(value, pos, what)
    if pos != len(value):
        raise _invalid(f"{what}: {len(value) - pos} bytes after the secondary field")
    return UserIdentityRQ(value[0], value[1] == 1, primary, secondary)


def _decode_user_identity_ac(value: bytes, lenient: bool) -> UserItem:
    # PS3.7 Table D.3-15: Server-response-length (2), Server-response
    response, pos = _length_prefixed_field(value, 0, "User Identity (AC)")
    if pos != len(value):
        raise _invalid(f"User Identity (AC): {len(value) - pos} bytes after the server response")
    return UserIdentityAC(response)


_USER_DECODERS: Final[dict[int, Callable[[bytes, bool], UserItem]]] = {
    0x51: _decode_maximum_length,
    0x52: _decode_implementation_class_uid,
    0x53: _decode_asynchronous_operations_window,
    0x54: _decode_role_selection,
    0x55: _decode_implementation_version_name,
    0x56: _decode_sop_class_extended,
    0x57: _decode_sop_class_common_extended,
    0x58: _decode_user_identity_rq,
    0x59: _decode_user_identity_ac,
}

# Sub-items that belong to one of the two PDUs only (PS3.7 D.3.3.6, D.3.3.7).
_KNOWN_ITEM_TYPES: Final = frozenset(int(t) for t in ItemType)

_NOT_IN_RQ: Final = frozenset({0x59})
_NOT_IN_AC: Final = frozenset({0x57, 0x58})


def _decode_user_information(value: bytes, is_rq: bool, lenient: bool) -> UserInformation:
    items: list[UserItem] = []
    seen: set[int] = set()
    excluded = _NOT_IN_RQ if is_rq else _NOT_IN_AC
    pdu_name = "A-ASSOCIATE-RQ" if is_rq else "A-ASSOCIATE-AC"
    for item_type, offset, sub_value in _items(value, 0, "User Information"):
        decoder = _USER_DECODERS.get(item_type)
        if decoder is None:
            # User data sub-items this codec does not know are kept for the caller.
            items.append(UnknownUserItem(item_type, sub_value))
            continue
        if item_type in excluded:
            raise _unexpected(f"sub-item {item_type:02X}H is not allowed in an {pdu_name}")
        if item_type in seen and item_type not in (0x54, 0x56, 0x57):
            raise _unexpected(f"a second {item_type:02X}H sub-item at offset {offset}")
        seen.add(item_type)
        items.append(decoder(sub_value, lenient))
    return UserInformation(tuple(items))


def _decode_context_rq(value: bytes, lenient: bool) -> PresentationContextRQ:
    # PS3.8 Table 9-14: Presentation-context-ID (1), reserved (3), then one Abstract Syntax
    # Sub-Item (30H) and one or more Transfer Syntax Sub-Items (40H).
    if len(value) < 4:
        raise _invalid("Presentation Context (RQ) item shorter than its fixed fields")
    context_id = value[0]
    abstract: str | None = None
    transfer: list[str] = []
    for item_type, offset, sub_value in _items(value, 4, f"presentation context {context_id}"):
        if item_type == ItemType.ABSTRACT_SYNTAX:
            if abstract is not None or transfer:
                raise _unexpected(
                    f"presentation context {context_id}: abstract syntax sub-item at {offset} "
                    "is not the first sub-item"
                )
            abstract = _uid(sub_value, "abstract syntax", lenient)
        elif item_type == ItemType.TRANSFER_SYNTAX:
            if abstract is None:
                raise _unexpected(
                    f"presentation context {context_id}: transfer syntax before abstract syntax"
                )
            transfer.append(_uid(sub_value, "transfer syntax", lenient))
        elif item_type in _KNOWN_ITEM_TYPES:
            raise _unexpected(f"item {item_type:02X}H inside presentation context {context_id}")
        else:
            raise _unrecognized(
                f"unknown sub-item {item_type:02X}H in presentation context {context_id}"
            )
    if abstract is None or not transfer:
        raise _invalid(
            f"presentation context {context_id} lacks its abstract or transfer syntax sub-item"
        )
    return PresentationContextRQ(context_id, abstract, tuple(transfer))


def _decode_context_ac(value: bytes, lenient: bool) -> PresentationContextAC:
    # PS3.8 Table 9-18: Presentation-context-ID (1), reserved (1), Result/Reason (1),
    # reserved (1), then one Transfer Syntax Sub-Item (40H).
    if len(value) < 4:
        raise _invalid("Presentation Context (AC) item shorter than its fixed fields")
    context_id, result = value[0], value[2]
    sub_items = _items(value, 4, f"presentation context {context_id}")
    for item_type, _offset, _value in sub_items:
        if item_type not in _KNOWN_ITEM_TYPES:
            raise _unrecognized(f"unknown sub-item {item_type:02X}H in presentation context")
        if item_type != ItemType.TRANSFER_SYNTAX:
            raise _unexpected(f"item {item_type:02X}H inside presentation context {context_id}")
    if result != ContextResult.ACCEPTANCE:
        # "not significant and its value shall not be tested when received" (Table 9-18);
        # kept as text when it is ASCII, dropped when it is not.
        raw = sub_items[0][2] if len(sub_items) == 1 else b""
        text = raw.rstrip(b"\x00").decode("ascii", "replace").replace("\ufffd", "")
        return PresentationContextAC(context_id, result, text)
    if len(sub_items) != 1:
        raise _invalid(
            f"accepted presentation context {context_id} has {len(sub_items)} transfer syntax "
            "sub-items, not one"
        )
    return PresentationContextAC(
        context_id, result, _uid(sub_items[0][2], "accepted transfer syntax", lenient)
    )


def _decode_associate(body: memoryview, is_rq: bool, lenient: bool) -> PDU:
    pdu_name = "A-ASSOCIATE-RQ" if is_rq else "A-ASSOCIATE-AC"
    data = body.tobytes()  # association PDUs are small; bytes make the slicing simple
    if len(data) < _ASSOCIATE_FIXED_LENGTH:
        raise _invalid(f"{pdu_name} of {len(data)} bytes is shorter than its fixed fields")
    # Protocol-version (2), reserved (2), Called-AE-title (16), Calling-AE-title (16),
    # reserved (32): PS3.8 Table 9-11 (RQ) and Table 9-17 (AC), bytes 7-74.
    (protocol_version,) = _U16.unpack_from(data, 0)
    raw_called, raw_calling = data[4:20], data[20:36]
    if is_rq:
        called = _ascii(raw_called, "called AE title")
        calling = _ascii(raw_calling, "calling AE title")
    else:  # reserved in the AC and not tested
        called, calling = raw_called.decode("latin-1"), raw_calling.decode("latin-1")
    application_context: str | None = None
    contexts: list[PresentationContextRQ | PresentationContextAC] = []
    user_information: UserInformation | None = None
    context_item = ItemType.PRESENTATION_CONTEXT_RQ if is_rq else ItemType.PRESENTATION_CONTEXT_AC
    for item_type, offset, value in _items(data, _ASSOCIATE_FIXED_LENGTH, pdu_name):
        if item_type == ItemType.APPLICATION_CONTEXT:
            if application_context is not None:
                raise _unexpected(f"{pdu_name}: second application context item at {offset}")
            # PS3.8 Table 9-12: Application-context-name
            application_context = _uid(value, "application context name", lenient)
        elif item_type == context_item:
            decoded = (_decode_context_rq if is_rq else _decode_context_ac)(value, lenient)
            contexts.append(decoded)
        elif item_type == ItemType.USER_INFORMATION:
            if user_information is not None:
                raise _unexpected(f"{pdu_name}: second user information item at {offset}")
            # PS3.8 Table 9-16: User-data, the sub-items of PS3.8 Annex D and PS3.7 D.3.3
            user_information = _decode_user_information(value, is_rq, lenient)
        elif item_type in _KNOWN_ITEM_TYPES:
            raise _unexpected(f"{pdu_name}: item {item_type:02X}H does not belong at {offset}")
        else:
            raise _unrecognized(f"{pdu_name}: unknown item type {item_type:02X}H at {offset}")
    if application_context is None:
        raise _invalid(f"{pdu_name} without an application context item")
    if not contexts:
        raise _invalid(f"{pdu_name} without a presentation context item")
    if user_information is None:
        raise _invalid(f"{pdu_name} without a user information item")
    if len({c.context_id for c in contexts}) != len(contexts):
        raise _invalid(f"{pdu_name} repeats a presentation context ID")
    if is_rq:
        return A_ASSOCIATE_RQ(
            called,
            calling,
            tuple(c for c in contexts if isinstance(c, PresentationContextRQ)),
            user_information,
            application_context,
            protocol_version,
        )
    return A_ASSOCIATE_AC(
        called,
        calling,
        tuple(c for c in contexts if isinstance(c, PresentationContextAC)),
        user_information,
        application_context,
        protocol_version,
    )


def _decode_a_associate_rq(body: memoryview, lenient: bool) -> PDU:
    return _decode_associate(body, True, lenient)


def _decode_a_associate_ac(body: memoryview, lenient: bool) -> PDU:
    return _decode_associate(body, False, lenient)


def _four_bytes(body: memoryview, pdu_name: str) -> None:
    if len(body) != 4:
        raise _invalid(f"{pdu_name} PDU-length is {len(body)}, not 4")


def _decode_a_associate_rj(body: memoryview, lenient: bool) -> PDU:
    # PS3.8 Table 9-21: reserved (1), Result (1), Source (1), Reason/Diag. (1)
    _four_bytes(body, "A-ASSOCIATE-RJ")
    return A_ASSOCIATE_RJ(body[1], body[2], body[3])


def _decode_p_data_tf(body: memoryview, lenient: bool) -> PDU:
    # PS3.8 Table 9-23: each PDV item is Item-length (4), Presentation-context-ID (1) and
    # the PDV: Message Control Header (1, Annex E.2) then the fragment.
    pdvs = []
    pos, end = 0, len(body)
    while pos < end:
        if end - pos < 6:
            raise _invalid(f"P-DATA-TF: {end - pos} stray bytes where a PDV item was expected")
        (length,) = struct.unpack_from(">I", body, pos)
        if length < 2:
            raise _invalid(f"P-DATA-TF: PDV item length {length} at {pos} is less than 2")
        stop = pos + 4 + length
        if stop > end:
            raise _invalid(f"P-DATA-TF: PDV item of length {length} at {pos} runs past the PDU")
        context_id = body[pos + 4]
        if context_id % 2 == 0:
            raise _invalid(f"P-DATA-TF: presentation context ID {context_id} is not odd")
        pdvs.append(PDV(context_id, body[pos + 5], body[pos + 6 : stop]))
        pos = stop
    if not pdvs:
        raise _invalid("P-DATA-TF without a PDV item")
    return P_DATA_TF(tuple(pdvs))


def _decode_a_release_rq(body: memoryview, lenient: bool) -> PDU:
    _four_bytes(body, "A-RELEASE-RQ")  # PS3.8 Table 9-24: reserved (4), not tested
    return A_RELEASE_RQ()


def _decode_a_release_rp(body: memoryview, lenient: bool) -> PDU:
    _four_bytes(body, "A-RELEASE-RP")  # PS3.8 Table 9-25: reserved (4), not tested
    return A_RELEASE_RP()


def _decode_a_abort(body: memoryview, lenient: bool) -> PDU:
    # PS3.8 Table 9-26: reserved (1), reserved (1), Source (1), Reason/Diag. (1)
    _four_bytes(body, "A-ABORT")
    source, reason = body[2], body[3]
    if source != AbortSource.SERVICE_PROVIDER:
        # With a service-user source the reason "shall not be significant": not tested.
        reason = 0
    return A_ABORT(source, reason)


_DECODERS: Final[dict[int, Callable[[memoryview, bool], PDU]]] = {
    0x01: _decode_a_associate_rq,
    0x02: _decode_a_associate_ac,
    0x03: _decode_a_associate_rj,
    0x04: _decode_p_data_tf,
    0x05: _decode_a_release_rq,
    0x06: _decode_a_release_rp,
    0x07: _decode_a_abort,
}


def decode_pdu(pdu_type: int, body: Buffer, *, lenient_uid_padding: bool = False) -> PDU:
    """Decode the body of one PDU.

    Parameters
    ----------
    pdu_type : int
        The PDU-type from the header (:func:`read_pdu_header`).
    body : bytes-like
        The PDU's bytes after its 6-byte header, exactly PDU-length of them.
        A P-DATA-TF's PDVs are memoryview slices of it, not copies: keep it
        unchanged while they are in use.
    lenient_uid_padding : bool
        Accept (and log) UIDs that end with a NUL pad. Off by default: PS3.5
        Section 9.1 excludes the pad in network negotiation.

    Returns
    -------
    PDU
        The decoded PDU.

    Raises
    ------
    RemoteProtocolError
        The PDU is malformed; ``abort_source`` is 2 (service-provider) and
        ``abort_reason`` the Table 9-26 reason to send: 1 for an unrecognized
        PDU type, 4 for an unknown item, 5 for an item where it does not
        belong or repeated, 6 for an invalid value or length.

    References
    ----------
    PS3.8 Section 9.3 and Section 9.3.8, Table 9-26.
    """
    decoder = _DECODERS.get(pdu_type)
    if decoder is None:
        raise RemoteProtocolError(
            f"unrecognized PDU type 0x{pdu_type:02X}", AbortSource.SERVICE_PROVIDER, 1
        )
    view = memoryview(body)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    try:
        return decoder(view, lenient_uid_padding)
    except LocalProtocolError as exc:  # a field value the constructors refuse
        raise _invalid(f"{PDUType(pdu_type).name}: {exc}") from None
