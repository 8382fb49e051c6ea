"""The Numba cache folder is unwritable or corrupt: the server still starts, answers, and says so on
its progress line (each start here runs in a fresh process with its own NUMBA_CACHE_DIR; only the
shipped LeNets' trace kernels are warmed, to keep the compiles short).  A first start on an empty
cache shares its compiling with a helper process."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from convscope.server.serving import usable_cpus

PROBE = r'''
import json, numpy as np
from convscope.server import create_app
lines = []
from convscope.server.registry import default_model_path
app = create_app({"TESTING": True, "WARM_LAB": False, "WARM_MORE": False, "WARM_PROGRESS": lines.append,
                  "MODEL_PATHS": [str(default_model_path())]})
digit = np.zeros((28, 28)); digit[4:24, 12:16] = 1
r = app.test_client().post("/api/forward", json={"image": digit.tolist()})
print(json.dumps({"lines": "".join(lines), "status": r.status_code, "label": r.get_json()["prediction"]["label"]}))
'''


def run_probe(probe, cache_dir):
    """Run a probe script in a fresh process with NUMBA_CACHE_DIR=cache_dir; its last line's JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
    env["NUMBA_CACHE_DIR"] = str(cache_dir)
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def start(cache_dir):
    return run_probe(PROBE, cache_dir)


def cache_files(folder):
    return sorted(p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc"))


def test_a_corrupt_cache_is_cleared_and_rebuilt(cold_start, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(cold_start["cache"], cache)           # a cache one start filled
    files = cache_files(cache)
    assert any(p.suffix == ".nbi" for p in files)
    for p in files:                       # every index and data file truncated to garbage
        p.write_bytes(b"\x80\x04garbage")
    neighbour = cache / "another_project_abc" / "mod.f-1.py311.nbi"   # a shared NUMBA_CACHE_DIR
    neighbour.parent.mkdir()
    neighbour.write_bytes(b"not ours")
    second = start(cache)
    assert second["status"] == 200 and second["label"] == cold_start["labels"][0]
    assert "the Numba cache was unreadable" in second["lines"] and "compiling afresh" in second["lines"]
    assert second["lines"].count("\n") == 1                 # still one progress line
    assert neighbour.read_bytes() == b"not ours"            # another project's cache is left alone
    third = start(cache)                                    # rebuilt: loads cleanly now
    assert third["status"] == 200 and "unreadable" not in third["lines"]
    assert all(p.read_bytes() != b"\x80\x04garbage" for p in cache_files(cache) if p != neighbour)


def test_an_unwritable_cache_folder_is_said_and_the_server_still_answers(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = start(blocker / "numba")                       # cannot be created: its parent is a file
    assert result["status"] == 200
    notice, progress = result["lines"].splitlines()
    assert notice.startswith("ConvScope: cannot write the Numba cache in") and "compile in memory" in notice
    assert progress.startswith("ConvScope: preparing the kernels")


HELPER_PROBE = r'''
import json, numpy as np
from numba.core import event
from convscope.server import create_app
from convscope.server.registry import default_model_paths

compiled = []
class Compiles(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].__qualname__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Compiles())
lines = []
paths = [str(p) for p in default_model_paths()[:2]]            # lenet, then lenet5-classic
app = create_app({"TESTING": True, "WARM_LAB": False, "WARM_MORE": False, "WARM_PROGRESS": lines.append,
                  "MODEL_PATHS": paths, "WARM_HELPER": True})
digit = np.zeros((28, 28)); digit[4:24, 12:16] = 1
labels = [app.test_client().post("/api/forward", json={"image": digit.tolist(), "model": m}).get_json()
          ["prediction"]["label"] for m in ("lenet", "lenet5-classic")]
print(json.dumps({"lines": "".join(lines), "labels": labels, "compiled": compiled}))
'''


@pytest.fixture(scope="module")
def cold_start(tmp_path_factory):
    """The first start on an empty cache (with the helper process), and the cache it left."""
    cache = tmp_path_factory.mktemp("cold") / "cache"
    return {"cache": cache, **run_probe(HELPER_PROBE, cache)}


def test_a_cold_start_shares_the_compiling_with_a_helper_process(cold_start, client):
    """Two warm-up steps on a cold cache: this process traces lenet while the helper traces
    lenet5-classic; the classic's own kernels (LeCun's tanh, average pooling) are then loaded here
    from the cache the helper wrote, never compiled here.  With one CPU there is no helper: this
    process compiles them itself, and the answers are the same."""
    assert "unreadable" not in cold_start["lines"] and cold_start["lines"].count("\n") == 1
    assert "trace lenet…" in cold_start["lines"] and "trace lenet5-classic…" in cold_start["lines"]
    assert "conv2d_relu_max_pool2d_tabled" in cold_start["compiled"]   # lenet's fused kernel: compiled here
    own = ("_lecun_tanh_1d", "avg_pool2d")
    compiled_here = [name for name in own if name in cold_start["compiled"]]
    if usable_cpus() >= 2:
        assert compiled_here == [], cold_start["compiled"]
    else:
        assert compiled_here == list(own), "one CPU: no helper, so this process compiles them"
    digit = np.zeros((28, 28)); digit[4:24, 12:16] = 1
    here = [client.post("/api/forward", json={"image": digit.tolist(), "model": m}).get_json()["prediction"]["label"]
            for m in ("lenet", "lenet5-classic")]
    assert cold_start["labels"] == here                           # the same answers as this process's server
