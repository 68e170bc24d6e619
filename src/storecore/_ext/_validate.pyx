# cython: language_level=3
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The built-in validators' quick tests: "certainly nothing to report", or "let the exact check decide".

:mod:`storecore.validators.builtin` runs on every received instance, after
its pixel data went through the caches (copied, hashed, written): the checks
run cache-cold, where interpreted Python costs five times what it costs in a
loop (issue 7 measured 150 us a CT instance against a budget of 10% of
ingest). These functions read the scanner's tokens and the data set's bytes
in C and answer True only when the exact Python check, which stays the
reference, would certainly find nothing; anything unusual (a value they cannot
see or read, a multi-valued UID, a sequence, encapsulated pixel data) answers
False and is left to it, so the findings are the same either way.

Tokens are the scanner's (kind, tag, vr, length, offset, value_offset, depth,
...) tuples; ``head`` holds the data set's first bytes (offsets from its
start); a value past it answers False.

References
----------
PS3.5 Sections 6.2 (VRs, padding), 6.4 (value multiplicity), 7.1 (data
elements), 8.1.1 and 8.2 (native pixel data), 9.1 (UID encoding rules);
PS3.3 C.12.1.1.2 (Specific Character Set).
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_GetItem
from cpython.long cimport PyLong_AsLong, PyLong_AsSsize_t
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_Check, PyTuple_GET_ITEM, PyTuple_GET_SIZE

from storecore._ext._scanner cimport (
    TK_ELEMENT, TK_SEQUENCE_START, TK_ENCAPSULATED_START, TK_BASIC_OFFSET_TABLE, TK_FRAGMENT,
    UNDEFINED_LENGTH,
)

cdef enum:
    MAX_UID_LENGTH = 64      # PS3.5 9.1
    ABSENT = -3              # _number: no value
    UNREADABLE = -1          # _number: not a value this reads as the exact check does

# PS3.5 Table 6.2-1: the character string VRs, whose padding is not a value
cdef frozenset TEXT_VRS = frozenset((
    "AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI",
    "UR", "UT",
))

# A token's fields, read without the sequence protocol: a Token is a tuple
# subclass, and indexing one from Cython would make an index object each time.
cdef struct tok:
    long kind
    Py_ssize_t length          # as encoded: UNDEFINED_LENGTH for undefined
    Py_ssize_t value_offset
    long depth

# The data set's first bytes.
cdef struct span:
    const unsigned char* p
    Py_ssize_t n


cdef inline int _read(object t, tok* out) except -1:
    if not PyTuple_Check(t) or PyTuple_GET_SIZE(t) < 7:
        raise TypeError(f"not a scanner token: {t!r}")
    out.kind = PyLong_AsLong(<object>PyTuple_GET_ITEM(t, 0))
    out.length = PyLong_AsSsize_t(<object>PyTuple_GET_ITEM(t, 3))
    out.value_offset = PyLong_AsSsize_t(<object>PyTuple_GET_ITEM(t, 5))
    out.depth = PyLong_AsLong(<object>PyTuple_GET_ITEM(t, 6))
    return 0


cdef inline object _vr(object t):
    return <object>PyTuple_GET_ITEM(t, 2)


cdef inline object _top(dict top, object tag):
    cdef PyObject* found = PyDict_GetItem(top, tag)
    return None if found is NULL else <object>found


cdef inline bint _is_value_kind(long kind) noexcept:
    return kind == TK_ELEMENT or kind == TK_BASIC_OFFSET_TABLE or kind == TK_FRAGMENT


cdef inline bint _is_padding(unsigned char c) noexcept:
    return c == 0x20 or c == 0x00


cdef inline bint _is_space(unsigned char c) noexcept:
    # what bytes.strip() and str.strip() both strip (ASCII whitespace)
    return c == 0x20 or c == 0x09 or c == 0x0A or c == 0x0D or c == 0x0B or c == 0x0C


