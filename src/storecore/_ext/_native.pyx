# cython: language_level=3
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native transfer syntax rewriting (PS3.5 Sections 7.1, 7.3, Annex A.1-A.3).

Rewrites a dataset between Implicit VR Little Endian, Explicit VR Little Endian
and Explicit VR Big Endian, preserving every value:

* implicit -> explicit: VRs from the data dictionary; ambiguous VRs resolved as
  PS3.5 Annex A.1 and PS3.3 C.7.6.3.1.4 / C.11.1.1.1 say (and as pydicom does);
  private and unknown tags become UN, and an undefined-length one stays an
  Implicit VR Little Endian sequence inside (PS3.5 Section 6.2.2);
* endianness changes: values byte-swapped per VR (US SS OW AT: 2 bytes;
  UL SL FL OF OL: 4; FD OD SV UV OV: 8), native Pixel Data by Bits Allocated,
  OB and UN never;
* undefined lengths stay undefined; defined sequence and item lengths are
  recomputed where the header sizes change.

Two passes over the scanner's tokens: the first computes every output VR and
every defined container length, the second writes. Values are handed to the
writer as views of the input (no copy) unless they are swapped, which happens
in a bounded scratch buffer: memory stays flat whatever the dataset size.
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t, UINT64_MAX
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

from storecore._ext._scanner cimport (
    Scanner, sc_token, dictionary_vr, is_long_vr,
    TK_ELEMENT, TK_SEQUENCE_START, TK_SEQUENCE_END, TK_ITEM_START, TK_ITEM_END,
    TK_ENCAPSULATED_START, TK_BASIC_OFFSET_TABLE, TK_FRAGMENT, TK_ENCAPSULATED_END,
    ENC_IMPLICIT, ENC_BIG, TF_DELIMITED, UNDEFINED_LENGTH,
)

from storecore.errors import TranscodeError

cdef enum:
    VR_SQ = 0x5351
    VR_UN = 0x554E
    VR_OB = 0x4F42
    VR_OW = 0x4F57
    VR_US = 0x5553
    VR_SS = 0x5353
    VR_UL = 0x554C
    VR_SL = 0x534C
    VR_FL = 0x464C
    VR_FD = 0x4644
    VR_OF = 0x4F46
    VR_OD = 0x4F44
    VR_OL = 0x4F4C
    VR_OV = 0x4F56
    VR_SV = 0x5356
    VR_UV = 0x5556
    VR_AT = 0x4154
    VR_xs = 0x7873
    VR_ox = 0x6F78
    VR_uw = 0x7577
    VR_xw = 0x7877
    OBUF_SIZE = 262144
    DIRECT_MIN = 65536     # values at least this long go to the writer as views
    MAX_LEVELS = 4097


cdef inline uint16_t rd16(const uint8_t* p, bint big) noexcept nogil:
    if big:
        return (<uint16_t>p[0] << 8) | p[1]
    return p[0] | (<uint16_t>p[1] << 8)


cdef inline void wr16(uint8_t* p, uint16_t v, bint big) noexcept nogil:
    if big:
        p[0] = v >> 8
        p[1] = v & 0xFF
    else:
        p[0] = v & 0xFF
        p[1] = v >> 8


cdef inline void wr32(uint8_t* p, uint32_t v, bint big) noexcept nogil:
    if big:
        p[0] = v >> 24
        p[1] = (v >> 16) & 0xFF
        p[2] = (v >> 8) & 0xFF
        p[3] = v & 0xFF
    else:
        p[0] = v & 0xFF
        p[1] = (v >> 8) & 0xFF
        p[2] = (v >> 16) & 0xFF
        p[3] = v >> 24


cdef inline int swap_width(uint16_t vr) noexcept nogil:
    if vr == VR_US or vr == VR_SS or vr == VR_OW or vr == VR_AT:
        return 2
    if vr == VR_UL or vr == VR_SL or vr == VR_FL or vr == VR_OF or vr == VR_OL:
        return 4
    if vr == VR_FD or vr == VR_OD or vr == VR_SV or vr == VR_UV or vr == VR_OV:
        return 8
    return 0


