# cython: language_level=3
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Incremental DICOM data element scanner (PS3.5 Sections 7 and 8).

Reads a dataset in Implicit VR Little Endian, Explicit VR Little Endian or
Explicit VR Big Endian, fed whole or in chunks of any size, and produces tokens
carrying absolute byte offsets: element headers, sequence and item starts and
ends, encapsulated pixel data (Basic Offset Table and fragments). Values are
never copied, except the few top-level values a caller asks to capture (the
summary keys); the caller slices values from its own buffer by offset.

Bounds and wraparound checks are off in this module: every read is guarded by
an explicit length check, and tests/fuzz/fuzz_scanner.py exercises them.
"""

from libc.stdlib cimport malloc, realloc, free
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, UINT64_MAX
from libc.string cimport memcpy
from libc.stdio cimport snprintf

from collections import namedtuple
from enum import IntEnum

from storecore.errors import DatasetError

cdef extern from "_vr_table.h":
    const uint32_t SC_VR_TAGS[]
    const uint16_t SC_VR_CODES[]
    const uint32_t SC_VR_REPEATERS[]
    int SC_VR_TABLE_SIZE
    int SC_VR_REPEATERS_SIZE


class TokenKind(IntEnum):
    """What a :class:`Token` stands for."""

    ELEMENT = TK_ELEMENT
    SEQUENCE_START = TK_SEQUENCE_START
    SEQUENCE_END = TK_SEQUENCE_END
    ITEM_START = TK_ITEM_START
    ITEM_END = TK_ITEM_END
    ENCAPSULATED_START = TK_ENCAPSULATED_START
    BASIC_OFFSET_TABLE = TK_BASIC_OFFSET_TABLE
    FRAGMENT = TK_FRAGMENT
    ENCAPSULATED_END = TK_ENCAPSULATED_END


Token = namedtuple(
    "Token", ["kind", "tag", "vr", "length", "offset", "value_offset", "depth", "implicit", "delimited"]
)
Token.__doc__ = """One scanned token.

