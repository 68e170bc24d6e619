"""Status tables: PS3.4 Table B.2-1, PS3.7 Annex C, per-service lists; pynetdicom cross-check."""

from __future__ import annotations

import pytest
from pynetdicom import status as pnd_status

from storecore.dimse import status as st
from storecore.dimse._tags import (
    ACTION_TYPE_ID,
    ATTRIBUTE_IDENTIFIER_LIST,
    ERROR_COMMENT,
    ERROR_ID,
    EVENT_TYPE_ID,
    OFFENDING_ELEMENT,
)
from storecore.dimse.status import Category, UnknownStatusError

F, W, S = Category.FAILURE, Category.WARNING, Category.SUCCESS

# PS3.4 Table B.2-1 (C-STORE Status), every row, with both ends and a middle of each range.
TABLE_B_2_1 = [
    (0x0000, S, "Success"),
    (0xA700, F, "Refused: Out of Resources"),
    (0xA742, F, "Refused: Out of Resources"),
    (0xA7FF, F, "Refused: Out of Resources"),
    (0xA900, F, "Error: Data Set does not match SOP Class"),
    (0xA9A5, F, "Error: Data Set does not match SOP Class"),
    (0xA9FF, F, "Error: Data Set does not match SOP Class"),
    (0xC000, F, "Error: Cannot understand"),
    (0xC210, F, "Error: Cannot understand"),
    (0xCFFF, F, "Error: Cannot understand"),
    (0xB000, W, "Coercion of Data Elements"),
    (0xB007, W, "Data Set does not match SOP Class"),
    (0xB006, W, "Elements Discarded"),
]

# PS3.7 Annex C general statuses (and the PS3.4 0001H warning).
ANNEX_C = [
    (0x0000, S, "Success"),
    (0xFE00, Category.CANCEL, "Cancel"),
    (0x0001, W, "Requested optional Attributes are not supported"),
    (0x0107, W, "Attribute List warning"),
    (0x0116, W, "Attribute Value Out of Range"),
    (0x0105, F, "No such Attribute"),
    (0x0106, F, "Invalid Attribute value"),
    (0x0110, F, "Processing failure"),
    (0x0111, F, "Duplicate SOP Instance"),
    (0x0112, F, "No such SOP Instance"),
    (0x0113, F, "No such event type"),
    (0x0114, F, "No such argument"),
    (0x0115, F, "Invalid argument value"),
    (0x0117, F, "Invalid SOP Instance"),
    (0x0118, F, "No such SOP Class"),
    (0x0119, F, "Class-instance conflict"),
    (0x0120, F, "Missing Attribute"),
    (0x0121, F, "Missing Attribute Value"),
    (0x0122, F, "Refused: SOP Class not supported"),
    (0x0123, F, "No such action type"),
    (0x0124, F, "Refused: Not authorized"),
    (0x0210, F, "Duplicate invocation"),
    (0x0211, F, "Unrecognized operation"),
    (0x0212, F, "Mistyped argument"),
    (0x0213, F, "Resource limitation"),
]


@pytest.mark.parametrize(("code", "category", "meaning"), TABLE_B_2_1)
def test_table_b_2_1(code: int, category: Category, meaning: str) -> None:
    assert st.status_category(code) is category
    assert st.status_meaning(code) == meaning  # C-STORE is the default service
    assert st.status_meaning(code, "C-STORE") == meaning
    assert st.status_info(code).reference in ("PS3.4 Table B.2-1", "PS3.7 C.1.1")


def test_b006_is_elements_discarded_and_b007_is_data_set_mismatch() -> None:
    # The standard's codes; some secondary tables swap them.
    assert st.status_meaning(0xB006) == "Elements Discarded"
    assert st.status_meaning(0xB007) == "Data Set does not match SOP Class"
    assert st.ELEMENTS_DISCARDED == 0xB006
    assert st.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING == 0xB007
    assert st.status_category(0xB006) is st.status_category(0xB007) is Category.WARNING


@pytest.mark.parametrize(("code", "category", "meaning"), ANNEX_C)
def test_annex_c(code: int, category: Category, meaning: str) -> None:
    assert st.status_category(code) is category
    assert st.status_meaning(code, service=None) == meaning


