"""The training page's API: design checks, training jobs, snapshots, saving and downloads.

A job is a folder (``TRAIN_DIR/<id>``) and a process (``python -m convscope.convnet.job``, see that
module for the files).  The server only starts the process, writes its control file and reads what
it writes, so every worker process of the server answers for every job, and a reload or a second
browser sees the running one.  A process that dies without saying so (killed, out of memory) is
noticed by its pid and marked failed with the reason; a stopped job's process exits by itself.

Routes (docs/CONTRACTS.md):
- ``GET /train`` the page; ``GET /api/train/options`` presets, datasets, limits and defaults;
- ``POST /api/train/design`` shapes, parameters and receptive fields of a design, or why it is impossible;
- ``POST /api/train`` start a job (409 while ``MAX_TRAINING_JOBS`` run); ``GET /api/train`` the jobs;
- ``GET /api/train/<id>?since=N`` its status, events from line N, current filters and snapshots;
- ``POST /api/train/<id>/control`` ``{"action": "pause"|"resume"|"stop"}``;
- ``POST /api/train/<id>/snapshot`` a snapshot of the model as it is now; its name opens every view;
- ``POST /api/train/<id>/save`` ``{"name": …}`` the model joins the picker;
- ``GET /api/models/<name>/download?format=npz|onnx``.
A snapshot is served as the model ``<id>@<step>`` (``/?model=<id>@<step>``) without joining the picker.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path

from flask import Blueprint, current_app, render_template, request

from .errors import ApiError
from .registry import NAME_CHARS, registry

bp = Blueprint("training", __name__)
JOB_CHARS = set("abcdef0123456789")
TRAIN_LIMITS = {"epochs": (1, 30), "batch_size": (8, 512), "limit": (0, 60_000), "warmup": (0, 5000),
                "seed": (0, 2**31 - 1)}
RECIPE_DEFAULTS = {"optimizer": "adam", "lr": 2e-3, "momentum": 0.9, "weight_decay": 0.0, "schedule": "cosine",
                   "warmup": 100, "batch_size": 64, "epochs": 2, "augment": True, "seed": 0}
EVAL_IMAGES = 2000     # held-out images at each interval evaluation (the whole test set at the end)
_snapshots: OrderedDict = OrderedDict()   # (id, step) → Network, the few a class is looking at
_snapshot_lock = threading.Lock()


def jobs_dir() -> Path:
    folder = current_app.config.get("TRAIN_DIR")
    if folder:
        return Path(folder)
    import platformdirs
    return Path(platformdirs.user_cache_dir("convscope")) / "jobs" / str(registry().session)


_last_activity = [0.0]


def note_activity() -> None:
    """Tell running training jobs that a class is using the server (at most once a second per
    process): a job then takes a break after each step, so it never crowds out the students."""
    now = time.monotonic()
    if now - _last_activity[0] < 1.0 or not current_app.config.get("ALLOW_TRAINING"):
        return
    _last_activity[0] = now
    root = jobs_dir()
    if root.is_dir():
        try:
            (root / ".serving").touch()
        except OSError:
            pass


def _enabled() -> None:
    if not current_app.config.get("ALLOW_TRAINING"):
        raise ApiError(403, "training_off", "Training is off on this server; the teacher can start it with "
                       "`convscope serve --allow-training` to allow it.")


def _job_folder(job_id: str) -> Path:
    if not job_id or len(job_id) > 32 or not set(job_id) <= JOB_CHARS:
        raise ApiError(404, "unknown_job", f"There is no training job {job_id!r}.")
    folder = jobs_dir() / job_id
    if not (folder / "request.json").is_file():
        raise ApiError(404, "unknown_job", f"There is no training job {job_id!r}.")
    return folder


def _read(path: Path, default=None):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def _alive(pid) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


def status_of(folder: Path) -> dict:
    """The job's status, with a dead process that did not say so marked failed (and recorded)."""
    status = _read(folder / "status.json", {}) or {}
    launched = _read(folder / "launch.json", {}) or {}
    state = status.get("state", "starting")
    if "pid" not in launched:   # between the start and launch.json: the process is being started
        created = (_read(folder / "request.json", {}) or {}).get("created") or 0
        if time.time() - created < 30:
            return {**status, "state": state}
    if state not in ("done", "stopped", "failed") and not _alive(launched.get("pid")):
        exit_info = _read(folder / "exit.json", {}) or {}
        code = exit_info.get("returncode")
        why = (f"killed by signal {-code}" if isinstance(code, int) and code < 0
               else f"exit status {code}" if code is not None else "it is no longer running")
        status = {**status, "state": "failed", "error": f"The training process ended unexpectedly ({why})."}
        _write_json(folder / "status.json", status)
    status.setdefault("state", state)
    return status


