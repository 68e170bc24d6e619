"""The Asynchronous Operations Window (PS3.7 D.3.3.3): the SCU keeps C-STOREs outstanding.

storecore's SCU proposes a window (16 by default) and sends up to what the
acceptor grants without waiting for each response; storecore's SCP grants it
and answers in order. A peer that does not answer the proposal (dcmtk's
storescp) gets one C-STORE at a time. Responses are matched by Message ID
Being Responded To, in whatever order they come.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

import storecore.scu
from storecore.dimse import C_STORE_RQ, decode_command, encode_c_store_rsp
from storecore.net.channel import Channel, CommandReceived, DataReceived, Timeouts
from storecore.scp import StorageSCP
from storecore.scu import StorageSCU
from storecore.storage import DirectorySink
from storecore.ul import (
    AssociateAccept,
    AssociateRequest,
    Association,
    ConnectionClosed,
    Policy,
    ReleaseRequest,
    ReleaseResponse,
    negotiate,
)

from ..unit.storage.helpers import CT, write_instance
from .conftest import storescp


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    return [write_instance(tmp_path / "in", sop_instance_uid=generate_uid()) for _ in range(40)]


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The window each association of the SCU agreed (read off its session)."""
    agreed: list[int] = []
    original = StorageSCU._associate

    def associate(self: StorageSCU, *args: object, **kwargs: object) -> object:
        session = original(self, *args, **kwargs)  # type: ignore[arg-type]
        agreed.append(session.window)
        return session

    monkeypatch.setattr(storecore.scu.StorageSCU, "_associate", associate)
    return agreed


@pytest.mark.parametrize(("scp_window", "agreed"), [(16, 16), (4, 4), (1, 1)])
def test_storecore_at_both_ends_pipelines_up_to_the_granted_window(
    tmp_path: Path, files: list[Path], windows: list[int], scp_window: int, agreed: int
) -> None:
    out = tmp_path / "out"
    with StorageSCP(
        DirectorySink(out), host="127.0.0.1", port=0, async_operations=scp_window
    ) as scp:
        scp.start()
        outcomes = StorageSCU().send(files, *scp.address, "STORECORE")
    assert windows == [agreed]
    assert [o.path for o in outcomes] == files  # the files' order, whatever the responses'
    assert all(o.status == 0 for o in outcomes)
    assert sorted(p.name for p in out.glob("*.dcm")) == sorted(
        f"{o.sop_instance_uid}.dcm" for o in outcomes
    )


def test_the_proposal_is_made_from_async_operations_when_associating(
    tmp_path: Path,
    files: list[Path],
    windows: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # async_operations is a plain attribute: set after construction, it is what
    # the next association proposes (and keeps outstanding)
    proposed: list[object] = []
    original = storecore.scu.build_request

    def build_request(policy: Policy, *args: object, **kwargs: object) -> object:
        proposed.append(policy.asynchronous_operations_window)
        return original(policy, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(storecore.scu, "build_request", build_request)
    scu = StorageSCU()
    scu.async_operations = 4
    with StorageSCP(DirectorySink(tmp_path / "out"), host="127.0.0.1", port=0) as scp:
        scp.start()
        outcomes = scu.send(files[:8], *scp.address, "STORECORE")
    assert proposed == [(4, 1)]
    assert windows == [4]
    assert [o.status for o in outcomes] == [0] * 8


def test_a_peer_that_does_not_answer_the_proposal_gets_one_at_a_time(
    tmp_path: Path, files: list[Path], windows: list[int]
) -> None:
    with storescp(tmp_path / "out") as port:
        outcomes = StorageSCU().send(files[:5], "127.0.0.1", port, "STORESCP")
    assert windows == [1]
    assert [o.status for o in outcomes] == [0] * 5


@pytest.fixture
def reversing_scp() -> Iterator[tuple[str, int]]:
    """An acceptor granting a window of 3 that answers each group of 3 requests last first."""
    listener = socket.create_server(("127.0.0.1", 0))
    policy = Policy(
        ae_title="REVERSE",
        contexts={CT: (ExplicitVRLittleEndian,)},
        asynchronous_operations_window=(3, 1),
    )

    def serve() -> None:
        sock, _ = listener.accept()
        association = Association("acceptor", policy)
        channel = Channel(sock, association, Timeouts())
        channel.send_bytes(association.connection_made())
        waiting: list[tuple[int, C_STORE_RQ]] = []
        request: tuple[int, C_STORE_RQ] | None = None
        for event in channel.events():
            if isinstance(event, AssociateRequest):
                answer = negotiate(event.pdu, policy)
                channel.send_bytes(association.send(AssociateAccept(answer)))
            elif isinstance(event, CommandReceived):
                message = decode_command(event.command)
                assert isinstance(message, C_STORE_RQ)
                request = (event.context_id, message)
            elif isinstance(event, DataReceived) and event.last and request is not None:
                waiting.append(request)
                if len(waiting) == 3:
                    for context_id, rq in reversed(waiting):
                        status = 0xB000 if rq.MessageID == 2 else 0
                        channel.send_command(context_id, encode_c_store_rsp(rq, status))
                    waiting.clear()
            elif isinstance(event, ReleaseRequest):
                channel.send_bytes(association.send(ReleaseResponse()))
            elif isinstance(event, ConnectionClosed):
                break
        channel.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()
    thread.join(10)
    listener.close()


def test_responses_out_of_order_are_matched_by_message_id(
    reversing_scp: tuple[str, int], files: list[Path], windows: list[int]
) -> None:
    outcomes = StorageSCU().send(files[:6], *reversing_scp, "REVERSE")
    assert windows == [3]
    assert [o.path for o in outcomes] == files[:6]
    # Message ID 2 (the second file) was answered with a warning, after the third
    assert [o.status for o in outcomes] == [0, 0xB000, 0, 0, 0, 0]


def test_the_association_ending_with_requests_outstanding(
    tmp_path: Path, files: list[Path]
) -> None:
    """Answered instances keep their outcome; those outstanding are not acknowledged;
    the rest are not sent."""
    listener = socket.create_server(("127.0.0.1", 0))
    policy = Policy(
        ae_title="QUITTER",
        contexts={CT: (ExplicitVRLittleEndian,)},
        asynchronous_operations_window=(4, 1),
    )

    def serve() -> None:  # answers the first request, takes three more, then vanishes
        sock, _ = listener.accept()
        association = Association("acceptor", policy)
        channel = Channel(sock, association, Timeouts())
        channel.send_bytes(association.connection_made())
        complete = 0
        request = None
        for event in channel.events():
            if isinstance(event, AssociateRequest):
                channel.send_bytes(
                    association.send(AssociateAccept(negotiate(event.pdu, policy)))
                )
            elif isinstance(event, CommandReceived):
                request = (event.context_id, decode_command(event.command))
            elif isinstance(event, DataReceived) and event.last and request is not None:
                complete += 1
                if complete == 1:
                    channel.send_command(request[0], encode_c_store_rsp(request[1], 0))
                if complete == 4:
                    break
        channel.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    outcomes = StorageSCU().send(files[:8], *listener.getsockname(), "QUITTER")
    thread.join(10)
    listener.close()
    assert outcomes[0].status == 0
    assert all(o.status is None for o in outcomes[1:])
    # the three the peer took and never answered, then whatever was in flight
    assert all((o.comment or "").startswith("not acknowledged") for o in outcomes[1:4])
    assert all(
        (o.comment or "").startswith(("not acknowledged", "not sent")) for o in outcomes[4:]
    )
    assert (outcomes[-1].comment or "") == "not sent: the association ended"
