"""Association negotiation: what we propose, what we accept, as pure functions of a policy.

A :class:`Policy` says what this AE is: its title, the abstract syntaxes it
accepts and with which transfer syntaxes (in its order of preference), whether it
accepts unknown SOP classes ("promiscuous"), the roles it lets a requestor take,
which callers it admits, the largest PDU it receives, and its implementation
identification. :func:`negotiate` answers an A-ASSOCIATE-RQ with an
A-ASSOCIATE-AC or A-ASSOCIATE-RJ; :func:`build_request` makes the
A-ASSOCIATE-RQ of the requestor side; :func:`accepted_contexts` and
:func:`negotiated_roles` read the outcome from the pair.

References
----------
PS3.8 Sections 7.1.1 (A-ASSOCIATE parameters), 9.3.2-9.3.4 and Annex D.1; PS3.7
Annex D.3.3 (extended negotiation, SCP/SCU role selection, user identity).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from storecore.errors import LocalProtocolError, RemoteProtocolError, UnknownUIDError
from storecore.limits import DEFAULT_LIMITS
from storecore.uid import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    STORAGE_SOP_CLASSES,
    is_valid_uid,
    transfer_syntax,
)
from storecore.ul.pdu import (
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    APPLICATION_CONTEXT_NAME,
    AbortSource,
    AsynchronousOperationsWindow,
    ContextResult,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    RejectReasonACSE,
    RejectReasonUser,
    RejectResult,
    RejectSource,
    SCP_SCU_RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
    UserItem,
    validate_ae_title,
)

__all__ = [
    "VERIFICATION_SOP_CLASS",
    "DEFAULT_TRANSFER_SYNTAXES",
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "Policy",
    "negotiate",
    "build_request",
    "accepted_contexts",
    "negotiated_roles",
    "operations_window",
]

VERIFICATION_SOP_CLASS: Final = "1.2.840.10008.1.1"
"""Verification SOP Class (PS3.4 Annex A)."""

DEFAULT_TRANSFER_SYNTAXES: Final = (EXPLICIT_VR_LITTLE_ENDIAN.uid, IMPLICIT_VR_LITTLE_ENDIAN.uid)
"""Explicit VR Little Endian, then the default Implicit VR Little Endian (PS3.5 Section 10.1)."""

IMPLEMENTATION_CLASS_UID: Final = "2.25.31345872168035307298833726170323523966"
"""storecore's Implementation Class UID: a UUID-derived UID (PS3.5 Annex B.2), fixed."""

IMPLEMENTATION_VERSION_NAME: Final = "STORECORE_0.1.0"
"""storecore's Implementation Version Name (PS3.7 Annex D.3.3.2), at most 16 characters."""

# The roles a requestor has when no SCP/SCU Role Selection is negotiated (PS3.7 D.3.3.4):
# requestor SCU, acceptor SCP. As (SCU role, SCP role) of the requestor.
_DEFAULT_ROLES: Final = (True, False)
_MAX_CONTEXTS: Final = 128  # odd IDs 1..255 (PS3.8 Section 9.3.2.2)


def operations_window(operations: int) -> tuple[int, int] | None:
    """The :attr:`Policy.asynchronous_operations_window` for `operations` outstanding.

    Up to `operations` invoked, performed one at a time; None for 1, the
    window both sides have when none is negotiated (PS3.7 Annex D.3.3.3).

    Raises
    ------
    ValueError
        `operations` outside 1-65535.
    """
    if not 1 <= operations <= 0xFFFF:
        raise ValueError("async_operations must be 1-65535")
    return (operations, 1) if operations > 1 else None


def _default_contexts() -> Mapping[str, tuple[str, ...]]:
    contexts = {VERIFICATION_SOP_CLASS: DEFAULT_TRANSFER_SYNTAXES}
    contexts.update((record.uid, DEFAULT_TRANSFER_SYNTAXES) for record in STORAGE_SOP_CLASSES)
    return contexts