kind: TokenKind; tag: int (group << 16 | element); vr: str (as encoded in
explicit VR; the dictionary VR in implicit VR, which may be ambiguous such as
"US or SS"; "" for items and delimiters); length: the encoded length
(0xFFFFFFFF undefined); offset: absolute offset of the header; value_offset:
absolute offset of the value (for end tokens, just past the token);
depth: nesting depth (0 = top level); implicit: read as implicit VR (inside a
UN sequence of undefined length, PS3.5 6.2.2); delimited: an end token that
stands for delimiter bytes in the stream (else a defined length ran out).
"""

# Tokens are made for every element of every received instance when
# validators are configured: TokenKind(k) (Enum.__call__) and the namedtuple's
# Python __new__ cost about 1.2 us a token, ten times the scan itself, so the
# members are looked up by kind and the tuples made by tuple.__new__ (issue 7).
cdef tuple _KINDS = tuple(TokenKind._value2member_map_.get(k) for k in range(max(TokenKind) + 1))
cdef object _tuple_new = tuple.__new__

cdef dict _VR_NAMES = {}
_AMBIGUOUS_NAMES = {"xs": "US or SS", "ox": "OB or OW", "uw": "US or OW", "xw": "US or SS or OW"}

# The 34 VRs of PS3.5 Table 6.2-1, and which of them have a 32-bit length
# in explicit VR (PS3.5 Section 7.1.2, Table 7.1-1).
cdef tuple _SHORT_VRS = ("AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT",
                         "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US")
cdef tuple _LONG_VRS = ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")

cdef uint8_t _vr_class[65536]   # 0 unknown, 1 short, 2 long
for _name in _SHORT_VRS:
    _vr_class[(ord(_name[0]) << 8) | ord(_name[1])] = 1
for _name in _LONG_VRS:
    _vr_class[(ord(_name[0]) << 8) | ord(_name[1])] = 2

cdef inline object vr_name(uint16_t vr):
    if vr == 0:
        return ""
    name = _VR_NAMES.get(vr)
    if name is None:
        name = chr(vr >> 8) + chr(vr & 0xFF)
        name = _AMBIGUOUS_NAMES.get(name, name)
        _VR_NAMES[vr] = name
    return name


def vr_code(str name):
    """The packed two-byte code of a VR name (the scanner's internal form)."""
    rev = {v: k for k, v in _AMBIGUOUS_NAMES.items()}
    name = rev.get(name, name)
    if len(name) != 2:
        raise ValueError(f"not a VR: {name!r}")
    return (ord(name[0]) << 8) | ord(name[1])


cdef enum:
    VR_SQ = 0x5351
    VR_UN = 0x554E
    VR_OB = 0x4F42
    VR_OW = 0x4F57
    VR_UL = 0x554C
    VR_LO = 0x4C4F
    VR_ox = 0x6F78


cdef uint16_t dictionary_vr(uint32_t tag) noexcept nogil:
    """The VR of a tag by PS3.6 (pydicom's dictionary), UN when unknown.

    Group length tags are UL; private tags are UN except private creators (LO),
    as PS3.5 Section 6.2.2 and Section 7.8.1 say.
    """
    cdef int lo = 0, hi = SC_VR_TABLE_SIZE - 1, mid, i
    cdef uint32_t t
    cdef uint16_t group = tag >> 16
    cdef uint16_t elem = tag & 0xFFFF
    if elem == 0:
        return VR_UL
    if group & 1:
        if 0x0010 <= elem <= 0x00FF:
            return VR_LO
        return VR_UN
    while lo <= hi:
        mid = (lo + hi) >> 1
        t = SC_VR_TAGS[mid]
        if t == tag:
            return SC_VR_CODES[mid]
        if t < tag:
            lo = mid + 1
        else:
            hi = mid - 1
    for i in range(SC_VR_REPEATERS_SIZE):
        if (tag & SC_VR_REPEATERS[3 * i]) == SC_VR_REPEATERS[3 * i + 1]:
            return <uint16_t>SC_VR_REPEATERS[3 * i + 2]
    return VR_UN


def lookup_dictionary_vr(uint32_t tag):
    """The dictionary VR of `tag` as the implicit-VR scanner sees it (e.g. "US or SS", "UN")."""
    return vr_name(dictionary_vr(tag))


cdef bint is_long_vr(uint16_t vr) noexcept nogil:
    return _vr_class[vr] == 2


cdef inline uint16_t rd16(const uint8_t* p, bint big) noexcept nogil:
    if big:
        return (<uint16_t>p[0] << 8) | p[1]
    return p[0] | (<uint16_t>p[1] << 8)


cdef inline uint32_t rd32(const uint8_t* p, bint big) noexcept nogil:
    if big:
        return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]
    return p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef inline int header_need(const uint8_t* h, int avail, uint8_t enc) noexcept nogil:
    """Bytes the header starting at h needs: 8, or 12 for explicit VR with a 32-bit length."""
    if avail < 8:
        return 8
    if enc & ENC_IMPLICIT:
        return 8
    if rd16(h, enc & ENC_BIG) == 0xFFFE:
        return 8
    if _vr_class[(<uint16_t>h[4] << 8) | h[5]] == 2:
        return 12
    return 8


