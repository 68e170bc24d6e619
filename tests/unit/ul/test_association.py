"""The association object: an in-memory requestor and acceptor, fed whole and byte by byte."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storecore.errors import LocalProtocolError, RemoteProtocolError
from storecore.limits import Limits
from storecore.ul import (
    A_ABORT,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    A_RELEASE_RP,
    A_RELEASE_RQ,
    NEED_DATA,
    P_DATA_TF,
    PDU,
    PDV,
    Abort,
    AssociateAccept,
    AssociateReject,
    AssociateRequest,
    Association,
    ConnectionClosed,
    DataTransfer,
    MaximumLength,
    Policy,
    PresentationContextAC,
    PresentationContextRQ,
    ReleaseRequest,
    ReleaseResponse,
    State,
    UserInformation,
    build_request,
    decode_pdu,
    encode_pdu,
    negotiate,
)

from . import encoded_pdus as enc
from .helpers import CT_IMAGE_STORAGE, IMPLICIT, ConnectionPair, events, feed
from .strategies import a_abort, a_associate_ac, a_associate_rj, a_associate_rq, p_data_tf, pdus


def pdus_in(data: bytes) -> list[PDU]:
    """Decode a stream of whole PDUs."""
    found = []
    while data:
        pdu_type, length = struct.unpack_from(">BxI", data)
        found.append(decode_pdu(pdu_type, data[6 : 6 + length]))
        data = data[6 + length :]
    return found


@pytest.fixture(params=[False, True], ids=["whole", "byte-by-byte"])
def pair(request: pytest.FixtureRequest) -> ConnectionPair:
    return ConnectionPair(byte_by_byte=request.param)


# --------------------------------------------------------------------------
# End to end


def test_associate_transfer_release(pair: ConnectionPair) -> None:
    indication, confirmation = pair.associate()
    scu, scp = pair.scu, pair.scp
    assert scu.state is scp.state is State.Sta6
    assert (
        scu.contexts
        == scp.contexts
        == {1: ("1.2.840.10008.1.1", IMPLICIT), 3: (CT_IMAGE_STORAGE, IMPLICIT)}
    )
    assert scu.max_send_pdu_length == 16384 and scp.max_send_pdu_length == 16384
    assert scu.request == scp.request == indication.pdu
    assert scu.response == scp.response == confirmation.pdu

    command = PDV(1, 0x03, b"\x00\x00\x00\x00\x04\x00\x00\x00\x08\x00\x00\x00")
    fragments = (PDV(3, 0x00, b"a" * 1000), PDV(3, 0x02, b"b" * 999))
    assert pair.send(scu, DataTransfer((command,))) == [DataTransfer((command,))]
    assert pair.send(scu, DataTransfer(fragments)) == [DataTransfer(fragments)]
    assert pair.send(scp, DataTransfer((command,))) == [DataTransfer((command,))]

    assert pair.send(scu, ReleaseRequest()) == [ReleaseRequest(collision=False)]
    assert (scu.state, scp.state) == (State.Sta7, State.Sta8)
    # the acceptor may still send P-DATA after the release request (AR-7, then AR-6)
    assert pair.send(scp, DataTransfer((command,))) == [DataTransfer((command,))]
    assert pair.send(scp, ReleaseResponse()) == [ReleaseResponse(), ConnectionClosed()]
    assert scu.state is State.Sta1 and scu.close_requested
    assert scp.state is State.Sta13 and scp.artim_running and not scp.close_requested
    scp.receive_data(b"")  # the requestor closed the connection
    assert events(scp) == [ConnectionClosed()]
    assert scp.state is State.Sta1 and not scp.artim_running
    assert scp.next_event() == ConnectionClosed()  # and keeps saying so


def test_reject(pair: ConnectionPair) -> None:
    rq = build_request(pair.scu_policy, "SOMEONE", {CT_IMAGE_STORAGE: [IMPLICIT]})
    (indication,) = pair.send(pair.scu, AssociateRequest(rq))
    assert isinstance(indication, AssociateRequest)
    rj = negotiate(indication.pdu, pair.scp_policy)
    assert rj == A_ASSOCIATE_RJ(1, 1, 7)
    assert pair.send(pair.scp, AssociateReject(rj)) == [AssociateReject(rj), ConnectionClosed()]
    assert pair.scu.state is State.Sta1 and pair.scu.close_requested
    assert pair.scp.state is State.Sta13 and pair.scp.artim_running


def test_user_abort(pair: ConnectionPair) -> None:
    pair.associate()
    assert pair.send(pair.scu, Abort()) == [Abort(0, 0), ConnectionClosed()]
    assert pair.scp.state is State.Sta1 and pair.scp.close_requested
    assert pair.scu.state is State.Sta13 and pair.scu.artim_running
    pair.scu.receive_data(b"")
    assert events(pair.scu) == [ConnectionClosed()]
    assert pair.scu.state is State.Sta1


def test_connection_lost_under_an_association(pair: ConnectionPair) -> None:
    pair.associate()
    pair.scp.receive_data(b"")
    assert events(pair.scp) == [Abort(2, 0), ConnectionClosed()]  # AA-4: A-P-ABORT
    assert pair.scp.state is State.Sta1


def test_stream_ending_inside_a_pdu() -> None:
    pair = established()
    data = pair.scu.send(DataTransfer((PDV(1, 3, b"abcdef"),)))
    pair.scp.receive_data(data[:-2])  # a truncated P-DATA-TF, then the end of the stream
    assert events(pair.scp) == []
    pair.scp.receive_data(b"")
    assert events(pair.scp) == [Abort(2, 0), ConnectionClosed()]  # Evt17 in Sta6: AA-4
    assert pair.scp.state is State.Sta1


@pytest.mark.parametrize("byte_by_byte", [False, True])
def test_release_collision(byte_by_byte: bool) -> None:
    pair = ConnectionPair(byte_by_byte=byte_by_byte)
    pair.associate()
    scu, scp = pair.scu, pair.scp
    from_scu, from_scp = scu.send(ReleaseRequest()), scp.send(ReleaseRequest())
    assert scu.state is scp.state is State.Sta7
    assert pair.deliver(scp, from_scp) == [ReleaseRequest(collision=True)]
    assert pair.deliver(scu, from_scu) == [ReleaseRequest(collision=True)]
    assert (scu.state, scp.state) == (State.Sta9, State.Sta10)
    with pytest.raises(LocalProtocolError):  # the acceptor waits for the RP first
        scp.send(ReleaseResponse())
    assert pair.send(scu, ReleaseResponse()) == [ReleaseResponse()]  # AR-9, then AR-10
    assert (scu.state, scp.state) == (State.Sta11, State.Sta12)
    assert pair.send(scp, ReleaseResponse()) == [
        ReleaseResponse(),
        ConnectionClosed(),
    ]  # AR-4, AR-3
    assert (scu.state, scp.state) == (State.Sta1, State.Sta13)
    scp.receive_data(b"")
    assert events(scp) == [ConnectionClosed()] and scp.state is State.Sta1


def test_requestor_may_send_before_connecting() -> None:
    scu = Association("requestor", Policy(ae_title="SCU"))
    rq = build_request(scu.policy, "STORECORE", {CT_IMAGE_STORAGE: [IMPLICIT]})
    assert scu.send(AssociateRequest(rq)) == b""  # AE-1: connect first
    assert scu.connect_requested and scu.state is State.Sta4
    data = scu.connection_made()  # Evt2: AE-2 sends the request
    assert pdus_in(data) == [rq] and scu.state is State.Sta5


def test_connection_refused() -> None:
    scu = Association("requestor", Policy(ae_title="SCU"))
    scu.send(AssociateRequest(build_request(scu.policy, "X", {CT_IMAGE_STORAGE: [IMPLICIT]})))
    scu.receive_data(b"")  # the transport could not connect: Evt17 in Sta4 (AA-4)
    assert events(scu) == [Abort(2, 0), ConnectionClosed()]


# --------------------------------------------------------------------------
# Received bytes: framing, copies, limits


def test_received_pdvs_are_views_of_one_copy() -> None:
    pair = ConnectionPair()
    pair.associate()
    data = bytearray(pair.scu.send(DataTransfer((PDV(3, 0, b"x" * 64),))))
    pair.scp.receive_data(data)  # in one piece: the body is copied once, to bytes
    data[:] = bytes(len(data))  # the transport reuses its buffer
    (event,) = events(pair.scp)
    assert isinstance(event, DataTransfer)
    view = event.pdvs[0].data
    assert isinstance(view, memoryview) and bytes(view) == b"x" * 64
    assert isinstance(view.obj, bytes) and len(view.obj) == len(data) - 6

    data = bytearray(pair.scu.send(DataTransfer((PDV(3, 0, b"y" * 64),))))
    pair.scp.receive_data(data[:20])  # in pieces: copied once, into a bytearray of its own
    pair.scp.receive_data(data[20:])
    (event,) = events(pair.scp)
    assert isinstance(event, DataTransfer)
    view = event.pdvs[0].data
    assert isinstance(view, memoryview) and isinstance(view.obj, bytearray)
    assert bytes(view) == b"y" * 64 and len(view.obj) == len(data) - 6


def test_several_pdus_in_one_write_and_split_headers() -> None:
    pair = ConnectionPair()
    pair.associate()
    a = pair.scu.send(DataTransfer((PDV(1, 3, b"1234"),)))
    b = pair.scu.send(DataTransfer((PDV(3, 2, b"5678"),)))
    stream = a + b
    pair.scp.receive_data(stream[: len(a) + 3])  # the second header split
    assert events(pair.scp) == [DataTransfer((PDV(1, 3, b"1234"),))]
    pair.scp.receive_data(stream[len(a) + 3 :])
    assert events(pair.scp) == [DataTransfer((PDV(3, 2, b"5678"),))]


def established(policy: Policy | None = None) -> ConnectionPair:
    pair = ConnectionPair(scp_policy=policy)
    pair.associate()
    return pair


def refused(assoc: Association, data: bytes) -> tuple[int, int, list[PDU]]:
    """Feed ``data``; return the (source, reason) raised and the PDUs queued to send."""
    assoc.receive_data(data)
    with pytest.raises(RemoteProtocolError) as info:
        events(assoc)
    return info.value.abort_source, info.value.abort_reason, pdus_in(assoc.data_to_send())


def test_p_data_over_the_advertised_maximum_is_aborted() -> None:
    pair = established()
    scp = pair.scp
    assert scp.max_receive_pdu_length == 16384
    header = struct.pack(">BBI", 4, 0, 16385)  # one byte over: refused from the header
    assert refused(scp, header) == (2, 6, [A_ABORT(2, 6)])
    assert scp.state is State.Sta13 and scp.artim_running
    scp.receive_data(b"\x00" * 100)  # framing is lost: what follows is not read
    assert events(scp) == []
    scp.receive_data(b"")
    assert events(scp) == [ConnectionClosed()]


def test_p_data_at_the_advertised_maximum_is_read() -> None:
    pair = established()
    pdv = PDV(1, 2, b"z" * (16384 - 6))
    data = encode_pdu(P_DATA_TF((pdv,)))
    pair.scp.receive_data(data)
    assert events(pair.scp) == [DataTransfer((pdv,))]


def test_other_pdus_are_capped_by_the_limits() -> None:
    scp = Association("acceptor", Policy(max_pdu_length=16384), limits=Limits(max_pdu_length=65536))
    scp.connection_made()
    # An A-ASSOCIATE-RQ header claiming 65537 bytes; Sta2 answers with AA-1 (service-user
    # source, PS3.8 Table 9-9) whatever the reason.
    assert refused(scp, struct.pack(">BBI", 1, 0, 65537)) == (0, 0, [A_ABORT(0, 0)])
    assert scp.state is State.Sta13


def test_unknown_pdu_type() -> None:
    pair = established()
    assert refused(pair.scp, b"\x09\x00\x00\x00\x00\x04\x00\x00\x00\x00") == (2, 1, [A_ABORT(2, 1)])
    fresh = Association("acceptor", Policy())
    fresh.connection_made()
    assert refused(fresh, b"\x09\x00\x00\x00\x00\x00") == (0, 0, [A_ABORT(0, 0)])  # AA-1 in Sta2


def test_malformed_pdu_in_sta6() -> None:
    pair = established()
    assert refused(pair.scp, b"\x05\x00\x00\x00\x00\x02\x00\x00") == (2, 6, [A_ABORT(2, 6)])
    # the machine goes on reading in Sta13: PDUs are ignored (AA-6)
    pair.scp.receive_data(encode_pdu(A_RELEASE_RQ()))
    assert events(pair.scp) == [] and pair.scp.data_to_send() == b""


def test_unexpected_pdu() -> None:
    pair = established()
    unexpected = encode_pdu(pair.scp.response)  # type: ignore[arg-type]  # an AC in Sta6
    assert refused(pair.scp, unexpected) == (2, 2, [A_ABORT(2, 2)])
    assert pair.scp.state is State.Sta13


def test_pdv_on_a_context_not_accepted() -> None:
    pair = established()
    data = encode_pdu(P_DATA_TF((PDV(5, 0, b"??"),)))
    assert refused(pair.scp, data) == (2, 6, [A_ABORT(2, 6)])


def test_accept_that_does_not_answer_the_request() -> None:
    pair = ConnectionPair()
    rq = build_request(pair.scu_policy, "STORECORE", {CT_IMAGE_STORAGE: [IMPLICIT]})
    pair.scu.send(AssociateRequest(rq))
    ac = A_ASSOCIATE_AC(
        "STORECORE",
        "SCU",
        (PresentationContextAC(1, 0, "1.2.840.10008.1.2.1"),),  # not proposed for context 1
        UserInformation((MaximumLength(16384),)),
    )
    assert refused(pair.scu, encode_pdu(ac)) == (2, 6, [A_ABORT(2, 6)])


def test_unsupported_protocol_version_is_rejected_by_the_provider() -> None:
    scp = Association("acceptor", Policy())
    scp.connection_made()
    rq = build_request(Policy(ae_title="SCU"), "STORECORE", {CT_IMAGE_STORAGE: [IMPLICIT]})
    v2 = A_ASSOCIATE_RQ(
        rq.called_ae_title,
        rq.calling_ae_title,
        rq.presentation_contexts,
        rq.user_information,
        protocol_version=2,
    )
    scp.receive_data(encode_pdu(v2))
    assert events(scp) == []  # AE-6: no indication to the user
    assert pdus_in(scp.data_to_send()) == [A_ASSOCIATE_RJ(1, 2, 2)]
    assert scp.state is State.Sta13 and scp.artim_running


def test_lenient_uid_padding_is_taken_from_the_policy() -> None:
    padded = enc.rq_with_user_items(
        enc.MAXIMUM_LENGTH_SUB_ITEM, b"\x52\x00\x00\x10" + b"1.2.3.4.5.6.7.8\x00"
    )
    strict = Association("acceptor", Policy())
    strict.connection_made()
    assert refused(strict, padded) == (0, 0, [A_ABORT(0, 0)])  # Sta2: AA-1
    lenient = Association("acceptor", Policy(lenient_uid_padding=True))
    lenient.connection_made()
    lenient.receive_data(padded)
    (event,) = events(lenient)
    assert isinstance(event, AssociateRequest)
    assert event.pdu.user_information.implementation_class_uid == "1.2.3.4.5.6.7.8"


# --------------------------------------------------------------------------
# ARTIM


def test_artim_with_a_clock() -> None:
    now = [100.0]
    pair = ConnectionPair(clock=now)
    scp = pair.scp
    assert scp.artim_running and scp.artim_deadline == 130.0  # AE-5
    assert not scp.check_artim(129.9)
    pair.associate()
    assert not scp.artim_running and scp.artim_deadline is None  # AE-6 stopped it
    assert not scp.check_artim(1000.0)
    now[0] = 200.0
    pair.send(pair.scu, Abort())  # AA-1 starts ARTIM on the requestor
    assert pair.scu.state is State.Sta13 and pair.scu.artim_deadline == 230.0
    assert not pair.scu.check_artim(229.0) and pair.scu.check_artim(230.0)
    assert pair.scu.state is State.Sta1 and pair.scu.close_requested


def test_artim_expiry_closes() -> None:
    now = [5.0]
    scp = Association("acceptor", Policy(artim_timeout=2.0), clock=lambda: now[0])
    scp.connection_made()
    assert scp.artim_deadline == 7.0
    assert not scp.check_artim(6.999)
    assert scp.check_artim(7.0)  # Evt18 in Sta2: AA-2
    assert scp.state is State.Sta1 and scp.close_requested
    assert events(scp) == [ConnectionClosed()]


def test_artim_deadline_after_sending_an_abort() -> None:
    now = [50.0]
    scp = Association("acceptor", Policy(artim_timeout=10.0), clock=lambda: now[0])
    scp.connection_made()
    rq = build_request(Policy(ae_title="SCU"), "STORECORE", {CT_IMAGE_STORAGE: [IMPLICIT]})
    scp.receive_data(encode_pdu(rq))
    events(scp)
    now[0] = 55.0
    assert pdus_in(scp.send(Abort())) == [A_ABORT(0, 0)]  # AA-1 restarts ARTIM
    assert scp.artim_deadline == 65.0 and scp.state is State.Sta13
    assert scp.check_artim(65.0) and scp.close_requested


def test_artim_without_a_clock_has_no_deadline() -> None:
    scp = Association("acceptor", Policy())
    scp.connection_made()
    assert scp.artim_running and scp.artim_deadline is None
    assert not scp.check_artim(1e12)


# --------------------------------------------------------------------------
# What the local user may not do


def test_local_errors() -> None:
    scu = Association("requestor", Policy(ae_title="SCU"))
    with pytest.raises(LocalProtocolError):
        scu.receive_data(b"\x01")  # before connection_made
    scu.connection_made()
    with pytest.raises(LocalProtocolError):
        scu.connection_made()
    with pytest.raises(LocalProtocolError):
        scu.send(DataTransfer((PDV(1, 0, b""),)))  # no association yet
    with pytest.raises(LocalProtocolError):
        scu.send(ReleaseRequest())
    ac = A_ASSOCIATE_AC(
        "A", "B", (PresentationContextAC(1, 0, IMPLICIT),), UserInformation((MaximumLength(4096),))
    )
    with pytest.raises(LocalProtocolError, match="acceptor"):
        scu.send(AssociateAccept(ac))
    rq = A_ASSOCIATE_RQ("A", "B", (PresentationContextRQ(1, CT_IMAGE_STORAGE, (IMPLICIT,)),))
    with pytest.raises(LocalProtocolError, match="Maximum Length"):
        scu.send(AssociateRequest(rq))  # advertises no Maximum Length
    with pytest.raises(LocalProtocolError):
        scu.send(ConnectionClosed())  # type: ignore[arg-type]
    scu.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        scu.receive_data(b"\x01")  # after the end of the stream
    with pytest.raises(ValueError):
        Association("peer")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Association(
            "acceptor", Policy(max_pdu_length=1 << 24), limits=Limits(max_pdu_length=1 << 20)
        )


def test_acceptor_errors() -> None:
    scp = Association("acceptor", Policy())
    scp.connection_made()
    rq = build_request(Policy(ae_title="SCU"), "STORECORE", {CT_IMAGE_STORAGE: [IMPLICIT]})
    with pytest.raises(LocalProtocolError, match="requestor"):
        scp.send(AssociateRequest(rq))
    ac = negotiate(rq, scp.policy)
    assert isinstance(ac, A_ASSOCIATE_AC)
    with pytest.raises(LocalProtocolError, match="answer"):
        scp.send(AssociateAccept(ac))  # nothing was requested yet
    scp.receive_data(encode_pdu(rq))
    events(scp)
    wrong = A_ASSOCIATE_AC(
        "STORECORE", "SCU", (PresentationContextAC(3, 0, IMPLICIT),), ac.user_information
    )
    with pytest.raises(LocalProtocolError, match="does not match"):
        scp.send(AssociateAccept(wrong))
    assert scp.state is State.Sta3


def test_data_transfer_checks() -> None:
    pair = established()
    with pytest.raises(LocalProtocolError, match="not accepted"):
        pair.scu.send(DataTransfer((PDV(5, 0, b""),)))
    with pytest.raises(LocalProtocolError, match="Maximum Length"):
        pair.scu.send(DataTransfer((PDV(1, 0, b"x" * 16384),)))
    assert len(pair.scu.send(DataTransfer((PDV(1, 0, b"x" * (16384 - 6)),)))) == 16384 + 6


def test_machine_bytes_wait_in_data_to_send() -> None:
    scp = Association("acceptor", Policy())
    scp.connection_made()
    scp.receive_data(b"\x02\x00\x00\x00\x00\x00")  # an AC in Sta2: AA-1 queues an A-ABORT
    with pytest.raises(RemoteProtocolError):
        events(scp)
    assert scp.state is State.Sta13
    scp.receive_data(b"")
    assert events(scp) == [ConnectionClosed()]
    assert pdus_in(scp.data_to_send()) == [A_ABORT(0, 0)]


# --------------------------------------------------------------------------
# Random PDUs, fed whole or in random pieces, arrive as the events they stand for


def in_state(kind: str, pdu: PDU) -> Association:
    """An association in the state where ``pdu`` is the expected next PDU."""
    if kind == "rq":
        scp = Association("acceptor", Policy())
        scp.connection_made()
        return scp
    scu = Association("requestor", Policy(ae_title="SCU"))
    scu.connection_made()
    if isinstance(pdu, A_ASSOCIATE_AC):
        contexts = tuple(
            PresentationContextRQ(c.context_id, CT_IMAGE_STORAGE, (c.transfer_syntax or IMPLICIT,))
            for c in pdu.presentation_contexts
        )
        rq = A_ASSOCIATE_RQ("SCP", "SCU", contexts, UserInformation((MaximumLength(65536),)))
    else:
        rq = build_request(scu.policy, "SCP", [(CT_IMAGE_STORAGE, [IMPLICIT])] * 128)
    scu.send(AssociateRequest(rq))
    if kind in ("ac", "rj"):
        return scu
    ac = A_ASSOCIATE_AC(
        "SCP",
        "SCU",
        tuple(PresentationContextAC(c.context_id, 0, IMPLICIT) for c in rq.presentation_contexts),
        UserInformation((MaximumLength(0),)),
    )
    scu.receive_data(encode_pdu(ac))
    assert isinstance(scu.next_event(), AssociateAccept)
    return scu


def expected_event(pdu: PDU) -> object:
    if isinstance(pdu, A_ASSOCIATE_RQ):
        return AssociateRequest(pdu)
    if isinstance(pdu, A_ASSOCIATE_AC):
        return AssociateAccept(pdu)
    if isinstance(pdu, A_ASSOCIATE_RJ):
        return AssociateReject(pdu)
    if isinstance(pdu, P_DATA_TF):
        return DataTransfer(pdu.pdvs)
    if isinstance(pdu, A_RELEASE_RQ):
        return ReleaseRequest()
    if isinstance(pdu, A_RELEASE_RP):
        raise AssertionError("not generated")
    assert isinstance(pdu, A_ABORT)
    return Abort(pdu.source, pdu.reason)


KINDS = st.one_of(
    a_associate_rq().filter(lambda p: bool(p.protocol_version & 1)).map(lambda p: ("rq", p)),
    a_associate_ac().map(lambda p: ("ac", p)),
    a_associate_rj.map(lambda p: ("rj", p)),
    p_data_tf.map(lambda p: ("data", p)),
    st.just(("data", A_RELEASE_RQ())),
    a_abort.map(lambda p: ("data", p)),
)


@given(KINDS, st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_pdus_fed_whole_or_in_pieces(kind_pdu: tuple[str, PDU], data: st.DataObject) -> None:
    kind, pdu = kind_pdu
    encoded = encode_pdu(pdu)
    byte_by_byte = data.draw(st.booleans())
    cuts = (
        range(1, len(encoded))
        if byte_by_byte
        else data.draw(st.lists(st.integers(0, len(encoded)), max_size=6))
    )
    assoc = in_state(kind, pdu)
    feed(assoc, encoded, cuts)
    assert assoc.next_event() == expected_event(pdu)
    if isinstance(pdu, A_ABORT | A_ASSOCIATE_RJ):
        assert assoc.next_event() == ConnectionClosed()
    else:
        assert assoc.next_event() is NEED_DATA


@given(
    st.sampled_from(["rq", "ac", "data"]),
    st.lists(st.one_of(st.binary(max_size=40), pdus.map(encode_pdu)), max_size=6),
    st.booleans(),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_bytes_give_events_or_a_remote_protocol_error(
    kind: str, chunks: list[bytes], close: bool
) -> None:
    assoc = in_state(kind, A_RELEASE_RQ())
    for chunk in chunks:
        if chunk:
            assoc.receive_data(chunk)
    if close:
        assoc.receive_data(b"")
    seen = []
    for _ in range(50):
        try:
            event = assoc.next_event()
        except RemoteProtocolError as exc:
            # the A-ABORT it stands for is queued, and the association awaits the close
            assert assoc.state is State.Sta13
            assert pdus_in(assoc.data_to_send())[-1] == A_ABORT(exc.abort_source, exc.abort_reason)
            continue
        if event is NEED_DATA or isinstance(event, ConnectionClosed):
            break
        seen.append(event)
    assert assoc.state in (State.Sta1, State.Sta13) or not close
