"""The warm-up covers every kernel the server can call: after create_app() (what `convscope serve`
runs before it says "ready"), no request compiles anything.  Checked in a fresh process, so kernels
compiled by earlier tests in this one cannot hide a gap."""
import json
import subprocess
import sys

import pytest

from convscope.convnet import lab

PROBE = r'''
import itertools, json, sys
import numpy as np
from convscope.server import create_app
import convscope.kernels
from numba.core.registry import CPUDispatcher

import tempfile
lines = []
app = create_app({"TESTING": True, "WARM_PROGRESS": lines.append, "ALLOW_UPLOAD": True,
                  "UPLOAD_DIR": tempfile.mkdtemp()})

def signatures():
    out = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("convscope.kernels"):
            for attr, value in vars(module).items():
                if isinstance(value, CPUDispatcher):
                    out[f"{name}.{attr}"] = len(value.signatures)
    return out

before = signatures()
client = app.test_client()
statuses = []
rng = np.random.default_rng(0)
images = {"gray": rng.random((9, 11)).round(3).tolist(), "rgb": rng.random((7, 8, 3)).round(3).tolist()}
for (kind, image), mode, act, pool, kernel in itertools.product(
        images.items(), ("per_channel", "sum"), (None, "relu", "sigmoid", "tanh"),
        (None, "max", "avg", "l2"), ("3x3", "5x5")):
    k = [[1, 0, -1], [2, 0, -2], [1, 0, -1]] if kernel == "3x3" else [[0.5] * 5] * 2 + [[-0.5] * 5] * 3
    body = {"image": image, "kernel": k, "mode": mode, "stride": [1, 2], "padding": "same",
            "dilation": 1 if kernel == "5x5" else [2, 1]}
    if act:
        body["activation"] = act
    if pool:
        body["pool"] = {"kind": pool, "size": 2, "stride": 1}
    statuses.append(client.post("/api/convolve", json=body).status_code)
digit = np.zeros((28, 28)); digit[4:24, 12:16] = 1
for extra in ({}, {"encoding": "base64"}, {"preprocess": "none"}, {"steps": True},
              {"model": "lenet5-classic"}):
    statuses.append(client.post("/api/forward", json={"image": digit.tolist(), **extra}).status_code)
# an uploaded RGB model with the imported layer kinds: no compile for the upload or its forwards
from onnx import TensorProto, helper, numpy_helper
init = lambda name, a: numpy_helper.from_array(np.asarray(a, np.float32), name)
nodes = [helper.make_node("Sub", ["x", "m"], ["a"]), helper.make_node("Div", ["a", "s"], ["b"]),
         helper.make_node("Conv", ["b", "w"], ["c0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Conv", ["c0", "w32"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),   # many channels
         helper.make_node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["d"]),
         helper.make_node("LeakyRelu", ["d"], ["e"], alpha=0.1), helper.make_node("Elu", ["e"], ["f"]),
         helper.make_node("AveragePool", ["f"], ["h"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
         helper.make_node("GlobalMaxPool", ["h"], ["i"]), helper.make_node("Flatten", ["i"], ["j"]),
         helper.make_node("MatMul", ["j", "fw"], ["k"]), helper.make_node("Add", ["k", "fb"], ["y"])]
graph = helper.make_graph(nodes, "probe", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                          [init("m", np.full((3, 1, 1), 0.5)), init("s", np.full((3, 1, 1), 0.25)),
                           init("w", rng.standard_normal((32, 3, 3, 3))), init("w32", rng.standard_normal((32, 32, 3, 3))), init("g", np.ones(32)), init("be", np.zeros(32)),
                           init("mu", np.zeros(32)), init("var", np.ones(32)), init("fw", rng.standard_normal((32, 4))),
                           init("fb", np.zeros(4))])
data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
import io
statuses.append(client.post("/api/models", data={"file": (io.BytesIO(data), "probe.onnx")},
                            content_type="multipart/form-data").status_code - 1)   # 201 created
rgb = rng.random((16, 16, 3)).tolist()
for extra in ({"preprocess": "none"}, {}):
    statuses.append(client.post("/api/forward", json={"model": "probe", "image": rgb, **extra}).status_code)
for model, image in (("lenet", digit.tolist()), ("lenet5-classic", digit.tolist()), ("probe", rgb)):
    for method in ("gradient", "gradient_x_input", "gradcam", "occlusion"):
        statuses.append(client.post("/api/explain", json={"model": model, "image": image, "method": method,
                                                          "encoding": "base64"}).status_code)
    statuses.append(client.post("/api/synthesize", json={"model": model, "steps": 3}).status_code)
after = signatures()
posts = sorted(r.rule for r in app.url_map.iter_rules() if "POST" in r.methods and r.rule.startswith("/api/"))
print(json.dumps({"lines": lines, "statuses": statuses, "posts": posts,
                  "new": {k: (before.get(k, 0), n) for k, n in after.items() if n != before.get(k, 0)}}))
'''


@pytest.fixture(scope="module")
def probe():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_no_request_compiles_after_the_warm_up(probe):
    assert set(probe["statuses"]) == {200}, probe["statuses"]
    assert probe["new"] == {}, f"compiled after the warm-up (dispatcher: (before, after)): {probe['new']}"


PROBED = ["/api/convolve", "/api/explain", "/api/forward", "/api/models", "/api/synthesize"]   # the routes the probe above calls with every option
# Training routes run no kernel in the server: the job's own process trains (convnet/job.py), and the
# design check is plain Python.  Their first-job compile is the job's, measured in bench/bench_train_job.py.
NOT_COMPUTING = ["/api/train", "/api/train/<job_id>/control", "/api/train/<job_id>/save",
                 "/api/train/<job_id>/snapshot", "/api/train/design"]


def test_every_computing_route_is_probed(probe):
    """A new POST route (one that computes) fails here until the probe calls it: its kernels must
    join Registry.warmups and this list."""
    assert sorted(set(probe["posts"]) - set(NOT_COMPUTING)) == PROBED
    assert set(NOT_COMPUTING) <= set(probe["posts"])


def test_the_warm_up_reports_on_one_line(probe):
    text = "".join(probe["lines"])
    assert text.count("\n") == 1 and text.endswith(" s\n")
    assert "trace lenet…" in text and "kernel lab…" in text


def test_the_lab_warm_up_reaches_every_mode_activation_and_pool():
    modes, acts, pools = zip(*lab.WARM_CALLS)
    assert set(modes) == {"per_channel", "sum"}
    assert set(acts) - {None} == set(lab.LAB_ACTIVATIONS)
    assert set(pools) - {None} == set(lab.POOL_FUNCS)