def _check_transfer_syntaxes(uids: Iterable[str], what: str) -> tuple[str, ...]:
    result = tuple(uids)
    if not result:
        raise ValueError(f"{what}: no transfer syntax")
    for uid in result:
        try:
            transfer_syntax(uid)
        except UnknownUIDError as exc:
            raise ValueError(f"{what}: {exc} (register private syntaxes first)") from None
        if transfer_syntax(uid).uid != uid:
            raise ValueError(f"{what}: give transfer syntaxes by UID, not keyword ({uid!r})")
    return result


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """What this AE proposes and accepts.

    Attributes
    ----------
    ae_title : str
        Our AE title: the Called AE Title we answer to, the Calling AE Title we
        send.
    contexts : Mapping of str to tuple of str
        Abstract syntax UID to the transfer syntax UIDs we accept (or propose)
        for it, in our order of preference. Default: Verification and every
        Storage SOP Class, with :data:`DEFAULT_TRANSFER_SYNTAXES`.
    promiscuous : bool
        Accept abstract syntaxes not in ``contexts``, with
        ``promiscuous_transfer_syntaxes``.
    promiscuous_transfer_syntaxes : tuple of str
        The transfer syntaxes accepted for unknown abstract syntaxes.
    prefer_proposed_order : bool
        Choose the first proposed transfer syntax we accept (the requestor's
        preference) rather than our first one that was proposed.
    roles : Mapping of str to (bool, bool)
        SOP Class UID to the roles a requestor may take, as (SCU, SCP). SOP
        classes not listed allow only the default: requestor SCU.
    check_called_ae_title : bool
        Reject a request whose Called AE Title is not ``ae_title``.
    calling_ae_titles : frozenset of str or None
        The callers admitted; None admits any.
    max_pdu_length : int
        The Maximum Length we advertise: the largest P-DATA-TF variable field
        we receive. Default 4 MiB, the default of
        :attr:`storecore.limits.Limits.max_pdu_length`. Never 0 ("no limit"):
        what we buffer stays bounded.
    implementation_class_uid, implementation_version_name : str, str or None
        Our implementation identification (PS3.7 Annex D.3.3.2).
    asynchronous_operations_window : (int, int) or None
        The operations we invoke and perform at once; None (the default) does
        not negotiate it, which means one of each (PS3.7 Annex D.3.3.3).
    sop_class_extended : Mapping of str to bytes
        SOP Class UID to the service-class-application-information we answer
        a SOP Class Extended Negotiation proposal for it with.
    authenticate : callable or None
        Checks a User Identity proposal: returns the server response (``b""``
        for username types) to accept it, None to reject the association
        (source 1, reason 1). None: user identity is ignored (PS3.7 D.3.3.7).
    require_user_identity : bool
        Reject requests that propose no user identity.
    artim_timeout : float
        Seconds of the ARTIM timer (PS3.8 Section 9.1.5). Default 30, as
        dcmtk's dcmnet and pynetdicom use.
    lenient_uid_padding : bool
        Accept UIDs with a trailing NUL pad in received PDUs (see
        :func:`storecore.ul.pdu.decode_pdu`).

    References
    ----------
    PS3.8 Section 7.1.1; PS3.7 Annex D.3.3.
    """

    ae_title: str = "STORECORE"
    contexts: Mapping[str, tuple[str, ...]] = field(default_factory=_default_contexts)
    promiscuous: bool = False
    promiscuous_transfer_syntaxes: tuple[str, ...] = DEFAULT_TRANSFER_SYNTAXES
    prefer_proposed_order: bool = False
    roles: Mapping[str, tuple[bool, bool]] = field(default_factory=dict)
    check_called_ae_title: bool = True
    calling_ae_titles: frozenset[str] | None = None
    max_pdu_length: int = DEFAULT_LIMITS.max_pdu_length
    implementation_class_uid: str = IMPLEMENTATION_CLASS_UID
    implementation_version_name: str | None = IMPLEMENTATION_VERSION_NAME
    asynchronous_operations_window: tuple[int, int] | None = None
    sop_class_extended: Mapping[str, bytes] = field(default_factory=dict)
    authenticate: Callable[[UserIdentityRQ], bytes | None] | None = None
    require_user_identity: bool = False
    artim_timeout: float = 30.0
    lenient_uid_padding: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "ae_title", validate_ae_title(self.ae_title))
            if self.calling_ae_titles is not None:
                titles = frozenset(validate_ae_title(t) for t in self.calling_ae_titles)
                object.__setattr__(self, "calling_ae_titles", titles)
            if self.implementation_version_name is not None:
                ImplementationVersionName(self.implementation_version_name)
            ImplementationClassUID(self.implementation_class_uid)
            if self.asynchronous_operations_window is not None:
                AsynchronousOperationsWindow(*self.asynchronous_operations_window)
            for uid, info in self.sop_class_extended.items():
                SOPClassExtendedNegotiation(uid, info)
        except LocalProtocolError as exc:
            raise ValueError(str(exc)) from None
        contexts = {}
        for abstract, syntaxes in self.contexts.items():
            if not is_valid_uid(abstract):
                raise ValueError(f"abstract syntax {abstract!r} is not a valid UID")
            contexts[abstract] = _check_transfer_syntaxes(syntaxes, abstract)
        object.__setattr__(self, "contexts", MappingProxyType(contexts))
        object.__setattr__(
            self,
            "promiscuous_transfer_syntaxes",
            _check_transfer_syntaxes(self.promiscuous_transfer_syntaxes, "promiscuous"),
        )
        roles = {}
        for uid, (scu, scp) in self.roles.items():
            if not is_valid_uid(uid):
                raise ValueError(f"role selection SOP class {uid!r} is not a valid UID")
            roles[uid] = (bool(scu), bool(scp))
        object.__setattr__(self, "roles", MappingProxyType(roles))
        object.__setattr__(
            self, "sop_class_extended", MappingProxyType(dict(self.sop_class_extended))
        )
        if not 1024 <= self.max_pdu_length <= 0xFFFFFFFF:
            raise ValueError(
                "max_pdu_length must be within 1024..0xFFFFFFFF (0, no limit, is refused)"
            )
        if not self.artim_timeout > 0:
            raise ValueError("artim_timeout must be positive")

    def transfer_syntaxes_for(self, abstract_syntax: str) -> tuple[str, ...] | None:
        """The transfer syntaxes we accept for ``abstract_syntax``, or None if we refuse it.

        Parameters
        ----------
        abstract_syntax : str
            A proposed Abstract Syntax Name.

        Returns
        -------
        tuple of str or None
            ``contexts[abstract_syntax]``; ``promiscuous_transfer_syntaxes`` for
            an unknown one when ``promiscuous``; None otherwise.

        References
        ----------
        PS3.8 Section 9.3.3.2 (results 3 and 4 of Table 9-18).
        """
        found = self.contexts.get(abstract_syntax)
        if found is None and self.promiscuous:
            return self.promiscuous_transfer_syntaxes
        return found


