"""Hypothesis strategies for valid DIMSE messages (every field, every optional combination)."""

from __future__ import annotations

from hypothesis import strategies as st

from storecore.dimse import (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_EVENT_REPORT_RQ,
    N_EVENT_REPORT_RSP,
    Message,
    Priority,
)

NO_DATA_SET = 0x0101

us = st.integers(0, 0xFFFF)

# PS3.5 9.1: digit components without leading zeros, at most 64 characters.
_component = st.integers(0, 10**12).map(str)
uids = st.lists(_component, min_size=1, max_size=12).map(".".join).filter(lambda u: len(u) <= 64)

# Default Character Repertoire without backslash; the message keeps the
# value without leading/trailing spaces, so only non-blank values are valid.
_chars = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="\\")


def _text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_chars, min_size=1, max_size=max_size).filter(lambda t: t.strip(" ") != "")


ae_titles = _text(16)
comments = _text(64)
tags = st.lists(st.integers(0, 0xFFFF_FFFF), min_size=1, max_size=6).map(tuple)
data_set_types = us  # N-* messages: 0101H or anything else
data_set_present = us.filter(lambda v: v != NO_DATA_SET)


def _opt(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


c_echo_rq = st.builds(C_ECHO_RQ, MessageID=us, AffectedSOPClassUID=uids)
c_echo_rsp = st.builds(
    C_ECHO_RSP,
    MessageIDBeingRespondedTo=us,
    Status=us,
    AffectedSOPClassUID=_opt(uids),
    ErrorComment=_opt(comments),
)
c_store_rq = st.builds(
    C_STORE_RQ,
    MessageID=us,
    AffectedSOPClassUID=uids,
    AffectedSOPInstanceUID=uids,
    Priority=st.sampled_from(list(Priority)),
    MoveOriginatorApplicationEntityTitle=_opt(ae_titles),
    MoveOriginatorMessageID=_opt(us),
    CommandDataSetType=data_set_present,
)
c_store_rsp = st.builds(
    C_STORE_RSP,
    MessageIDBeingRespondedTo=us,
    Status=us,
    AffectedSOPClassUID=_opt(uids),
    AffectedSOPInstanceUID=_opt(uids),
    OffendingElement=_opt(tags),
    ErrorComment=_opt(comments),
)
n_event_report_rq = st.builds(
    N_EVENT_REPORT_RQ,
    MessageID=us,
    AffectedSOPClassUID=uids,
    AffectedSOPInstanceUID=uids,
    EventTypeID=us,
    CommandDataSetType=data_set_types,
)
n_event_report_rsp = st.builds(
    N_EVENT_REPORT_RSP,
    MessageIDBeingRespondedTo=us,
    Status=us,
    AffectedSOPClassUID=_opt(uids),
    AffectedSOPInstanceUID=_opt(uids),
    EventTypeID=_opt(us),
    ErrorComment=_opt(comments),
    ErrorID=_opt(us),
    CommandDataSetType=data_set_types,
)
n_action_rq = st.builds(
    N_ACTION_RQ,
    MessageID=us,
    RequestedSOPClassUID=uids,
    RequestedSOPInstanceUID=uids,
    ActionTypeID=us,
    CommandDataSetType=data_set_types,
)
n_action_rsp = st.builds(
    N_ACTION_RSP,
    MessageIDBeingRespondedTo=us,
    Status=us,
    AffectedSOPClassUID=_opt(uids),
    AffectedSOPInstanceUID=_opt(uids),
    ActionTypeID=_opt(us),
    ErrorComment=_opt(comments),
    ErrorID=_opt(us),
    CommandDataSetType=data_set_types,
)

BY_TYPE: dict[str, st.SearchStrategy[Message]] = {
    "C-ECHO-RQ": c_echo_rq,
    "C-ECHO-RSP": c_echo_rsp,
    "C-STORE-RQ": c_store_rq,
    "C-STORE-RSP": c_store_rsp,
    "N-EVENT-REPORT-RQ": n_event_report_rq,
    "N-EVENT-REPORT-RSP": n_event_report_rsp,
    "N-ACTION-RQ": n_action_rq,
    "N-ACTION-RSP": n_action_rsp,
}

messages: st.SearchStrategy[Message] = st.one_of(*BY_TYPE.values())
