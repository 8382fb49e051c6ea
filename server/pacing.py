"""How long a request waited before the server began it, told to the page so a full hall paces itself.

A hall of pages drawing at once offers far more forwards than two cores serve: each page keeps at most
one request in flight (latest wins), so 300 pages keep 300 requests queued, and every answer waits
for the 299 ahead of it.  Nothing on the server can shorten that queue but the pages themselves: each
forward's answer carries ``X-ConvScope-Queued``, the milliseconds its request sat in the server's
queue (the listen backlog for gunicorn's sync workers, the poller for keep-alive connections), and
the page (static/js/core/pacer.js) widens the gap before its next send while the queue is long and
narrows it again when it is short.  The hall then shares the server's real rate with answers that
stay fresh, instead of a queue that makes every answer old.

The wait is the kernel's own: ``tcpi_last_data_recv`` of the connection's ``TCP_INFO`` is the time
since the request's last bytes arrived (jiffy resolution, 4 ms at HZ=250).  Read when the view starts,
it is the time the request waited plus the microseconds of parsing.  Where the socket is not a Linux
TCP socket (another OS, a Unix socket, a server that does not pass its socket in the environ) there
is no header, and the page sends as fast as answers come, as it always did.
"""
from __future__ import annotations

import socket
import struct

HEADER = "X-ConvScope-Queued"
# struct tcp_info (linux/tcp.h): 8 one-byte fields, then u32s: rto, ato, snd_mss, rcv_mss, unacked,
# sacked, lost, retrans, fackets, last_data_sent, last_ack_sent, last_data_recv, ...
_LAST_DATA_RECV = 8 + 11 * 4
_TCP_INFO = getattr(socket, "TCP_INFO", None)
_SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")


def queued_ms(environ) -> int | None:
    """Milliseconds since the request's last bytes reached this host, or None where unknown."""
    if _TCP_INFO is None:
        return None
    for key in _SOCKET_KEYS:
        sock = environ.get(key)
        if sock is not None:
            break
    else:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _LAST_DATA_RECV + 4)
    except (OSError, AttributeError, TypeError):
        return None
    if len(info) < _LAST_DATA_RECV + 4:
        return None
    return struct.unpack_from("=I", info, _LAST_DATA_RECV)[0]
