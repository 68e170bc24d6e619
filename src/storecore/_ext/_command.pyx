# cython: language_level=3
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The fast path of the DIMSE command set codec (PS3.7 Sections 6.3.1, 9.3, 10.3, Annex E).

A command set is a short Implicit VR Little Endian group 0000 (PS3.7 Section
6.3.1). :class:`CommandCodec` reads one in a single pass over the bytes, checks
every field once with the rules of :mod:`storecore.dimse.messages` and makes
the message object without running those checks again; it writes one from a
message (or from the values a message would be made with) straight into the
bytes object it returns.

It never raises for bad bytes or values: :meth:`CommandCodec.decode` returns
None whenever anything is not exactly right, and the strict Python decoder
then reads the same bytes and raises the error (DatasetError with the offset,
CommandSetError with the status). Error strings are thus built only when there
is an error; and this path accepts what the strict decoder accepts (without
its leniencies), read the same way: tests/fuzz/fuzz_command.py and
tests/property/test_command_props.py hold the two to that.
Likewise the encoders return None for a value a valid message cannot hold, and
the Python encoder (or the message class) answers.

Bounds and wraparound checks are off in this module: every read is guarded by
an explicit length check, and tests/fuzz/fuzz_command.py exercises them.
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.long cimport PyLong_CheckExact
from cpython.object cimport PyObject_GenericSetAttr
from cpython.tuple cimport PyTuple_CheckExact
from cpython.unicode cimport PyUnicode_CheckExact, PyUnicode_AsUTF8AndSize, PyUnicode_GET_LENGTH

cdef enum:
    # Command element tags (PS3.7 Annex E.1)
    COMMAND_GROUP_LENGTH = 0x00000000
    COMMAND_FIELD = 0x00000100
    PRIORITY = 0x00000700
    COMMAND_DATA_SET_TYPE = 0x00000800
    NO_DATA_SET = 0x0101

# The largest value length the scanner accepts (0xFFFFFFFF is "undefined");
# not an enum constant: C enums are int
cdef uint32_t MAX_LENGTH = 0xFFFFFFFE

cdef dict _VRS = {"US": CV_US, "UI": CV_UI, "AE": CV_AE, "LO": CV_LO, "AT": CV_AT}
cdef dict _DATA_SET_RULES = {"optional": DS_OPTIONAL, "never": DS_NEVER, "always": DS_ALWAYS}
# what read_value returns for a value the fast path does not accept
cdef object _DECLINE = object()


cdef inline uint16_t rd16(const uint8_t* p) noexcept nogil:
    return p[0] | (<uint16_t>p[1] << 8)


cdef inline uint32_t rd32(const uint8_t* p) noexcept nogil:
    return p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef inline void wr16(uint8_t* p, uint16_t v) noexcept nogil:
    p[0] = v & 0xFF
    p[1] = v >> 8


cdef inline void wr32(uint8_t* p, uint32_t v) noexcept nogil:
    p[0] = v & 0xFF
    p[1] = (v >> 8) & 0xFF
    p[2] = (v >> 16) & 0xFF
    p[3] = v >> 24


