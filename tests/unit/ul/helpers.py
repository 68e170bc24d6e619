"""An in-memory requestor/acceptor pair, in the manner of h11's ``tests/helpers.py``."""

from __future__ import annotations

from collections.abc import Iterable

from storecore.uid import EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN
from storecore.ul import (
    NEED_DATA,
    AssociateAccept,
    AssociateRequest,
    Association,
    AssociationEvent,
    Policy,
    build_request,
    negotiate,
)
from storecore.ul.negotiation import VERIFICATION_SOP_CLASS

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
IMPLICIT = IMPLICIT_VR_LITTLE_ENDIAN.uid
EXPLICIT = EXPLICIT_VR_LITTLE_ENDIAN.uid


def events(assoc: Association) -> list[AssociationEvent]:
    """Every event available now (stops at NEED_DATA or the first ConnectionClosed)."""
    found: list[AssociationEvent] = []
    while True:
        event = assoc.next_event()
        if event is NEED_DATA:
            return found
        found.append(event)
        if type(event).__name__ == "ConnectionClosed":
            return found


def feed(assoc: Association, data: bytes, chunks: Iterable[int] | None = None) -> None:
    """Feed ``data`` whole, or cut at the offsets ``chunks``."""
    if chunks is None:
        assoc.receive_data(data)
        return
    previous = 0
    for cut in [*sorted(chunks), len(data)]:
        if cut > previous:
            assoc.receive_data(data[previous:cut])
        previous = max(previous, cut)


class ConnectionPair:
    """A requestor and an acceptor whose bytes are carried by hand.

    Parameters
    ----------
    scu_policy, scp_policy : Policy, optional
        The two policies; by default the acceptor is "STORECORE" and accepts
        Verification and CT Image Storage.
    byte_by_byte : bool
        Deliver every write one byte at a time.
    """

    def __init__(
        self,
        scu_policy: Policy | None = None,
        scp_policy: Policy | None = None,
        *,
        byte_by_byte: bool = False,
        clock: list[float] | None = None,
    ) -> None:
        self.scu_policy = scu_policy or Policy(ae_title="SCU", max_pdu_length=16384)
        self.scp_policy = scp_policy or Policy(
            ae_title="STORECORE",
            contexts={VERIFICATION_SOP_CLASS: (IMPLICIT,), CT_IMAGE_STORAGE: (EXPLICIT, IMPLICIT)},
            max_pdu_length=16384,
        )
        now = clock
        read = (lambda: now[0]) if now is not None else None
        self.scu = Association("requestor", self.scu_policy, clock=read)
        self.scp = Association("acceptor", self.scp_policy, clock=read)
        self.byte_by_byte = byte_by_byte
        assert self.scp.connection_made() == b""
        assert self.scu.connection_made() == b""

    def peer(self, assoc: Association) -> Association:
        return self.scp if assoc is self.scu else self.scu

    def deliver(self, sender: Association, data: bytes) -> list[AssociationEvent]:
        """Feed ``data`` written by ``sender`` to its peer; return the peer's events."""
        receiver = self.peer(sender)
        feed(receiver, data, range(1, len(data)) if self.byte_by_byte else None)
        return events(receiver)

    def send(self, sender: Association, primitive: object) -> list[AssociationEvent]:
        """``sender`` sends ``primitive``; its peer's events are returned."""
        data = sender.send(primitive)  # type: ignore[arg-type]
        return self.deliver(sender, data)

    def associate(
        self, contexts: dict[str, list[str]] | None = None
    ) -> tuple[AssociateRequest, AssociateAccept]:
        """Run association establishment; return the acceptor's and requestor's events."""
        rq = build_request(
            self.scu_policy,
            self.scp_policy.ae_title,
            contexts or {VERIFICATION_SOP_CLASS: [IMPLICIT], CT_IMAGE_STORAGE: [IMPLICIT]},
        )
        (indication,) = self.send(self.scu, AssociateRequest(rq))
        assert isinstance(indication, AssociateRequest)
        response = negotiate(indication.pdu, self.scp_policy)
        (confirmation,) = self.send(self.scp, AssociateAccept(response))  # type: ignore[arg-type]
        assert isinstance(confirmation, AssociateAccept)
        return indication, confirmation