cdef inline bint _value(span h, object t, tok* f, Py_ssize_t* at, Py_ssize_t* end) except -1:
    # an element's value in `h`, padding (spaces, NULs) stripped; False: past `h`
    _read(t, f)
    if f.value_offset < 0 or f.length < 0 or f.value_offset + f.length > h.n:
        return False
    at[0] = f.value_offset
    end[0] = f.value_offset + f.length
    while at[0] < end[0] and _is_padding(h.p[at[0]]):
        at[0] += 1
    while end[0] > at[0] and _is_padding(h.p[end[0] - 1]):
        end[0] -= 1
    return True


def index_tokens(object tokens, Py_ssize_t large_value, Py_ssize_t max_head):
    """The top-level tokens by tag, and how many bytes of the data set to read ahead.

    Returns
    -------
    (dict, int)
        Tag -> the top-level element, sequence or encapsulated pixel data
        token (the last of a repeated tag, at the place of the first); the
        offset of the first value longer than `large_value` (or the end of the
        data set), at most `max_head`.
    """
    cdef list items = tokens if type(tokens) is list else list(tokens)
    cdef dict top = {}
    cdef Py_ssize_t i, n = len(items)
    cdef Py_ssize_t head = -1
    cdef tok f
    cdef object t
    for i in range(n):
        t = items[i]
        _read(t, &f)
        if f.depth == 0 and (
            f.kind == TK_ELEMENT or f.kind == TK_SEQUENCE_START
            or f.kind == TK_ENCAPSULATED_START
        ):
            top[<object>PyTuple_GET_ITEM(t, 1)] = t
        if (
            head < 0 and _is_value_kind(f.kind) and f.length > large_value
            and f.length != UNDEFINED_LENGTH
        ):
            head = min(f.value_offset, max_head)
    if head < 0:
        head = 0
        if n:
            _read(items[n - 1], &f)
            head = f.value_offset
            if _is_value_kind(f.kind):
                head += f.length
            head = min(head, max_head)
    return top, head


# ---------------------------------------------------------------- the checks


cdef bint _present(dict top, tuple tags) except -1:
    for tag in tags:
        if PyDict_GetItem(top, tag) is NULL:
            return False
    return True


cdef bint _filled(span h, dict top, tuple tags) except -1:
    # no present tag of `tags` is empty as InstanceView.is_empty says (no
    # value, only padding in a string VR, a sequence of no items)
    cdef tok f
    cdef Py_ssize_t at, end
    for tag in tags:
        t = _top(top, tag)
        if t is None:
            continue
        _read(t, &f)
        if f.length == 0:
            return False  # no value, no items
        if f.kind == TK_SEQUENCE_START:
            return False  # items or not: the exact check walks the tokens
        if f.kind == TK_ELEMENT and _vr(t) in TEXT_VRS:
            if not _value(h, t, &f, &at, &end) or at == end:
                return False
    return True


cdef bint _uid_ok(span h, Py_ssize_t at, Py_ssize_t end) noexcept:
    # one UID (PS3.5 9.1): dot-separated components of digits, none with a
    # leading zero unless it is "0"; a backslash (several values) is not
    cdef Py_ssize_t j, start = at
    cdef unsigned char c
    if end - at > MAX_UID_LENGTH:
        return False
    for j in range(at, end):
        c = h.p[j]
        if c == 0x2E:  # "."
            if j == start:
                return False
            start = j + 1
        elif 0x30 <= c <= 0x39:
            if c == 0x30 and j == start and j + 1 < end and h.p[j + 1] != 0x2E:
                return False
        else:
            return False
    return start < end


cdef bint _uids_wellformed(span h, dict top) except -1:
    # every top-level UI element holds one well-formed UID, or nothing
    cdef tok f
    cdef Py_ssize_t at, end
    for t in top.values():
        _read(t, &f)
        if _vr(t) != "UI" or f.kind != TK_ELEMENT or f.length == 0:
            continue
        if not _value(h, t, &f, &at, &end):
            return False
        if at < end and not _uid_ok(h, at, end):
            return False
    return True