cdef void swap_copy(uint8_t* dst, const uint8_t* src, Py_ssize_t n, int width) noexcept nogil:
    """Copy n bytes, reversing each width-byte unit (a trailing partial unit is copied as is)."""
    cdef Py_ssize_t i, units = n // width
    cdef const uint16_t* s16
    cdef uint16_t* d16
    cdef uint16_t v16
    if width == 2:
        for i in range(units):
            dst[2 * i] = src[2 * i + 1]
            dst[2 * i + 1] = src[2 * i]
    elif width == 4:
        for i in range(units):
            dst[4 * i] = src[4 * i + 3]
            dst[4 * i + 1] = src[4 * i + 2]
            dst[4 * i + 2] = src[4 * i + 1]
            dst[4 * i + 3] = src[4 * i]
    else:
        for i in range(units):
            dst[8 * i] = src[8 * i + 7]
            dst[8 * i + 1] = src[8 * i + 6]
            dst[8 * i + 2] = src[8 * i + 5]
            dst[8 * i + 3] = src[8 * i + 4]
            dst[8 * i + 4] = src[8 * i + 3]
            dst[8 * i + 5] = src[8 * i + 2]
            dst[8 * i + 6] = src[8 * i + 1]
            dst[8 * i + 7] = src[8 * i]
    if units * width < n:
        memcpy(dst + units * width, src + units * width, n - units * width)


cdef class _Writer:
    """Batches headers and small values into one buffer; big values go as views."""
    cdef object write
    cdef object obuf
    cdef uint8_t* p
    cdef Py_ssize_t n
    cdef unsigned long long total
    cdef object source

    def __cinit__(self, write, source):
        self.write = write
        self.obuf = bytearray(OBUF_SIZE)
        cdef uint8_t[::1] v = self.obuf
        self.p = &v[0]
        self.n = 0
        self.total = 0
        self.source = source

    cdef int flush(self) except -1:
        if self.n:
            self.write(memoryview(self.obuf)[:self.n])
            self.total += self.n
            self.n = 0
        return 0

    cdef inline uint8_t* reserve(self, Py_ssize_t k) except NULL:
        if self.n + k > OBUF_SIZE:
            self.flush()
        cdef uint8_t* at = self.p + self.n
        self.n += k
        return at

    cdef int value(self, const uint8_t* base, uint64_t offset, uint64_t length, int width) except -1:
        cdef Py_ssize_t chunk
        cdef const uint8_t* src = base + offset
        if width == 0 and length >= DIRECT_MIN:
            self.flush()
            self.write(self.source[offset:offset + length])
            self.total += length
            return 0
        while length:
            if self.n == OBUF_SIZE:
                self.flush()
            chunk = OBUF_SIZE - self.n
            if <uint64_t>chunk > length:
                chunk = length
            if width and <uint64_t>width > length:
                # a trailing partial unit (odd lengths, lenient mode): copied as is
                width = 0
            elif width and chunk >= width:
                chunk -= chunk % width
            elif width:
                # fewer than `width` bytes of room: flush and retry with an empty buffer
                self.flush()
                continue
            if width:
                with nogil:
                    swap_copy(self.p + self.n, src, chunk, width)
            else:
                memcpy(self.p + self.n, src, chunk)
            self.n += chunk
            src += chunk
            length -= chunk
        return 0


cdef inline int header_size(uint8_t kind, uint16_t vr, uint8_t enc) noexcept nogil:
    if kind != TK_ELEMENT and kind != TK_SEQUENCE_START and kind != TK_ENCAPSULATED_START:
        return 8
    if enc & ENC_IMPLICIT:
        return 8
    return 12 if is_long_vr(vr) else 8