def test_named_constants() -> None:
    assert (st.SUCCESS, st.CANCEL) == (0x0000, 0xFE00)
    assert st.OUT_OF_RESOURCES == 0xA700
    assert st.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR == 0xA900
    assert st.CANNOT_UNDERSTAND == 0xC000
    assert st.COERCION_OF_DATA_ELEMENTS == 0xB000
    assert st.SOP_CLASS_NOT_SUPPORTED == 0x0122
    assert st.NOT_AUTHORIZED == 0x0124
    assert st.NO_SUCH_ACTION_TYPE == 0x0123
    assert st.INVALID_SOP_INSTANCE == 0x0117
    assert st.MISSING_ATTRIBUTE == 0x0120
    assert st.UNRECOGNIZED_OPERATION == 0x0211
    # every named code is in a table, with the meaning its name says
    for name in st.__all__:
        value = getattr(st, name)
        if isinstance(value, int) and name.isupper() and name != "DUPLICATE_TRANSACTION_UID":
            info = st.status_info(value, service=None)
            words = name.replace("_ERROR", "").replace("_WARNING", "").split("_")
            assert words[0].lower() in info.meaning.lower(), (name, info)


@pytest.mark.parametrize(
    ("code", "category"),
    [
        (0xA6FF, F),  # below A7xx: a PS3.4 refusal range, but not a C-STORE status
        (0xA800, F),
        (0xA801, F),  # C-MOVE "Move destination unknown"
        (0xB001, W),
        (0xBFFF, W),
        (0xFF00, Category.PENDING),
        (0xFF01, Category.PENDING),
    ],
)
def test_service_specific_ranges_classify_but_are_not_c_store_codes(
    code: int, category: Category
) -> None:
    assert st.status_category(code) is category
    with pytest.raises(UnknownStatusError, match=f"0x{code:04X}"):
        st.status_meaning(code, "C-STORE")


@pytest.mark.parametrize("code", [0x0002, 0x0100, 0x0125, 0x0214, 0x1234, 0xD000, 0xFE01, 0xFF02])
def test_codes_without_a_class_are_unknown(code: int) -> None:
    with pytest.raises(UnknownStatusError):
        st.status_category(code)
    with pytest.raises(UnknownStatusError):
        st.status_info(code, service=None)


@pytest.mark.parametrize("bad", [-1, 0x10000, True, 1.0, "0"])
def test_codes_must_be_us_values(bad: object) -> None:
    with pytest.raises(ValueError, match="US value"):
        st.status_category(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="US value"):
        st.status_meaning(bad)  # type: ignore[arg-type]


def test_unknown_service_is_refused() -> None:
    with pytest.raises(ValueError, match="C-FIND"):
        st.status_meaning(0x0000, "C-FIND")
    with pytest.raises(ValueError, match="C-FIND"):
        st.statuses_of("C-FIND")


def _codes(service: str) -> set[int]:
    return {row.low for row in st.statuses_of(service)}


def test_per_service_status_lists() -> None:
    # PS3.7 9.1.5.1.4
    assert _codes("C-ECHO") == {0x0000, 0x0122, 0x0210, 0x0211, 0x0212}
    # PS3.7 9.1.1.1.9 and PS3.4 Table B.2-1
    assert _codes("C-STORE") == {
        0x0000,
        0x0117,
        0x0122,
        0x0124,
        0x0210,
        0x0211,
        0x0212,
        0xA700,
        0xA900,
        0xC000,
        0xB000,
        0xB006,
        0xB007,
    }
    # PS3.7 10.1.1.1.8
    assert _codes("N-EVENT-REPORT") == {
        0x0000,
        0x0110,
        0x0112,
        0x0113,
        0x0114,
        0x0115,
        0x0117,
        0x0118,
        0x0119,
        0x0210,
        0x0211,
        0x0212,
        0x0213,
    }
    # PS3.7 10.1.4.1.10 (as PS3.2 Table N.7-44 lists it for Storage Commitment)
    assert _codes("N-ACTION") == {
        0x0000,
        0x0110,
        0x0112,
        0x0114,
        0x0115,
        0x0117,
        0x0118,
        0x0119,
        0x0123,
        0x0124,
        0x0210,
        0x0211,
        0x0212,
        0x0213,
    }
    assert st.status_meaning(0x0123, "N-ACTION") == "No such action type"
    with pytest.raises(UnknownStatusError, match="C-STORE"):
        st.status_meaning(0x0123, "C-STORE")
    with pytest.raises(UnknownStatusError):
        st.status_meaning(0xA700, "C-ECHO")


