"""The peer for bench_stack.py: a plain Flask + PyTorch server on ConvScope's /api/forward contract.

POST /api/forward {"image": 28×28 rows in [0, 1], "preprocess": "none"} → every layer's output as
nested JSON lists, the max pools' winners, and the prediction, as ConvScope answers with
"encoding": "json"; GET /api/health → {"status": "ok"}.  The same weights (models/lenet.npz, via
bench/torch_lenet.py).  One PyTorch thread per worker process, as a gunicorn deployment would set.
Serve it with `gunicorn -w 2 bench.peer_flask_torch:app` from the repository root.  Flask's own JSON
(the standard library's encoder) is the plain peer; PEER_JSON=orjson gives it ConvScope's encoder,
so that the comparison is of everything else.
"""
from __future__ import annotations

import os

import numpy as np
import orjson
import torch
from flask import Flask, Response, jsonify, request

from bench._common import load_network
from bench.torch_lenet import TorchTwin

torch.set_num_threads(1)
NET, _ = load_network()
TWIN = TorchTwin(NET)
ORJSON = os.environ.get("PEER_JSON") == "orjson"
app = Flask(__name__)


@app.get("/api/health")
def health():
    return jsonify(status="ok")


@app.post("/api/forward")
def forward():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "image" not in body:
        return jsonify(error={"code": "bad_request", "message": "send {\"image\": [[...]]}"}), 400
    try:
        image = np.asarray(body["image"], dtype=np.float32)
    except (TypeError, ValueError):
        return jsonify(error={"code": "bad_image", "message": "image must be rows of numbers"}), 400
    if image.shape != (28, 28) or not np.isfinite(image).all():
        return jsonify(error={"code": "bad_image", "message": "image must be 28×28 finite numbers"}), 400
    x = torch.from_numpy(np.pad(image, 2)[None, None])
    with torch.inference_mode():
        outs = TWIN.trace(x)
    layers = []
    for name, out, idx in outs:
        entry = {"name": name, "shape": list(out.shape[1:]), "data": out[0].tolist()}
        if idx is not None:
            entry["winners"] = idx[0].tolist()
        layers.append(entry)
    probs = layers[-1]["data"]
    answer = {"layers": layers, "prediction": {"label": int(np.argmax(probs)), "probabilities": probs}}
    if ORJSON:
        return Response(orjson.dumps(answer), mimetype="application/json")
    return jsonify(answer)
