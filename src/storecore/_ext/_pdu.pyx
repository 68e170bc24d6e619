# cython: language_level=3
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""PDU framing and PDV reassembly (PS3.8 Sections 9.3.1, 9.3.5, Annex E), sans-IO.

:class:`PDUFramer` cuts received bytes into whole PDUs without copying them:
the transport receives straight into the framer's buffer (``get_buffer`` /
``buffer_updated``, the shape of ``asyncio.BufferedProtocol``), and each PDU
body leaves as a view of that buffer.

:class:`PDVAssembler` walks the PDV items of P-DATA-TF bodies, collects command
fragments into the command set, and hands dataset fragments on as views, with
the checks PS3.7 Section 9.3.1 and PS3.8 Annex E ask for: the presentation
context was accepted, a message stays on one context, the command comes first.

:func:`pump_dataset` is the data set's fast path for a sink that writes the
bytes as received into a file: it receives P-DATA-TF PDUs into the framer's
buffer and writes their data PDVs to the file, with the scanner's structural
check on the way, without the GIL and without a Python object per PDU; any
other PDU or PDV goes back to the caller, untouched, for the path above.

Bounds and wraparound checks are off: every read is guarded by an explicit
length check, and tests/fuzz exercises both classes and the pump.
"""

from libc.errno cimport errno, EINTR, EAGAIN
from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memmove, memcpy

from storecore._ext._scanner cimport Scanner
from storecore.errors import RemoteProtocolError

cdef extern from "<unistd.h>" nogil:
    ssize_t c_write "write"(int fd, const void* buf, size_t count)

cdef extern from "<sys/socket.h>" nogil:
    ssize_t c_recv "recv"(int fd, void* buf, size_t n, int flags)

cdef enum:
    PDU_HEADER = 6
    ABORT_SOURCE_PROVIDER = 2
    REASON_UNRECOGNIZED_PDU = 1
    REASON_UNEXPECTED_PDU = 2
    REASON_UNRECOGNIZED_PARAMETER = 4
    REASON_UNEXPECTED_PARAMETER = 5
    REASON_INVALID_PARAMETER_VALUE = 6

# P-DATA-TF is PDU type 4; the maximum length negotiated in the User Information
# (PS3.8 D.1) bounds its variable field. The other PDUs are bounded by the
# framer's own limit (storecore.limits.Limits.max_pdu_length).
cdef enum:
    P_DATA_TF = 4


cdef inline uint32_t rd32be(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef class PDUFramer:
    """Cut a byte stream into PDUs, zero-copy.

    Parameters
    ----------
    max_pdata_length : int
        The largest P-DATA-TF variable field we accept: the Maximum Length we
        advertised (PS3.8 D.1.1); 0 means unlimited (up to `max_pdu_length`).
    max_pdu_length : int
        The largest other PDU we accept (an A-ASSOCIATE-RQ with a large User
        Identity, for example). Default 4 MiB.
    buffer_size : int
        The receive buffer's size; PDUs that do not fit are assembled in a
        buffer of their own.

    Notes
    -----
    A body view returned by :meth:`next_pdu` stays valid until the next call to
    :meth:`get_buffer` or :meth:`feed`: consume it (write it to the spool)
    before receiving more.
    """

    cdef bytearray buf
    cdef uint8_t* p
    cdef Py_ssize_t cap
    cdef Py_ssize_t start
    cdef Py_ssize_t end
    cdef readonly unsigned long long max_pdata_length
    cdef readonly unsigned long long max_pdu_length
    # a PDU bigger than the buffer, assembled on its own
    cdef bytearray big
    cdef Py_ssize_t big_fill
    cdef int big_type
    cdef readonly unsigned long long pdus
    cdef readonly unsigned long long bytes_received

    def __cinit__(self, unsigned long long max_pdata_length=0, *,
                  unsigned long long max_pdu_length=4 * 1024 * 1024,
                  Py_ssize_t buffer_size=0):
        self.max_pdata_length = max_pdata_length
        self.max_pdu_length = max_pdu_length
        if buffer_size <= 0:
            # two of the largest P-DATA-TF we accept, at least 256 KiB, at most 8 MiB
            buffer_size = 2 * (max_pdata_length + PDU_HEADER) if max_pdata_length else 0
            buffer_size = min(max(buffer_size, 256 * 1024), 8 * 1024 * 1024)
        self.cap = buffer_size
        self.buf = bytearray(buffer_size)
        self.p = <uint8_t*>(<char*>self.buf)
        self.big = None

    def set_max_pdata_length(self, unsigned long long n):
        """Change the P-DATA-TF limit (after negotiation); 0 means unlimited."""
        self.max_pdata_length = n

    @property
    def buffered(self):
        """Bytes received and not yet returned as PDUs."""
        return (self.end - self.start) + (self.big_fill if self.big is not None else 0)

    def get_buffer(self, Py_ssize_t sizehint=-1):
        """A writable view to receive into (``recv_into``, BufferedProtocol)."""
        cdef Py_ssize_t need
        if self.big is not None:
            return memoryview(self.big)[self.big_fill:]
        need = sizehint if sizehint > 0 else 65536
        if need > self.cap // 2:
            need = self.cap // 2
        if self.cap - self.end < need:
            # compact: move the partial PDU to the front (previous views are void)
            if self.end > self.start:
                memmove(self.p, self.p + self.start, self.end - self.start)
            self.end -= self.start
            self.start = 0
        return memoryview(self.buf)[self.end:]

    def buffer_updated(self, Py_ssize_t nbytes):
        """`nbytes` were written into the view :meth:`get_buffer` returned."""
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        self.bytes_received += nbytes
        if self.big is not None:
            if self.big_fill + nbytes > len(self.big):
                raise ValueError("more bytes than the buffer holds")
            self.big_fill += nbytes
        else:
            if self.end + nbytes > self.cap:
                raise ValueError("more bytes than the buffer holds")
            self.end += nbytes

    def feed(self, data):
        """Copy `data` in and return every PDU it completes as ``(pdu_type, bytes)``.

        The copying path, for tests and transports that hand out their own
        buffers; bodies are copied out because later bytes may reuse the buffer.
        """
        cdef const uint8_t[::1] src = data
        cdef Py_ssize_t n = src.shape[0], off = 0, take
        cdef uint8_t[::1] dst
        cdef list out = []
        while off < n:
            view = self.get_buffer(n - off)
            dst = view
            take = min(dst.shape[0], n - off)
            memcpy(&dst[0], &src[off], take)
            dst = None
            view.release()
            self.buffer_updated(take)
            off += take
            while True:
                pdu = self.next_pdu()
                if pdu is None:
                    break
                out.append((pdu[0], bytes(pdu[1])))
                pdu[1].release()
        return out

    cdef int _check(self, int pdu_type, unsigned long long length) except -1:
        if pdu_type < 1 or pdu_type > 7:
            raise RemoteProtocolError(
                f"unrecognized PDU type 0x{pdu_type:02X}", ABORT_SOURCE_PROVIDER, REASON_UNRECOGNIZED_PDU)
        if pdu_type == P_DATA_TF:
            # the limit bounds the PDV items (the variable field)
            if self.max_pdata_length and length > self.max_pdata_length:
                raise RemoteProtocolError(
                    f"P-DATA-TF of {length} bytes exceeds the negotiated maximum of "
                    f"{self.max_pdata_length}", ABORT_SOURCE_PROVIDER, REASON_INVALID_PARAMETER_VALUE)
        if length > self.max_pdu_length:
            raise RemoteProtocolError(
                f"PDU of {length} bytes exceeds the limit of {self.max_pdu_length}",
                ABORT_SOURCE_PROVIDER, REASON_INVALID_PARAMETER_VALUE)
        return 0

    cdef int _spill(self) except -1:
        """Move a PDU that cannot fit the buffer into a buffer of its own."""
        cdef Py_ssize_t avail = self.end - self.start, total, have
        cdef unsigned long long length
        if self.big is not None or avail < PDU_HEADER:
            return 0
        length = rd32be(self.p + self.start + 2)
        self._check(self.p[self.start], length)
        total = PDU_HEADER + <Py_ssize_t>length
        if total <= self.cap:
            return 0
        self.big = bytearray(total)
        have = min(avail, total)
        memcpy(<char*>self.big, self.p + self.start, have)
        self.big_fill = have
        self.big_type = self.p[self.start]
        self.start += have
        return 0

    def next_pdu(self):
        """The next whole PDU as ``(pdu_type, body)``, or None if more bytes are needed.

        `body` is a memoryview of the PDU after its 6-byte header (PS3.8 9.3.1).

        Raises
        ------
        RemoteProtocolError
            Unknown PDU type (abort reason 1) or a PDU over the limits (reason 6).
        """
        cdef Py_ssize_t avail
        cdef unsigned long long length
        cdef int pdu_type
        if self.big is None:
            self._spill()
        if self.big is not None:
            if self.big_fill < len(self.big):
                return None
            body = memoryview(self.big)[PDU_HEADER:]
            pdu_type = self.big_type
            self.big = None
            self.big_fill = 0
            self.pdus += 1
            return pdu_type, body
        avail = self.end - self.start
        if avail < PDU_HEADER:
            return None
        pdu_type = self.p[self.start]
        length = rd32be(self.p + self.start + 2)
        self._check(pdu_type, length)
        if <unsigned long long>avail < PDU_HEADER + length:
            return None
        body = memoryview(self.buf)[self.start + PDU_HEADER:self.start + PDU_HEADER + <Py_ssize_t>length]
        self.start += PDU_HEADER + <Py_ssize_t>length
        if self.start == self.end:
            self.start = self.end = 0
        self.pdus += 1
        return pdu_type, body


# Events of the assembler
COMMAND = 1
DATA = 2


cdef bint _has_dataset(bytes command):
    """Command Data Set Type (0000,0800) != 0x0101, from an Implicit VR LE command set."""
    cdef const uint8_t* p = command
    cdef Py_ssize_t n = len(command), off = 0
    cdef uint32_t tag, length
    while off + 8 <= n:
        tag = (<uint32_t>(p[off] | (p[off + 1] << 8)) << 16) | (p[off + 2] | (p[off + 3] << 8))
        length = p[off + 4] | (<uint32_t>p[off + 5] << 8) | (<uint32_t>p[off + 6] << 16) | (<uint32_t>p[off + 7] << 24)
        if tag == 0x00000800 and length == 2 and off + 10 <= n:
            return (p[off + 8] | (p[off + 9] << 8)) != 0x0101
        if tag > 0x00000800 or length > <uint32_t>(n - off - 8):
            break
        off += 8 + length
    return True


cdef class PDVAssembler:
    """Reassemble DIMSE messages from the PDVs of P-DATA-TF bodies.

    Parameters
    ----------
    contexts : iterable of int
        The accepted presentation context IDs (odd, 1-255).

    Notes
    -----
    :meth:`feed` returns a list of events: ``(COMMAND, context_id, bytes,
    has_dataset)`` for a complete command set, ``(DATA, context_id, view, last)``
    for each dataset fragment. Whether a dataset follows is read from the
    command's Command Data Set Type (0000,0800) (PS3.7 E.1: 0x0101 means none);
    a command set without it is reported as having one, and the DIMSE decoder
    then refuses it.

    References
    ----------
    PS3.8 Section 9.3.5 and Annex E.2 (message control header); PS3.7 Section 9.3.1.
    """

    cdef set contexts
    cdef bytearray command
    cdef int context_id      # context of the message in progress, 0 if none
    cdef int state           # 0 expect command, 1 in command, 2 expect dataset, 3 in dataset
    cdef readonly unsigned long long messages

    def __cinit__(self, contexts=()):
        self.contexts = set(contexts)
        self.command = bytearray()
        self.context_id = 0
        self.state = 0

    def set_contexts(self, contexts):
        """Replace the accepted presentation context IDs."""
        self.contexts = set(contexts)

    @property
    def in_message(self):
        """A message is partly received (a command or dataset has begun)."""
        return self.state != 0

    def feed(self, body):
        """Walk one P-DATA-TF body (PS3.8 9.3.5); return the events it completes."""
        cdef const uint8_t[::1] v = body
        cdef Py_ssize_t n = v.shape[0], off = 0
        cdef uint32_t item_len
        cdef int ctx, mch
        cdef list events = []
        view = body if isinstance(body, memoryview) else memoryview(body)
        if n == 0:
            raise RemoteProtocolError("P-DATA-TF without PDV items", ABORT_SOURCE_PROVIDER,
                                      REASON_INVALID_PARAMETER_VALUE)
        while off < n:
            if n - off < 6:
                raise RemoteProtocolError("truncated PDV item header", ABORT_SOURCE_PROVIDER,
                                          REASON_INVALID_PARAMETER_VALUE)
            item_len = rd32be(&v[off])
            if item_len < 2 or item_len > <uint32_t>(n - off - 4):
                raise RemoteProtocolError(f"PDV item length {item_len} is invalid",
                                          ABORT_SOURCE_PROVIDER, REASON_INVALID_PARAMETER_VALUE)
            ctx = v[off + 4]
            mch = v[off + 5]
            if ctx not in self.contexts:
                raise RemoteProtocolError(
                    f"PDV for presentation context {ctx}, which was not accepted",
                    ABORT_SOURCE_PROVIDER, REASON_UNEXPECTED_PARAMETER)
            if mch & 0xFC:
                raise RemoteProtocolError(f"message control header 0x{mch:02X} has reserved bits set",
                                          ABORT_SOURCE_PROVIDER, REASON_INVALID_PARAMETER_VALUE)
            if self.context_id and ctx != self.context_id:
                raise RemoteProtocolError(
                    f"presentation context changed from {self.context_id} to {ctx} inside a message",
                    ABORT_SOURCE_PROVIDER, REASON_UNEXPECTED_PARAMETER)
            fragment = view[off + 6:off + 4 + item_len]
            if mch & 1:   # command fragment
                if self.state >= 2:
                    raise RemoteProtocolError("command fragment while a dataset was expected",
                                              ABORT_SOURCE_PROVIDER, REASON_UNEXPECTED_PARAMETER)
                self.context_id = ctx
                self.state = 1
                self.command += fragment
                if mch & 2:
                    command = bytes(self.command)
                    self.command.clear()
                    has_dataset = _has_dataset(command)
                    events.append((COMMAND, ctx, command, has_dataset))
                    if has_dataset:
                        self.state = 2
                    else:
                        self.state = 0
                        self.context_id = 0
                        self.messages += 1
            else:         # dataset fragment
                if self.state < 2:
                    raise RemoteProtocolError("dataset fragment before its command",
                                              ABORT_SOURCE_PROVIDER, REASON_UNEXPECTED_PARAMETER)
                self.state = 3
                last = bool(mch & 2)
                events.append((DATA, ctx, fragment, last))
                if last:
                    self.state = 0
                    self.context_id = 0
                    self.messages += 1
            off += 4 + item_len
        return events


# Outcomes of pump_dataset
cdef enum:
    OUT_LAST = 1        # the data set's last fragment was consumed: the instance is complete
    OUT_YIELD = 2       # the next PDU is for the caller's path (another PDU or PDV, EINTR)
    OUT_CLOSED = 3      # the peer closed the connection
    OUT_TIMEOUT = 4     # nothing arrived within the socket's receive time-out (SO_RCVTIMEO)
    OUT_RECV_ERROR = 5  # recv failed (its errno is returned)

PUMP_LAST = OUT_LAST
PUMP_YIELD = OUT_YIELD
PUMP_CLOSED = OUT_CLOSED
PUMP_TIMEOUT = OUT_TIMEOUT
PUMP_RECV_ERROR = OUT_RECV_ERROR


cdef bint _data_only(PDVAssembler a, const uint8_t* body, Py_ssize_t n, bint* last) noexcept nogil:
    """Whether every PDV of a P-DATA-TF body is a data fragment `a` accepts now.

    The checks of :meth:`PDVAssembler.feed` for data PDVs: a body that fails
    one (or holds a command fragment) is left to feed(), which says why.
    """
    cdef Py_ssize_t off = 0
    cdef uint32_t item_len
    cdef uint8_t mch
    if n == 0 or a.state < 2:
        return False
    last[0] = False
    while off < n:
        if last[0]:        # something after the last fragment: feed() sorts it out
            return False
        if n - off < 6:
            return False
        item_len = rd32be(body + off)
        if item_len < 2 or item_len > <uint32_t>(n - off - 4):
            return False
        mch = body[off + 5]
        # the message's context (accepted when its command came), data, no reserved bits
        if body[off + 4] != a.context_id or mch & 0xFD:
            return False
        last[0] = (mch & 2) != 0
        off += 4 + item_len
    return True


cdef int _pump(PDUFramer f, PDVAssembler a, int sock, int fd, Scanner sc, bint scan,
               Py_ssize_t* nbytes, int* write_errno, int* recv_errno) noexcept nogil:
    cdef Py_ssize_t avail, total, off, n, done
    cdef unsigned long long length
    cdef uint32_t item_len
    cdef const uint8_t* body
    cdef const uint8_t* frag
    cdef bint last
    cdef ssize_t got
    while True:
        avail = f.end - f.start
        if avail >= PDU_HEADER:
            if f.p[f.start] != P_DATA_TF:
                return OUT_YIELD
            length = rd32be(f.p + f.start + 2)
            if (f.max_pdata_length and length > f.max_pdata_length) or length > f.max_pdu_length:
                return OUT_YIELD   # next_pdu() refuses it
            total = PDU_HEADER + <Py_ssize_t>length
            if total > f.cap:
                return OUT_YIELD   # assembled in a buffer of its own by next_pdu()
            if avail >= total:
                body = f.p + f.start + PDU_HEADER
                if not _data_only(a, body, <Py_ssize_t>length, &last):
                    return OUT_YIELD
                off = 0
                while off < <Py_ssize_t>length:
                    item_len = rd32be(body + off)
                    frag = body + off + 6
                    n = item_len - 2
                    done = 0
                    while write_errno[0] == 0 and done < n:  # after an error: drained, not written
                        got = c_write(fd, frag + done, n - done)
                        if got < 0:
                            if errno != EINTR:
                                write_errno[0] = errno
                        else:
                            done += got
                    if scan and write_errno[0] == 0 and sc.err_msg == NULL and not sc.done:
                        sc._run(frag, n)   # an error stays in the scanner: its close() raises it
                    nbytes[0] += n
                    off += 4 + item_len
                f.start += total
                if f.start == f.end:
                    f.start = f.end = 0
                f.pdus += 1
                a.state = 3
                if last:
                    a.state = 0
                    a.context_id = 0
                    a.messages += 1
                    return OUT_LAST
                continue
        # more bytes needed: make room as get_buffer() does, then receive
        if f.cap - f.end < f.cap // 2:
            if f.end > f.start:
                memmove(f.p, f.p + f.start, f.end - f.start)
            f.end -= f.start
            f.start = 0
        got = c_recv(sock, f.p + f.end, f.cap - f.end, 0)
        if got > 0:
            f.end += got
            f.bytes_received += got
            continue
        if got == 0:
            return OUT_CLOSED
        if errno == EINTR:
            return OUT_YIELD       # Python runs the signal handlers, then calls again
        if errno == EAGAIN:  # EWOULDBLOCK on Linux
            return OUT_TIMEOUT
        recv_errno[0] = errno
        return OUT_RECV_ERROR


def pump_dataset(PDUFramer framer, PDVAssembler assembler, int sock_fd, int file_fd,
                 Scanner scanner=None):
    """Receive a data set's P-DATA-TF PDUs from `sock_fd` straight into `file_fd`.

    For a message whose command set the assembler has passed (a data set is
    expected, or under way): whole PDUs already in `framer` and those received
    next (``recv`` into its buffer, on a blocking socket whose time-out is the
    kernel's) are walked here, each data PDV's bytes written to `file_fd` at
    its position and fed to `scanner` (its C core, which keeps any error for
    its ``close``), the assembler's state kept as :meth:`PDVAssembler.feed`
    keeps it. Runs without the GIL. It stops, leaving the PDU in the framer,
    at anything else: another PDU type, a command PDV, a PDV feed() would
    refuse (feed() then raises the protocol error), a PDU too large for the
    buffer.

    After a failed write the rest of the data set is still consumed (the
    answer is decided) but not written or scanned.

    Returns
    -------
    tuple
        ``(outcome, nbytes, write_errno, recv_errno)``: a ``PUMP_*`` outcome,
        the data set bytes consumed, the errno of the first failed write (0:
        none) and of a failed receive.

    References
    ----------
    PS3.8 Section 9.3.5 and Annex E.2; PS3.7 Section 9.3.1.
    """
    cdef Py_ssize_t nbytes = 0
    cdef int write_errno = 0, recv_errno = 0, outcome
    cdef bint scan = scanner is not None
    if framer.big is not None:
        return OUT_YIELD, 0, 0, 0
    with nogil:
        outcome = _pump(framer, assembler, sock_fd, file_fd, scanner, scan,
                        &nbytes, &write_errno, &recv_errno)
    return outcome, nbytes, write_errno, recv_errno
