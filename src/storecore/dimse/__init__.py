"""DIMSE (PS3.7): command sets and status tables, sans-IO.

:mod:`storecore.dimse.messages` encodes and strictly decodes the command sets
of C-ECHO, C-STORE, N-EVENT-REPORT and N-ACTION; :mod:`storecore.dimse.status`
holds the status tables of PS3.7 Annex C and PS3.4 B.2.3; :mod:`storecore.dimse.pdv`
reassembles and fragments messages into PDVs. Nothing here touches
sockets, threads, event loops or clocks.

References
----------
PS3.7 Sections 6.3, 9, 10, Annexes C and E; PS3.4 Sections B.2.3 and J.3.
"""

from storecore.dimse.messages import (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    DATA_SET_PRESENT,
    IMPLICIT_VR_LITTLE_ENDIAN,
    MESSAGE_TYPES,
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_EVENT_REPORT_RQ,
    N_EVENT_REPORT_RSP,
    NO_DATA_SET,
    VERIFICATION_SOP_CLASS,
    CommandField,
    CommandSetError,
    Message,
    Priority,
    decode_command,
    encode_c_store_rsp,
    encode_command,
    has_dataset,
)
from storecore.dimse.pdv import PDVAssembler, fragment
from storecore.dimse.status import (
    Category,
    StatusInfo,
    UnknownStatusError,
    commitment_failure_reason,
    status_category,
    status_info,
    status_meaning,
    statuses_of,
)

__all__ = [
    "C_ECHO_RQ",
    "C_ECHO_RSP",
    "C_STORE_RQ",
    "C_STORE_RSP",
    "DATA_SET_PRESENT",
    "IMPLICIT_VR_LITTLE_ENDIAN",
    "MESSAGE_TYPES",
    "NO_DATA_SET",
    "N_ACTION_RQ",
    "N_ACTION_RSP",
    "N_EVENT_REPORT_RQ",
    "N_EVENT_REPORT_RSP",
    "VERIFICATION_SOP_CLASS",
    "Category",
    "CommandField",
    "CommandSetError",
    "Message",
    "PDVAssembler",
    "Priority",
    "StatusInfo",
    "UnknownStatusError",
    "commitment_failure_reason",
    "decode_command",
    "encode_c_store_rsp",
    "encode_command",
    "fragment",
    "has_dataset",
    "status_category",
    "status_info",
    "status_meaning",
    "statuses_of",
]