def transcode_native(source, bint src_implicit, bint src_big, bint dst_implicit, bint dst_big,
                     write, *, unsigned long long max_element_length=0xFFFFFFFE,
                     int max_sequence_depth=64, bint lenient_odd_length=False):
    """Rewrite a whole dataset from one native encoding to another.

    Parameters
    ----------
    source : buffer
        The dataset (bytes, bytearray, memoryview, mmap); not modified.
    src_implicit, src_big, dst_implicit, dst_big : bool
        Source and target encodings (Implicit VR LE, Explicit VR LE or BE).
    write : callable
        Called with bytes-like chunks in order; it must consume each chunk
        before returning (as ``file.write`` does): buffers are reused.

    Returns
    -------
    int
        Bytes written.
    """
    if dst_implicit and dst_big:
        raise ValueError("there is no implicit VR big endian transfer syntax")
    cdef const uint8_t[::1] view
    cdef const uint8_t* base = NULL
    cdef Py_ssize_t size = len(source)
    if size:
        view = source
        base = &view[0]
    cdef Scanner sc = Scanner(src_implicit, src_big, max_element_length=max_element_length,
                              max_sequence_depth=max_sequence_depth,
                              lenient_odd_length=lenient_odd_length)
    if size:
        sc._feed_ptr(base, size)
    sc._close_c()
    cdef Py_ssize_t ntok = sc.ntokens
    cdef sc_token* toks = sc.tokens
    cdef uint8_t dst_enc = (ENC_IMPLICIT if dst_implicit else 0) | (ENC_BIG if dst_big else 0)
    cdef uint8_t src_base_enc = (ENC_IMPLICIT if src_implicit else 0) | (ENC_BIG if src_big else 0)

    # Per token: output VR, output encoding, new length (containers), swap width.
    cdef uint16_t* out_vr = <uint16_t*>malloc(max(ntok, 1) * sizeof(uint16_t))
    cdef uint8_t* out_enc = <uint8_t*>malloc(max(ntok, 1) * sizeof(uint8_t))
    cdef uint8_t* width = <uint8_t*>malloc(max(ntok, 1) * sizeof(uint8_t))
    cdef uint64_t* new_len = <uint64_t*>malloc(max(ntok, 1) * sizeof(uint64_t))
    # Per nesting level: content encoding, accumulated size, start token, dataset context.
    cdef uint8_t lvl_enc[MAX_LEVELS]
    cdef uint64_t lvl_acc[MAX_LEVELS]
    cdef Py_ssize_t lvl_start[MAX_LEVELS]
    cdef int lvl_pixrep[MAX_LEVELS]
    cdef int lvl_lutfirst[MAX_LEVELS]
    cdef int lvl_bits[MAX_LEVELS]
    cdef int bits_allocated
    cdef int lvl = 0, k, d, pr
    cdef Py_ssize_t i
    cdef sc_token* t
    cdef uint16_t vr
    cdef uint8_t enc
    cdef uint64_t total, content
    if out_vr == NULL or out_enc == NULL or width == NULL or new_len == NULL:
        free(out_vr); free(out_enc); free(width); free(new_len)
        raise MemoryError()
    if max_sequence_depth + 1 >= MAX_LEVELS:
        raise ValueError("max_sequence_depth too large")
    try:
        # ---- pass 1: output VRs and lengths ----
        lvl_enc[0] = dst_enc
        lvl_acc[0] = 0
        lvl_start[0] = -1
        lvl_pixrep[0] = -1
        lvl_lutfirst[0] = -1
        lvl_bits[0] = -1
        for i in range(ntok):
            t = &toks[i]
            enc = lvl_enc[lvl]
            out_enc[i] = enc
            vr = t.vr
            width[i] = 0
            if t.kind == TK_ELEMENT or t.kind == TK_SEQUENCE_START or t.kind == TK_ENCAPSULATED_START:
                if t.enc & ENC_IMPLICIT and t.kind == TK_SEQUENCE_START and vr != VR_SQ:
                    vr = VR_UN   # PS3.5 6.2.2: unknown undefined-length sequence -> UN
                elif vr == VR_xs:
                    pr = 0
                    for d in range(lvl, -1, -1):
                        if lvl_pixrep[d] >= 0:
                            pr = lvl_pixrep[d]
                            break
                    vr = VR_SS if pr else VR_US
                elif vr == VR_ox:
                    vr = VR_OB if t.length == UNDEFINED_LENGTH else VR_OW
                elif vr == VR_uw:
                    vr = VR_US if lvl_lutfirst[lvl] == 1 else VR_OW
                elif vr == VR_xw:
                    vr = VR_OW
                if (t.kind == TK_ELEMENT and not (enc & ENC_IMPLICIT) and not is_long_vr(vr)
                        and t.length > 0xFFFF):
                    vr = VR_UN   # too long for a 16-bit length: PS3.5 6.2.2 allows UN
                out_vr[i] = vr
                if t.kind == TK_ELEMENT:
                    if (t.enc & ENC_BIG) != (enc & ENC_BIG):
                        if t.tag == 0x7FE00010 and vr == VR_OW:
                            # native pixel data in OW: 16-bit words, or words of Bits
                            # Allocated when that is wider (PS3.5 8.1.1, A.3), from the
                            # nearest dataset that states it (icon images nest)
                            bits_allocated = 16
                            for d in range(lvl, -1, -1):
                                if lvl_bits[d] >= 0:
                                    bits_allocated = lvl_bits[d]
                                    break
                            width[i] = 8 if bits_allocated == 64 else 4 if bits_allocated == 32 else 2
                        else:
                            width[i] = swap_width(vr)
                    if t.length >= 2:
                        if t.tag == 0x00280103:
                            lvl_pixrep[lvl] = rd16(base + t.value_offset, t.enc & ENC_BIG)
                        elif t.tag == 0x00283002:
                            lvl_lutfirst[lvl] = rd16(base + t.value_offset, t.enc & ENC_BIG)
                        elif t.tag == 0x00280100:
                            lvl_bits[lvl] = rd16(base + t.value_offset, t.enc & ENC_BIG)
                    lvl_acc[lvl] += header_size(t.kind, vr, enc) + t.length
                else:
                    if lvl + 1 >= MAX_LEVELS:
                        raise TranscodeError("nesting too deep")
                    lvl += 1
                    lvl_start[lvl] = i
                    lvl_acc[lvl] = 0
                    lvl_pixrep[lvl] = -1
                    lvl_lutfirst[lvl] = -1
                    lvl_bits[lvl] = -1
                    if enc & ENC_IMPLICIT or vr == VR_UN:
                        lvl_enc[lvl] = ENC_IMPLICIT   # stays (or becomes) Implicit VR LE inside
                    else:
                        lvl_enc[lvl] = enc
            elif t.kind == TK_ITEM_START:
                out_vr[i] = 0
                lvl += 1
                lvl_start[lvl] = i
                lvl_acc[lvl] = 0
                lvl_enc[lvl] = enc
                lvl_pixrep[lvl] = -1
                lvl_lutfirst[lvl] = -1
                lvl_bits[lvl] = -1
            elif t.kind == TK_BASIC_OFFSET_TABLE or t.kind == TK_FRAGMENT:
                out_vr[i] = 0
                if t.kind == TK_BASIC_OFFSET_TABLE and (t.enc & ENC_BIG) != (enc & ENC_BIG):
                    width[i] = 4   # offsets are UL (PS3.5 A.4)
                lvl_acc[lvl] += 8 + t.length
            else:   # an end token
                out_vr[i] = 0
                content = lvl_acc[lvl]
                k = lvl_start[lvl]
                if lvl == 0 or k < 0:
                    raise TranscodeError("unbalanced tokens")   # the scanner guarantees balance
                new_len[k] = content
                if toks[k].length != UNDEFINED_LENGTH and content > 0xFFFFFFFE:
                    raise TranscodeError("a sequence grows past the largest encodable length")
                lvl -= 1
                lvl_acc[lvl] += (header_size(toks[k].kind, out_vr[k], out_enc[k]) + content
                                 + (8 if t.flags & TF_DELIMITED else 0))
        total = lvl_acc[0]

        # ---- pass 2: write ----
        w = _Writer(write, source if isinstance(source, memoryview) else memoryview(source))
        _write_pass(w, toks, ntok, base, out_vr, out_enc, width, new_len)
        w.flush()
        if w.total != total:
            raise TranscodeError(f"wrote {w.total} bytes, planned {total}")
        return w.total
    finally:
        free(out_vr)
        free(out_enc)
        free(width)
        free(new_len)


