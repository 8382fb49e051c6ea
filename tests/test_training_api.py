"""The training page's API: a job's whole life in its own process, its limits and its failures.

Jobs train the tiny preset on the 300 shipped digits (240 to train, 60 to test), so each takes a
second or two once the kernels are compiled.  Every number a job reports is checked against what
the saved model itself computes, image by image through the single-image trace.
"""
from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from convscope.convnet import datasets, design
from convscope.convnet.network import Network
from convscope.server import create_app

TINY = {"design": {"preset": "tiny"}, "recipe": {"epochs": 3, "batch_size": 16}, "dataset": "digits"}


@pytest.fixture
def train_app(tmp_path, test_config):
    return create_app({**test_config, "ALLOW_TRAINING": True, "TRAIN_DIR": str(tmp_path / "jobs"),
                       "UPLOAD_DIR": str(tmp_path / "models")})


@pytest.fixture
def tc(train_app):
    client = train_app.test_client()
    yield client
    for job in client.get("/api/train").json["jobs"]:   # never leave a process behind
        if job["status"]["state"] not in ("done", "stopped", "failed"):
            client.post(f"/api/train/{job['id']}/control", json={"action": "stop"})


def wait_for(client, job_id, states=("done", "stopped", "failed"), timeout=240, where=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/train/{job_id}").json
        if body["status"]["state"] in states and (where is None or where(body)):
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {body['status']} after {timeout} s")


def process_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def start(client, **changes):
    r = client.post("/api/train", json={**TINY, **changes})
    assert r.status_code == 201, r.json
    return r.json["id"]


def test_a_job_trains_reports_and_its_numbers_are_the_models_own(tc, train_app):
    job_id = start(tc)
    busy = tc.post("/api/train", json=TINY)
    assert busy.status_code == 409 and busy.json["error"]["code"] == "training_busy"
    assert int(busy.headers["Retry-After"]) >= 1 and job_id in busy.json["error"]["message"]
    body = wait_for(tc, job_id)
    assert body["status"]["state"] == "done", body["status"]
    kinds = [e["type"] for e in body["events"]]
    assert {"progress", "evaluation", "snapshot", "epoch", "final"} <= set(kinds)
    # 240 images in batches of 16: 15 steps an epoch, 45 in all; snapshots at 0, 10, 25 and each epoch's end
    assert body["status"]["step"] == body["status"]["total"] == 45
    assert body["snapshots"] == [0, 10, 15, 25, 30, 45]
    steps = [e["step"] for e in body["events"] if e["type"] == "progress"]
    assert steps == sorted(steps) and steps[-1] == 45
    # the final accuracy and confusion are the saved model's, recomputed one image at a time
    net = Network.load(train_app.config["TRAIN_DIR"] + f"/{job_id}/model.npz")
    x, y = datasets.load("digits", "test")
    predicted = np.array([net.trace(img).label for img in x])
    final = next(e for e in body["events"] if e["type"] == "final")
    confusion = np.zeros((10, 10), int)
    np.add.at(confusion, (y, predicted), 1)
    assert final["confusion"] == confusion.tolist()
    assert final["accuracy"] == pytest.approx((predicted == y).mean(), abs=1e-5)
    assert net.card["test_accuracy"] == final["accuracy"]
    assert net.card["design"]["preset"] == "tiny" and net.card["data"]["dataset"] == "digits"
    assert net.card["data"]["sha256"] == datasets.checksum("digits") and net.card["classes"][3] == "3"
    # the first layer's filters as the page draws them are the model's conv1 weights
    w = net.layer_weights("conv1")["weight"]
    assert body["filters"]["shape"] == list(w.shape)
    np.testing.assert_allclose(body["filters"]["values"], w.ravel(), atol=1e-5)
    # events are read incrementally: since=N gives what came after the first N
    later = tc.get(f"/api/train/{job_id}?since=5").json
    assert later["events"] == body["events"][5:] and later["next"] == body["next"]


def test_snapshots_are_models_every_view_can_open(tc, samples):
    job_id = start(tc)
    body = wait_for(tc, job_id)
    first, last = f"{job_id}@0", f"{job_id}@{body['snapshots'][-1]}"
    m0, m1 = tc.get(f"/api/model?model={first}").json, tc.get(f"/api/model?model={last}").json
    assert m0["name"] == first and [la["name"] for la in m0["layers"]] == [la["name"] for la in m1["layers"]]
    w0 = tc.get(f"/api/model/layers/conv1/weights?model={first}").json
    w1 = tc.get(f"/api/model/layers/conv1/weights?model={last}").json
    assert w0["weight"]["data"] != w1["weight"]["data"]    # training changed the filters
    image = (samples.images[0] / 255.0).round(3).tolist()
    for name in (first, last):
        r = tc.post("/api/forward", json={"model": name, "image": image})
        assert r.status_code == 200 and r.json["model"] == name
    assert tc.get(f"/api/model?model={job_id}@7").status_code == 404        # no snapshot at step 7
    assert first not in [m["name"] for m in tc.get("/api/models").json["models"]]   # served, not listed


def test_save_joins_the_picker_and_downloads_read_back(tc, tmp_path):
    job_id = start(tc)
    wait_for(tc, job_id)
    r = tc.post(f"/api/train/{job_id}/save", json={"name": "class-net"})
    assert r.status_code == 201 and r.json["url"] == "/?model=class-net"
    assert "class-net" in [m["name"] for m in tc.get("/api/models").json["models"]]
    again = tc.post(f"/api/train/{job_id}/save", json={"name": "class-net"})
    assert again.status_code == 409 and again.json["error"]["code"] == "name_taken"
    assert tc.post(f"/api/train/{job_id}/save", json={"name": "no/slash"}).status_code == 400
    npz = tc.get("/api/models/class-net/download?format=npz")
    assert npz.status_code == 200 and "class-net.npz" in npz.headers["Content-Disposition"]
    (tmp_path / "d.npz").write_bytes(npz.data)
    saved, back = Network.load(tmp_path / "jobs" / job_id / "model.npz"), Network.load(tmp_path / "d.npz")
    assert back.name == "class-net" and back.card["test_accuracy"] == saved.card["test_accuracy"]
    for la in saved.layers:
        for key, value in la.params.items():
            np.testing.assert_array_equal(back.layer(la.name).params[key], value)
    onnx_bytes = tc.get("/api/models/class-net/download?format=onnx").data
    from convscope.convnet.onnx_import import load_onnx
    imported = load_onnx(onnx_bytes, "again")
    x = np.random.default_rng(0).random((1, 32, 32), dtype=np.float32)
    np.testing.assert_allclose(imported.trace(x).probabilities, saved.trace(x).probabilities, atol=1e-6)
    assert tc.get("/api/models/class-net/download?format=zip").status_code == 400


def test_pause_resume_and_stop_and_the_stopped_model_is_kept(tc, train_app):
    job_id = start(tc, recipe={"epochs": 30, "batch_size": 8})
    wait_for(tc, job_id, ("running",), where=lambda b: b["status"]["step"] >= 5)
    assert tc.post(f"/api/train/{job_id}/control", json={"action": "pause"}).status_code == 200
    paused = wait_for(tc, job_id, ("paused",))
    time.sleep(0.6)
    assert tc.get(f"/api/train/{job_id}").json["status"]["step"] <= paused["status"]["step"] + 1
    now = tc.post(f"/api/train/{job_id}/snapshot", json={})     # a snapshot while paused
    assert now.status_code == 200 and now.json["model"].startswith(job_id + "@")
    assert tc.get(f"/api/model?model={now.json['model']}").status_code == 200
    tc.post(f"/api/train/{job_id}/control", json={"action": "resume"})
    wait_for(tc, job_id, ("running",), where=lambda b: b["status"]["step"] > paused["status"]["step"] + 2)
    tc.post(f"/api/train/{job_id}/control", json={"action": "stop"})
    stopped = wait_for(tc, job_id)
    assert stopped["status"]["state"] == "stopped" and stopped["status"]["step"] < stopped["status"]["total"]
    assert os.path.exists(train_app.config["TRAIN_DIR"] + f"/{job_id}/model.npz")
    pid = stopped["status"]["pid"]
    deadline = time.monotonic() + 10
    while process_state(pid) not in (None, "Z"):
        assert time.monotonic() < deadline, "the stopped job's process did not exit"
        time.sleep(0.1)
    ended = tc.post(f"/api/train/{job_id}/control", json={"action": "pause"})
    assert ended.status_code == 409 and ended.json["error"]["code"] == "job_ended"
    assert tc.post(f"/api/train/{job_id}/save", json={"name": "half-trained"}).status_code == 201


def test_a_killed_job_is_marked_failed_and_the_server_keeps_serving(tc):
    job_id = start(tc, recipe={"epochs": 30, "batch_size": 8})
    body = wait_for(tc, job_id, ("running",), where=lambda b: b["status"]["step"] >= 2)
    os.kill(body["status"]["pid"], signal.SIGKILL)
    failed = wait_for(tc, job_id, ("failed",))
    assert "signal 9" in failed["status"]["error"] or "no longer running" in failed["status"]["error"]
    assert tc.get("/api/health").status_code == 200
    assert tc.post(f"/api/train/{job_id}/save", json={"name": "x"}).json["error"]["code"] == "not_finished"
    start(tc)   # the failed job no longer holds the one training slot


def test_a_job_that_cannot_load_its_data_fails_with_the_reason(tc, tmp_path, monkeypatch):
    monkeypatch.setenv("CONVSCOPE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("CONVSCOPE_NPM_REGISTRY", "http://127.0.0.1:9")   # nothing listens there
    job_id = start(tc, dataset="mnist")
    failed = wait_for(tc, job_id, ("failed",))
    assert "MNIST is not cached" in failed["status"]["error"]


BAD = [
    ({"design": {"blocks": [{"kernel": 9}] * 3}}, "bad_design", "does not fit"),
    ({"design": {"blocks": [{"filters": 32, "pool": "none", "padding": "same"}], "dense": [512, 512]}},
     "bad_design", "parameters"),
    ({"design": {"blocks": [{"filters": 33}]}}, "bad_design", "filters"),
    ({"design": {"preset": "vgg"}}, "bad_design", "preset"),
    ({"design": {"blocks": [], "dense": [10, 10, 10]}}, "bad_design", "hidden"),
    ({"design": {"nonsense": 1}}, "bad_design", "unknown"),
    ({"recipe": {"epochs": 31}}, "bad_recipe", "epochs"),
    ({"recipe": {"epochs": True}}, "bad_recipe", "epochs"),
    ({"recipe": {"batch_size": 4}}, "bad_recipe", "batch_size"),
    ({"recipe": {"lr": 5}}, "bad_recipe", "lr"),
    ({"recipe": {"lr": "fast"}}, "bad_recipe", "lr"),
    ({"recipe": {"optimizer": "rmsprop"}}, "bad_recipe", "optimizer"),
    ({"recipe": {"augment": "yes"}}, "bad_recipe", "augment"),
    ({"recipe": {"shuffle": False}}, "bad_recipe", "shuffle"),
    ({"recipe": []}, "bad_recipe", "object"),
    ({"dataset": "cifar"}, "bad_dataset", "dataset"),
    ({"limit": -1}, "bad_recipe", "limit"),
    ({"limit": 70000}, "bad_recipe", "limit"),
]


@pytest.mark.parametrize("change, code, words", BAD)
def test_bad_jobs_are_refused_before_anything_runs(tc, change, code, words):
    r = tc.post("/api/train", json={**TINY, **change})
    assert r.status_code == 400 and r.json["error"]["code"] == code and words in r.json["error"]["message"]
    assert tc.get("/api/train").json["jobs"] == []


def test_the_design_check_explains_and_counts(tc):
    ok = tc.post("/api/train/design", json={"design": {"preset": "lenet"}}).json
    assert ok["ok"] and ok["parameters"] == 61706 + 2096 and ok["layers"][1]["output_shape"] == [6, 28, 28]
    bad = tc.post("/api/train/design", json={"design": {"blocks": [{"kernel": 9}] * 3}}).json
    assert not bad["ok"] and "conv block 3" in bad["error"]
    assert tc.post("/api/train/design", data="[1", content_type="application/json").status_code == 400


def test_training_is_off_unless_allowed(client):
    r = client.post("/api/train", json=TINY)
    assert r.status_code == 403 and r.json["error"]["code"] == "training_off"
    assert client.get("/api/train/options").json["enabled"] is False
    assert client.get("/api/train/ffff").status_code == 404
    assert client.get("/api/train/../../etc").status_code == 404
    assert client.post("/api/train/ffff/control", json={"action": "stop"}).status_code == 403


def test_job_routes_check_what_they_are_given(tc):
    assert tc.get("/api/train/zzzz").json["error"]["code"] == "unknown_job"
    job_id = start(tc)
    assert tc.get(f"/api/train/{job_id}?since=abc").json["error"]["code"] == "bad_since"
    assert tc.post(f"/api/train/{job_id}/control", json={"action": "explode"}).json["error"]["code"] == "bad_action"
    wait_for(tc, job_id)


def test_the_cli_turns_training_on_only_on_loopback_unless_asked():
    from convscope.server.cli import training_allowed
    assert training_allowed("127.0.0.1", False) and training_allowed("localhost", False)
    assert not training_allowed("0.0.0.0", False) and training_allowed("0.0.0.0", True)


def test_presets_match_the_shipped_architectures():
    from convscope.convnet.spec import LENET
    assert design.build({"preset": "lenet"}) == LENET
    assert design.parameter_count(design.build({"preset": "tiny"})) == 4 * 25 + 4 + 784 * 10 + 10


def test_saving_to_a_full_or_unwritable_disk_is_a_clear_error_and_writes_nothing(tmp_path, test_config):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the models folder should be")
    app = create_app({**test_config, "ALLOW_TRAINING": True, "TRAIN_DIR": str(tmp_path / "jobs"),
                      "UPLOAD_DIR": str(blocker / "models")})
    client = app.test_client()
    job_id = start(client)
    wait_for(client, job_id)
    r = client.post(f"/api/train/{job_id}/save", json={"name": "kept"})
    assert r.status_code == 507 and r.json["error"]["code"] == "cannot_store"
    assert "Traceback" not in r.json["error"]["message"] and str(tmp_path) not in r.json["error"]["message"]
    assert blocker.read_text().startswith("a file") and "kept" not in [m["name"] for m in client.get("/api/models").json["models"]]
    assert client.post(f"/api/train/{job_id}/save", json={"name": "kept"}).status_code == 507   # and again, cleanly


def test_a_job_stops_itself_when_its_server_is_gone(tmp_path):
    """The job reads its server's pid from request.json; with that process gone it stops and keeps
    its model, instead of training on with no one to see it."""
    import json
    import subprocess
    import sys
    from convscope.server.training import _launch, status_of
    folder = tmp_path / "job"
    (folder / "snapshots").mkdir(parents=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (folder / "request.json").write_text(json.dumps({
        "design": {"preset": "tiny"}, "recipe": {**TINY["recipe"], "epochs": 30, "batch_size": 8},
        "dataset": "digits", "server_pid": gone.pid}))
    _launch(folder)
    deadline = time.monotonic() + 120
    while status_of(folder)["state"] not in ("done", "stopped", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status = status_of(folder)
    assert status["state"] == "stopped" and status["step"] < status["total"] and (folder / "model.npz").exists()


def test_a_job_that_cannot_start_its_process_is_a_503_and_marked_failed(tc, monkeypatch):
    import subprocess
    def refuse(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")
    monkeypatch.setattr(subprocess, "Popen", refuse)
    r = tc.post("/api/train", json=TINY)
    assert r.status_code == 503 and r.json["error"]["code"] == "cannot_start" and r.headers["Retry-After"] == "5"
    jobs = tc.get("/api/train").json["jobs"]
    assert len(jobs) == 1 and jobs[0]["status"]["state"] == "failed"
    monkeypatch.undo()
    start(tc)   # the failed one does not hold the slot