cdef Py_ssize_t _decimal(span h, Py_ssize_t at, Py_ssize_t end) noexcept:
    # the first value of a padded string as plain digits, or UNREADABLE
    cdef Py_ssize_t j, number = 0
    for j in range(at, end):
        if h.p[j] == 0x5C:  # "\": the first value ends
            end = j
            break
    if at == end or end - at > 12:
        return UNREADABLE
    for j in range(at, end):
        if not 0x30 <= h.p[j] <= 0x39:
            return UNREADABLE
        number = number * 10 + (h.p[j] - 0x30)
    return number


cdef Py_ssize_t _number(span h, bint big_endian, object t) except -2:
    # a top-level value as InstanceView.uint reads it: the number, ABSENT (no
    # value: uint says None) or UNREADABLE
    cdef tok f
    cdef Py_ssize_t at, end
    cdef const unsigned char* v
    if t is None:
        return ABSENT
    _read(t, &f)
    if f.kind != TK_ELEMENT or f.length == 0:
        return ABSENT
    if f.value_offset < 0 or f.value_offset + f.length > h.n:
        return UNREADABLE
    vr = _vr(t)
    v = h.p + f.value_offset
    if (vr == "US" or vr == "xs" or vr == "SS") and f.length >= 2:
        return (v[0] << 8) | v[1] if big_endian else (v[1] << 8) | v[0]
    if (vr == "UL" or vr == "SL") and f.length >= 4:
        if big_endian:
            return (<Py_ssize_t>v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]
        return (<Py_ssize_t>v[3] << 24) | (v[2] << 16) | (v[1] << 8) | v[0]
    if vr == "IS":
        if not _value(h, t, &f, &at, &end):
            return UNREADABLE
        return _decimal(h, at, end)
    return UNREADABLE


cdef bint _strings_in(span h, object t, Py_ssize_t index, frozenset allowed, bint first_may_be_empty) except -1:
    # the string values of `t` (every one, or the one at `index`), split at
    # backslashes (PS3.5 6.4) and stripped as the exact checks strip them, are
    # in `allowed`; an empty value is not checked (unless it is not the first
    # and `first_may_be_empty`: then it is a value to check)
    cdef tok f
    cdef Py_ssize_t at, end, start, stop, next_start, k = 0
    if not _value(h, t, &f, &at, &end):
        return False
    if at == end:
        return True
    start = at
    while start <= end:
        stop = start
        while stop < end and h.p[stop] != 0x5C:
            stop += 1
        next_start = stop + 1
        if index < 0 or k == index:
            while start < stop and _is_space(h.p[start]):
                start += 1
            while stop > start and _is_space(h.p[stop - 1]):
                stop -= 1
            if stop > start or (first_may_be_empty and k > 0):
                if PyBytes_FromStringAndSize(<const char*>(h.p + start), stop - start) not in allowed:
                    return False
            if k == index:
                return True
        start = next_start
        k += 1
    return True


cdef bint _enumerated(span h, dict top, bint big_endian, tuple rows) except -1:
    cdef tok f
    cdef Py_ssize_t index, number
    cdef tuple row
    for row in rows:
        t = _top(top, row[0])
        if t is None:
            continue
        _read(t, &f)
        if f.kind != TK_ELEMENT or f.length == 0:
            continue
        index = row[1]
        vr = _vr(t)
        if vr == "US" or vr == "SS" or vr == "xs" or vr == "UL":
            number = _number(h, big_endian, t)
            if number < 0:
                return False
            # one number: a second value is never checked
            if index <= 0 and str(number) not in <frozenset>row[3]:
                return False
        elif not _strings_in(h, t, index, <frozenset>row[2], False):
            return False
    return True


cdef bint _text_is(span h, object t, bytes expected) except -1:
    # a top-level element whose value, padding stripped, is `expected` (b"": any value)
    cdef tok f
    cdef Py_ssize_t at, end, n = len(expected)
    if t is None:
        return False
    _read(t, &f)
    if f.kind != TK_ELEMENT or not _value(h, t, &f, &at, &end) or at == end:
        return False
    if not n:
        return True
    return end - at == n and h.p[at:end] == expected


