"""Hypothesis strategies: random valid PDUs of every type, with every kind of sub-item."""

from __future__ import annotations

from hypothesis import strategies as st

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
)

# PS3.5 9.1: dot-separated components without leading zeros, at most 64 characters.
_component = st.one_of(st.just(0), st.integers(1, 10**12))
uids = (
    st.lists(_component, min_size=2, max_size=10)
    .map(lambda parts: ".".join(map(str, parts)))
    .filter(lambda uid: len(uid) <= 64)
)

# The AE VR: Default Character Repertoire without backslash or control characters.
_ae_chars = st.sampled_from([chr(c) for c in range(0x20, 0x7F) if c != 0x5C])
ae_titles = st.text(_ae_chars, min_size=1, max_size=16).map(lambda t: t.strip(" ")).filter(bool)

_g0 = st.sampled_from([chr(c) for c in range(0x20, 0x7F)])
context_ids = st.integers(0, 127).map(lambda i: 2 * i + 1)


@st.composite
def user_information(draw: st.DrawFn, for_rq: bool) -> UserInformation:
    """A User Information item with any mix of sub-items allowed in an RQ or an AC."""
    items: list[UserItem] = []
    if draw(st.booleans()):
        items.append(MaximumLength(draw(st.integers(0, 0xFFFFFFFF))))
    if draw(st.booleans()):
        items.append(ImplementationClassUID(draw(uids)))
    if draw(st.booleans()):
        items.append(ImplementationVersionName(draw(st.text(_g0, min_size=1, max_size=16))))
    if draw(st.booleans()):
        window = AsynchronousOperationsWindow(
            draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 0xFFFF))
        )
        items.append(window)
    items += draw(
        st.lists(st.builds(SCP_SCU_RoleSelection, uids, st.booleans(), st.booleans()), max_size=3)
    )
    items += draw(
        st.lists(st.builds(SOPClassExtendedNegotiation, uids, st.binary(max_size=40)), max_size=2)
    )
    if for_rq:
        items += draw(
            st.lists(
                st.builds(
                    SOPClassCommonExtendedNegotiation,
                    uids,
                    uids,
                    st.lists(uids, max_size=3).map(tuple),
                ),
                max_size=2,
            )
        )
        if draw(st.booleans()):
            kind = draw(st.integers(1, 5))
            items.append(
                UserIdentityRQ(
                    kind,
                    draw(st.booleans()),
                    draw(st.binary(min_size=1, max_size=40)),
                    draw(st.binary(max_size=20)) if kind == 2 else b"",
                )
            )
    elif draw(st.booleans()):
        items.append(UserIdentityAC(draw(st.binary(max_size=40))))
    items += draw(
        st.lists(
            st.builds(
                UnknownUserItem,
                st.integers(0, 255).filter(lambda t: not 0x51 <= t <= 0x59),
                st.binary(max_size=20),
            ),
            max_size=2,
        )
    )
    return UserInformation(tuple(draw(st.permutations(items))))


@st.composite
def a_associate_rq(draw: st.DrawFn) -> A_ASSOCIATE_RQ:
    ids = draw(st.lists(context_ids, min_size=1, max_size=6, unique=True))
    contexts = tuple(
        PresentationContextRQ(i, draw(uids), tuple(draw(st.lists(uids, min_size=1, max_size=4))))
        for i in ids
    )
    return A_ASSOCIATE_RQ(
        draw(ae_titles),
        draw(ae_titles),
        contexts,
        draw(user_information(for_rq=True)),
        draw(uids),
        draw(st.integers(0, 0xFFFF)),
    )


@st.composite
def a_associate_ac(draw: st.DrawFn) -> A_ASSOCIATE_AC:
    ids = draw(st.lists(context_ids, min_size=1, max_size=6, unique=True))
    contexts = []
    for i in ids:
        result = draw(st.integers(0, 4))
        # A rejected context's transfer syntax is not significant: any UID or nothing.
        syntax = draw(uids) if result == 0 else draw(st.one_of(uids, st.just("")))
        contexts.append(PresentationContextAC(i, result, syntax))
    return A_ASSOCIATE_AC(
        draw(ae_titles),
        draw(ae_titles),
        tuple(contexts),
        draw(user_information(for_rq=False)),
        draw(uids),
        draw(st.integers(0, 0xFFFF)),
    )


a_associate_rj = st.one_of(
    st.builds(A_ASSOCIATE_RJ, st.integers(1, 2), st.just(1), st.integers(1, 10)),
    st.builds(A_ASSOCIATE_RJ, st.integers(1, 2), st.just(2), st.integers(1, 2)),
    st.builds(A_ASSOCIATE_RJ, st.integers(1, 2), st.just(3), st.integers(0, 7)),
)
pdvs = st.builds(PDV, context_ids, st.integers(0, 255), st.binary(max_size=64))
p_data_tf = st.lists(pdvs, min_size=1, max_size=5).map(lambda p: P_DATA_TF(tuple(p)))
a_abort = st.one_of(
    st.builds(A_ABORT, st.sampled_from([0, 1]), st.just(0)),
    st.builds(A_ABORT, st.just(2), st.integers(0, 6)),
)

pdus: st.SearchStrategy[PDU] = st.one_of(
    a_associate_rq(),
    a_associate_ac(),
    a_associate_rj,
    p_data_tf,
    st.just(A_RELEASE_RQ()),
    st.just(A_RELEASE_RP()),
    a_abort,
)