cdef class Scanner:
    """Incremental scanner of one dataset.

    Parameters
    ----------
    implicit_vr : bool
        Implicit VR Little Endian (PS3.5 Section 7.1.3).
    big_endian : bool
        Explicit VR Big Endian (retired, PS3.5 Annex A.3).
    max_element_length, max_sequence_depth : int
        Limits (see :class:`storecore.limits.Limits`).
    lenient_odd_length : bool
        Accept odd value lengths, which PS3.5 Section 7.1.1 forbids. Off by default.
    tokens : bool
        Record tokens (the summary path turns this off).
    stop_tag : int
        Stop at the first top-level element whose tag is >= stop_tag, after
        reading its header (its value is not consumed); 0 = never.
    capture : sequence of int
        Top-level tags whose values (up to max_captured_value bytes) are kept.
    """

    def __cinit__(self, bint implicit_vr=False, bint big_endian=False, *,
                  unsigned long long max_element_length=0xFFFFFFFE, int max_sequence_depth=64,
                  bint lenient_odd_length=False, bint tokens=True, uint32_t stop_tag=0,
                  capture=(), unsigned int max_captured_value=1024):
        cdef int i
        if implicit_vr and big_endian:
            raise ValueError("there is no implicit VR big endian transfer syntax")
        self.base_enc = (ENC_IMPLICIT if implicit_vr else 0) | (ENC_BIG if big_endian else 0)
        self.lenient_odd_length = lenient_odd_length
        self.emit = tokens
        self.stop_tag = stop_tag
        self.max_len = <uint32_t>min(max_element_length, 0xFFFFFFFE)
        self.max_depth = max_sequence_depth
        self.max_capture = max_captured_value
        self.capframes = 8
        self.frames = <sc_frame*>malloc(self.capframes * sizeof(sc_frame))
        self.captokens = 256 if tokens else 0
        self.tokens = <sc_token*>malloc(max(self.captokens, 1) * sizeof(sc_token))
        self.ncapture = len(capture)
        if self.ncapture > MAX_CAPTURE:
            raise ValueError(f"at most {MAX_CAPTURE} tags can be captured")
        for i in range(self.ncapture):
            self.capture_tags[i] = capture[i]
            self.capture_len[i] = -1
            self.capture_vrs[i] = 0
        self.capture_data = <uint8_t*>malloc(max(self.ncapture, 1) * self.max_capture)
        self.cur_capture = -1
        if self.frames == NULL or self.tokens == NULL or self.capture_data == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.frames)
        free(self.tokens)
        free(self.capture_data)

    # -- the nogil core ---------------------------------------------------

    cdef int _fail(self, const char* msg, uint64_t offset) noexcept nogil:
        self.err_msg = msg
        self.err_offset = offset
        return -1

    cdef int _emit(self, uint8_t kind, uint32_t tag, uint16_t vr, uint32_t length,
                   uint64_t offset, uint64_t value_offset, uint8_t enc, uint8_t flags) noexcept nogil:
        cdef sc_token* t
        cdef sc_token* grown
        if not self.emit:
            return 0
        if self.ntokens == self.captokens:
            grown = <sc_token*>realloc(self.tokens, 2 * self.captokens * sizeof(sc_token))
            if grown == NULL:
                return self._fail("out of memory for tokens", offset)
            self.tokens = grown
            self.captokens *= 2
        t = &self.tokens[self.ntokens]
        t.kind = kind
        t.tag = tag
        t.vr = vr
        t.length = length
        t.offset = offset
        t.value_offset = value_offset
        t.enc = enc
        t.flags = flags
        t.depth = self.nframes
        self.ntokens += 1
        return 0

    cdef int _push(self, uint8_t kind, uint32_t tag, uint64_t end, uint8_t enc) noexcept nogil:
        cdef sc_frame* grown
        cdef sc_frame* f
        if self.nframes >= self.max_depth:
            return self._fail("sequence nesting deeper than the limit", self.pos)
        if self.nframes > 0:
            f = &self.frames[self.nframes - 1]
            if end != UINT64_MAX and f.end != UINT64_MAX and end > f.end:
                return self._fail("value runs past the end of its enclosing item or sequence", self.pos)
        if self.nframes == self.capframes:
            grown = <sc_frame*>realloc(self.frames, 2 * self.capframes * sizeof(sc_frame))
            if grown == NULL:
                return self._fail("out of memory for frames", self.pos)
            self.frames = grown
            self.capframes *= 2
        f = &self.frames[self.nframes]
        f.kind = kind
        f.tag = tag
        f.end = end
        f.items = 0
        f.enc = enc
        self.nframes += 1
        return 0

    cdef int _close_frames(self) noexcept nogil:
        """Pop the defined-length frames that end exactly here."""
        cdef sc_frame* f
        while self.nframes > 0:
            f = &self.frames[self.nframes - 1]
            if f.end == UINT64_MAX or f.end > self.pos:
                return 0
            if f.end < self.pos:
                return self._fail("item or sequence ends inside an element", f.end)
            self.nframes -= 1
            if self._emit(TK_ITEM_END if f.kind == FR_ITEM else TK_SEQUENCE_END,
                          f.tag if f.kind != FR_ITEM else 0xFFFEE00D, 0, 0,
                          self.pos, self.pos, f.enc, 0) < 0:
                return -1
        return 0

    cdef int _header(self, const uint8_t* h, int hlen) noexcept nogil:
        """Act on one complete header at self.pos (which is not yet advanced)."""
        cdef uint64_t start = self.pos
        cdef uint64_t vstart = start + hlen
        cdef uint8_t enc = self.frames[self.nframes - 1].enc if self.nframes else self.base_enc
        cdef bint big = enc & ENC_BIG
        cdef uint16_t group = rd16(h, big)
        cdef uint16_t elem = rd16(h + 2, big)
        cdef uint32_t tag = (<uint32_t>group << 16) | elem
        cdef uint32_t length
        cdef uint16_t vr
        cdef sc_frame* top = &self.frames[self.nframes - 1] if self.nframes else NULL
        cdef uint64_t end
        cdef int i
        self.err_tag = tag
        self.err_has_tag = True
        self.pos = vstart

        if group == 0xFFFE:
            length = rd32(h + 4, big)
            if elem == 0xE000:
                if top == NULL or top.kind == FR_ITEM:
                    return self._fail("item tag outside a sequence", start)
                if top.kind == FR_ENCAPSULATED:
                    if length == UNDEFINED_LENGTH:
                        return self._fail("pixel data fragment of undefined length", start)
                    if length & 1 and not self.lenient_odd_length:
                        return self._fail("odd fragment length", start)
                    if top.end != UINT64_MAX and vstart + length > top.end:
                        return self._fail("fragment runs past the end of the pixel data", start)
                    if self._emit(TK_BASIC_OFFSET_TABLE if top.items == 0 else TK_FRAGMENT,
                                  tag, 0, length, start, vstart, enc, 0) < 0:
                        return -1
                    top.items += 1
                    self.skip = length
                    return 0
                top.items += 1
                if length != UNDEFINED_LENGTH and length & 1 and not self.lenient_odd_length:
                    return self._fail("odd item length", start)
                if self._emit(TK_ITEM_START, tag, 0, length, start, vstart, enc, 0) < 0:
                    return -1
                end = UINT64_MAX if length == UNDEFINED_LENGTH else vstart + length
                return self._push(FR_ITEM, tag, end, enc)
            if elem == 0xE00D:
                if top == NULL or top.kind != FR_ITEM or top.end != UINT64_MAX:
                    return self._fail("item delimiter outside an item of undefined length", start)
                if length != 0:
                    return self._fail("item delimiter with a non-zero length", start)
                self.nframes -= 1
                return self._emit(TK_ITEM_END, tag, 0, 0, start, vstart, enc, TF_DELIMITED)
            if elem == 0xE0DD:
                if top == NULL or top.kind == FR_ITEM or top.end != UINT64_MAX:
                    return self._fail("sequence delimiter outside a sequence of undefined length", start)
                if length != 0:
                    return self._fail("sequence delimiter with a non-zero length", start)
                self.nframes -= 1
                return self._emit(TK_ENCAPSULATED_END if top.kind == FR_ENCAPSULATED else TK_SEQUENCE_END,
                                  tag, 0, 0, start, vstart, enc, TF_DELIMITED)
            return self._fail("unknown item or delimiter tag in group FFFE", start)

        if top != NULL and top.kind != FR_ITEM:
            return self._fail("data element directly inside a sequence (expected an item)", start)

        if enc & ENC_IMPLICIT:
            vr = dictionary_vr(tag)
            length = rd32(h + 4, big)
        else:
            vr = (<uint16_t>h[4] << 8) | h[5]
            if hlen == 12:
                length = rd32(h + 8, big)
            else:
                length = rd16(h + 6, big)

        if self.stop_tag and self.nframes == 0 and tag >= self.stop_tag:
            # Checked before the VR: the File Meta reader stops at the first
            # dataset element, which may be in another encoding.
            if not (enc & ENC_IMPLICIT) and _vr_class[vr] == 0:
                vr = 0
                length = 0
            self.stopped.kind = TK_ELEMENT
            self.stopped.tag = tag
            self.stopped.vr = vr
            self.stopped.length = length
            self.stopped.offset = start
            self.stopped.value_offset = vstart
            self.stopped.enc = enc
            self.stopped.depth = 0
            self.done = True
            return 0
        if not (enc & ENC_IMPLICIT) and _vr_class[vr] == 0:
            return self._fail("unknown VR", start)

        if length == UNDEFINED_LENGTH:
            if enc & ENC_IMPLICIT:
                if tag == 0x7FE00010:
                    if self._emit(TK_ENCAPSULATED_START, tag, VR_ox, length, start, vstart, enc, 0) < 0:
                        return -1
                    return self._push(FR_ENCAPSULATED, tag, UINT64_MAX, enc)
                if self._emit(TK_SEQUENCE_START, tag, vr, length, start, vstart, enc, 0) < 0:
                    return -1
                return self._push(FR_SEQUENCE, tag, UINT64_MAX, enc)
            if vr == VR_SQ:
                if self._emit(TK_SEQUENCE_START, tag, vr, length, start, vstart, enc, 0) < 0:
                    return -1
                return self._push(FR_SEQUENCE, tag, UINT64_MAX, enc)
            if vr == VR_UN:
                # PS3.5 6.2.2: UN of undefined length holds an Implicit VR Little
                # Endian sequence, whatever the transfer syntax.
                if self._emit(TK_SEQUENCE_START, tag, vr, length, start, vstart, enc, 0) < 0:
                    return -1
                return self._push(FR_SEQUENCE, tag, UINT64_MAX, ENC_IMPLICIT)
            if vr == VR_OB or vr == VR_OW:
                if self._emit(TK_ENCAPSULATED_START, tag, vr, length, start, vstart, enc, 0) < 0:
                    return -1
                return self._push(FR_ENCAPSULATED, tag, UINT64_MAX, enc)
            return self._fail("undefined length on a VR that cannot have one", start)

        if length > self.max_len:
            return self._fail("element length over the limit", start)
        if length & 1 and not self.lenient_odd_length:
            return self._fail("odd value length", start)
        if top != NULL and top.end != UINT64_MAX and vstart + length > top.end:
            return self._fail("value runs past the end of its enclosing item", start)
        if vr == VR_SQ:
            if self._emit(TK_SEQUENCE_START, tag, vr, length, start, vstart, enc, 0) < 0:
                return -1
            return self._push(FR_SEQUENCE, tag, vstart + length, enc)
        if self._emit(TK_ELEMENT, tag, vr, length, start, vstart, enc, 0) < 0:
            return -1
        if self.nframes == 0 and self.ncapture:
            for i in range(self.ncapture):
                if self.capture_tags[i] == tag:
                    if length <= self.max_capture:
                        self.capture_len[i] = length
                        self.capture_vrs[i] = vr
                        if length:  # an empty value is complete already: nothing to copy
                            self.cur_capture = i
                            self.cur_capture_fill = 0
                    break
        self.skip = length
        return 0

    cdef int _run(self, const uint8_t* data, Py_ssize_t n) noexcept nogil:
        cdef Py_ssize_t i = 0
        cdef uint64_t take
        cdef int need, hlen
        cdef uint8_t enc
        cdef const uint8_t* h
        while True:
            if self.skip:
                take = self.skip
                if take > <uint64_t>(n - i):
                    take = n - i
                if self.cur_capture >= 0:
                    memcpy(self.capture_data + self.cur_capture * self.max_capture + self.cur_capture_fill,
                           data + i, take)
                    self.cur_capture_fill += take
                i += take
                self.pos += take
                self.skip -= take
                if self.skip:
                    return 0
                self.cur_capture = -1
            if self.done:
                return 0
            if self._close_frames() < 0:
                return -1
            if i == n:
                return 0
            self.err_has_tag = False
            enc = self.frames[self.nframes - 1].enc if self.nframes else self.base_enc
            if self.ncarry:
                while True:
                    need = header_need(self.carry, self.ncarry, enc)
                    if self.ncarry >= need:
                        break
                    take = need - self.ncarry
                    if take > <uint64_t>(n - i):
                        take = n - i
                    memcpy(self.carry + self.ncarry, data + i, take)
                    self.ncarry += take
                    i += take
                    if self.ncarry < need:
                        return 0
                h = self.carry
                hlen = need
                self.ncarry = 0
            else:
                need = header_need(data + i, n - i, enc)
                if n - i < need:
                    memcpy(self.carry, data + i, n - i)
                    self.ncarry = n - i
                    return 0
                h = data + i
                hlen = need
                i += need
            if self._header(h, hlen) < 0:
                return -1

    cdef int _finish(self) noexcept nogil:
        if self.done:
            return 0
        if self.skip:
            return self._fail("data ends inside a value", self.pos)
        if self.ncarry:
            return self._fail("data ends inside an element header", self.pos)
        if self._close_frames() < 0:
            return -1
        if self.nframes:
            return self._fail("data ends inside a sequence or item", self.pos)
        return 0

    # -- the Python-facing layer -------------------------------------------

    cdef object _raise(self):
        path = self._path()
        raise DatasetError(self.err_msg.decode("ascii"), self.err_offset, path)

    def _path(self):
        """The tag path of the current position, e.g. (0040,A730)[2].(0008,0100)."""
        parts = []
        cdef int k
        cdef sc_frame* f
        for k in range(self.nframes):
            f = &self.frames[k]
            if f.kind == FR_ITEM:
                parts.append(f"[{self.frames[k - 1].items - 1}]" if k else "[?]")
            else:
                parts.append(("." if parts else "") + f"({f.tag >> 16:04X},{f.tag & 0xFFFF:04X})")
        if self.err_has_tag:
            parts.append(("." if parts else "") + f"({self.err_tag >> 16:04X},{self.err_tag & 0xFFFF:04X})")
        return "".join(parts)

    cdef int _feed_ptr(self, const uint8_t* data, Py_ssize_t n) except -1:
        cdef int rc
        if self.closed:
            raise ValueError("feed() after close()")
        if self.err_msg != NULL:
            self._raise()
        with nogil:
            rc = self._run(data, n)
        if rc < 0:
            self._raise()
        return 0

    cdef int _close_c(self) except -1:
        cdef int rc
        if self.err_msg != NULL:
            self._raise()
        if not self.closed:
            rc = self._finish()
            if rc < 0:
                self._raise()
            self.closed = True
        return 0

    cdef bytes captured(self, int index):
        cdef int32_t n = self.capture_len[index]
        if n < 0 or (self.cur_capture == index and self.cur_capture_fill < <uint32_t>n):
            return None
        return (<char*>self.capture_data + index * self.max_capture)[:n]

    def _take_tokens(self):
        cdef list out = []
        cdef Py_ssize_t k
        cdef sc_token* t
        for k in range(self.ntokens):
            t = &self.tokens[k]
            out.append(_tuple_new(Token, (
                _KINDS[t.kind], t.tag, vr_name(t.vr), t.length, t.offset, t.value_offset,
                t.depth, bool(t.enc & ENC_IMPLICIT), bool(t.flags & TF_DELIMITED),
            )))
        self.tokens_taken += self.ntokens
        self.ntokens = 0
        return out

    def feed(self, data):
        """Scan the next chunk; return the tokens it completed.

        `data` is any contiguous buffer (bytes, bytearray, memoryview, mmap).
        Returns a list of :class:`Token`. Raises DatasetError on bad input.
        """
        cdef const uint8_t[::1] view
        if len(data) == 0:
            return self._take_tokens()
        view = data
        self._feed_ptr(&view[0], view.shape[0])
        return self._take_tokens()

    def close(self):
        """Declare the end of the data; return the last tokens.

        Raises DatasetError if the data ended inside a header, a value, a
        sequence or an item (unless the scanner stopped at `stop_tag`).
        """
        self._close_c()
        return self._take_tokens()

    @property
    def offset(self):
        """Bytes consumed so far (absolute offset of the next byte)."""
        return self.pos + self.ncarry

    @property
    def stopped_at(self):
        """The top-level element at which `stop_tag` stopped the scan, or None."""
        if self.stopped.kind == 0:
            return None
        t = &self.stopped
        return Token(TokenKind.ELEMENT, t.tag, vr_name(t.vr), t.length, t.offset, t.value_offset, 0,
                     bool(t.enc & ENC_IMPLICIT), False)

    def capture(self, int index):
        """The captured value of the index-th capture tag, or None if absent or too long."""
        if not 0 <= index < self.ncapture:
            raise IndexError(index)
        return self.captured(index)

    def captures(self):
        """Every captured value at once, as a tuple in capture order (None where absent)."""
        cdef int i
        return tuple([self.captured(i) for i in range(self.ncapture)])

    def capture_vr(self, int index):
        """The VR the index-th captured element was read with ("" if absent)."""
        if not 0 <= index < self.ncapture:
            raise IndexError(index)
        return vr_name(self.capture_vrs[index]) if self.capture_len[index] >= 0 else ""