def _write_json(path: Path, value) -> None:
    from convscope.convnet.network import _atomic_write
    data = json.dumps(value).encode()
    _atomic_write(path, lambda f: f.write(data))


def _running(folder_root: Path) -> list[tuple[str, dict]]:
    if not folder_root.is_dir():
        return []
    out = []
    for folder in sorted(folder_root.iterdir()):
        if (folder / "request.json").is_file():
            status = status_of(folder)
            if status["state"] not in ("done", "stopped", "failed"):
                out.append((folder.name, status))
    return out


# ---- the page and the design -------------------------------------------------------------------
@bp.get("/train")
def page():
    return render_template("train.html")


@bp.get("/api/train/options")
def options():
    from convscope.convnet import datasets, design
    return {"presets": {name: {"title": p["title"], "design": design.normalise({"preset": name})}
                        for name, p in design.PRESETS.items()},
            "datasets": {name: {"title": d.title, "classes": list(d.classes)} for name, d in datasets.DATASETS.items()},
            "activations": list(design.ACTIVATIONS), "pools": list(design.POOLS), "limits": design.LIMITS,
            "recipe_limits": TRAIN_LIMITS, "recipe": RECIPE_DEFAULTS,
            "enabled": bool(current_app.config.get("ALLOW_TRAINING"))}


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "Send a JSON object.")
    return body


@bp.post("/api/train/design")
def check_design():
    from convscope.convnet import design
    summary = design.summary(_body().get("design", {}))
    summary.pop("spec", None)
    return summary


# ---- jobs --------------------------------------------------------------------------------------
def _recipe(fields) -> dict:
    if not isinstance(fields, dict):
        raise ApiError(400, "bad_recipe", "'recipe' must be an object.")
    unknown = sorted(set(fields) - set(RECIPE_DEFAULTS))
    if unknown:
        raise ApiError(400, "bad_recipe", f"Unknown recipe option {unknown[0]!r}.")
    r = {**RECIPE_DEFAULTS, **fields}
    choices = {"optimizer": ("adam", "sgd"), "schedule": ("cosine", "step", "constant")}
    for key, allowed in choices.items():
        if r[key] not in allowed:
            raise ApiError(400, "bad_recipe", f"'{key}' must be one of {', '.join(allowed)}.")
    for key, (lo, hi) in TRAIN_LIMITS.items():
        if key == "limit":
            continue
        if isinstance(r[key], bool) or not isinstance(r[key], int) or not lo <= r[key] <= hi:
            raise ApiError(400, "bad_recipe", f"'{key}' must be a whole number from {lo} to {hi}.")
    for key, lo, hi in (("lr", 1e-6, 1.0), ("momentum", 0.0, 0.999), ("weight_decay", 0.0, 0.1)):
        if isinstance(r[key], bool) or not isinstance(r[key], (int, float)) or not lo <= r[key] <= hi:
            raise ApiError(400, "bad_recipe", f"'{key}' must be a number from {lo:g} to {hi:g}.")
    if not isinstance(r["augment"], bool):
        raise ApiError(400, "bad_recipe", "'augment' must be true or false.")
    from convscope.convnet.trainer import DEFAULT_AUGMENT
    r["augment"] = DEFAULT_AUGMENT if r["augment"] else None
    r["lr"], r["momentum"], r["weight_decay"] = float(r["lr"]), float(r["momentum"]), float(r["weight_decay"])
    return r