def _reject(source: int, reason: int) -> A_ASSOCIATE_RJ:
    # Every rejection here is permanent: retrying the same request cannot succeed.
    return A_ASSOCIATE_RJ(RejectResult.REJECTED_PERMANENT, source, reason)


def _choose(proposed: Sequence[str], ours: Sequence[str], prefer_proposed: bool) -> str | None:
    if prefer_proposed:
        return next((uid for uid in proposed if uid in ours), None)
    return next((uid for uid in ours if uid in proposed), None)


def _window(ours: int, theirs: int) -> int:
    # PS3.7 D.3.3.3: 0 means unlimited; the agreed window is the smaller bound.
    if ours == 0:
        return theirs
    if theirs == 0:
        return ours
    return min(ours, theirs)


def negotiate(rq: A_ASSOCIATE_RQ, policy: Policy) -> A_ASSOCIATE_AC | A_ASSOCIATE_RJ:
    """Answer an A-ASSOCIATE-RQ as ``policy`` says.

    The request is rejected (result 1, rejected-permanent) when its protocol
    version lacks bit 0 (source 2, reason 2), its application context is not
    DICOM's (source 1, reason 2), the called AE title is not ours (source 1,
    reason 7), the caller is not admitted (source 1, reason 3) or the user
    identity is missing or refused (source 1, reason 1). Otherwise every
    proposed presentation context gets a result: 0 acceptance, 1
    user-rejection (no role left to play, PS3.7 D.3.3.4), 3 abstract syntax
    not supported or 4 transfer syntaxes not supported.

    Parameters
    ----------
    rq : A_ASSOCIATE_RQ
        The request received.
    policy : Policy
        What we accept.

    Returns
    -------
    A_ASSOCIATE_AC or A_ASSOCIATE_RJ
        The response to send.

    References
    ----------
    PS3.8 Sections 9.3.3 (Table 9-18), 9.3.4 (Table 9-21) and Annex D.1;
    PS3.7 Annex D.3.3.3 to D.3.3.7.
    """
    if not rq.protocol_version & 0x0001:  # "shall only test that bit 0 is set" (Table 9-11)
        return _reject(
            RejectSource.SERVICE_PROVIDER_ACSE, RejectReasonACSE.PROTOCOL_VERSION_NOT_SUPPORTED
        )
    if rq.application_context_name != APPLICATION_CONTEXT_NAME:
        return _reject(
            RejectSource.SERVICE_USER, RejectReasonUser.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED
        )
    if policy.check_called_ae_title and rq.called_ae_title != policy.ae_title:
        return _reject(RejectSource.SERVICE_USER, RejectReasonUser.CALLED_AE_TITLE_NOT_RECOGNIZED)
    if policy.calling_ae_titles is not None and rq.calling_ae_title not in policy.calling_ae_titles:
        return _reject(RejectSource.SERVICE_USER, RejectReasonUser.CALLING_AE_TITLE_NOT_RECOGNIZED)
    info = rq.user_information
    identity_reply: UserIdentityAC | None = None
    identity = info.user_identity_rq
    if identity is None and policy.require_user_identity:
        return _reject(RejectSource.SERVICE_USER, RejectReasonUser.NO_REASON_GIVEN)
    if identity is not None and policy.authenticate is not None:
        response = policy.authenticate(identity)
        if response is None:
            return _reject(RejectSource.SERVICE_USER, RejectReasonUser.NO_REASON_GIVEN)
        if identity.positive_response_requested:
            identity_reply = UserIdentityAC(response)

    # PS3.7 D.3.3.4: "one SCP/SCU Role Selection item for each SOP Class"; the first wins.
    proposed_roles: dict[str, tuple[bool, bool]] = {}
    for item in info.role_selections:
        proposed_roles.setdefault(item.sop_class_uid, (item.scu_role, item.scp_role))
    role_replies: dict[str, tuple[bool, bool]] = {}
    results = []
    for context in rq.presentation_contexts:
        ours = policy.transfer_syntaxes_for(context.abstract_syntax)
        chosen = None
        if ours is None:
            result = ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED
        else:
            chosen = _choose(context.transfer_syntaxes, ours, policy.prefer_proposed_order)
            result = (
                ContextResult.ACCEPTANCE
                if chosen
                else ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED
            )
        proposal = proposed_roles.get(context.abstract_syntax)
        if proposal is not None:
            allowed = policy.roles.get(context.abstract_syntax, _DEFAULT_ROLES)
            # An acceptor accepts or rejects each proposed role; it cannot accept a role
            # that was not proposed (PS3.7 D.3.3.4).
            reply = (proposal[0] and allowed[0], proposal[1] and allowed[1])
            role_replies[context.abstract_syntax] = reply
            if result == ContextResult.ACCEPTANCE and reply == (False, False):
                result = ContextResult.USER_REJECTION  # no role left to play on this context
        # A rejected context's transfer syntax "shall not be significant": send the first
        # proposed one, a valid UID for peers that parse it anyway.
        results.append(
            PresentationContextAC(
                context.context_id, result, chosen or context.transfer_syntaxes[0]
            )
        )

    accepted_abstract = {
        context.abstract_syntax
        for context, answer in zip(rq.presentation_contexts, results, strict=True)
        if answer.result == ContextResult.ACCEPTANCE
    }
    items: list[UserItem] = [
        MaximumLength(policy.max_pdu_length),
        ImplementationClassUID(policy.implementation_class_uid),
    ]
    window = info.asynchronous_operations_window
    if window is not None and policy.asynchronous_operations_window is not None:
        # PS3.7 D.3.3.3: answered only when proposed.
        invoked, performed = policy.asynchronous_operations_window
        items.append(
            AsynchronousOperationsWindow(
                _window(invoked, window.maximum_number_operations_invoked),
                _window(performed, window.maximum_number_operations_performed),
            )
        )
    items += [SCP_SCU_RoleSelection(uid, scu, scp) for uid, (scu, scp) in role_replies.items()]
    if policy.implementation_version_name is not None:
        items.append(ImplementationVersionName(policy.implementation_version_name))
    # PS3.7 D.3.3.5: answer only the SOP classes proposed, once each.
    answered: set[str] = set()
    for proposal_item in info.sop_class_extended:
        uid = proposal_item.sop_class_uid
        if uid in policy.sop_class_extended and uid in accepted_abstract and uid not in answered:
            answered.add(uid)
            items.append(SOPClassExtendedNegotiation(uid, policy.sop_class_extended[uid]))
    if identity_reply is not None:
        items.append(identity_reply)
    return A_ASSOCIATE_AC(
        rq.called_ae_title,  # reserved: sent back as received (PS3.8 Table 9-17)
        rq.calling_ae_title,
        tuple(results),
        UserInformation(tuple(items)),
        APPLICATION_CONTEXT_NAME,
    )


