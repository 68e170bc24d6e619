"""The only package that touches sockets, TLS and threads (STYLE.md)."""

from storecore.net.channel import Channel, CommandReceived, DataReceived, Timeouts, TransportClosed
from storecore.net.server import Server

__all__ = ["Channel", "CommandReceived", "DataReceived", "Server", "Timeouts", "TransportClosed"]