@bp.post("/api/train")
def start():
    """Start a job: ``{"design": …, "recipe": …, "dataset": "mnist"|"fashion"|"digits", "limit": N}``."""
    _enabled()
    from convscope.convnet import datasets, design
    body = _body()
    try:
        the_design = design.normalise(body.get("design", {}))
        spec = design.build(the_design)
    except design.DesignError as exc:
        raise ApiError(400, "bad_design", f"This network cannot be built: {exc}.") from None
    recipe = _recipe(body.get("recipe", {}))
    name = body.get("dataset", "digits")
    if name not in datasets.DATASETS:
        raise ApiError(400, "bad_dataset", f"'dataset' must be one of {', '.join(datasets.DATASETS)}.")
    limit = body.get("limit", 0)
    lo, hi = TRAIN_LIMITS["limit"]
    if isinstance(limit, bool) or not isinstance(limit, int) or not lo <= limit <= hi:
        raise ApiError(400, "bad_recipe", f"'limit' must be a whole number from {lo} to {hi} (0: all).")
    root = jobs_dir()
    root.mkdir(parents=True, exist_ok=True)
    with _start_lock(root):
        running = _running(root)
        if len(running) >= current_app.config["MAX_TRAINING_JOBS"]:
            eta = max((s.get("eta") or 0) for _, s in running)
            raise ApiError(409, "training_busy", f"A training job is already running (job {running[0][0]}); it "
                           f"should end in about {round(eta)} s. Wait for it, or stop it first.",
                           headers={"Retry-After": str(max(1, round(eta)))})
        job_id = secrets.token_hex(4)
        folder = root / job_id
        (folder / "snapshots").mkdir(parents=True)
        request_doc = {"design": the_design, "recipe": recipe, "dataset": name, "limit": limit,
                       "data_dir": current_app.config.get("TRAIN_DATA_DIR"), "eval_images": EVAL_IMAGES,
                       "name": f"trained-{job_id}", "parameters": design.parameter_count(spec),
                       "server_pid": registry().session,   # the job stops itself when this server is gone
                       "created": time.time()}
        _write_json(folder / "request.json", request_doc)
        _launch(folder)
    return {"id": job_id, **job_state(folder, 0)}, 201