def build_request(
    policy: Policy,
    called_ae_title: str,
    contexts: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]] | None = None,
    *,
    roles: Mapping[str, tuple[bool, bool]] | None = None,
    user_identity: UserIdentityRQ | None = None,
    sop_class_extended: Mapping[str, bytes] | None = None,
    sop_class_common_extended: Iterable[SOPClassCommonExtendedNegotiation] = (),
) -> A_ASSOCIATE_RQ:
    """Make the A-ASSOCIATE-RQ of the requestor side.

    Parameters
    ----------
    policy : Policy
        Our title, Maximum Length, implementation identification, the
        asynchronous operations window we propose, and the default contexts.
    called_ae_title : str
        The peer's AE title.
    contexts : mapping or iterable of (abstract syntax, transfer syntaxes), optional
        The presentation contexts to propose, given IDs 1, 3, 5, ... in order;
        an abstract syntax may appear twice in the iterable form. Default:
        ``policy.contexts``.
    roles : Mapping of str to (bool, bool), optional
        SOP Class UID to the roles we propose to take, as (SCU, SCP); at least
        one must be True (PS3.7 D.3.3.4).
    user_identity : UserIdentityRQ, optional
        The User Identity sub-item to send.
    sop_class_extended : Mapping of str to bytes, optional
        SOP Class UID to its service-class-application-information.
    sop_class_common_extended : iterable of SOPClassCommonExtendedNegotiation
        Common Extended Negotiation sub-items to send.

    Returns
    -------
    A_ASSOCIATE_RQ
        The request.

    Raises
    ------
    LocalProtocolError
        More than 128 contexts, no context, an invalid UID or AE title, or a
        role proposal of neither role.

    References
    ----------
    PS3.8 Section 9.3.2 and Annex D.1; PS3.7 Annex D.3.3.
    """
    if contexts is None:
        contexts = policy.contexts
    pairs = list(contexts.items()) if isinstance(contexts, Mapping) else list(contexts)
    if len(pairs) > _MAX_CONTEXTS:
        raise LocalProtocolError(
            f"{len(pairs)} presentation contexts: at most 128 fit (PS3.8 9.3.2.2)"
        )
    proposed = tuple(
        PresentationContextRQ(2 * index + 1, abstract, tuple(syntaxes))
        for index, (abstract, syntaxes) in enumerate(pairs)
    )
    items: list[UserItem] = [
        MaximumLength(policy.max_pdu_length),
        ImplementationClassUID(policy.implementation_class_uid),
    ]
    if policy.asynchronous_operations_window is not None:
        items.append(AsynchronousOperationsWindow(*policy.asynchronous_operations_window))
    for uid, (scu, scp) in (roles or {}).items():
        if not (scu or scp):
            raise LocalProtocolError(
                f"role selection for {uid} proposes neither role (PS3.7 D.3.3.4)"
            )
        items.append(SCP_SCU_RoleSelection(uid, bool(scu), bool(scp)))
    if policy.implementation_version_name is not None:
        items.append(ImplementationVersionName(policy.implementation_version_name))
    items += [SOPClassExtendedNegotiation(u, i) for u, i in (sop_class_extended or {}).items()]
    items += list(sop_class_common_extended)
    if user_identity is not None:
        items.append(user_identity)
    return A_ASSOCIATE_RQ(called_ae_title, policy.ae_title, proposed, UserInformation(tuple(items)))


