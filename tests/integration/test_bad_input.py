"""Bad input over a real socket: each case with the outcome the SCP must produce."""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import pydicom
import pytest

from storecore._ext._pdu import PDUFramer
from storecore.dataset import read_file_meta
from storecore.dimse import C_STORE_RQ, decode_command, encode_command
from storecore.scp import StorageSCP
from storecore.ul import (
    A_ABORT,
    A_ASSOCIATE_AC,
    Policy,
    build_request,
    decode_pdu,
    encode_pdu,
)

from .conftest import leftovers

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"


class RawPeer:
    """A hand-driven requestor: sends exactly the bytes a test asks for."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=10)
        self.framer = PDUFramer(0)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> object | None:
        """The next PDU decoded, or None when the SCP closed the connection."""
        while True:
            got = self.framer.feed(b"")
            if got:
                pdu_type, body = got[0]
                return decode_pdu(pdu_type, body)
            data = self.sock.recv(65536)
            if not data:
                return None
            for pdu_type, body in self.framer.feed(data):
                return decode_pdu(pdu_type, body)

    def associate(
        self, contexts: list[tuple[str, tuple[str, ...]]] | None = None
    ) -> A_ASSOCIATE_AC:
        policy = Policy(ae_title="RAWPEER", max_pdu_length=16384)
        rq = build_request(policy, "STORECORE", contexts or [(CT, (EXPLICIT,))])
        self.send(encode_pdu(rq))
        ac = self.receive()
        assert isinstance(ac, A_ASSOCIATE_AC), ac
        return ac

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def peer(scp: StorageSCP) -> RawPeer:
    p = RawPeer(scp.address)
    yield p
    p.close()


def pdata(context_id: int, control: int, data: bytes) -> bytes:
    item = struct.pack(">IBB", len(data) + 2, context_id, control) + data
    return struct.pack(">BBI", 4, 0, len(item)) + item


def ct_dataset() -> tuple[bytes, str]:
    data = Path(pydicom.data.get_testdata_file("CT_small.dcm")).read_bytes()
    meta = read_file_meta(data)
    return data[meta.dataset_offset :], meta.media_storage_sop_instance_uid


def store_command(uid: str) -> bytes:
    return encode_command(
        C_STORE_RQ(MessageID=7, AffectedSOPClassUID=CT, AffectedSOPInstanceUID=uid)
    )


def assert_aborted(peer: RawPeer, source: int, reason: int) -> None:
    pdu = peer.receive()
    assert isinstance(pdu, A_ABORT), pdu
    assert (pdu.source, pdu.reason) == (source, reason)
    assert peer.receive() is None  # and the connection is closed


def test_unknown_pdu_type_aborts_with_reason_1(peer: RawPeer) -> None:
    peer.associate()
    peer.send(struct.pack(">BBI", 0x09, 0, 0))
    assert_aborted(peer, 2, 1)


def test_pdu_over_the_negotiated_maximum_aborts(peer: RawPeer, scp: StorageSCP) -> None:
    ac = peer.associate()
    limit = scp.policy.max_pdu_length
    assert ac.user_information.maximum_length == limit
    peer.send(struct.pack(">BBI", 4, 0, limit + 1))  # refused from the header alone
    assert_aborted(peer, 2, 6)


def test_pdv_on_a_context_that_was_not_accepted(peer: RawPeer) -> None:
    peer.associate()
    _dataset, uid = ct_dataset()
    peer.send(pdata(3, 3, store_command(uid)))
    pdu = peer.receive()
    assert isinstance(pdu, A_ABORT) and pdu.source == 2


def test_data_before_command(peer: RawPeer, store_dir: Path) -> None:
    peer.associate()
    peer.send(pdata(1, 2, b"\x08\x00\x16\x00UI\x02\x001\x00"))
    pdu = peer.receive()
    assert isinstance(pdu, A_ABORT) and pdu.source == 2
    assert not any(store_dir.iterdir())


def test_command_missing_required_elements_is_answered_with_c000(peer: RawPeer) -> None:
    peer.associate()
    # a C-STORE-RQ command set without its Affected SOP Instance UID (0000,1000)
    body = b"".join(
        struct.pack("<HHI", 0, e, len(v)) + v
        for e, v in [
            (0x0002, CT.encode() + b"\x00"),
            (0x0100, struct.pack("<H", 0x0001)),
            (0x0110, struct.pack("<H", 5)),
            (0x0700, struct.pack("<H", 0)),
            (0x0800, struct.pack("<H", 0x0101)),
        ]
    )
    command = struct.pack("<HHII", 0, 0, 4, len(body)) + body
    peer.send(pdata(1, 3, command))
    pdu = peer.receive()
    rsp = decode_command(b"".join(bytes(p.data) for p in pdu.pdvs))
    assert rsp.MessageIDBeingRespondedTo == 5
    assert rsp.Status == 0xC000


def test_no_acceptable_context(scp: StorageSCP) -> None:
    peer = RawPeer(scp.address)
    try:
        ac = peer.associate([("1.2.3.4.5.6", (EXPLICIT,))])  # not a storage SOP class
        (context,) = ac.presentation_contexts
        assert context.result == 3  # abstract syntax not supported (PS3.8 Table 9-18)
    finally:
        peer.close()


def test_peer_vanishing_mid_dataset_leaves_nothing(
    peer: RawPeer, store_dir: Path, scp: StorageSCP
) -> None:
    peer.associate()
    dataset, uid = ct_dataset()
    peer.send(pdata(1, 3, store_command(uid)))
    half = dataset[: len(dataset) // 2]
    for start in range(0, len(half), 4000):
        peer.send(pdata(1, 0, half[start : start + 4000]))  # never the last fragment
    time.sleep(0.2)  # the SCP has begun writing the instance
    peer.close()
    wait_idle(scp)
    assert not list(store_dir.glob("*.dcm"))
    assert leftovers(store_dir) == []


def wait_idle(scp: StorageSCP) -> None:
    for _ in range(100):
        if scp.server.active == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the SCP did not notice the peer had gone")


def test_truncated_pdu_then_close_stores_nothing(
    peer: RawPeer, store_dir: Path, scp: StorageSCP
) -> None:
    peer.associate()
    dataset, uid = ct_dataset()
    peer.send(pdata(1, 3, store_command(uid)))
    whole = pdata(1, 2, dataset)
    peer.send(whole[: len(whole) // 2])  # half a PDU, then the peer is gone
    peer.close()
    wait_idle(scp)
    assert not list(store_dir.glob("*.dcm"))
    assert leftovers(store_dir) == []
