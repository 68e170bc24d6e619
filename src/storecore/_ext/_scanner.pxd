# cython: language_level=3
"""Declarations of the incremental element scanner (see _scanner.pyx)."""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t

cdef enum:
    # Token kinds; the Python names are in TokenKind (same values).
    TK_ELEMENT = 1
    TK_SEQUENCE_START = 2
    TK_SEQUENCE_END = 3
    TK_ITEM_START = 4
    TK_ITEM_END = 5
    TK_ENCAPSULATED_START = 6
    TK_BASIC_OFFSET_TABLE = 7
    TK_FRAGMENT = 8
    TK_ENCAPSULATED_END = 9

cdef enum:
    # Frame kinds of the container stack.
    FR_SEQUENCE = 1
    FR_ITEM = 2
    FR_ENCAPSULATED = 3

cdef enum:
    # Encoding flags of a token or of a frame's contents.
    ENC_IMPLICIT = 1
    ENC_BIG = 2

cdef enum:
    # Token flags.
    TF_DELIMITED = 1      # an end token that stands for delimiter bytes in the stream

cdef enum:
    UNDEFINED_LENGTH = 0xFFFFFFFF
    MAX_CAPTURE = 32

ctypedef struct sc_token:
    uint64_t offset        # absolute offset of the header (end tokens: of the delimiter, or the end)
    uint64_t value_offset  # absolute offset of the value (end tokens: just past them)
    uint32_t tag
    uint32_t length        # as encoded: UNDEFINED_LENGTH for undefined
    uint16_t vr            # two ASCII bytes, first << 8 | second; lower case = ambiguous dictionary VR
    uint8_t kind
    uint8_t enc            # ENC_* flags the token was read with
    uint8_t flags          # TF_* flags
    uint32_t depth         # nesting depth of the token (0 = top-level dataset)

ctypedef struct sc_frame:
    uint64_t end           # absolute end offset, or UINT64_MAX for undefined length
    uint32_t tag
    uint32_t items         # items seen so far (sequences and encapsulated pixel data)
    uint8_t kind
    uint8_t enc            # encoding of the frame's contents

cdef uint16_t dictionary_vr(uint32_t tag) noexcept nogil
cdef bint is_long_vr(uint16_t vr) noexcept nogil

cdef class Scanner:
    cdef uint8_t base_enc
    cdef bint lenient_odd_length
    cdef bint emit
    cdef uint32_t stop_tag
    cdef uint32_t max_len
    cdef int max_depth
    cdef uint32_t max_capture
    cdef readonly bint done
    cdef readonly bint closed
    cdef uint64_t pos
    cdef uint64_t skip
    cdef uint8_t carry[16]
    cdef int ncarry
    cdef sc_frame* frames
    cdef int nframes
    cdef int capframes
    cdef sc_token* tokens
    cdef Py_ssize_t ntokens
    cdef Py_ssize_t captokens
    cdef Py_ssize_t tokens_taken
    # the element the scanner stopped at (stop_tag), kind 0 when none
    cdef sc_token stopped
    # captured values of top-level elements
    cdef int ncapture
    cdef uint32_t capture_tags[MAX_CAPTURE]
    cdef int32_t capture_len[MAX_CAPTURE]
    cdef uint16_t capture_vrs[MAX_CAPTURE]
    cdef uint8_t* capture_data
    cdef int cur_capture
    cdef uint32_t cur_capture_fill
    # error state, raised as DatasetError by the Python-facing methods
    cdef const char* err_msg
    cdef uint64_t err_offset
    cdef uint32_t err_tag
    cdef bint err_has_tag
    cdef char err_buf[160]

    cdef int _run(self, const uint8_t* data, Py_ssize_t n) noexcept nogil
    cdef int _finish(self) noexcept nogil
    cdef int _fail(self, const char* msg, uint64_t offset) noexcept nogil
    cdef int _emit(self, uint8_t kind, uint32_t tag, uint16_t vr, uint32_t length,
                   uint64_t offset, uint64_t value_offset, uint8_t enc, uint8_t flags) noexcept nogil
    cdef int _push(self, uint8_t kind, uint32_t tag, uint64_t end, uint8_t enc) noexcept nogil
    cdef int _close_frames(self) noexcept nogil
    cdef int _header(self, const uint8_t* h, int hlen) noexcept nogil
    cdef int _feed_ptr(self, const uint8_t* data, Py_ssize_t n) except -1
    cdef int _close_c(self) except -1
    cdef object _raise(self)
    cdef bytes captured(self, int index)