class _start_lock:
    """One start at a time across worker processes (an exclusive lock file in the jobs folder)."""

    def __init__(self, root: Path):
        self.path = root / ".start.lock"

    def __enter__(self):
        import fcntl
        self.fh = open(self.path, "a")
        fcntl.flock(self.fh, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        self.fh.close()


def _launch(folder: Path) -> None:
    log = open(folder / "log.txt", "ab")
    env = dict(os.environ)
    # NumPy's BLAS starts its thread pool when numpy is imported, before the job can lower its own
    # priority, and its threads spin between calls: at normal priority they took the serving CPU
    # (bench_classroom --while-training).  One BLAS thread; Numba's threads do the parallel work.
    env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"})
    try:
        proc = subprocess.Popen([sys.executable, "-m", "convscope.convnet.job", str(folder)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                start_new_session=True, close_fds=True)
    except OSError as exc:   # out of processes or memory: the job is recorded as failed, and said so
        _write_json(folder / "status.json", {"state": "failed", "error": f"The training process could not start "
                                             f"({exc.strerror or exc})."})
        raise ApiError(503, "cannot_start", "The training process could not start; try again in a moment.",
                       headers={"Retry-After": "5"}) from None
    finally:
        log.close()
    _write_json(folder / "launch.json", {"pid": proc.pid})

    def reap():   # this worker started it: record how it ended (another worker sees the pid gone)
        code = proc.wait()
        _write_json(folder / "exit.json", {"returncode": code})

    threading.Thread(target=reap, daemon=True, name=f"reap-{folder.name}").start()


def job_state(folder: Path, since: int) -> dict:
    status = status_of(folder)
    req = _read(folder / "request.json", {}) or {}
    events = []
    try:
        with open(folder / "events.jsonl", encoding="utf-8") as f:
            lines = f.read().split("\n")
        complete = lines[:-1]          # the last piece may be a line still being written
        events = [json.loads(line) for line in complete[since:]]
        count = len(complete)
    except (OSError, ValueError):
        count = since
    snapshots = sorted(int(p.stem.split("-")[1]) for p in (folder / "snapshots").glob("step-*.npz"))
    return {"id": folder.name, "status": status, "events": events, "next": count,
            "filters": _read(folder / "filters.json"), "snapshots": snapshots,
            "design": req.get("design"), "recipe": req.get("recipe"), "dataset": req.get("dataset"),
            "limit": req.get("limit"), "parameters": req.get("parameters"), "created": req.get("created"),
            "saved": _read(folder / "saved.json", {}).get("name") if (folder / "saved.json").exists() else None}


@bp.get("/api/train")
def list_jobs():
    root = jobs_dir()
    jobs = []
    if root.is_dir():
        for folder in root.iterdir():
            if (folder / "request.json").is_file():
                req = _read(folder / "request.json", {}) or {}
                jobs.append({"id": folder.name, "status": status_of(folder), "created": req.get("created"),
                             "dataset": req.get("dataset")})
    jobs.sort(key=lambda j: j.get("created") or 0, reverse=True)
    return {"jobs": jobs, "enabled": bool(current_app.config.get("ALLOW_TRAINING"))}


def _since() -> int:
    raw = request.args.get("since", "0")
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(400, "bad_since", "'since' must be a whole number of events already read.")
    return int(raw)


@bp.get("/api/train/<job_id>")
def job(job_id: str):
    return job_state(_job_folder(job_id), _since())


def _control(folder: Path, **changes) -> dict:
    control = {"state": "run", "snapshot": 0, **(_read(folder / "control.json", {}) or {}), **changes}
    _write_json(folder / "control.json", control)
    return control


@bp.post("/api/train/<job_id>/control")
def control(job_id: str):
    _enabled()
    folder = _job_folder(job_id)
    action = _body().get("action")
    states = {"pause": "pause", "resume": "run", "stop": "stop"}
    if action not in states:
        raise ApiError(400, "bad_action", "'action' must be pause, resume or stop.")
    status = status_of(folder)
    if status["state"] in ("done", "stopped", "failed"):
        raise ApiError(409, "job_ended", f"The job has already ended ({status['state']}).")
    _control(folder, state=states[action])
    if action == "stop":
        pid = (_read(folder / "launch.json", {}) or {}).get("pid")
        if _alive(pid):
            try:
                os.kill(pid, 15)   # the job stops at its next step, saves, and exits
            except OSError:
                pass
    return job_state(folder, _since())


@bp.post("/api/train/<job_id>/snapshot")
def snapshot_now(job_id: str):
    """The model as it is now: asks the job for a snapshot and waits (≤ 10 s) until it is written."""
    folder = _job_folder(job_id)
    status = status_of(folder)
    if status["state"] in ("done", "stopped", "failed"):
        steps = sorted(int(p.stem.split("-")[1]) for p in (folder / "snapshots").glob("step-*.npz"))
        if not steps:
            raise ApiError(409, "no_snapshot", "The job ended before its first snapshot.")
        return {"model": f"{job_id}@{steps[-1]}", "step": steps[-1]}
    asked = int(_read(folder / "control.json", {}).get("snapshot", 0) or 0) + 1 if (folder / "control.json").exists() else 1
    _control(folder, snapshot=asked)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for event in reversed(job_state(folder, 0)["events"]):
            if event.get("type") == "snapshot_done" and event.get("request", 0) >= asked:
                return {"model": f"{job_id}@{event['step']}", "step": event["step"]}
        if status_of(folder)["state"] in ("done", "stopped", "failed"):
            return snapshot_now(job_id)
        time.sleep(0.05)
    raise ApiError(503, "snapshot_timeout", "The job did not write a snapshot in 10 s; try again.",
                   headers={"Retry-After": "2"})


@bp.post("/api/train/<job_id>/save")
def save(job_id: str):
    """The job's model (the final one, or its newest snapshot while it runs) joins the picker."""
    _enabled()
    folder = _job_folder(job_id)
    body = _body()
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64 or not set(name.strip()) <= NAME_CHARS:
        raise ApiError(400, "bad_name", "'name' must be 1–64 letters, digits, '-', '_' or '.'.")
    name = name.strip()
    source = folder / "model.npz"
    if not source.exists():
        raise ApiError(409, "not_finished", "The job has no trained model yet: stop it (its model is kept) or "
                       "wait for it to end.")
    reg = registry()
    from convscope.convnet.network import Network
    with reg.upload_lock:
        reg.refresh_uploads()
        if name in reg.models:
            raise ApiError(409, "name_taken", f"There is already a model named {name!r}; choose another name.")
        net = Network.load(source)
        net.name = name
        card = {**net.card, "name": name}
        target = reg.upload_dir() / f"{name}.npz"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            net.save(target, card)
        except OSError as exc:   # disk full or read-only: atomic writes leave no half file
            raise ApiError(507, "cannot_store", f"The model could not be saved ({exc.strerror or exc}).") from None
        reg._adopt(net, target)
    _write_json(folder / "saved.json", {"name": name})
    return {"name": name, "test_accuracy": card.get("test_accuracy"), "url": f"/?model={name}"}, 201


# ---- snapshots as models, and downloads --------------------------------------------------------
def snapshot_model(name: str):
    """The Network of ``<id>@<step>``, or None if ``name`` is not of that form or does not exist."""
    job_id, _, step = name.partition("@")
    if not step.isdigit() or not job_id or not set(job_id) <= JOB_CHARS or len(job_id) > 32:
        return None
    path = jobs_dir() / job_id / "snapshots" / f"step-{int(step):07d}.npz"
    key = (str(path),)
    with _snapshot_lock:
        if key in _snapshots:
            _snapshots.move_to_end(key)
            return _snapshots[key]
    if not path.is_file():
        return None
    from convscope.convnet.network import Network
    try:
        net = Network.load(path)
    except (OSError, ValueError):
        return None
    net.name = name
    with _snapshot_lock:
        _snapshots[key] = net
        while len(_snapshots) > 24:
            _snapshots.popitem(last=False)
    return net


@bp.get("/api/models/<name>/download")
def download(name: str):
    from flask import Response
    net = registry().get(name)
    fmt = request.args.get("format", "npz")
    if fmt == "npz":
        import io
        buf = io.BytesIO()
        net.write_archive(buf)
        data, mime = buf.getvalue(), "application/octet-stream"
    elif fmt == "onnx":
        from convscope.convnet.onnx_export import export_onnx
        try:
            data = export_onnx(net)
        except ValueError as exc:
            raise ApiError(400, "not_exportable", f"This model cannot be written as ONNX: {exc}") from None
        mime = "application/octet-stream"
    else:
        raise ApiError(400, "bad_format", "'format' must be npz or onnx.")
    safe = "".join(ch if ch in NAME_CHARS else "-" for ch in net.name)
    return Response(data, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{safe}.{fmt}"'})


def init_app(app) -> None:
    app.register_blueprint(bp)


def cleanup(root: Path) -> None:
    """Remove a jobs folder (tests; a server's own run folder is left for the user to inspect)."""
    shutil.rmtree(root, ignore_errors=True)
