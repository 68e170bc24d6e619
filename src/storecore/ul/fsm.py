"""The DICOM Upper Layer state machine, as PS3.8 writes it: Table 9-10 as data.

States ``Sta1``-``Sta13`` (Tables 9-1 to 9-5 list them with the events), events
``Evt1``-``Evt19``, and the actions of Tables 9-6 to 9-9: ``AE-1``-``AE-8``
(association establishment), ``DT-1``-``DT-2`` (data transfer), ``AR-1``-``AR-10``
(release) and ``AA-1``-``AA-8`` (abort). Each action is a pure function of a
:class:`Context` that returns the output instructions for the caller to carry
out and the next state its definition names; nothing here does IO or reads a
clock. ARTIM is a deadline: :class:`StartARTIM` carries ``now`` plus the
timeout when the caller supplied ``now``, and the transport checks it.

A state/event pair that Table 9-10 leaves empty raises
:class:`~storecore.errors.LocalProtocolError`; the caller aborts.

References
----------
PS3.8 Section 9.2, Tables 9-6 to 9-10.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeAlias

from storecore.errors import LocalProtocolError
from storecore.ul.pdu import (
    A_ABORT,
    A_ASSOCIATE_RJ,
    A_RELEASE_RP,
    A_RELEASE_RQ,
    PDU,
    AbortReason,
    AbortSource,
)

__all__ = [
    "State",
    "Event",
    "Primitive",
    "SendPDU",
    "Indicate",
    "StartARTIM",
    "StopARTIM",
    "CloseTransport",
    "ConnectTransport",
    "AcceptTransport",
    "Output",
    "Context",
    "Action",
    "ACTIONS",
    "TRANSITION_TABLE",
    "next_states",
    "StateMachine",
    "AE_1",
    "AE_2",
    "AE_3",
    "AE_4",
    "AE_5",
    "AE_6",
    "AE_7",
    "AE_8",
    "DT_1",
    "DT_2",
    "AR_1",
    "AR_2",
    "AR_3",
    "AR_4",
    "AR_5",
    "AR_6",
    "AR_7",
    "AR_8",
    "AR_9",
    "AR_10",
    "AA_1",
    "AA_2",
    "AA_3",
    "AA_4",
    "AA_5",
    "AA_6",
    "AA_7",
    "AA_8",
]


class State(Enum):
    """The states of the DICOM UL protocol machine; each value is its description.

    References
    ----------
    PS3.8 Section 9.2, Tables 9-1 to 9-5 and the columns of Table 9-10.
    """

    Sta1 = "Idle"
    Sta2 = "Transport connection open (Awaiting A-ASSOCIATE-RQ PDU)"
    Sta3 = "Awaiting local A-ASSOCIATE response primitive (from local user)"
    Sta4 = "Awaiting transport connection opening to complete (from local transport service)"
    Sta5 = "Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU"
    Sta6 = "Association established and ready for data transfer"
    Sta7 = "Awaiting A-RELEASE-RP PDU"
    Sta8 = "Awaiting local A-RELEASE response primitive (from local user)"
    Sta9 = "Release collision requestor side; awaiting A-RELEASE response (from local user)"
    Sta10 = "Release collision acceptor side; awaiting A-RELEASE-RP PDU"
    Sta11 = "Release collision requestor side; awaiting A-RELEASE-RP PDU"
    Sta12 = (
        "Release collision acceptor side; awaiting A-RELEASE response primitive (from local user)"
    )
    Sta13 = "Awaiting Transport Connection Close Indication (Association no longer exists)"


class Event(Enum):
    """The events of the DICOM UL protocol machine; each value is its description.

    References
    ----------
    PS3.8 Section 9.2, the rows of Table 9-10.
    """

    Evt1 = "A-ASSOCIATE Request (local user)"
    Evt2 = "Transport Connect Confirmation (local transport service)"
    Evt3 = "A-ASSOCIATE-AC PDU (received on transport connection)"
    Evt4 = "A-ASSOCIATE-RJ PDU (received on transport connection)"
    Evt5 = "Transport Connection Indication (local transport service)"
    Evt6 = "A-ASSOCIATE-RQ PDU (received on transport connection)"
    Evt7 = "A-ASSOCIATE response primitive (accept)"
    Evt8 = "A-ASSOCIATE response primitive (reject)"
    Evt9 = "P-DATA request primitive"
    Evt10 = "P-DATA-TF PDU"
    Evt11 = "A-RELEASE Request primitive"
    Evt12 = "A-RELEASE-RQ PDU (received on transport connection)"
    Evt13 = "A-RELEASE-RP PDU (received on transport connection)"
    Evt14 = "A-RELEASE Response primitive"
    Evt15 = "A-ABORT Request primitive"
    Evt16 = "A-ABORT PDU (received on transport connection)"
    Evt17 = "Transport connection closed indication (local transport service)"
    Evt18 = "ARTIM timer expired (Association reject/release timer)"
    Evt19 = "Unrecognized or invalid PDU received"


class Primitive(Enum):
    """The service primitives the machine issues to its user.

    References
    ----------
    PS3.8 Section 7 (the Upper Layer services).
    """

    A_ASSOCIATE_INDICATION = "A-ASSOCIATE indication"
    A_ASSOCIATE_CONFIRMATION_ACCEPT = "A-ASSOCIATE confirmation (accept)"
    A_ASSOCIATE_CONFIRMATION_REJECT = "A-ASSOCIATE confirmation (reject)"
    P_DATA_INDICATION = "P-DATA indication"
    A_RELEASE_INDICATION = "A-RELEASE indication"
    A_RELEASE_CONFIRMATION = "A-RELEASE confirmation"
    A_ABORT_INDICATION = "A-ABORT indication"
    A_P_ABORT_INDICATION = "A-P-ABORT indication"


# --------------------------------------------------------------------------
# Output instructions


@dataclass(frozen=True, slots=True)
class SendPDU:
    """Encode ``pdu`` and write it to the transport connection.

    References
    ----------
    PS3.8 Tables 9-6 to 9-9 (the actions that send a PDU).
    """

    pdu: PDU


@dataclass(frozen=True, slots=True)
class Indicate:
    """Issue ``primitive`` to the local user; ``pdu`` is the PDU it carries, if any.

    For an A-P-ABORT indication issued by AA-8, ``pdu`` is the A-ABORT sent.

    References
    ----------
    PS3.8 Section 7 (the primitives) and Tables 9-6 to 9-9.
    """

    primitive: Primitive
    pdu: PDU | None = None


@dataclass(frozen=True, slots=True)
class StartARTIM:
    """Start (or restart) the ARTIM timer; ``deadline`` is None when no ``now`` was given.

    References
    ----------
    PS3.8 Section 9.1.5 (ARTIM timer).
    """

    deadline: float | None


@dataclass(frozen=True, slots=True)
class StopARTIM:
    """Stop the ARTIM timer if it is running.

    References
    ----------
    PS3.8 Section 9.1.5 (ARTIM timer).
    """


@dataclass(frozen=True, slots=True)
class CloseTransport:
    """Close the transport connection.

    References
    ----------
    PS3.8 Section 9.1 (transport connection).
    """


@dataclass(frozen=True, slots=True)
class ConnectTransport:
    """Issue a TRANSPORT CONNECT request (AE-1): open the connection to the peer.

    References
    ----------
    PS3.8 Table 9-6, AE-1.
    """


@dataclass(frozen=True, slots=True)
class AcceptTransport:
    """Issue the Transport connection response primitive (AE-5): the connection is accepted.

    References
    ----------
    PS3.8 Table 9-6, AE-5.
    """


Output: TypeAlias = (
    SendPDU
    | Indicate
    | StartARTIM
    | StopARTIM
    | CloseTransport
    | ConnectTransport
    | AcceptTransport
)


@dataclass(frozen=True, slots=True)
class Context:
    """What an action may read: the event's PDU and the facts its branches depend on.

    Attributes
    ----------
    requestor : bool
        This end is the association-requestor (AR-8 branches on it).
    pdu : PDU or None
        The PDU received (Evt3, 4, 6, 10, 12, 13, 16) or to send (Evt1, 7, 8, 9).
    now : float or None
        The caller's clock reading, for the ARTIM deadline.
    artim_timeout : float
        Seconds the ARTIM timer runs.
    abort_reason : int
        The A-ABORT reason AA-7 and AA-8 send with the service-provider source:
        2 (unexpected PDU) by default, the decoder's reason for Evt19.
    rejection : A_ASSOCIATE_RJ or None
        AE-6: the provider's rejection when the A-ASSOCIATE-RQ is not
        acceptable to it; None when it is.

    References
    ----------
    PS3.8 Tables 9-6 to 9-9 (what each action reads).
    """

    requestor: bool
    pdu: PDU | None = None
    now: float | None = None
    artim_timeout: float = 30.0
    abort_reason: int = AbortReason.UNEXPECTED_PDU
    rejection: A_ASSOCIATE_RJ | None = None

    def artim(self) -> StartARTIM:
        """Start ARTIM with the deadline ``now + artim_timeout`` (None without ``now``)."""
        return StartARTIM(None if self.now is None else self.now + self.artim_timeout)

    def the_pdu(self) -> PDU:
        """The event's PDU; its absence is the caller's error."""
        if self.pdu is None:
            raise LocalProtocolError("this action needs the PDU of its event")
        return self.pdu


Action: TypeAlias = Callable[[Context], tuple[list[Output], State]]


# --------------------------------------------------------------------------
# Association establishment related actions (PS3.8 Table 9-6)


def AE_1(ctx: Context) -> tuple[list[Output], State]:
    """AE-1: issue TRANSPORT CONNECT request primitive to local transport service; Sta4.

    References
    ----------
    PS3.8 Table 9-6.
    """
    return [ConnectTransport()], State.Sta4


def AE_2(ctx: Context) -> tuple[list[Output], State]:
    """AE-2: send A-ASSOCIATE-RQ-PDU; Sta5.

    References
    ----------
    PS3.8 Table 9-6.
    """
    return [SendPDU(ctx.the_pdu())], State.Sta5


def AE_3(ctx: Context) -> tuple[list[Output], State]:
    """AE-3: issue A-ASSOCIATE confirmation (accept) primitive; Sta6.

    References
    ----------
    PS3.8 Table 9-6.
    """
    return [Indicate(Primitive.A_ASSOCIATE_CONFIRMATION_ACCEPT, ctx.the_pdu())], State.Sta6


def AE_4(ctx: Context) -> tuple[list[Output], State]:
    """AE-4: issue A-ASSOCIATE confirmation (reject) primitive and close transport; Sta1.

    References
    ----------
    PS3.8 Table 9-6.
    """
    return [
        Indicate(Primitive.A_ASSOCIATE_CONFIRMATION_REJECT, ctx.the_pdu()),
        CloseTransport(),
    ], State.Sta1


def AE_5(ctx: Context) -> tuple[list[Output], State]:
    """AE-5: issue Transport connection response primitive; start ARTIM timer; Sta2.

    References
    ----------
    PS3.8 Table 9-6.
    """
    return [AcceptTransport(), ctx.artim()], State.Sta2


def AE_6(ctx: Context) -> tuple[list[Output], State]:
    """AE-6: stop ARTIM; indicate the A-ASSOCIATE-RQ (Sta3) or, if the provider does not
    accept it, send A-ASSOCIATE-RJ and start ARTIM (Sta13).

    References
    ----------
    PS3.8 Table 9-6.
    """
    if ctx.rejection is None:
        return [StopARTIM(), Indicate(Primitive.A_ASSOCIATE_INDICATION, ctx.the_pdu())], State.Sta3
    return [StopARTIM(), SendPDU(ctx.rejection), ctx.artim()], State.Sta13


def AE_7(ctx: Context) -> tuple[list[Output], State]:
    """AE-7: send A-ASSOCIATE-AC PDU; Sta6.

    References
    ----------
    PS3.8 Table 9-6.
    """
    return [SendPDU(ctx.the_pdu())], State.Sta6


def AE_8(ctx: Context) -> tuple[list[Output], State]:
    """AE-8: send A-ASSOCIATE-RJ PDU and start ARTIM timer; Sta13.

    References
    ----------
    PS3.8 Table 9-6.
    """
    return [SendPDU(ctx.the_pdu()), ctx.artim()], State.Sta13


# --------------------------------------------------------------------------
# Data transfer related actions (PS3.8 Table 9-7)


def DT_1(ctx: Context) -> tuple[list[Output], State]:
    """DT-1: send P-DATA-TF PDU; Sta6.

    References
    ----------
    PS3.8 Table 9-7.
    """
    return [SendPDU(ctx.the_pdu())], State.Sta6


def DT_2(ctx: Context) -> tuple[list[Output], State]:
    """DT-2: send P-DATA indication primitive; Sta6.

    References
    ----------
    PS3.8 Table 9-7.
    """
    return [Indicate(Primitive.P_DATA_INDICATION, ctx.the_pdu())], State.Sta6


# --------------------------------------------------------------------------
# Association release related actions (PS3.8 Table 9-8)


def AR_1(ctx: Context) -> tuple[list[Output], State]:
    """AR-1: send A-RELEASE-RQ PDU; Sta7.

    References
    ----------
    PS3.8 Table 9-8.
    """
    return [SendPDU(A_RELEASE_RQ())], State.Sta7


def AR_2(ctx: Context) -> tuple[list[Output], State]:
    """AR-2: issue A-RELEASE indication primitive; Sta8.

    References
    ----------
    PS3.8 Table 9-8.
    """
    return [Indicate(Primitive.A_RELEASE_INDICATION)], State.Sta8


def AR_3(ctx: Context) -> tuple[list[Output], State]:
    """AR-3: issue A-RELEASE confirmation primitive, and close transport connection; Sta1.

    References
    ----------
    PS3.8 Table 9-8.
    """
    return [Indicate(Primitive.A_RELEASE_CONFIRMATION), CloseTransport()], State.Sta1


def AR_4(ctx: Context) -> tuple[list[Output], State]:
    """AR-4: issue A-RELEASE-RP PDU and start ARTIM timer; Sta13.

    References
    ----------
    PS3.8 Table 9-8.
    """
    return [SendPDU(A_RELEASE_RP()), ctx.artim()], State.Sta13


def AR_5(ctx: Context) -> tuple[list[Output], State]:
    """AR-5: stop ARTIM timer; Sta1.

    References
    ----------
    PS3.8 Table 9-8.
    """
    return [StopARTIM()], State.Sta1


def AR_6(ctx: Context) -> tuple[list[Output], State]:
    """AR-6: issue P-DATA indication; Sta7.

    References
    ----------
    PS3.8 Table 9-8.
    """
    return [Indicate(Primitive.P_DATA_INDICATION, ctx.the_pdu())], State.Sta7


def AR_7(ctx: Context) -> tuple[list[Output], State]:
    """AR-7: issue P-DATA-TF PDU; Sta8.

    References
    ----------
    PS3.8 Table 9-8.
    """
    return [SendPDU(ctx.the_pdu())], State.Sta8


def AR_8(ctx: Context) -> tuple[list[Output], State]:
    """AR-8: issue A-RELEASE indication (release collision); Sta9 for the
    association-requestor, Sta10 otherwise.

    References
    ----------
    PS3.8 Table 9-8.
    """
    return [Indicate(Primitive.A_RELEASE_INDICATION)], State.Sta9 if ctx.requestor else State.Sta10


def AR_9(ctx: Context) -> tuple[list[Output], State]:
    """AR-9: send A-RELEASE-RP PDU; Sta11.

    References
    ----------
    PS3.8 Table 9-8.
    """
    return [SendPDU(A_RELEASE_RP())], State.Sta11


def AR_10(ctx: Context) -> tuple[list[Output], State]:
    """AR-10: issue A-RELEASE confirmation primitive; Sta12.

    References
    ----------
    PS3.8 Table 9-8.
    """
    return [Indicate(Primitive.A_RELEASE_CONFIRMATION)], State.Sta12


# --------------------------------------------------------------------------
# Association abort related actions (PS3.8 Table 9-9)


def AA_1(ctx: Context) -> tuple[list[Output], State]:
    """AA-1: send A-ABORT PDU (service-user source) and start (or restart) ARTIM; Sta13.

    References
    ----------
    PS3.8 Table 9-9.
    """
    return [SendPDU(A_ABORT(AbortSource.SERVICE_USER, 0)), ctx.artim()], State.Sta13


def AA_2(ctx: Context) -> tuple[list[Output], State]:
    """AA-2: stop ARTIM timer if running; close transport connection; Sta1.

    References
    ----------
    PS3.8 Table 9-9.
    """
    return [StopARTIM(), CloseTransport()], State.Sta1


def AA_3(ctx: Context) -> tuple[list[Output], State]:
    """AA-3: issue A-ABORT (service-user initiated) or A-P-ABORT (service-provider
    initiated) indication and close transport connection; Sta1.

    References
    ----------
    PS3.8 Table 9-9.
    """
    pdu = ctx.the_pdu()
    user = isinstance(pdu, A_ABORT) and pdu.source == AbortSource.SERVICE_USER
    primitive = Primitive.A_ABORT_INDICATION if user else Primitive.A_P_ABORT_INDICATION
    return [Indicate(primitive, pdu), CloseTransport()], State.Sta1


def AA_4(ctx: Context) -> tuple[list[Output], State]:
    """AA-4: issue A-P-ABORT indication primitive; Sta1.

    References
    ----------
    PS3.8 Table 9-9.
    """
    return [Indicate(Primitive.A_P_ABORT_INDICATION)], State.Sta1


def AA_5(ctx: Context) -> tuple[list[Output], State]:
    """AA-5: stop ARTIM timer; Sta1.

    References
    ----------
    PS3.8 Table 9-9.
    """
    return [StopARTIM()], State.Sta1


def AA_6(ctx: Context) -> tuple[list[Output], State]:
    """AA-6: ignore PDU; Sta13.

    References
    ----------
    PS3.8 Table 9-9.
    """
    return [], State.Sta13


def AA_7(ctx: Context) -> tuple[list[Output], State]:
    """AA-7: send A-ABORT PDU; Sta13.

    References
    ----------
    PS3.8 Table 9-9.
    """
    return [SendPDU(A_ABORT(AbortSource.SERVICE_PROVIDER, ctx.abort_reason))], State.Sta13


def AA_8(ctx: Context) -> tuple[list[Output], State]:
    """AA-8: send A-ABORT PDU (service-provider source), issue an A-P-ABORT indication,
    and start ARTIM timer; Sta13.

    References
    ----------
    PS3.8 Table 9-9.
    """
    abort = A_ABORT(AbortSource.SERVICE_PROVIDER, ctx.abort_reason)
    return [
        SendPDU(abort),
        Indicate(Primitive.A_P_ABORT_INDICATION, abort),
        ctx.artim(),
    ], State.Sta13


ACTIONS: Final[dict[str, Action]] = {
    "AE-1": AE_1,
    "AE-2": AE_2,
    "AE-3": AE_3,
    "AE-4": AE_4,
    "AE-5": AE_5,
    "AE-6": AE_6,
    "AE-7": AE_7,
    "AE-8": AE_8,
    "DT-1": DT_1,
    "DT-2": DT_2,
    "AR-1": AR_1,
    "AR-2": AR_2,
    "AR-3": AR_3,
    "AR-4": AR_4,
    "AR-5": AR_5,
    "AR-6": AR_6,
    "AR-7": AR_7,
    "AR-8": AR_8,
    "AR-9": AR_9,
    "AR-10": AR_10,
    "AA-1": AA_1,
    "AA-2": AA_2,
    "AA-3": AA_3,
    "AA-4": AA_4,
    "AA-5": AA_5,
    "AA-6": AA_6,
    "AA-7": AA_7,
    "AA-8": AA_8,
}
"""The actions of PS3.8 Tables 9-6 to 9-9, by their names."""


# --------------------------------------------------------------------------
# Table 9-10, cell by cell: (state, event) -> (action, next state). Two cells branch
# in their action's definition; their next state is the pair (if the condition holds,
# otherwise): AE-6 on "A-ASSOCIATE-RQ acceptable by service-provider" and AR-8 on
# "association-requestor".

S = State
E = Event

TRANSITION_TABLE: Final[dict[tuple[State, Event], tuple[str, State | tuple[State, State]]]] = {
    # Evt1: A-ASSOCIATE Request (local user)
    (S.Sta1, E.Evt1): ("AE-1", S.Sta4),
    # Evt2: Transport Connect Confirmation (local transport service)
    (S.Sta4, E.Evt2): ("AE-2", S.Sta5),
    # Evt3: A-ASSOCIATE-AC PDU (received on transport connection)
    (S.Sta2, E.Evt3): ("AA-1", S.Sta13),
    (S.Sta3, E.Evt3): ("AA-8", S.Sta13),
    (S.Sta5, E.Evt3): ("AE-3", S.Sta6),
    (S.Sta6, E.Evt3): ("AA-8", S.Sta13),
    (S.Sta7, E.Evt3): ("AA-8", S.Sta13),
    (S.Sta8, E.Evt3): ("AA-8", S.Sta13),
    (S.Sta9, E.Evt3): ("AA-8", S.Sta13),
    (S.Sta10, E.Evt3): ("AA-8", S.Sta13),
    (S.Sta11, E.Evt3): ("AA-8", S.Sta13),
    (S.Sta12, E.Evt3): ("AA-8", S.Sta13),
    (S.Sta13, E.Evt3): ("AA-6", S.Sta13),
    # Evt4: A-ASSOCIATE-RJ PDU (received on transport connection)
    (S.Sta2, E.Evt4): ("AA-1", S.Sta13),
    (S.Sta3, E.Evt4): ("AA-8", S.Sta13),
    (S.Sta5, E.Evt4): ("AE-4", S.Sta1),
    (S.Sta6, E.Evt4): ("AA-8", S.Sta13),
    (S.Sta7, E.Evt4): ("AA-8", S.Sta13),
    (S.Sta8, E.Evt4): ("AA-8", S.Sta13),
    (S.Sta9, E.Evt4): ("AA-8", S.Sta13),
    (S.Sta10, E.Evt4): ("AA-8", S.Sta13),
    (S.Sta11, E.Evt4): ("AA-8", S.Sta13),
    (S.Sta12, E.Evt4): ("AA-8", S.Sta13),
    (S.Sta13, E.Evt4): ("AA-6", S.Sta13),
    # Evt5: Transport Connection Indication (local transport service)
    (S.Sta1, E.Evt5): ("AE-5", S.Sta2),
    # Evt6: A-ASSOCIATE-RQ PDU (received on transport connection)
    (S.Sta2, E.Evt6): ("AE-6", (S.Sta3, S.Sta13)),
    (S.Sta3, E.Evt6): ("AA-8", S.Sta13),
    (S.Sta5, E.Evt6): ("AA-8", S.Sta13),
    (S.Sta6, E.Evt6): ("AA-8", S.Sta13),
    (S.Sta7, E.Evt6): ("AA-8", S.Sta13),
    (S.Sta8, E.Evt6): ("AA-8", S.Sta13),
    (S.Sta9, E.Evt6): ("AA-8", S.Sta13),
    (S.Sta10, E.Evt6): ("AA-8", S.Sta13),
    (S.Sta11, E.Evt6): ("AA-8", S.Sta13),
    (S.Sta12, E.Evt6): ("AA-8", S.Sta13),
    (S.Sta13, E.Evt6): ("AA-7", S.Sta13),
    # Evt7: A-ASSOCIATE response primitive (accept)
    (S.Sta3, E.Evt7): ("AE-7", S.Sta6),
    # Evt8: A-ASSOCIATE response primitive (reject)
    (S.Sta3, E.Evt8): ("AE-8", S.Sta13),
    # Evt9: P-DATA request primitive
    (S.Sta6, E.Evt9): ("DT-1", S.Sta6),
    (S.Sta8, E.Evt9): ("AR-7", S.Sta8),
    # Evt10: P-DATA-TF PDU
    (S.Sta2, E.Evt10): ("AA-1", S.Sta13),
    (S.Sta3, E.Evt10): ("AA-8", S.Sta13),
    (S.Sta5, E.Evt10): ("AA-8", S.Sta13),
    (S.Sta6, E.Evt10): ("DT-2", S.Sta6),
    (S.Sta7, E.Evt10): ("AR-6", S.Sta7),
    (S.Sta8, E.Evt10): ("AA-8", S.Sta13),
    (S.Sta9, E.Evt10): ("AA-8", S.Sta13),
    (S.Sta10, E.Evt10): ("AA-8", S.Sta13),
    (S.Sta11, E.Evt10): ("AA-8", S.Sta13),
    (S.Sta12, E.Evt10): ("AA-8", S.Sta13),
    (S.Sta13, E.Evt10): ("AA-6", S.Sta13),
    # Evt11: A-RELEASE Request primitive
    (S.Sta6, E.Evt11): ("AR-1", S.Sta7),
    # Evt12: A-RELEASE-RQ PDU (received on open transport connection)
    (S.Sta2, E.Evt12): ("AA-1", S.Sta13),
    (S.Sta3, E.Evt12): ("AA-8", S.Sta13),
    (S.Sta5, E.Evt12): ("AA-8", S.Sta13),
    (S.Sta6, E.Evt12): ("AR-2", S.Sta8),
    (S.Sta7, E.Evt12): ("AR-8", (S.Sta9, S.Sta10)),
    (S.Sta8, E.Evt12): ("AA-8", S.Sta13),
    (S.Sta9, E.Evt12): ("AA-8", S.Sta13),
    (S.Sta10, E.Evt12): ("AA-8", S.Sta13),
    (S.Sta11, E.Evt12): ("AA-8", S.Sta13),
    (S.Sta12, E.Evt12): ("AA-8", S.Sta13),
    (S.Sta13, E.Evt12): ("AA-6", S.Sta13),
    # Evt13: A-RELEASE-RP PDU (received on transport connection)
    (S.Sta2, E.Evt13): ("AA-1", S.Sta13),
    (S.Sta3, E.Evt13): ("AA-8", S.Sta13),
    (S.Sta5, E.Evt13): ("AA-8", S.Sta13),
    (S.Sta6, E.Evt13): ("AA-8", S.Sta13),
    (S.Sta7, E.Evt13): ("AR-3", S.Sta1),
    (S.Sta8, E.Evt13): ("AA-8", S.Sta13),
    (S.Sta9, E.Evt13): ("AA-8", S.Sta13),
    (S.Sta10, E.Evt13): ("AR-10", S.Sta12),
    (S.Sta11, E.Evt13): ("AR-3", S.Sta1),
    (S.Sta12, E.Evt13): ("AA-8", S.Sta13),
    (S.Sta13, E.Evt13): ("AA-6", S.Sta13),
    # Evt14: A-RELEASE Response primitive
    (S.Sta8, E.Evt14): ("AR-4", S.Sta13),
    (S.Sta9, E.Evt14): ("AR-9", S.Sta11),
    (S.Sta12, E.Evt14): ("AR-4", S.Sta13),
    # Evt15: A-ABORT Request primitive
    (S.Sta3, E.Evt15): ("AA-1", S.Sta13),
    (S.Sta4, E.Evt15): ("AA-2", S.Sta1),
    (S.Sta5, E.Evt15): ("AA-1", S.Sta13),
    (S.Sta6, E.Evt15): ("AA-1", S.Sta13),
    (S.Sta7, E.Evt15): ("AA-1", S.Sta13),
    (S.Sta8, E.Evt15): ("AA-1", S.Sta13),
    (S.Sta9, E.Evt15): ("AA-1", S.Sta13),
    (S.Sta10, E.Evt15): ("AA-1", S.Sta13),
    (S.Sta11, E.Evt15): ("AA-1", S.Sta13),
    (S.Sta12, E.Evt15): ("AA-1", S.Sta13),
    # Evt16: A-ABORT PDU (received on open transport connection)
    (S.Sta2, E.Evt16): ("AA-2", S.Sta1),
    (S.Sta3, E.Evt16): ("AA-3", S.Sta1),
    (S.Sta5, E.Evt16): ("AA-3", S.Sta1),
    (S.Sta6, E.Evt16): ("AA-3", S.Sta1),
    (S.Sta7, E.Evt16): ("AA-3", S.Sta1),
    (S.Sta8, E.Evt16): ("AA-3", S.Sta1),
    (S.Sta9, E.Evt16): ("AA-3", S.Sta1),
    (S.Sta10, E.Evt16): ("AA-3", S.Sta1),
    (S.Sta11, E.Evt16): ("AA-3", S.Sta1),
    (S.Sta12, E.Evt16): ("AA-3", S.Sta1),
    (S.Sta13, E.Evt16): ("AA-2", S.Sta1),
    # Evt17: Transport connection closed indication (local transport service)
    (S.Sta2, E.Evt17): ("AA-5", S.Sta1),
    (S.Sta3, E.Evt17): ("AA-4", S.Sta1),
    (S.Sta4, E.Evt17): ("AA-4", S.Sta1),
    (S.Sta5, E.Evt17): ("AA-4", S.Sta1),
    (S.Sta6, E.Evt17): ("AA-4", S.Sta1),
    (S.Sta7, E.Evt17): ("AA-4", S.Sta1),
    (S.Sta8, E.Evt17): ("AA-4", S.Sta1),
    (S.Sta9, E.Evt17): ("AA-4", S.Sta1),
    (S.Sta10, E.Evt17): ("AA-4", S.Sta1),
    (S.Sta11, E.Evt17): ("AA-4", S.Sta1),
    (S.Sta12, E.Evt17): ("AA-4", S.Sta1),
    (S.Sta13, E.Evt17): ("AR-5", S.Sta1),
    # Evt18: ARTIM timer expired (Association reject/release timer)
    (S.Sta2, E.Evt18): ("AA-2", S.Sta1),
    (S.Sta13, E.Evt18): ("AA-2", S.Sta1),
    # Evt19: Unrecognized or invalid PDU received
    (S.Sta2, E.Evt19): ("AA-1", S.Sta13),
    (S.Sta3, E.Evt19): ("AA-8", S.Sta13),
    (S.Sta5, E.Evt19): ("AA-8", S.Sta13),
    (S.Sta6, E.Evt19): ("AA-8", S.Sta13),
    (S.Sta7, E.Evt19): ("AA-8", S.Sta13),
    (S.Sta8, E.Evt19): ("AA-8", S.Sta13),
    (S.Sta9, E.Evt19): ("AA-8", S.Sta13),
    (S.Sta10, E.Evt19): ("AA-8", S.Sta13),
    (S.Sta11, E.Evt19): ("AA-8", S.Sta13),
    (S.Sta12, E.Evt19): ("AA-8", S.Sta13),
    (S.Sta13, E.Evt19): ("AA-7", S.Sta13),
}
"""PS3.8 Table 9-10: every non-empty cell, as (action name, next state)."""

del S, E


def next_states(cell: tuple[str, State | tuple[State, State]]) -> tuple[State, ...]:
    """The states a Table 9-10 cell may lead to: one, or the two of a branching action.

    Parameters
    ----------
    cell : (str, State or (State, State))
        A value of :data:`TRANSITION_TABLE`.

    Returns
    -------
    tuple of State
        The possible next states.

    References
    ----------
    PS3.8 Table 9-10; Table 9-6 (AE-6) and Table 9-8 (AR-8) for the branches.
    """
    target = cell[1]
    return target if isinstance(target, tuple) else (target,)


class StateMachine:
    """The protocol machine of one association: its state and Table 9-10.

    Parameters
    ----------
    requestor : bool
        This end is the association-requestor (the release-collision branch).
    artim_timeout : float
        Seconds ARTIM runs once started.

    References
    ----------
    PS3.8 Section 9.2, Table 9-10.
    """

    __slots__ = ("artim_timeout", "last_action", "requestor", "state")

    def __init__(self, requestor: bool, artim_timeout: float = 30.0) -> None:
        self.requestor = requestor
        self.artim_timeout = artim_timeout
        self.state = State.Sta1
        self.last_action = ""

    def handle(
        self,
        event: Event,
        *,
        pdu: PDU | None = None,
        now: float | None = None,
        abort_reason: int = AbortReason.UNEXPECTED_PDU,
        rejection: A_ASSOCIATE_RJ | None = None,
    ) -> list[Output]:
        """Run the action of the cell (current state, ``event``) and move to its next state.

        Parameters
        ----------
        event : Event
            What happened.
        pdu, now, abort_reason, rejection
            As for :class:`Context`.

        Returns
        -------
        list of Output
            The instructions for the caller, in order.

        Raises
        ------
        LocalProtocolError
            Table 9-10 has no cell for the current state and ``event``; the
            state is unchanged.

        References
        ----------
        PS3.8 Table 9-10.
        """
        cell = TRANSITION_TABLE.get((self.state, event))
        if cell is None:
            raise LocalProtocolError(
                f"{event.name} ({event.value}) is not allowed in {self.state.name} "
                f"({self.state.value}): PS3.8 Table 9-10 has no cell for it"
            )
        name = cell[0]
        context = Context(self.requestor, pdu, now, self.artim_timeout, abort_reason, rejection)
        outputs, state = ACTIONS[name](context)
        if state not in next_states(cell):  # an action that disagrees with the table
            raise LocalProtocolError(f"{name} led to {state.name}, which Table 9-10 does not allow")
        self.state = state
        self.last_action = name
        return outputs
