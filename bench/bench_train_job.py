"""The training page's job against `convscope train`'s own loop, in the same run, on MNIST.

1. The tiny preset (4 filters, 7,954 parameters) as a job from the page's API: seconds from Start to
   each held-out evaluation, and when it first reaches 95 % (the target: under 30 s on 2 cores).
2. Throughput: the same recipe (LeNet, 1 epoch) in-process through `trainer.fit` with no watcher (what
   `convscope train` runs) and as a job (its own process, reporting every 10 steps, snapshots, interval
   evaluations), training images per second inside the steps, and wall time.  Target: the job within
   1.2× of the command line.

    python bench/bench_train_job.py            # needs the MNIST cache (python -m convscope.convnet.mnist)
"""
from __future__ import annotations

import sys
import tempfile
import time

from convscope.convnet import datasets
from convscope.convnet.network import Network
from convscope.convnet.trainer import Recipe, fit
from convscope.server import create_app


def run_job(client, body, poll=0.1):
    t0 = time.perf_counter()
    job_id = client.post("/api/train", json=body).json["id"]
    curve, seen = [], 0
    while True:
        state = client.get(f"/api/train/{job_id}?since={seen}").json
        seen = state["next"]
        for e in state["events"]:
            if e["type"] in ("evaluation", "final"):
                curve.append((round(time.perf_counter() - t0, 2), e["step"], e["accuracy"]))
        if state["status"]["state"] in ("done", "stopped", "failed"):
            return time.perf_counter() - t0, curve, state
        time.sleep(poll)


def main() -> int:
    root = tempfile.mkdtemp()
    app = create_app({"TESTING": True, "WARM_JIT": False, "WARM_LAB": False, "ALLOW_TRAINING": True,
                      "TRAIN_DIR": root + "/jobs", "UPLOAD_DIR": root + "/models"})
    client = app.test_client()
    try:
        datasets.load("mnist", "test")
    except datasets.Unavailable as exc:
        print(f"bench_train_job: {exc}", file=sys.stderr)
        return 2
    # warm the job process's kernels once (a compile is a first start's cost, measured apart)
    t_warm, _, _ = run_job(client, {"design": {"preset": "tiny"}, "dataset": "digits", "recipe": {"epochs": 1}})
    print(f"first job on the digits (includes loading compiled kernels): {t_warm:.1f} s")

    wall, curve, state = run_job(client, {"design": {"preset": "tiny"}, "dataset": "mnist",
                                          "recipe": {"epochs": 2, "batch_size": 64, "lr": 0.003, "augment": False}})
    print("\n1. tiny preset on MNIST as a job (seconds from Start, step, held-out accuracy):")
    for t, step, acc in curve:
        print(f"   {t:6.1f} s  step {step:5d}  {100 * acc:6.2f} %")
    first95 = next((t for t, _, acc in curve if acc >= 0.95), None)
    print(f"   reached 95 %: {'at %.1f s' % first95 if first95 else 'never'}; finished in {wall:.1f} s "
          f"({state['status'].get('test_accuracy', 0) * 100:.2f} % on the 10k test set)")

    recipe = {"epochs": 1, "batch_size": 64, "augment": True, "seed": 0}
    x, y = datasets.load("mnist", "train")
    xt, yt = datasets.load("mnist", "test")
    net = Network.from_spec(datasets_spec(), seed=0)
    t0 = time.perf_counter()
    result = fit(net, x, y, xt, yt, Recipe(**{**recipe, "augment": "shift=2,rotate=12,scale=0.12"}))
    cli_wall = time.perf_counter() - t0
    cli_ips = len(x) / result.train_seconds
    job_wall, _, state = run_job(client, {"design": {"preset": "lenet"}, "dataset": "mnist", "recipe": recipe})
    card = Network.load(f"{root}/jobs/{state['id']}/model.npz").card
    job_ips = len(x) / card["job"]["train_seconds"]
    print("\n2. LeNet, one MNIST epoch, batch 64, augmentation on (same run):")
    print(f"   command line (trainer.fit):  {cli_ips:8.0f} img/s in the steps, wall {cli_wall:6.1f} s")
    print(f"   page job (own process):      {job_ips:8.0f} img/s in the steps, wall {job_wall:6.1f} s "
          "(incl. process start, data load, 4 held-out evaluations, snapshots, the final test)")
    print(f"   job / command line: {cli_ips / job_ips:.2f}× the step time, {job_wall / cli_wall:.2f}× the wall time "
          "(target ≤ 1.2×)")
    return 0


def datasets_spec():
    from convscope.convnet import design
    return design.build({"preset": "lenet"})


if __name__ == "__main__":
    sys.exit(main())
