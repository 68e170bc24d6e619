"""Negotiation: the policy, negotiate(), build_request(), accepted_contexts(), roles."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import pytest

from storecore.errors import LocalProtocolError, RemoteProtocolError
from storecore.ul import (
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    Policy,
    PresentationContextAC,
    PresentationContextRQ,
    SCP_SCU_RoleSelection,
    SOPClassExtendedNegotiation,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
    accepted_contexts,
    build_request,
    negotiate,
    negotiated_roles,
)
from storecore.ul.negotiation import (
    DEFAULT_TRANSFER_SYNTAXES,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    VERIFICATION_SOP_CLASS,
)

from .helpers import CT_IMAGE_STORAGE, EXPLICIT, IMPLICIT

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
PRIVATE_SOP = "1.2.826.0.1.3680043.9.7133.5.1"
DEFLATED = "1.2.840.10008.1.2.1.99"

SCP = Policy(
    ae_title="STORECORE",
    contexts={VERIFICATION_SOP_CLASS: (IMPLICIT,), CT_IMAGE_STORAGE: (EXPLICIT, IMPLICIT)},
)


def request(
    contexts: Mapping[str, Sequence[str]] | Sequence[tuple[str, Sequence[str]]],
    called: str = "STORECORE",
    **kwargs: object,
) -> A_ASSOCIATE_RQ:
    return build_request(Policy(ae_title="SCU"), called, contexts, **kwargs)  # type: ignore[arg-type]


def answer(rq: A_ASSOCIATE_RQ, policy: Policy = SCP) -> A_ASSOCIATE_AC:
    ac = negotiate(rq, policy)
    assert isinstance(ac, A_ASSOCIATE_AC)
    return ac


def results(ac: A_ASSOCIATE_AC) -> list[tuple[int, int, str]]:
    return [(c.context_id, c.result, c.transfer_syntax) for c in ac.presentation_contexts]


# --------------------------------------------------------------------------
# Presentation contexts (Table 9-18 results)


def test_accepts_and_chooses_our_preferred_transfer_syntax() -> None:
    rq = request({CT_IMAGE_STORAGE: [IMPLICIT, EXPLICIT], VERIFICATION_SOP_CLASS: [IMPLICIT]})
    ac = answer(rq)
    assert results(ac) == [(1, 0, EXPLICIT), (3, 0, IMPLICIT)]
    assert accepted_contexts(rq, ac) == {
        1: (CT_IMAGE_STORAGE, EXPLICIT),
        3: (VERIFICATION_SOP_CLASS, IMPLICIT),
    }


def test_prefer_proposed_order() -> None:
    policy = Policy(
        ae_title="STORECORE",
        contexts={CT_IMAGE_STORAGE: (EXPLICIT, IMPLICIT)},
        prefer_proposed_order=True,
    )
    ac = answer(request({CT_IMAGE_STORAGE: [IMPLICIT, EXPLICIT]}), policy)
    assert results(ac) == [(1, 0, IMPLICIT)]


def test_abstract_syntax_not_supported_and_transfer_syntaxes_not_supported() -> None:
    rq = request({MR_IMAGE_STORAGE: [IMPLICIT], VERIFICATION_SOP_CLASS: [EXPLICIT]})
    ac = answer(rq)
    # a rejected context's transfer syntax is not significant: the first proposed is sent
    assert results(ac) == [(1, 3, IMPLICIT), (3, 4, EXPLICIT)]
    assert accepted_contexts(rq, ac) == {}


def test_same_abstract_syntax_twice_is_negotiated_per_context() -> None:
    rq = request([(CT_IMAGE_STORAGE, [IMPLICIT]), (CT_IMAGE_STORAGE, [EXPLICIT])])
    assert results(answer(rq)) == [(1, 0, IMPLICIT), (3, 0, EXPLICIT)]


def test_promiscuous_accepts_unknown_sop_classes() -> None:
    policy = Policy(ae_title="STORECORE", contexts={}, promiscuous=True)
    rq = request({PRIVATE_SOP: [EXPLICIT], MR_IMAGE_STORAGE: [DEFLATED]})
    assert results(answer(rq, policy)) == [(1, 0, EXPLICIT), (3, 4, DEFLATED)]
    strict = Policy(ae_title="STORECORE", contexts={})
    assert [r for _, r, _ in results(answer(rq, strict))] == [3, 3]


def test_default_policy_accepts_storage_and_verification() -> None:
    policy = Policy()
    rq = request({CT_IMAGE_STORAGE: [IMPLICIT], VERIFICATION_SOP_CLASS: [EXPLICIT]}, "STORECORE")
    assert results(answer(rq, policy)) == [(1, 0, IMPLICIT), (3, 0, EXPLICIT)]
    assert policy.contexts[CT_IMAGE_STORAGE] == DEFAULT_TRANSFER_SYNTAXES


def test_ac_user_information() -> None:
    ac = answer(request({VERIFICATION_SOP_CLASS: [IMPLICIT]}))
    info = ac.user_information
    assert info.maximum_length == SCP.max_pdu_length
    assert info.implementation_class_uid == IMPLEMENTATION_CLASS_UID
    assert info.implementation_version_name == IMPLEMENTATION_VERSION_NAME
    assert info.asynchronous_operations_window is None  # not proposed, not answered
    assert (ac.called_ae_title, ac.calling_ae_title) == ("STORECORE", "SCU")


# --------------------------------------------------------------------------
# Rejections (Table 9-21)


def test_called_ae_title_not_recognized() -> None:
    rj = negotiate(request({VERIFICATION_SOP_CLASS: [IMPLICIT]}, called="OTHER"), SCP)
    assert rj == A_ASSOCIATE_RJ(1, 1, 7)
    lax = Policy(ae_title="STORECORE", check_called_ae_title=False)
    assert isinstance(
        negotiate(request({VERIFICATION_SOP_CLASS: [IMPLICIT]}, "OTHER"), lax), A_ASSOCIATE_AC
    )


def test_calling_ae_title_not_recognized() -> None:
    policy = Policy(ae_title="STORECORE", calling_ae_titles=frozenset({"MODALITY1 ", "PACS"}))
    rq = request({VERIFICATION_SOP_CLASS: [IMPLICIT]})
    assert negotiate(rq, policy) == A_ASSOCIATE_RJ(1, 1, 3)
    allowed = build_request(
        Policy(ae_title="MODALITY1"), "STORECORE", {VERIFICATION_SOP_CLASS: [IMPLICIT]}
    )
    assert isinstance(negotiate(allowed, policy), A_ASSOCIATE_AC)


def test_application_context_name_not_supported() -> None:
    rq = request({VERIFICATION_SOP_CLASS: [IMPLICIT]})
    other = A_ASSOCIATE_RQ(
        rq.called_ae_title,
        rq.calling_ae_title,
        rq.presentation_contexts,
        rq.user_information,
        "1.2.3",
    )
    assert negotiate(other, SCP) == A_ASSOCIATE_RJ(1, 1, 2)


def test_protocol_version_not_supported() -> None:
    rq = request({VERIFICATION_SOP_CLASS: [IMPLICIT]})
    for version, accepted in [(0x0002, False), (0x0000, False), (0x0003, True), (0xFFFF, True)]:
        other = A_ASSOCIATE_RQ(
            rq.called_ae_title,
            rq.calling_ae_title,
            rq.presentation_contexts,
            rq.user_information,
            protocol_version=version,
        )
        outcome = negotiate(other, SCP)
        assert isinstance(outcome, A_ASSOCIATE_AC) == accepted
        if not accepted:
            assert outcome == A_ASSOCIATE_RJ(1, 2, 2)


# --------------------------------------------------------------------------
# User identity (PS3.7 D.3.3.7)


def check(identity: UserIdentityRQ) -> bytes | None:
    if identity.primary_field == b"alice" and identity.secondary_field == b"pw":
        return b""
    if identity.user_identity_type == 5:
        return b"jwt-response"
    return None


@pytest.mark.parametrize(
    ("identity", "outcome"),
    [
        (UserIdentityRQ(2, True, b"alice", b"pw"), UserIdentityAC(b"")),
        (UserIdentityRQ(2, False, b"alice", b"pw"), None),
        (UserIdentityRQ(5, True, b"token"), UserIdentityAC(b"jwt-response")),
        (UserIdentityRQ(2, True, b"mallory", b"pw"), A_ASSOCIATE_RJ(1, 1, 1)),
    ],
)
def test_user_identity(identity: UserIdentityRQ, outcome: object) -> None:
    policy = Policy(ae_title="STORECORE", authenticate=check)
    result = negotiate(
        request({VERIFICATION_SOP_CLASS: [IMPLICIT]}, user_identity=identity), policy
    )
    if isinstance(outcome, A_ASSOCIATE_RJ):
        assert result == outcome
    else:
        assert isinstance(result, A_ASSOCIATE_AC)
        assert result.user_information.user_identity_ac == outcome


def test_user_identity_ignored_without_authenticate_and_required() -> None:
    identity = UserIdentityRQ(1, True, b"anyone")
    rq = request({VERIFICATION_SOP_CLASS: [IMPLICIT]}, user_identity=identity)
    assert answer(rq).user_information.user_identity_ac is None
    strict = Policy(ae_title="STORECORE", require_user_identity=True, authenticate=check)
    assert negotiate(request({VERIFICATION_SOP_CLASS: [IMPLICIT]}), strict) == A_ASSOCIATE_RJ(
        1, 1, 1
    )


# --------------------------------------------------------------------------
# SCP/SCU role selection (PS3.7 D.3.3.4)

ROLE_CASES = list(
    itertools.product(
        [(True, True), (True, False), (False, True)],  # what the requestor proposes
        [(True, True), (True, False), (False, True), (False, False)],  # what we allow
    )
)


@pytest.mark.parametrize(("proposal", "allowed"), ROLE_CASES)
def test_role_selection(proposal: tuple[bool, bool], allowed: tuple[bool, bool]) -> None:
    policy = Policy(
        ae_title="STORECORE",
        contexts={CT_IMAGE_STORAGE: (IMPLICIT,)},
        roles={CT_IMAGE_STORAGE: allowed},
    )
    rq = request({CT_IMAGE_STORAGE: [IMPLICIT]}, roles={CT_IMAGE_STORAGE: proposal})
    ac = answer(rq, policy)
    reply = (proposal[0] and allowed[0], proposal[1] and allowed[1])
    assert ac.user_information.role_selections == (SCP_SCU_RoleSelection(CT_IMAGE_STORAGE, *reply),)
    if reply == (False, False):
        assert results(ac) == [(1, 1, IMPLICIT)]  # user-rejection: no role to play
        assert negotiated_roles(rq, ac) == {}
    else:
        assert negotiated_roles(rq, ac) == {CT_IMAGE_STORAGE: reply}


@pytest.mark.parametrize(("proposal", "allowed"), ROLE_CASES)
def test_role_selection_agrees_with_pynetdicom(
    proposal: tuple[bool, bool], allowed: tuple[bool, bool]
) -> None:
    # pynetdicom.presentation.SCP_SCU_ROLES: (requestor proposal) -> (acceptor support) ->
    # (requestor SCU, requestor SCP, acceptor SCU, acceptor SCP); all False: context rejected.
    from pynetdicom.presentation import SCP_SCU_ROLES

    theirs = SCP_SCU_ROLES[proposal][allowed]
    policy = Policy(
        ae_title="STORECORE",
        contexts={CT_IMAGE_STORAGE: (IMPLICIT,)},
        roles={CT_IMAGE_STORAGE: allowed},
    )
    rq = request({CT_IMAGE_STORAGE: [IMPLICIT]}, roles={CT_IMAGE_STORAGE: proposal})
    ours = negotiated_roles(rq, answer(rq, policy)).get(CT_IMAGE_STORAGE, (False, False))
    assert ours == theirs[:2]
    assert theirs[2:] == (ours[1], ours[0])  # the acceptor plays the other role(s)


def test_without_role_selection_the_default_roles_hold() -> None:
    rq = request({CT_IMAGE_STORAGE: [IMPLICIT]})
    ac = answer(rq)
    assert ac.user_information.role_selections == ()
    assert negotiated_roles(rq, ac) == {CT_IMAGE_STORAGE: (True, False)}
    # a role proposed but not answered (the acceptor does not support role selection)
    rq = request({CT_IMAGE_STORAGE: [IMPLICIT]}, roles={CT_IMAGE_STORAGE: (False, True)})
    silent = A_ASSOCIATE_AC("STORECORE", "SCU", (PresentationContextAC(1, 0, IMPLICIT),))
    assert negotiated_roles(rq, silent) == {CT_IMAGE_STORAGE: (True, False)}


def test_role_proposed_for_a_class_not_proposed_is_not_answered() -> None:
    rq = request({CT_IMAGE_STORAGE: [IMPLICIT]}, roles={MR_IMAGE_STORAGE: (True, True)})
    assert answer(rq).user_information.role_selections == ()


def test_build_request_refuses_neither_role() -> None:
    with pytest.raises(LocalProtocolError, match="neither role"):
        request({CT_IMAGE_STORAGE: [IMPLICIT]}, roles={CT_IMAGE_STORAGE: (False, False)})


# --------------------------------------------------------------------------
# Extended negotiation and the asynchronous operations window


def test_sop_class_extended_negotiation_answers_only_what_was_proposed() -> None:
    policy = Policy(
        ae_title="STORECORE",
        contexts={CT_IMAGE_STORAGE: (IMPLICIT,), VERIFICATION_SOP_CLASS: (IMPLICIT,)},
        sop_class_extended={
            CT_IMAGE_STORAGE: b"\x02\x00\x00\x00\x01\x00",
            MR_IMAGE_STORAGE: b"\x01",
        },
    )
    rq = request(
        {CT_IMAGE_STORAGE: [IMPLICIT], VERIFICATION_SOP_CLASS: [IMPLICIT]},
        sop_class_extended={CT_IMAGE_STORAGE: b"\x01\x00", VERIFICATION_SOP_CLASS: b"\x01"},
    )
    assert answer(rq, policy).user_information.sop_class_extended == (
        SOPClassExtendedNegotiation(CT_IMAGE_STORAGE, b"\x02\x00\x00\x00\x01\x00"),
    )
    plain = request({CT_IMAGE_STORAGE: [IMPLICIT]})
    assert answer(plain, policy).user_information.sop_class_extended == ()


@pytest.mark.parametrize(
    ("ours", "theirs", "agreed"),
    [((1, 1), (5, 3), (1, 1)), ((0, 0), (5, 3), (5, 3)), ((4, 0), (0, 2), (4, 2))],
)
def test_asynchronous_operations_window(
    ours: tuple[int, int], theirs: tuple[int, int], agreed: tuple[int, int]
) -> None:
    policy = Policy(
        ae_title="STORECORE", contexts=SCP.contexts, asynchronous_operations_window=ours
    )
    rq = build_request(
        Policy(ae_title="SCU", asynchronous_operations_window=theirs),
        "STORECORE",
        {VERIFICATION_SOP_CLASS: [IMPLICIT]},
    )
    assert rq.user_information.asynchronous_operations_window == AsynchronousOperationsWindow(
        *theirs
    )
    window = answer(rq, policy).user_information.asynchronous_operations_window
    assert window == AsynchronousOperationsWindow(*agreed)


# --------------------------------------------------------------------------
# build_request, accepted_contexts


def test_build_request() -> None:
    rq = request(
        {CT_IMAGE_STORAGE: [EXPLICIT, IMPLICIT], VERIFICATION_SOP_CLASS: [IMPLICIT]}, called="PACS"
    )
    assert (rq.called_ae_title, rq.calling_ae_title) == ("PACS", "SCU")
    assert rq.presentation_contexts == (
        PresentationContextRQ(1, CT_IMAGE_STORAGE, (EXPLICIT, IMPLICIT)),
        PresentationContextRQ(3, VERIFICATION_SOP_CLASS, (IMPLICIT,)),
    )
    assert rq.user_information.items == (
        MaximumLength(Policy().max_pdu_length),
        ImplementationClassUID(IMPLEMENTATION_CLASS_UID),
        ImplementationVersionName(IMPLEMENTATION_VERSION_NAME),
    )


def test_build_request_limits() -> None:
    with pytest.raises(LocalProtocolError, match="at most 128"):
        request([(CT_IMAGE_STORAGE, [IMPLICIT])] * 129)
    assert len(request([(CT_IMAGE_STORAGE, [IMPLICIT])] * 128).presentation_contexts) == 128
    with pytest.raises(LocalProtocolError):
        request({"1.02.3": [IMPLICIT]})
    with pytest.raises(LocalProtocolError):
        request({})


def test_build_request_defaults_to_the_policy_contexts() -> None:
    policy = Policy(ae_title="SCU", contexts={VERIFICATION_SOP_CLASS: (IMPLICIT,)})
    rq = build_request(policy, "PEER")
    assert rq.presentation_contexts == (
        PresentationContextRQ(1, VERIFICATION_SOP_CLASS, (IMPLICIT,)),
    )


@pytest.mark.parametrize(
    "contexts",
    [
        (PresentationContextAC(1, 0, IMPLICIT),),  # context 3 unanswered
        (
            PresentationContextAC(1, 0, IMPLICIT),
            PresentationContextAC(3, 0, IMPLICIT),
            PresentationContextAC(5, 0, IMPLICIT),  # never proposed
        ),
        (
            PresentationContextAC(1, 0, EXPLICIT),
            PresentationContextAC(3, 0, IMPLICIT),
        ),  # not proposed
    ],
)
def test_accepted_contexts_refuses_an_answer_that_does_not_match(
    contexts: tuple[PresentationContextAC, ...],
) -> None:
    rq = request({CT_IMAGE_STORAGE: [IMPLICIT], VERIFICATION_SOP_CLASS: [IMPLICIT]})
    ac = A_ASSOCIATE_AC("STORECORE", "SCU", contexts, UserInformation())
    with pytest.raises(RemoteProtocolError) as info:
        accepted_contexts(rq, ac)
    assert (info.value.abort_source, info.value.abort_reason) == (2, 6)


# --------------------------------------------------------------------------
# The policy itself


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ae_title": ""},
        {"ae_title": "A\\B"},
        {"calling_ae_titles": frozenset({"   "})},
        {"contexts": {"1.02": (IMPLICIT,)}},
        {"contexts": {CT_IMAGE_STORAGE: ()}},
        {"contexts": {CT_IMAGE_STORAGE: ("1.2.3.4",)}},  # not a registered transfer syntax
        {"contexts": {CT_IMAGE_STORAGE: ("ImplicitVRLittleEndian",)}},  # a keyword
        {"promiscuous_transfer_syntaxes": ()},
        {"roles": {"x": (True, True)}},
        {"max_pdu_length": 0},
        {"max_pdu_length": 1 << 32},
        {"implementation_class_uid": "1.2.03"},
        {"implementation_version_name": "X" * 17},
        {"asynchronous_operations_window": (1 << 16, 1)},
        {"sop_class_extended": {"1.2.x": b""}},
        {"artim_timeout": 0},
    ],
)
def test_policy_refuses(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Policy(**kwargs)  # type: ignore[arg-type]


def test_policy_is_immutable() -> None:
    contexts = {CT_IMAGE_STORAGE: (IMPLICIT,)}
    policy = Policy(contexts=contexts, ae_title=" SCP ")
    contexts[MR_IMAGE_STORAGE] = (IMPLICIT,)
    assert MR_IMAGE_STORAGE not in policy.contexts
    assert policy.ae_title == "SCP"
    with pytest.raises(TypeError):
        policy.contexts[MR_IMAGE_STORAGE] = (IMPLICIT,)  # type: ignore[index]