cdef int _write_pass(_Writer w, sc_token* toks, Py_ssize_t ntok, const uint8_t* base,
                     uint16_t* out_vr, uint8_t* out_enc, uint8_t* width, uint64_t* new_len) except -1:
    cdef Py_ssize_t i
    cdef sc_token* t
    cdef uint8_t* h
    cdef uint8_t enc
    cdef bint big
    cdef uint16_t vr
    cdef uint32_t length
    for i in range(ntok):
        t = &toks[i]
        enc = out_enc[i]
        big = enc & ENC_BIG
        if t.kind == TK_ELEMENT or t.kind == TK_SEQUENCE_START or t.kind == TK_ENCAPSULATED_START:
            vr = out_vr[i]
            if t.kind == TK_ELEMENT or t.length == UNDEFINED_LENGTH:
                length = t.length
            else:
                length = <uint32_t>new_len[i]
            if enc & ENC_IMPLICIT:
                h = w.reserve(8)
                wr16(h, t.tag >> 16, big)
                wr16(h + 2, t.tag & 0xFFFF, big)
                wr32(h + 4, length, big)
            elif is_long_vr(vr):
                h = w.reserve(12)
                wr16(h, t.tag >> 16, big)
                wr16(h + 2, t.tag & 0xFFFF, big)
                h[4] = vr >> 8
                h[5] = vr & 0xFF
                h[6] = 0
                h[7] = 0
                wr32(h + 8, length, big)
            else:
                h = w.reserve(8)
                wr16(h, t.tag >> 16, big)
                wr16(h + 2, t.tag & 0xFFFF, big)
                h[4] = vr >> 8
                h[5] = vr & 0xFF
                wr16(h + 6, <uint16_t>length, big)
            if t.kind == TK_ELEMENT and length:
                w.value(base, t.value_offset, length, width[i])
        elif t.kind == TK_ITEM_START or t.kind == TK_BASIC_OFFSET_TABLE or t.kind == TK_FRAGMENT:
            length = t.length if t.kind != TK_ITEM_START or t.length == UNDEFINED_LENGTH else <uint32_t>new_len[i]
            h = w.reserve(8)
            wr16(h, 0xFFFE, big)
            wr16(h + 2, 0xE000, big)
            wr32(h + 4, length, big)
            if t.kind != TK_ITEM_START and length:
                w.value(base, t.value_offset, length, width[i])
        elif t.flags & TF_DELIMITED:
            h = w.reserve(8)
            wr16(h, 0xFFFE, big)
            wr16(h + 2, 0xE00D if t.kind == TK_ITEM_END else 0xE0DD, big)
            wr32(h + 4, 0, big)
    return 0
