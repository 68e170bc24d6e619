"""A TCP server that runs each accepted connection in a thread of its own."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable

__all__ = ["Server"]

log = logging.getLogger(__name__)


class Server:
    """Accept connections and hand each to `handler` in a new thread.

    Parameters
    ----------
    handler : callable(socket, (host, port))
        Runs one connection to its end; exceptions are logged, never fatal.
    host, port : str, int
        Where to listen; port 0 picks a free one (see :attr:`address`).
    ssl_context : ssl.SSLContext, optional
        TLS: each accepted socket is wrapped (server side) before the handler.
    backlog : int
        The listen queue.

    Notes
    -----
    :meth:`shutdown` stops accepting, then waits for the connections in flight
    to end (up to `drain_timeout`), so in-flight associations finish their
    instances; what is still open then is closed.
    """

    def __init__(
        self,
        handler: Callable[[socket.socket, tuple[str, int]], None],
        host: str = "0.0.0.0",
        port: int = 11112,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self._listener = socket.create_server((host, port), backlog=backlog, reuse_port=False)
        self._threads: set[threading.Thread] = set()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._accept_thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the server listens on."""
        host, port = self._listener.getsockname()[:2]
        return host, port

    def start(self) -> Server:
        """Accept in a background thread; returns self."""
        self._accept_thread = threading.Thread(
            target=self.serve_forever, name="storecore-accept", daemon=True
        )
        self._accept_thread.start()
        return self

    def serve_forever(self) -> None:
        """Accept until :meth:`shutdown`."""
        while not self._stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                raise
            thread = threading.Thread(
                target=self._run,
                args=(sock, peer),
                name=f"storecore-{peer[0]}:{peer[1]}",
                daemon=True,
            )
            with self._lock:
                self._threads.add(thread)
                self._sockets.add(sock)
            thread.start()

    def _run(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        try:
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_side=True)
            self.handler(sock, peer)
        except Exception:
            log.exception("connection from %s:%d failed", *peer)
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._threads.discard(threading.current_thread())
                self._sockets.discard(sock)

    @property
    def active(self) -> int:
        """Connections in flight."""
        with self._lock:
            return len(self._threads)

    def shutdown(self, drain_timeout: float = 30.0) -> None:
        """Stop accepting; let connections in flight end, closing what remains after."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(drain_timeout / max(len(threads), 1))
        with self._lock:
            leftovers = list(self._sockets)
        for sock in leftovers:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