def _invalid(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, AbortSource.SERVICE_PROVIDER, 6)


def accepted_contexts(rq: A_ASSOCIATE_RQ, ac: A_ASSOCIATE_AC) -> dict[int, tuple[str, str]]:
    """The presentation contexts an A-ASSOCIATE-AC accepted.

    Parameters
    ----------
    rq : A_ASSOCIATE_RQ
        The request.
    ac : A_ASSOCIATE_AC
        Its answer.

    Returns
    -------
    dict of int to (str, str)
        Context ID to (abstract syntax, accepted transfer syntax).

    Raises
    ------
    RemoteProtocolError
        The answer does not match the request: a context ID that was not
        proposed, or not answered, or an accepted transfer syntax that was not
        proposed for it (A-ABORT reason 6, invalid PDU parameter value).

    References
    ----------
    PS3.8 Section 7.1.1.14 (one result per proposed context) and Section 9.3.3.2.
    """
    proposed = {context.context_id: context for context in rq.presentation_contexts}
    answered = {context.context_id for context in ac.presentation_contexts}
    if answered != set(proposed):
        missing, extra = sorted(set(proposed) - answered), sorted(answered - set(proposed))
        raise _invalid(
            f"A-ASSOCIATE-AC answers contexts {sorted(answered)}: unanswered {missing}, "
            f"never proposed {extra}"
        )
    result = {}
    for context in ac.presentation_contexts:
        if context.result != ContextResult.ACCEPTANCE:
            continue
        request = proposed[context.context_id]
        if context.transfer_syntax not in request.transfer_syntaxes:
            raise _invalid(
                f"context {context.context_id} accepted with {context.transfer_syntax}, "
                "which was not proposed for it"
            )
        result[context.context_id] = (request.abstract_syntax, context.transfer_syntax)
    return result


