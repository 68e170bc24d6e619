"""The state machine: every cell of PS3.8 Table 9-10, and every empty one."""

from __future__ import annotations

import itertools

import pytest

from storecore.errors import LocalProtocolError
from storecore.ul.fsm import (
    ACTIONS,
    TRANSITION_TABLE,
    AcceptTransport,
    CloseTransport,
    ConnectTransport,
    Event,
    Indicate,
    Output,
    Primitive,
    SendPDU,
    StartARTIM,
    State,
    StateMachine,
    StopARTIM,
    next_states,
)
from storecore.ul.pdu import (
    A_ABORT,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    A_RELEASE_RP,
    A_RELEASE_RQ,
    P_DATA_TF,
    PDU,
    PDV,
    PresentationContextAC,
    PresentationContextRQ,
)

RQ = A_ASSOCIATE_RQ("SCP", "SCU", (PresentationContextRQ(1, "1.2.3", ("1.2.840.10008.1.2",)),))
AC = A_ASSOCIATE_AC("SCP", "SCU", (PresentationContextAC(1, 0, "1.2.840.10008.1.2"),))
RJ = A_ASSOCIATE_RJ(1, 1, 7)
DATA = P_DATA_TF((PDV(1, 3, b"\x00\x00"),))
PEER_USER_ABORT = A_ABORT(0, 0)
PROVIDER_REJECTION = A_ASSOCIATE_RJ(1, 2, 2)

# The PDU each event carries: received (Evt3, 4, 6, 10, 12, 13, 16) or to send.
EVENT_PDU: dict[Event, PDU | None] = {
    Event.Evt1: RQ,
    Event.Evt2: RQ,
    Event.Evt3: AC,
    Event.Evt4: RJ,
    Event.Evt6: RQ,
    Event.Evt7: AC,
    Event.Evt8: RJ,
    Event.Evt9: DATA,
    Event.Evt10: DATA,
    Event.Evt12: A_RELEASE_RQ(),
    Event.Evt13: A_RELEASE_RP(),
    Event.Evt16: PEER_USER_ABORT,
}
NOW = 1000.0
TIMEOUT = 30.0
DEADLINE = StartARTIM(NOW + TIMEOUT)


def expected_outputs(action: str, pdu: PDU | None, *, rejected: bool = False) -> list[Output]:
    """The outputs of each action, written from PS3.8 Tables 9-6 to 9-9."""
    provider_abort = A_ABORT(2, 2)  # AA-7/AA-8 with the default reason, unexpected PDU
    table: dict[str, list[Output]] = {
        "AE-1": [ConnectTransport()],
        "AE-2": [SendPDU(RQ)],
        "AE-3": [Indicate(Primitive.A_ASSOCIATE_CONFIRMATION_ACCEPT, AC)],
        "AE-4": [Indicate(Primitive.A_ASSOCIATE_CONFIRMATION_REJECT, RJ), CloseTransport()],
        "AE-5": [AcceptTransport(), DEADLINE],
        "AE-6": (
            [StopARTIM(), SendPDU(PROVIDER_REJECTION), DEADLINE]
            if rejected
            else [StopARTIM(), Indicate(Primitive.A_ASSOCIATE_INDICATION, RQ)]
        ),
        "AE-7": [SendPDU(AC)],
        "AE-8": [SendPDU(RJ), DEADLINE],
        "DT-1": [SendPDU(DATA)],
        "DT-2": [Indicate(Primitive.P_DATA_INDICATION, DATA)],
        "AR-1": [SendPDU(A_RELEASE_RQ())],
        "AR-2": [Indicate(Primitive.A_RELEASE_INDICATION)],
        "AR-3": [Indicate(Primitive.A_RELEASE_CONFIRMATION), CloseTransport()],
        "AR-4": [SendPDU(A_RELEASE_RP()), DEADLINE],
        "AR-5": [StopARTIM()],
        "AR-6": [Indicate(Primitive.P_DATA_INDICATION, DATA)],
        "AR-7": [SendPDU(DATA)],
        "AR-8": [Indicate(Primitive.A_RELEASE_INDICATION)],
        "AR-9": [SendPDU(A_RELEASE_RP())],
        "AR-10": [Indicate(Primitive.A_RELEASE_CONFIRMATION)],
        "AA-1": [SendPDU(A_ABORT(0, 0)), DEADLINE],
        "AA-2": [StopARTIM(), CloseTransport()],
        "AA-3": [Indicate(Primitive.A_ABORT_INDICATION, pdu), CloseTransport()],
        "AA-4": [Indicate(Primitive.A_P_ABORT_INDICATION)],
        "AA-5": [StopARTIM()],
        "AA-6": [],
        "AA-7": [SendPDU(provider_abort)],
        "AA-8": [
            SendPDU(provider_abort),
            Indicate(Primitive.A_P_ABORT_INDICATION, provider_abort),
            DEADLINE,
        ],
    }
    return table[action]


