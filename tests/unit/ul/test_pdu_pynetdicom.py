"""Differential tests against pynetdicom's PDU classes, both ways, on the same PDUs.

For every PDU: pynetdicom decodes the bytes storecore encodes to the same values,
re-encodes them to the same bytes, and storecore decodes pynetdicom's bytes back to
the PDU it started from.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pynetdicom import pdu as theirs
from pynetdicom import pdu_items as their_items

from storecore.ul import (
    A_ABORT,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    A_RELEASE_RP,
    A_RELEASE_RQ,
    P_DATA_TF,
    PDU,
    PDV,
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    SCP_SCU_RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UnknownUserItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
    UserItem,
    decode_pdu,
    encode_pdu,
)

from . import encoded_pdus as enc
from .strategies import a_abort, a_associate_ac, a_associate_rj, a_associate_rq, p_data_tf

THEIR_CLASS = {
    1: theirs.A_ASSOCIATE_RQ,
    2: theirs.A_ASSOCIATE_AC,
    3: theirs.A_ASSOCIATE_RJ,
    4: theirs.P_DATA_TF,
    5: theirs.A_RELEASE_RQ,
    6: theirs.A_RELEASE_RP,
    7: theirs.A_ABORT_RQ,
}


def their_user_item(item: Any) -> UserItem:
    """One of pynetdicom's user information sub-items, as storecore's value."""
    if isinstance(item, their_items.MaximumLengthSubItem):
        return MaximumLength(item.maximum_length_received)
    if isinstance(item, their_items.ImplementationClassUIDSubItem):
        return ImplementationClassUID(str(item.implementation_class_uid))
    if isinstance(item, their_items.ImplementationVersionNameSubItem):
        return ImplementationVersionName(str(item.implementation_version_name))
    if isinstance(item, their_items.AsynchronousOperationsWindowSubItem):
        return AsynchronousOperationsWindow(
            item.maximum_number_operations_invoked, item.maximum_number_operations_performed
        )
    if isinstance(item, their_items.SCP_SCU_RoleSelectionSubItem):
        return SCP_SCU_RoleSelection(
            str(item.sop_class_uid), bool(item.scu_role), bool(item.scp_role)
        )
    if isinstance(item, their_items.SOPClassExtendedNegotiationSubItem):
        return SOPClassExtendedNegotiation(
            str(item.sop_class_uid), bytes(item.service_class_application_information)
        )
    if isinstance(item, their_items.SOPClassCommonExtendedNegotiationSubItem):
        return SOPClassCommonExtendedNegotiation(
            str(item.sop_class_uid),
            str(item.service_class_uid),
            tuple(str(u) for u in item.related_general_sop_class_identification),
        )
    if isinstance(item, their_items.UserIdentitySubItemRQ):
        return UserIdentityRQ(
            item.user_identity_type,
            bool(item.positive_response_requested),
            item.primary_field,
            item.secondary_field or b"",
        )
    if isinstance(item, their_items.UserIdentitySubItemAC):
        return UserIdentityAC(item.server_response)
    raise AssertionError(f"unexpected pynetdicom item {item!r}")


def from_pynetdicom(pdu: Any) -> PDU:
    """pynetdicom's decoded PDU object, as storecore's value (built from its attributes)."""
    if isinstance(pdu, theirs.A_ASSOCIATE_RQ | theirs.A_ASSOCIATE_AC):
        user = UserInformation(tuple(their_user_item(i) for i in pdu.user_information.user_data))
        if isinstance(pdu, theirs.A_ASSOCIATE_RQ):
            contexts_rq = tuple(
                PresentationContextRQ(
                    c.presentation_context_id,
                    str(c.abstract_syntax),
                    tuple(str(t) for t in c.transfer_syntax),
                )
                for c in pdu.presentation_context
            )
            return A_ASSOCIATE_RQ(
                pdu.called_ae_title,
                pdu.calling_ae_title,
                contexts_rq,
                user,
                str(pdu.application_context_name),
                pdu.protocol_version,
            )
        contexts_ac = tuple(
            PresentationContextAC(
                c.presentation_context_id, c.result_reason, str(c.transfer_syntax or "")
            )
            for c in pdu.presentation_context
        )
        return A_ASSOCIATE_AC(
            pdu.called_ae_title,
            pdu.calling_ae_title,
            contexts_ac,
            user,
            str(pdu.application_context_name),
            pdu.protocol_version,
        )
    if isinstance(pdu, theirs.A_ASSOCIATE_RJ):
        return A_ASSOCIATE_RJ(pdu.result, pdu.source, pdu.reason_diagnostic)
    if isinstance(pdu, theirs.P_DATA_TF):
        return P_DATA_TF(
            tuple(
                PDV(
                    item.presentation_context_id,
                    item.presentation_data_value[0],
                    item.presentation_data_value[1:],
                )
                for item in pdu.presentation_data_value_items
            )
        )
    if isinstance(pdu, theirs.A_RELEASE_RQ):
        return A_RELEASE_RQ()
    if isinstance(pdu, theirs.A_RELEASE_RP):
        return A_RELEASE_RP()
    assert isinstance(pdu, theirs.A_ABORT_RQ)
    return A_ABORT(pdu.source, pdu.reason_diagnostic)


def check_both_ways(pdu: PDU) -> None:
    ours = encode_pdu(pdu)
    their_pdu = THEIR_CLASS[pdu.pdu_type]()
    their_pdu.decode(ours)
    assert from_pynetdicom(their_pdu) == pdu  # they read what we wrote
    their_bytes = their_pdu.encode()
    assert their_bytes == ours  # and write it back the same
    assert decode_pdu(their_bytes[0], their_bytes[6:]) == pdu  # we read what they wrote


FIXTURES = [
    enc.A_ASSOCIATE_RQ,
    enc.A_ASSOCIATE_AC,
    enc.A_ASSOCIATE_RJ,
    enc.P_DATA_TF,
    enc.A_RELEASE_RQ,
    enc.A_RELEASE_RP,
    enc.A_ABORT_PROVIDER,
    enc.A_ABORT_USER,
    enc.rq_with_user_items(
        enc.MAXIMUM_LENGTH_SUB_ITEM,
        enc.IMPLEMENTATION_CLASS_UID_SUB_ITEM,
        enc.ASYNCHRONOUS_OPERATIONS_WINDOW_SUB_ITEM,
        enc.SCP_SCU_ROLE_SELECTION_SUB_ITEM,
        enc.IMPLEMENTATION_VERSION_NAME_SUB_ITEM,
        enc.SOP_CLASS_EXTENDED_NEGOTIATION_SUB_ITEM,
        enc.SOP_CLASS_COMMON_EXTENDED_NEGOTIATION_SUB_ITEM,
        enc.USER_IDENTITY_RQ_SUB_ITEM,
    ),
    enc.ac_with_user_items(
        enc.MAXIMUM_LENGTH_SUB_ITEM,
        enc.IMPLEMENTATION_CLASS_UID_SUB_ITEM,
        enc.ASYNCHRONOUS_OPERATIONS_WINDOW_SUB_ITEM,
        enc.SCP_SCU_ROLE_SELECTION_SUB_ITEM,
        enc.IMPLEMENTATION_VERSION_NAME_SUB_ITEM,
        enc.SOP_CLASS_EXTENDED_NEGOTIATION_SUB_ITEM,
        enc.USER_IDENTITY_AC_SUB_ITEM,
    ),
]


@pytest.mark.parametrize("data", FIXTURES, ids=range(len(FIXTURES)))
def test_fixture_bytes_agree(data: bytes) -> None:
    their_pdu = THEIR_CLASS[data[0]]()
    their_pdu.decode(data)
    assert their_pdu.encode() == data
    ours = decode_pdu(data[0], data[6:])
    assert from_pynetdicom(their_pdu) == ours
    check_both_ways(ours)


# What pynetdicom 3.0 does not do, so the random PDUs below leave it out: decode a user
# information sub-item of an unknown type (KeyError); re-encode a rejected presentation
# context that came without a transfer syntax name; accept a backslash in an
# Implementation Version Name (it checks the SH VR there, where PS3.7 D.3.3.2 allows
# any ISO 646 G0 character).
def known_items_only(info: UserInformation) -> UserInformation:
    items: list[UserItem] = []
    for item in info.items:
        if isinstance(item, ImplementationVersionName):
            item = ImplementationVersionName(item.implementation_version_name.replace("\\", "/"))
        if not isinstance(item, UnknownUserItem):
            items.append(item)
    return UserInformation(tuple(items))


rq_both_know = a_associate_rq().map(
    lambda rq: A_ASSOCIATE_RQ(
        rq.called_ae_title,
        rq.calling_ae_title,
        rq.presentation_contexts,
        known_items_only(rq.user_information),
        rq.application_context_name,
        rq.protocol_version,
    )
)
ac_both_know = a_associate_ac().map(
    lambda ac: A_ASSOCIATE_AC(
        ac.called_ae_title,
        ac.calling_ae_title,
        tuple(
            PresentationContextAC(c.context_id, c.result, c.transfer_syntax or "1.2.840.10008.1.2")
            for c in ac.presentation_contexts
        ),
        known_items_only(ac.user_information),
        ac.application_context_name,
        ac.protocol_version,
    )
)


@given(
    st.one_of(
        rq_both_know,
        ac_both_know,
        a_associate_rj,
        p_data_tf,
        st.just(A_RELEASE_RQ()),
        st.just(A_RELEASE_RP()),
        a_abort,
    )
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_pdus_agree(pdu: PDU) -> None:
    check_both_ways(pdu)