@pytest.mark.parametrize("service", st.SERVICES)
def test_each_code_has_one_row_per_service(service: str) -> None:
    rows = st.statuses_of(service)
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            assert a.high < b.low or b.high < a.low, (a, b)


@pytest.mark.parametrize(
    ("code", "error_comment", "offending_element"),
    [
        (0x0000, False, False),  # B.2-1: "None"
        (0xA700, True, False),  # B.2-1: (0000,0902) only
        (0xA9FF, True, True),
        (0xC001, True, True),
        (0xB000, True, True),
        (0xB006, True, True),
        (0xB007, True, True),
        (0x0110, True, False),  # C.5.21
        (0x0124, True, False),  # C.5.25
        (0x0117, False, False),  # C.5.12: Affected SOP Instance UID only
        (0x0210, False, False),  # C.5.9: Status only
    ],
)
def test_which_statuses_carry_error_comment_and_offending_element(
    code: int, error_comment: bool, offending_element: bool
) -> None:
    info = st.status_info(code, service=None)
    assert info.error_comment is error_comment
    assert info.offending_element is offending_element
    assert (ERROR_COMMENT in info.fields) is error_comment
    assert (OFFENDING_ELEMENT in info.fields) is offending_element


def test_annex_c_identifying_fields() -> None:
    assert ERROR_ID in st.status_info(0x0110, None).fields  # C.5.21
    assert ATTRIBUTE_IDENTIFIER_LIST in st.status_info(0x0107, None).fields  # C.4.2
    assert {EVENT_TYPE_ID, ACTION_TYPE_ID} <= st.status_info(0x0114, None).fields  # C.5.16
    assert ACTION_TYPE_ID in st.status_info(0x0123, None).fields  # C.5.24
    assert st.status_info(0x0116, None).fields == frozenset()  # C.4.3: a data set only


def test_status_info_record() -> None:
    info = st.status_info(0xA7F3)
    assert (info.low, info.high) == (0xA700, 0xA7FF)
    assert 0xA7F3 in info and 0xA800 not in info and "x" not in info
    assert str(info) == "0xA700-A7FF Failure: Refused: Out of Resources"
    assert str(st.status_info(0xB006)) == "0xB006 Warning: Elements Discarded"
    assert info.services == frozenset({"C-STORE"})


def test_storage_commitment_failure_reasons() -> None:
    # PS3.3 C.14.1.1
    assert st.commitment_failure_reason(0x0131) == "Duplicate transaction UID"
    assert st.commitment_failure_reason(0x0122) == "Referenced SOP Class not supported"
    assert set(st.COMMITMENT_FAILURE_REASONS) == {0x0110, 0x0112, 0x0213, 0x0122, 0x0119, 0x0131}
    with pytest.raises(UnknownStatusError):
        st.commitment_failure_reason(0x0111)


# -- cross-check with pynetdicom's status module ---------------------------------

_PND = {
    pnd_status.STATUS_SUCCESS: S,
    pnd_status.STATUS_WARNING: W,
    pnd_status.STATUS_FAILURE: F,
    pnd_status.STATUS_CANCEL: Category.CANCEL,
    pnd_status.STATUS_PENDING: Category.PENDING,
}


def test_categories_agree_with_pynetdicom() -> None:
    codes = {code for code, _, _ in TABLE_B_2_1 + ANNEX_C}
    codes |= set(range(0xA000, 0xB000, 0x37)) | set(range(0xB000, 0xD000, 0x41))
    codes |= {0xFF00, 0xFF01}
    for code in sorted(codes):
        assert st.status_category(code) is _PND[pnd_status.code_to_category(code)], hex(code)


def test_c_store_table_agrees_with_pynetdicom() -> None:
    table = pnd_status.STORAGE_SERVICE_CLASS_STATUS
    for code, category, _ in TABLE_B_2_1:
        assert _PND[table[code][0]] is category, hex(code)
    # pynetdicom says "Element Discarded"; the standard says "Elements Discarded".
    # Both put it at B006, and the Data Set mismatch warning at B007.
    assert "discarded" in table[0xB006][1].lower()
    assert "does not match" in table[0xB007][1].lower()
