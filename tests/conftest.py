"""Shared fixtures: ``app`` (create_app with a test config), ``client``, ``runner`` and a
session-scoped ``live_server`` (the app under Werkzeug in a thread; yields its base URL)."""
from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

from convscope.server import create_app

# The repo's default model (models/lenet.npz) unless CONVSCOPE_TEST_MODEL names another weights file.
MODEL_PATHS = [os.environ["CONVSCOPE_TEST_MODEL"]] if os.environ.get("CONVSCOPE_TEST_MODEL") else None
# The forward cache is off here so that every request reaches the engine (tests/test_caching.py turns it on).
TEST_CONFIG = {"TESTING": True, "MODEL_PATHS": MODEL_PATHS, "WARM_JIT": False, "WARM_LAB": False,
               "FORWARD_CACHE_BYTES": 0}


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


@pytest.fixture(scope="session")
def samples():
    """The shipped MNIST test digits: .images uint8 (N, 28, 28), .labels, .indices."""
    from convscope.convnet.samples import load_samples
    return load_samples()