# One case per cell, two for the cells whose action branches (AE-6, AR-8).
CASES = []
for (state, event), cell in TRANSITION_TABLE.items():
    if cell[0] == "AE-6":
        CASES += [(state, event, False, False), (state, event, False, True)]
    elif cell[0] == "AR-8":
        CASES += [(state, event, True, False), (state, event, False, False)]
    else:
        CASES.append((state, event, False, False))


@pytest.mark.parametrize(
    ("state", "event", "requestor", "rejected"),
    CASES,
    ids=[
        f"{s.name}-{e.name}" + ("-requestor" if r else "") + ("-rejected" if j else "")
        for s, e, r, j in CASES
    ],
)
def test_cell(state: State, event: Event, requestor: bool, rejected: bool) -> None:
    machine = StateMachine(requestor=requestor, artim_timeout=TIMEOUT)
    machine.state = state
    pdu = EVENT_PDU.get(event)
    outputs = machine.handle(
        event, pdu=pdu, now=NOW, rejection=PROVIDER_REJECTION if rejected else None
    )
    action, target = TRANSITION_TABLE[(state, event)]
    assert machine.last_action == action
    assert outputs == expected_outputs(action, pdu, rejected=rejected)
    if action == "AE-6":
        assert machine.state is (State.Sta13 if rejected else State.Sta3)
    elif action == "AR-8":
        assert machine.state is (State.Sta9 if requestor else State.Sta10)
    else:
        assert machine.state is target


EMPTY_CELLS = [
    (state, event)
    for state, event in itertools.product(State, Event)
    if (state, event) not in TRANSITION_TABLE
]


@pytest.mark.parametrize(
    ("state", "event"), EMPTY_CELLS, ids=[f"{s.name}-{e.name}" for s, e in EMPTY_CELLS]
)
def test_empty_cell_raises_and_keeps_the_state(state: State, event: Event) -> None:
    machine = StateMachine(requestor=True)
    machine.state = state
    with pytest.raises(LocalProtocolError, match="Table 9-10"):
        machine.handle(event, pdu=EVENT_PDU.get(event))
    assert machine.state is state


def test_table_matches_pynetdicom_transcription() -> None:
    # pynetdicom's fsm.TRANSITION_TABLE is a public transcription of the same table,
    # keyed (event, state) with the action name.
    from pynetdicom.fsm import TRANSITION_TABLE as THEIRS

    ours = {(e.name, s.name): cell[0] for (s, e), cell in TRANSITION_TABLE.items()}
    assert ours == dict(THEIRS)


def test_table_shape() -> None:
    assert len(State) == 13 and len(Event) == 19 and len(ACTIONS) == 28
    used = {cell[0] for cell in TRANSITION_TABLE.values()}
    assert used == set(ACTIONS)  # every action of Tables 9-6 to 9-9 is used, no other
    # No PDU can arrive without a transport connection: Sta1 and Sta4 take none.
    pdu_events = {Event.Evt3, Event.Evt4, Event.Evt6, Event.Evt10, Event.Evt12, Event.Evt13}
    for state in (State.Sta1, State.Sta4):
        assert not any((state, event) in TRANSITION_TABLE for event in pdu_events)
    # Every PDU event has a cell in every state with a connection (Sta2, Sta3, Sta5-13).
    connected = [s for s in State if s not in (State.Sta1, State.Sta4)]
    for state, event in itertools.product(connected, [*pdu_events, Event.Evt16, Event.Evt19]):
        assert (state, event) in TRANSITION_TABLE, (state, event)


def test_next_states_of_a_branching_cell() -> None:
    assert next_states(TRANSITION_TABLE[(State.Sta2, Event.Evt6)]) == (State.Sta3, State.Sta13)
    assert next_states(TRANSITION_TABLE[(State.Sta6, Event.Evt11)]) == (State.Sta7,)


def test_aa3_tells_user_from_provider_abort() -> None:
    machine = StateMachine(requestor=False)
    machine.state = State.Sta6
    provider = A_ABORT(2, 4)
    assert machine.handle(Event.Evt16, pdu=provider) == [
        Indicate(Primitive.A_P_ABORT_INDICATION, provider),
        CloseTransport(),
    ]


@pytest.mark.parametrize("state", [State.Sta6, State.Sta13])
def test_aa7_and_aa8_send_the_given_reason(state: State) -> None:
    machine = StateMachine(requestor=False)
    machine.state = state
    outputs = machine.handle(Event.Evt19, abort_reason=1)
    assert outputs[0] == SendPDU(A_ABORT(2, 1))


def test_artim_deadline_needs_now() -> None:
    machine = StateMachine(requestor=False, artim_timeout=5.0)
    assert machine.handle(Event.Evt5) == [AcceptTransport(), StartARTIM(None)]
    machine = StateMachine(requestor=False, artim_timeout=5.0)
    assert machine.handle(Event.Evt5, now=10.0) == [AcceptTransport(), StartARTIM(15.0)]


def test_action_without_its_pdu_raises() -> None:
    machine = StateMachine(requestor=True)
    machine.state = State.Sta4
    with pytest.raises(LocalProtocolError, match="needs the PDU"):
        machine.handle(Event.Evt2)
    assert machine.state is State.Sta4