cdef inline bint valid_uid(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    """PS3.5 Section 9.1: 1-64 characters, components of digits without a
    leading zero (unless the component is "0") separated by single periods."""
    cdef Py_ssize_t i = 0, start
    if n < 1 or n > 64:
        return False
    while True:
        start = i
        while i < n and 0x30 <= s[i] <= 0x39:
            i += 1
        if i == start or (s[start] == 0x30 and i - start > 1):
            return False
        if i == n:
            return True
        if s[i] != 0x2E:
            return False
        i += 1


cdef inline bint text_char(uint8_t c) noexcept nogil:
    # AE and LO in a command set: the Default Character Repertoire without
    # control characters or the backslash (PS3.5 Table 6.2-1)
    return 0x20 <= c <= 0x7E and c != 0x5C


cdef object read_value(const uint8_t* v, uint32_t length, uint8_t vr):
    """The value of one element, or _DECLINE if the strict decoder would refuse it."""
    cdef Py_ssize_t start, end, i
    cdef uint32_t max_chars
    if vr == CV_US:
        # value multiplicity 1 (PS3.7 Annex E.1)
        return rd16(v) if length == 2 else _DECLINE
    if vr == CV_UI:
        # one trailing NUL pads an odd UID to even length (PS3.5 Section 9.1)
        end = length - 1 if v[length - 1] == 0 else length
        if not valid_uid(v, end):
            return _DECLINE
        return (<const char*>v)[:end].decode("ascii")
    if vr == CV_AT:
        if length & 3:
            return _DECLINE
        return tuple([(<uint32_t>rd16(v + i) << 16) | rd16(v + i + 2) for i in range(0, length, 4)])
    # AE (16 characters) or LO (64): leading and trailing spaces are not
    # significant (PS3.5 Table 6.2-1) and are dropped
    max_chars = 16 if vr == CV_AE else 64
    for i in range(length):
        if not text_char(v[i]):
            return _DECLINE
    start = 0
    end = length
    while start < end and v[start] == 0x20:
        start += 1
    while end > start and v[end - 1] == 0x20:
        end -= 1
    if end == start or end - start > max_chars:
        return _DECLINE
    return (<const char*>v)[start:end].decode("ascii")


cdef class _MessageSpec:
    """One message class: its Command Field, its fields by tag, its data set rule."""

    def __cinit__(self, cls, uint32_t command_field, str data_set, fields):
        cdef int i, j
        cdef cc_field f
        self.cls = cls
        self.command_field = command_field
        self.data_set = _DATA_SET_RULES[data_set]
        self.nfields = len(fields)
        if self.nfields > MAX_FIELDS:
            raise ValueError(f"{cls.__name__} has more than {MAX_FIELDS} fields")
        self.names = tuple([name for name, _, _, _ in fields])
        for i, (name, tag, vr, required) in enumerate(fields):
            if not (0 < tag <= 0xFFFF) or tag == COMMAND_FIELD:
                raise ValueError(f"{cls.__name__}.{name}: {tag:#x} is not a command element")
            f.tag = tag
            f.vr = _VRS[vr]
            f.required = bool(required)
            f.index = i
            # insertion sort by tag: a handful of fields
            j = i
            while j > 0 and self.fields[j - 1].tag > f.tag:
                self.fields[j] = self.fields[j - 1]
                j -= 1
            if j > 0 and self.fields[j - 1].tag == f.tag:
                raise ValueError(f"{cls.__name__}: two fields with the tag {tag:#x}")
            self.fields[j] = f


cdef class CommandCodec:
    """Decode and encode the command sets of the registered message classes.

    Parameters
    ----------
    specs : iterable of tuple
        One ``(cls, command_field, data_set, fields)`` per message class:
        `data_set` is "never", "always" or "optional" (the Command Data Set
        Type (0000,0800) the message allows); `fields` are ``(name, tag, vr,
        required)`` in the order of the class's constructor, every field of
        the class (Command Field is implied by `command_field`), `vr` one of
        US, UI, AE, LO, AT. As the classes check it, a field with the tag of
        Command Data Set Type (0000,0800) must agree with `data_set`, and one
        with the tag of Priority (0000,0700) hold LOW, MEDIUM or HIGH.

    References
    ----------
    PS3.7 Sections 6.3.1, 9.3, 10.3 and Annex E; PS3.5 Sections 6.2, 7.1, 9.1.
    """

    def __cinit__(self, specs):
        cdef _MessageSpec spec
        self.by_field = {}
        self.by_class = {}
        for cls, command_field, data_set, fields in specs:
            spec = _MessageSpec(cls, command_field, data_set, fields)
            self.by_field[command_field] = spec
            self.by_class[cls] = spec

    # -- decoding ------------------------------------------------------------

    def decode(self, data, unsigned long long max_element_length=0xFFFFFFFE):
        """The message of the command set `data`, or None if the strict decoder must read it.

        `data` is bytes or any contiguous buffer of bytes. None means: not a
        valid command set of a registered message (or more than the fast path
        reads); the strict decoder then raises the error. `max_element_length`
        is :attr:`storecore.limits.Limits.max_element_length`.
        """
        cdef const uint8_t[::1] view
        cdef uint32_t max_len = MAX_LENGTH
        if max_element_length < max_len:
            max_len = <uint32_t>max_element_length
        if type(data) is bytes:
            return self._decode(<const uint8_t*>PyBytes_AS_STRING(data), len(<bytes>data), max_len)
        view = data
        if view.shape[0] == 0:
            return None
        return self._decode(&view[0], view.shape[0], max_len)

    cdef object _decode(self, const uint8_t* p, Py_ssize_t n, uint32_t max_len):
        cdef uint32_t tags[MAX_ELEMENTS]
        cdef uint32_t lengths[MAX_ELEMENTS]
        cdef Py_ssize_t offsets[MAX_ELEMENTS]
        cdef Py_ssize_t off = 12
        cdef int count = 0, i, k
        cdef uint32_t tag, length, previous = COMMAND_GROUP_LENGTH
        cdef long command_field = -1, data_set_type = -1, priority = -1
        cdef _MessageSpec spec
        cdef cc_field* f
        cdef list values
        # Command Group Length (0000,0000): first, UL, the number of bytes that
        # follow its value (PS3.7 Section 6.3.1, Annex E.1)
        if n < 12 or max_len < 4:
            return None
        if rd32(p) != COMMAND_GROUP_LENGTH or rd32(p + 4) != 4 or <uint64_t>rd32(p + 8) != <uint64_t>(n - 12):
            return None
        # The elements: group 0000 only, ascending and unique tags (PS3.5 7.1),
        # even defined lengths within the limit and the data (PS3.5 7.1.1)
        while off < n:
            if n - off < 8 or count == MAX_ELEMENTS:
                return None
            tag = (<uint32_t>rd16(p + off) << 16) | rd16(p + off + 2)
            length = rd32(p + off + 4)
            if tag > 0xFFFF or tag <= previous:
                return None
            if length > max_len or length & 1 or <uint64_t>length > <uint64_t>(n - off - 8):
                return None
            if tag == COMMAND_FIELD:
                if length != 2:
                    return None
                command_field = rd16(p + off + 8)
            else:
                tags[count] = tag
                lengths[count] = length
                offsets[count] = off + 8
                count += 1
            previous = tag
            off += 8 + length
        if command_field < 0:
            return None
        spec = self.by_field.get(command_field)
        if spec is None:
            return None
        # Fields and elements, both in tag order: every element a field of the
        # message, every required field present and not empty (PS3.7 9.3, 10.3)
        values = [None] * spec.nfields
        i = 0
        for k in range(spec.nfields):
            f = &spec.fields[k]
            if i < count and tags[i] < f.tag:
                return None  # an element the message does not define
            if i == count or tags[i] != f.tag or lengths[i] == 0:
                # absent, or empty (which says nothing): None, never the class
                # default, as the strict decoder does
                if f.required:
                    return None
                if i < count and tags[i] == f.tag:
                    i += 1
                continue
            value = read_value(p + offsets[i], lengths[i], f.vr)
            if value is _DECLINE:
                return None
            if f.tag == COMMAND_DATA_SET_TYPE:
                data_set_type = value
            elif f.tag == PRIORITY:
                priority = value
            values[f.index] = value
            i += 1
        if i < count:
            return None  # elements after the last field
        # The message-level rules of the classes' __post_init__
        if spec.data_set == DS_NEVER and data_set_type != NO_DATA_SET:
            return None
        if spec.data_set == DS_ALWAYS and data_set_type == NO_DATA_SET:
            return None
        if priority > 2:  # LOW, MEDIUM, HIGH (PS3.7 Annex E.1)
            return None
        # Every field was checked above with the classes' own rules: the
        # object is made without running them again (its __post_init__).
        msg = object.__new__(spec.cls)
        for k in range(spec.nfields):
            PyObject_GenericSetAttr(msg, spec.names[k], values[k])
        return msg

    # -- encoding ------------------------------------------------------------

    def encode(self, message):
        """The command set of `message`, or None if its class is not registered
        or a value is not one a valid message holds (then the Python encoder answers)."""
        cdef _MessageSpec spec = self.by_class.get(type(message))
        if spec is None:
            return None
        return self._write(spec, tuple([getattr(message, name) for name in spec.names]))

    def encode_values(self, cls, tuple values):
        """The command set of the message `cls(*values)` would be, without making it.

        `values` are every field in the order of the class's constructor.
        Only the encoding is checked (US values within 0-65535, ASCII text,
        32-bit tags): the caller vouches for the rest, e.g. UIDs taken from a
        valid request. None if `cls` is not registered or a value cannot be
        written; the caller then makes the message, which says what is wrong.
        """
        cdef _MessageSpec spec = self.by_class.get(cls)
        if spec is None or len(values) != spec.nfields:
            return None
        return self._write(spec, values)

    cdef object _write(self, _MessageSpec spec, tuple values):
        # Elements in ascending tag order, Command Field among them, each with
        # its 8-byte header; UI padded with NUL, AE and LO with a space to an
        # even length (PS3.5 Sections 6.2 and 7.1; PS3.7 Section 6.3.1).
        cdef Py_ssize_t sizes[MAX_FIELDS]
        cdef const char* texts[MAX_FIELDS]
        cdef Py_ssize_t body = 10, n, total, off, j  # Command Field: header and US value
        cdef int k
        cdef bint field_written = False
        cdef cc_field* f
        cdef uint8_t* out
        cdef long us
        cdef unsigned long long at
        for k in range(spec.nfields):
            f = &spec.fields[k]
            value = values[f.index]
            sizes[k] = -1
            if value is None:
                if f.required:
                    return None
                continue
            if f.vr == CV_US:
                if not PyLong_CheckExact(value) or not 0 <= value <= 0xFFFF:
                    return None
                sizes[k] = 2
            elif f.vr == CV_AT:
                if not PyTuple_CheckExact(value) or len(value) == 0:
                    return None
                for t in value:
                    if not PyLong_CheckExact(t) or not 0 <= t <= 0xFFFFFFFF:
                        return None
                sizes[k] = 4 * len(value)
            else:
                if not PyUnicode_CheckExact(value):
                    return None
                try:
                    texts[k] = PyUnicode_AsUTF8AndSize(value, &n)
                except UnicodeError:  # lone surrogates
                    return None
                if n != PyUnicode_GET_LENGTH(value) or n > 0xFFFF:
                    return None  # not ASCII; or too long for any valid value
                sizes[k] = n + (n & 1)
            body += 8 + sizes[k]
        total = 12 + body
        result = PyBytes_FromStringAndSize(NULL, total)
        out = <uint8_t*>PyBytes_AS_STRING(result)
        wr32(out, COMMAND_GROUP_LENGTH)
        wr32(out + 4, 4)
        wr32(out + 8, <uint32_t>body)
        off = 12
        for k in range(spec.nfields + 1):
            if not field_written and (k == spec.nfields or spec.fields[k].tag > COMMAND_FIELD):
                wr16(out + off, 0)
                wr16(out + off + 2, COMMAND_FIELD)
                wr32(out + off + 4, 2)
                wr16(out + off + 8, <uint16_t>spec.command_field)
                off += 10
                field_written = True
            if k == spec.nfields:
                break
            if sizes[k] < 0:
                continue
            f = &spec.fields[k]
            value = values[f.index]
            wr16(out + off, 0)
            wr16(out + off + 2, <uint16_t>f.tag)
            wr32(out + off + 4, <uint32_t>sizes[k])
            off += 8
            if f.vr == CV_US:
                us = value
                wr16(out + off, <uint16_t>us)
            elif f.vr == CV_AT:
                j = 0
                for t in value:
                    at = t
                    wr16(out + off + j, <uint16_t>(at >> 16))
                    wr16(out + off + j + 2, <uint16_t>(at & 0xFFFF))
                    j += 4
            else:
                n = PyUnicode_GET_LENGTH(value)
                memcpy(out + off, texts[k], n)
                if n & 1:
                    out[off + n] = 0 if f.vr == CV_UI else 0x20
            off += sizes[k]
        return result
