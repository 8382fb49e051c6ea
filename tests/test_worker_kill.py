"""Kill a gunicorn worker during load: the master replaces it, the only failures are requests that
were on that worker, and the requests after it succeed (`convscope serve --workers 2`, for real)."""
import http.client
import json
import os
import signal
import subprocess
import threading
import time

import pytest

IMAGE = [[0.0] * 28 for _ in range(28)]
for _row in range(4, 24):
    IMAGE[_row][13] = 1.0
COUNTER = iter(range(10**9))   # a fresh body each time (unknown keys are ignored): no cache hits,
                               # every request runs the trace on a worker


def workers_of(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return sorted(int(p) for p in out.stdout.split())


def forward(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps({"image": IMAGE, "n": next(COUNTER)}).encode()
        conn.request("POST", "/api/forward", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        return (r.status == 200 and r.getheader("X-ConvScope-Cache") == "miss"
                and json.loads(r.read())["prediction"] is not None)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@pytest.fixture
def gunicorn(convscope_serve):
    proc, port, log = convscope_serve("--workers", "2")
    deadline = time.time() + 600
    while "ConvScope serving" not in log.read_text() or len(workers_of(proc.pid)) < 2:
        assert proc.poll() is None and time.time() < deadline, log.read_text()
        time.sleep(0.1)
    return proc, port


def test_a_killed_worker_is_replaced_and_only_its_requests_fail(gunicorn):
    proc, port = gunicorn
    before = workers_of(proc.pid)
    assert len(before) == 2 and all(forward(port) for _ in range(20))
    results, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            ok = forward(port)                        # timed when it ends: one in flight at the kill
            results.append((time.monotonic(), ok))    # started before it, and fails after it

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    killed_at = time.monotonic()
    os.kill(before[0], signal.SIGKILL)
    time.sleep(4.0)
    stop.set()
    for t in threads:
        t.join()
    failures = [round(t - killed_at, 3) for t, ok in results if not ok]
    what = f"{len(results)} requests; failures at {failures} s after the kill"
    assert len(failures) <= 4, what                  # only the ≤ 4 requests in flight on that worker
    assert all(0 <= t for t in failures), what       # nothing failed before the kill
    later = [ok for t, ok in results if t > killed_at + 2.0]
    assert len(later) > 10 and all(later), what      # the requests after it succeed
    deadline = time.time() + 60
    while time.time() < deadline and (len(workers_of(proc.pid)) < 2 or before[0] in workers_of(proc.pid)):
        time.sleep(0.2)
    now = workers_of(proc.pid)
    assert len(now) == 2 and before[0] not in now and before[1] in now  # replaced; the other untouched
    assert proc.poll() is None and all(forward(port) for _ in range(20))