cdef bint _native_pixel_data_length(span h, dict top, bint big_endian, Py_ssize_t length) except -1:
    # PS3.5 8.1.1, 8.2: as long as Rows x Columns x Samples x Bits Allocated x Frames says
    cdef Py_ssize_t rows, cols, samples, bits, frames, expected
    rows = _number(h, big_endian, _top(top, 0x00280010))
    cols = _number(h, big_endian, _top(top, 0x00280011))
    samples = _number(h, big_endian, _top(top, 0x00280002))
    bits = _number(h, big_endian, _top(top, 0x00280100))
    if rows == UNREADABLE or cols == UNREADABLE or samples == UNREADABLE or bits == UNREADABLE:
        return False
    if rows == ABSENT or cols == ABSENT or samples == ABSENT or bits == ABSENT:
        return True  # the module checks report the missing attribute
    if samples == 3:
        return False  # YBR_FULL_422 has two samples a pixel: the exact check reads it
    frames = _number(h, big_endian, _top(top, 0x00280008))
    if frames == UNREADABLE:
        return False
    if frames == ABSENT or frames == 0:
        frames = 1
    # bounded so that the product fits in 63 bits; past them, Python's integers decide
    if rows > 0xFFFF or cols > 0xFFFF or samples > 4 or bits > 64 or frames > 0xFFFFF:
        return False
    expected = (rows * cols * samples * bits * frames + 7) // 8
    return length == expected or length == expected + (expected & 1)


# ---------------------------------------------------------------- entry points


cdef inline int _acquire(object head, Py_buffer* buf, span* h) except -1:
    PyObject_GetBuffer(head, buf, PyBUF_SIMPLE)
    h.p = <const unsigned char*>buf.buf
    h.n = buf.len
    return 0


def iod_clean(
    dict top, object head, bint big_endian, tuple required, tuple type_1, tuple allowed
):
    """True if ``builtin.iod`` certainly finds nothing; False: it decides.

    `required`: the Type 1 and 2 tags; `type_1`: those that must not be
    empty; `allowed`: (tag, value index or -1 for every value, Enumerated
    Values as ASCII bytes, as str) rows. A binary value (US, SS, xs, UL) is
    read as the unsigned number the exact check reads and compared as its
    decimal string.
    """
    cdef Py_buffer buf
    cdef span h
    _acquire(head, &buf, &h)
    try:
        return (
            _present(top, required) and _filled(h, top, type_1)
            and _enumerated(h, top, big_endian, allowed)
        )
    finally:
        PyBuffer_Release(&buf)


def common_clean(
    dict top,
    object head,
    bint big_endian,
    bint encapsulated,
    object sop_class_uid,
    object sop_instance_uid,
    tuple ie_tags,
    tuple ie_type_1,
    frozenset character_sets,
):
    """True if ``builtin.common`` certainly finds nothing; False: it decides.

    `sop_class_uid`, `sop_instance_uid`: the command's, as ASCII bytes (b"":
    any value will do), or None (not ASCII: the exact check compares).
    `ie_tags` empty: the IE keys are not checked (a Non-Patient Object).
    `character_sets`: the known terms, as ASCII bytes. Encapsulated pixel
    data is left to the exact check.
    """
    cdef Py_buffer buf
    cdef span h
    cdef tok f
    if sop_class_uid is None or sop_instance_uid is None:
        return False
    _acquire(head, &buf, &h)
    try:
        if not (
            _text_is(h, _top(top, 0x00080016), sop_class_uid)
            and _text_is(h, _top(top, 0x00080018), sop_instance_uid)
            and _uids_wellformed(h, top)
            and _present(top, ie_tags)
            and _filled(h, top, ie_type_1)
        ):
            return False
        t = _top(top, 0x00080005)  # PS3.3 C.12.1.1.2: the first value may be empty
        if t is not None:
            _read(t, &f)
            if f.kind == TK_ELEMENT and f.length and not _strings_in(h, t, -1, character_sets, True):
                return False
        t = _top(top, 0x7FE00010)
        if t is None:
            return True
        _read(t, &f)
        if f.kind != TK_ELEMENT:
            return False  # encapsulated: fragments and offset table, in Python
        if encapsulated:
            return f.length == 0  # native pixel data in an encapsulated syntax
        return _native_pixel_data_length(h, top, big_endian, f.length)
    finally:
        PyBuffer_Release(&buf)
