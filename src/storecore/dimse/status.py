"""DIMSE status codes: the tables of PS3.7 Annex C and PS3.4 B.2.3, in one place.

Every row names a code (or a range of codes), its category, the meaning the
standard gives it, the DIMSE services storecore implements that may return it,
and the optional command elements Annex C (or the service's PS3.4 table) lets
travel with it, such as Error Comment (0000,0902) and Offending Element
(0000,0901).

The tables are transcribed by hand, not generated (STYLE.md convention 10):
pydicom's dictionary, the source of our generated tables, has no status codes,
and the standard publishes them only as prose tables. Each row therefore cites
the clause it was copied from; ``tests/unit/dimse/test_status.py`` checks every
row of PS3.4 Table B.2-1 and every Annex C code, and cross-checks the
categories against pynetdicom.

Notes
-----
PS3.4 Table B.2-1 gives 0xB007 "Data Set does not match SOP Class" and 0xB006
"Elements Discarded". Some secondary tables swap the two; the standard's
assignment is the one used here.

References
----------
PS3.7 Annex C (Status Type Encoding); PS3.7 Sections 9.1.1.1.9 (C-STORE),
9.1.5.1.4 (C-ECHO), 10.1.1.1.8 (N-EVENT-REPORT), 10.1.4.1.10 (N-ACTION);
PS3.4 Section B.2.3, Table B.2-1 (C-STORE); PS3.4 Section J.3 (Storage
Commitment, which uses only the general N-ACTION and N-EVENT-REPORT statuses);
PS3.3 Section C.14.1.1 (Storage Commitment Failure Reason).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from storecore.dimse._tags import (
    ACTION_TYPE_ID,
    AFFECTED_SOP_CLASS_UID,
    AFFECTED_SOP_INSTANCE_UID,
    ATTRIBUTE_IDENTIFIER_LIST,
    ERROR_COMMENT,
    ERROR_ID,
    EVENT_TYPE_ID,
    OFFENDING_ELEMENT,
)
from storecore.errors import StorecoreError

__all__ = [
    # categories and records
    "Category",
    "StatusInfo",
    "UnknownStatusError",
    # services
    "C_ECHO",
    "C_STORE",
    "N_EVENT_REPORT",
    "N_ACTION",
    "SERVICES",
    # tables
    "GENERAL_STATUSES",
    "STORAGE_STATUSES",
    "COMMITMENT_FAILURE_REASONS",
    # look-ups
    "status_category",
    "status_meaning",
    "status_info",
    "statuses_of",
    "commitment_failure_reason",
    # named codes, PS3.7 Annex C
    "SUCCESS",
    "CANCEL",
    "REQUESTED_OPTIONAL_ATTRIBUTES_NOT_SUPPORTED",
    "NO_SUCH_ATTRIBUTE",
    "INVALID_ATTRIBUTE_VALUE",
    "ATTRIBUTE_LIST_ERROR",
    "PROCESSING_FAILURE",
    "DUPLICATE_SOP_INSTANCE",
    "NO_SUCH_SOP_INSTANCE",
    "NO_SUCH_EVENT_TYPE",
    "NO_SUCH_ARGUMENT",
    "INVALID_ARGUMENT_VALUE",
    "ATTRIBUTE_VALUE_OUT_OF_RANGE",
    "INVALID_SOP_INSTANCE",
    "NO_SUCH_SOP_CLASS",
    "CLASS_INSTANCE_CONFLICT",
    "MISSING_ATTRIBUTE",
    "MISSING_ATTRIBUTE_VALUE",
    "SOP_CLASS_NOT_SUPPORTED",
    "NO_SUCH_ACTION_TYPE",
    "NOT_AUTHORIZED",
    "DUPLICATE_INVOCATION",
    "UNRECOGNIZED_OPERATION",
    "MISTYPED_ARGUMENT",
    "RESOURCE_LIMITATION",
    # named codes, PS3.4 Table B.2-1
    "OUT_OF_RESOURCES",
    "DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR",
    "CANNOT_UNDERSTAND",
    "COERCION_OF_DATA_ELEMENTS",
    "ELEMENTS_DISCARDED",
    "DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING",
    # Storage Commitment Failure Reason, PS3.3 C.14.1.1
    "DUPLICATE_TRANSACTION_UID",
]


class Category(enum.Enum):
    """The status classes of PS3.7 Annex C (C.1 to C.5).

    References
    ----------
    PS3.7 Annex C.
    """

    SUCCESS = "Success"
    PENDING = "Pending"
    CANCEL = "Cancel"
    WARNING = "Warning"
    FAILURE = "Failure"


class UnknownStatusError(StorecoreError, LookupError):
    """A status code is in no table (or not in the table of the service asked about).

    References
    ----------
    PS3.7 Annex C; PS3.4 Table B.2-1.
    """


# The DIMSE services storecore implements; the ``services`` column lists only these.
C_ECHO = "C-ECHO"
C_STORE = "C-STORE"
N_EVENT_REPORT = "N-EVENT-REPORT"
N_ACTION = "N-ACTION"
SERVICES = (C_ECHO, C_STORE, N_EVENT_REPORT, N_ACTION)


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """One row of a status table: a code, or a range of codes ``low``..``high``.

    Attributes
    ----------
    low, high : int
        The codes the row covers (equal for a single code; 0xA700, 0xA7FF for A7xx).
    category : Category
        Success, Pending, Cancel, Warning or Failure.
    meaning : str
        The "Further Meaning" the standard gives the code.
    services : frozenset of str
        Which of storecore's DIMSE services (:data:`SERVICES`) may return it.
        Empty for statuses only other services use (N-GET, N-SET, C-FIND, ...).
    fields : frozenset of int
        The optional command elements that may accompany the status, as the
        Annex C section (or the PS3.4 "Related Fields" column) lists them.
    reference : str
        The clause the row was transcribed from.

    References
    ----------
    PS3.7 Annex C; PS3.4 Table B.2-1 ("Related Fields").
    """

    low: int
    high: int
    category: Category
    meaning: str
    services: frozenset[str]
    fields: frozenset[int]
    reference: str

    def __contains__(self, code: object) -> bool:
        return isinstance(code, int) and self.low <= code <= self.high

    @property
    def error_comment(self) -> bool:
        """Whether Error Comment (0000,0902) may accompany this status."""
        return ERROR_COMMENT in self.fields

    @property
    def offending_element(self) -> bool:
        """Whether Offending Element (0000,0901) may accompany this status."""
        return OFFENDING_ELEMENT in self.fields

    def __str__(self) -> str:
        code = f"0x{self.low:04X}" if self.low == self.high else f"0x{self.low:04X}-{self.high:04X}"
        return f"{code} {self.category.value}: {self.meaning}"


def _row(
    low: int,
    high: int | None,
    category: Category,
    meaning: str,
    services: tuple[str, ...],
    fields: tuple[int, ...],
    reference: str,
) -> StatusInfo:
    return StatusInfo(
        low,
        low if high is None else high,
        category,
        meaning,
        frozenset(services),
        frozenset(fields),
        reference,
    )


_S, _P, _C, _W, _F = (
    Category.SUCCESS,
    Category.PENDING,
    Category.CANCEL,
    Category.WARNING,
    Category.FAILURE,
)
_ALL = SERVICES
_N = (N_EVENT_REPORT, N_ACTION)
_CLS, _INST = AFFECTED_SOP_CLASS_UID, AFFECTED_SOP_INSTANCE_UID

# Named codes. Values are the standard's; names follow its wording.
SUCCESS = 0x0000
CANCEL = 0xFE00
REQUESTED_OPTIONAL_ATTRIBUTES_NOT_SUPPORTED = 0x0001
NO_SUCH_ATTRIBUTE = 0x0105
INVALID_ATTRIBUTE_VALUE = 0x0106
ATTRIBUTE_LIST_ERROR = 0x0107
PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111
NO_SUCH_SOP_INSTANCE = 0x0112
NO_SUCH_EVENT_TYPE = 0x0113
NO_SUCH_ARGUMENT = 0x0114
INVALID_ARGUMENT_VALUE = 0x0115
ATTRIBUTE_VALUE_OUT_OF_RANGE = 0x0116
INVALID_SOP_INSTANCE = 0x0117
NO_SUCH_SOP_CLASS = 0x0118
CLASS_INSTANCE_CONFLICT = 0x0119
MISSING_ATTRIBUTE = 0x0120
MISSING_ATTRIBUTE_VALUE = 0x0121
SOP_CLASS_NOT_SUPPORTED = 0x0122
NO_SUCH_ACTION_TYPE = 0x0123
NOT_AUTHORIZED = 0x0124
DUPLICATE_INVOCATION = 0x0210
UNRECOGNIZED_OPERATION = 0x0211
MISTYPED_ARGUMENT = 0x0212
RESOURCE_LIMITATION = 0x0213

OUT_OF_RESOURCES = 0xA700
DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR = 0xA900
CANNOT_UNDERSTAND = 0xC000
COERCION_OF_DATA_ELEMENTS = 0xB000
ELEMENTS_DISCARDED = 0xB006
DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING = 0xB007

DUPLICATE_TRANSACTION_UID = 0x0131

# fmt: off
#: The general statuses of PS3.7 Annex C, with the services of PS3.7 9.1.1.1.9
#: (C-STORE), 9.1.5.1.4 (C-ECHO), 10.1.1.1.8 (N-EVENT-REPORT) and 10.1.4.1.10
#: (N-ACTION) that list them. Storage Commitment (PS3.4 J.3) defines no status
#: of its own: its N-ACTION and N-EVENT-REPORT use these rows.
GENERAL_STATUSES: tuple[StatusInfo, ...] = (
    _row(0x0000, None, _S, "Success", _ALL, (), "PS3.7 C.1.1"),
    _row(0xFE00, None, _C, "Cancel", (), (), "PS3.7 C.3.1"),
    # 0001 is a PS3.4 code (N-GET, e.g. Table CC.2.7-1), not an Annex C one;
    # kept here because it is the one service-level code outside 0xA000-0xCFFF.
    _row(0x0001, None, _W, "Requested optional Attributes are not supported", (), (),
         "PS3.4 Table CC.2.7-1"),
    _row(0x0107, None, _W, "Attribute List warning", (),
         (_CLS, _INST, ATTRIBUTE_IDENTIFIER_LIST), "PS3.7 C.4.2"),
    _row(0x0116, None, _W, "Attribute Value Out of Range", (), (), "PS3.7 C.4.3"),
    _row(0x0105, None, _F, "No such Attribute", (), (ATTRIBUTE_IDENTIFIER_LIST,),
         "PS3.7 C.5.17"),
    _row(0x0106, None, _F, "Invalid Attribute value", (), (), "PS3.7 C.5.11"),
    _row(0x0110, None, _F, "Processing failure", _N, (_CLS, ERROR_COMMENT, ERROR_ID, _INST),
         "PS3.7 C.5.21"),
    _row(0x0111, None, _F, "Duplicate SOP Instance", (), (_INST,), "PS3.7 C.5.8"),
    _row(0x0112, None, _F, "No such SOP Instance", _N, (_INST,), "PS3.7 C.5.19"),
    _row(0x0113, None, _F, "No such event type", (N_EVENT_REPORT,), (_CLS, EVENT_TYPE_ID),
         "PS3.7 C.5.18"),
    _row(0x0114, None, _F, "No such argument", _N, (_CLS, EVENT_TYPE_ID, ACTION_TYPE_ID),
         "PS3.7 C.5.16"),
    _row(0x0115, None, _F, "Invalid argument value", _N,
         (_CLS, _INST, EVENT_TYPE_ID, ACTION_TYPE_ID), "PS3.7 C.5.10"),
    _row(0x0117, None, _F, "Invalid SOP Instance", (C_STORE, *_N), (_INST,), "PS3.7 C.5.12"),
    _row(0x0118, None, _F, "No such SOP Class", _N, (_CLS,), "PS3.7 C.5.20"),
    _row(0x0119, None, _F, "Class-instance conflict", _N, (_CLS, _INST), "PS3.7 C.5.7"),
    _row(0x0120, None, _F, "Missing Attribute", (), (), "PS3.7 C.5.13"),
    _row(0x0121, None, _F, "Missing Attribute Value", (), (ATTRIBUTE_IDENTIFIER_LIST,),
         "PS3.7 C.5.14"),
    _row(0x0122, None, _F, "Refused: SOP Class not supported", (C_ECHO, C_STORE), (),
         "PS3.7 C.5.6"),
    _row(0x0123, None, _F, "No such action type", (N_ACTION,), (_CLS, ACTION_TYPE_ID),
         "PS3.7 C.5.24"),
    _row(0x0124, None, _F, "Refused: Not authorized", (C_STORE, N_ACTION), (ERROR_COMMENT,),
         "PS3.7 C.5.25"),
    _row(0x0210, None, _F, "Duplicate invocation", _ALL, (), "PS3.7 C.5.9"),
    _row(0x0211, None, _F, "Unrecognized operation", _ALL, (), "PS3.7 C.5.23"),
    _row(0x0212, None, _F, "Mistyped argument", _ALL, (), "PS3.7 C.5.15"),
    _row(0x0213, None, _F, "Resource limitation", _N, (), "PS3.7 C.5.22"),
)

#: The C-STORE statuses of PS3.4 Table B.2-1, with its "Related Fields" column.
STORAGE_STATUSES: tuple[StatusInfo, ...] = (
    _row(0xA700, 0xA7FF, _F, "Refused: Out of Resources", (C_STORE,), (ERROR_COMMENT,),
         "PS3.4 Table B.2-1"),
    _row(0xA900, 0xA9FF, _F, "Error: Data Set does not match SOP Class", (C_STORE,),
         (OFFENDING_ELEMENT, ERROR_COMMENT), "PS3.4 Table B.2-1"),
    _row(0xC000, 0xCFFF, _F, "Error: Cannot understand", (C_STORE,),
         (OFFENDING_ELEMENT, ERROR_COMMENT), "PS3.4 Table B.2-1"),
    _row(0xB000, None, _W, "Coercion of Data Elements", (C_STORE,),
         (OFFENDING_ELEMENT, ERROR_COMMENT), "PS3.4 Table B.2-1"),
    _row(0xB007, None, _W, "Data Set does not match SOP Class", (C_STORE,),
         (OFFENDING_ELEMENT, ERROR_COMMENT), "PS3.4 Table B.2-1"),
    _row(0xB006, None, _W, "Elements Discarded", (C_STORE,),
         (OFFENDING_ELEMENT, ERROR_COMMENT), "PS3.4 Table B.2-1"),
)

#: Failure Reason (0008,1197) values of a Storage Commitment N-EVENT-REPORT
#: (PS3.3 C.14.1.1). They reuse general status codes but travel in the Event
#: Information data set, not in Status (0000,0900).
COMMITMENT_FAILURE_REASONS: dict[int, str] = {
    0x0110: "Processing failure",
    0x0112: "No such object instance",
    0x0213: "Resource limitation",
    0x0122: "Referenced SOP Class not supported",
    0x0119: "Class / Instance conflict",
    0x0131: "Duplicate transaction UID",
}
# fmt: on

# Service-specific rows first: a C-STORE look-up must find B.2-1 before Annex C.
_ROWS: tuple[StatusInfo, ...] = STORAGE_STATUSES + GENERAL_STATUSES

# Category of service-specific codes outside any table. PS3.4 assigns its
# service-class codes by range throughout (A7xx/A9xx refused or error, Bxxx
# warning, Cxxx error or unable to process, FF00/FF01 pending, e.g. Tables
# B.2-1, C.4-1, C.4-2); PS3.7 Annex C leaves those values to PS3.4.
_RANGES: tuple[tuple[int, int, Category], ...] = (
    (0xA000, 0xAFFF, Category.FAILURE),
    (0xB000, 0xBFFF, Category.WARNING),
    (0xC000, 0xCFFF, Category.FAILURE),
    (0xFF00, 0xFF01, Category.PENDING),
)


def _check_code(code: int) -> None:
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 0xFFFF:
        raise ValueError(f"a status is a US value, 0x0000-0xFFFF, not {code!r}")


def _check_service(service: str) -> None:
    if service not in SERVICES:
        raise ValueError(f"unknown DIMSE service {service!r}; expected one of {SERVICES}")


def status_info(code: int, service: str | None = C_STORE) -> StatusInfo:
    """The table row of `code`, as `service` defines it.

    Parameters
    ----------
    code : int
        The value of Status (0000,0900).
    service : str or None
        ``"C-ECHO"``, ``"C-STORE"``, ``"N-EVENT-REPORT"`` or ``"N-ACTION"``: the
        row must be one that service may return. None: any row of Annex C or
        Table B.2-1.

    Returns
    -------
    StatusInfo

    Raises
    ------
    UnknownStatusError
        No row covers `code` (for `service`).
    ValueError
        `code` is not a US value, or `service` is not one of :data:`SERVICES`.

    References
    ----------
    PS3.7 Annex C; PS3.4 Table B.2-1.
    """
    _check_code(code)
    if service is not None:
        _check_service(service)
    for row in _ROWS:
        if code in row and (service is None or service in row.services):
            return row
    where = "any table" if service is None else f"the {service} statuses"
    raise UnknownStatusError(f"status 0x{code:04X} is not in {where}")


def status_meaning(code: int, service: str | None = C_STORE) -> str:
    """The meaning the standard gives status `code` returned by `service`.

    For example ``status_meaning(0xB006)`` is ``"Elements Discarded"`` and
    ``status_meaning(0xA7F3)`` is ``"Refused: Out of Resources"``.

    Raises
    ------
    UnknownStatusError
        `service` may not return `code`.

    References
    ----------
    PS3.7 Annex C; PS3.4 Table B.2-1.
    """
    return status_info(code, service).meaning


def status_category(code: int) -> Category:
    """The status class of `code`, whatever the service.

    Codes of Annex C and Table B.2-1 take their table's category; other
    service-specific codes take the category of their range (0xAxxx and
    0xCxxx Failure, 0xBxxx Warning, 0xFF00/0xFF01 Pending), as PS3.4 assigns
    them.

    Raises
    ------
    UnknownStatusError
        `code` is in no table and no range (e.g. 0x1234): the standard gives it
        no category, and guessing one could report a failure as a success.
    ValueError
        `code` is not a US value.

    References
    ----------
    PS3.7 Annex C; PS3.4 Table B.2-1 and the service-class status tables.
    """
    _check_code(code)
    for row in _ROWS:
        if code in row:
            return row.category
    for low, high, category in _RANGES:
        if low <= code <= high:
            return category
    raise UnknownStatusError(f"status 0x{code:04X} has no category in PS3.7 Annex C or PS3.4")


def statuses_of(service: str) -> tuple[StatusInfo, ...]:
    """Every row `service` may return, service-specific rows first.

    References
    ----------
    PS3.7 Sections 9.1.1.1.9, 9.1.5.1.4, 10.1.1.1.8, 10.1.4.1.10; PS3.4 Table B.2-1.
    """
    _check_service(service)
    return tuple(row for row in _ROWS if service in row.services)


def commitment_failure_reason(code: int) -> str:
    """The meaning of a Storage Commitment Failure Reason (0008,1197) value.

    Raises
    ------
    UnknownStatusError
        `code` is not one of the values PS3.3 C.14.1.1 defines.

    References
    ----------
    PS3.3 Section C.14.1.1; PS3.4 Section J.3.3.
    """
    _check_code(code)
    try:
        return COMMITMENT_FAILURE_REASONS[code]
    except KeyError:
        raise UnknownStatusError(
            f"0x{code:04X} is not a Failure Reason of PS3.3 C.14.1.1"
        ) from None
