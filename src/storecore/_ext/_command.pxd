# cython: language_level=3
"""Declarations of the DIMSE command set fast path (see _command.pyx)."""

from libc.stdint cimport uint8_t, uint32_t

cdef enum:
    # The most fields one message class may have, and the most elements of a
    # command set the fast path reads (more: the strict decoder answers).
    MAX_FIELDS = 16
    MAX_ELEMENTS = 24

cdef enum:
    # Value representations of command elements (PS3.7 Annex E.1)
    CV_US = 1
    CV_UI = 2
    CV_AE = 3
    CV_LO = 4
    CV_AT = 5

cdef enum:
    # When a message carries a data set (Command Data Set Type (0000,0800))
    DS_OPTIONAL = 0
    DS_NEVER = 1
    DS_ALWAYS = 2

ctypedef struct cc_field:
    uint32_t tag
    uint8_t vr          # CV_*
    uint8_t required
    int index           # position of the field in the class's constructor order

cdef class _MessageSpec:
    cdef object cls
    cdef uint32_t command_field
    cdef int data_set                  # DS_*
    cdef int nfields
    cdef cc_field fields[MAX_FIELDS]   # in ascending tag order
    cdef tuple names                   # attribute names, in constructor order

cdef class CommandCodec:
    cdef dict by_field                 # Command Field value -> _MessageSpec
    cdef dict by_class                 # message class -> _MessageSpec

    cdef object _decode(self, const uint8_t* p, Py_ssize_t n, uint32_t max_len)
    cdef object _write(self, _MessageSpec spec, tuple values)