def negotiated_roles(rq: A_ASSOCIATE_RQ, ac: A_ASSOCIATE_AC) -> dict[str, tuple[bool, bool]]:
    """The roles of the requestor for each abstract syntax of an accepted context.

    Parameters
    ----------
    rq : A_ASSOCIATE_RQ
        The request.
    ac : A_ASSOCIATE_AC
        Its answer.

    Returns
    -------
    dict of str to (bool, bool)
        Abstract syntax to (requestor is SCU, requestor is SCP); the acceptor
        has the other role(s). Without a role selection proposed and answered,
        the default: (True, False). A role is held only if it was both proposed
        and accepted.

    References
    ----------
    PS3.7 Annex D.3.3.4.
    """
    proposed: dict[str, tuple[bool, bool]] = {}
    for item in rq.user_information.role_selections:
        proposed.setdefault(item.sop_class_uid, (item.scu_role, item.scp_role))
    answered: dict[str, tuple[bool, bool]] = {}
    for item in ac.user_information.role_selections:
        answered.setdefault(item.sop_class_uid, (item.scu_role, item.scp_role))
    roles = {}
    for abstract, _syntax in accepted_contexts(rq, ac).values():
        proposal, answer = proposed.get(abstract), answered.get(abstract)
        if proposal is None or answer is None:
            roles[abstract] = _DEFAULT_ROLES
        else:
            roles[abstract] = (proposal[0] and answer[0], proposal[1] and answer[1])
    return roles
