"""X-ConvScope-Queued: how long a forward's request waited before the server began it (server/pacing.py),
measured by the kernel, and true under a real gunicorn sync worker that is busy when the request comes."""
import http.client
import json
import socket
import threading
import time

import pytest

from convscope.server import pacing

IMAGE = [[0.0] * 28 for _ in range(28)]
for _row in range(4, 24):
    IMAGE[_row][13] = 1.0


def test_the_kernel_counts_the_time_since_the_request_arrived():
    with socket.create_server(("127.0.0.1", 0)) as srv:
        client = socket.create_connection(srv.getsockname())
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)                        # the request waits in the backlog, not yet accepted
        conn, _ = srv.accept()
        with client, conn:
            waited = pacing.queued_ms({"gunicorn.socket": conn})
            assert 290 <= waited < 2000
            conn.recv(1024)
            client.sendall(b"next")            # a keep-alive connection's next request: counted afresh
            time.sleep(0.02)
            assert pacing.queued_ms({"werkzeug.socket": conn}) < 250


def test_no_socket_no_number():
    assert pacing.queued_ms({}) is None                        # e.g. the test client
    with socket.socket(socket.AF_UNIX) as unix:
        assert pacing.queued_ms({"gunicorn.socket": unix}) is None   # not TCP: no TCP_INFO
    assert pacing.queued_ms({"gunicorn.socket": object()}) is None


@pytest.fixture
def one_sync_worker(convscope_serve):
    proc, port, log = convscope_serve("--workers", "1", "--threads", "1", env={"CONVSCOPE_FORWARD_CACHE_BYTES": "0"})
    deadline = time.time() + 600
    while True:
        assert proc.poll() is None and time.time() < deadline, log.read_text()
        try:
            if forward(port)[0] == 200:
                return port
        except OSError:
            time.sleep(0.2)


def forward(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/api/forward", json.dumps({"image": IMAGE}), {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        queued = r.getheader(pacing.HEADER)
        return r.status, None if queued is None else int(queued)
    finally:
        conn.close()


def test_a_forward_behind_a_busy_worker_says_how_long_it_waited(one_sync_worker):
    port = one_sync_worker
    status, queued = forward(port)
    assert status == 200 and queued is not None and queued < 200      # an idle server: no wait
    # Hold the only worker: a request whose body is late keeps it reading for `hold` seconds.
    body = json.dumps({"image": IMAGE}).encode()
    hold = 0.8
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"POST /api/forward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    time.sleep(0.1)                                                   # the worker has taken it
    late = {}
    t = threading.Thread(target=lambda: late.update(zip(("status", "queued"), forward(port))))
    t.start()
    time.sleep(hold)
    slow.sendall(body[10:])
    slow.recv(1 << 16)
    slow.close()
    t.join(30)
    assert late["status"] == 200
    assert (hold - 0.1) * 1000 * 0.8 <= late["queued"] <= (hold + 2) * 1000, late
    status, queued = forward(port)
    assert status == 200 and queued < 200                             # and idle again
