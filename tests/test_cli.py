"""The ``convscope`` command line: parsing, pass-through subcommands and one-line failures."""
from __future__ import annotations

import os
import sys
import types

import pytest

from convscope.server import cli, serving

MODEL = ["--model", os.environ["CONVSCOPE_TEST_MODEL"]] if os.environ.get("CONVSCOPE_TEST_MODEL") else []


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--workers" in out and "--model" in out and "convscope train" in out


def test_serve_help_lists_its_options_with_defaults(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["serve", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())   # click wraps long lines
    for option in ("--host", "--port", "--workers", "--threads", "--model"):
        assert option in out
    assert "[default: 8000]" in out and "[default: 127.0.0.1]" in out


@pytest.mark.parametrize("argv, message", [
    (["--model", "/no/such/model.npz"], "model file not found: /no/such/model.npz"),
    (["serve", "--model", "/no/such/model.npz"], "model file not found"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["--workers", "-1"], "--workers must be"),
    (["--port", "70000"], "--port 0–65535"),
    (["--port", "abc"], "Invalid value for '--port'"),
    (["serve", "--frob"], "No such option '--frob'"),
    (["--port", "9000", "train"], "--port goes after the command"),
])
def test_errors_print_one_line_and_exit_2(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_subcommands_pass_their_arguments_through(monkeypatch, command):
    seen = {}
    fake = types.ModuleType(f"convscope.convnet.{command}")
    fake.main = lambda argv: seen.setdefault("argv", argv) and 0
    monkeypatch.setitem(sys.modules, f"convscope.convnet.{command}", fake)
    assert cli.main([command, "--epochs", "1", "--out", "x.npz"]) == 0
    assert seen["argv"] == ["--epochs", "1", "--out", "x.npz"]


@pytest.mark.parametrize("argv, workers", [([], 1), (["serve", "--port", "0"], 1), (["--workers", "2", "--port", "0"], 2), (["--workers", "0"], 0)])
def test_serve_starts_the_right_server_and_prints_the_url(monkeypatch, capsys, argv, workers):
    started = {}

    def fake_werkzeug(app, host, port, on_ready):
        started.update(kind="werkzeug", host=host)
        on_ready(8123)

    def fake_gunicorn(app, host, port, n, on_ready, threads=1):
        started.update(kind="gunicorn", workers=n, threads=threads, host=host)
        on_ready(8123)

    monkeypatch.setattr(serving, "serve_werkzeug", fake_werkzeug)
    monkeypatch.setattr(serving, "serve_gunicorn", fake_gunicorn)
    assert cli.main(argv + MODEL) == 0
    assert started["kind"] == ("gunicorn" if workers else "werkzeug") and started["host"] == "127.0.0.1"
    if workers:   # one worker (the default) is one user's: four threads for the page's parallel requests
        assert (started["workers"], started["threads"]) == (workers, 4 if workers == 1 else 1)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/" in out
    assert ("gunicorn" if workers else "Werkzeug's development server") in out


@pytest.mark.parametrize("cpus, argv, expect", [
    (2, [], (2, 1)),                        # a class: one sync worker per core…
    (16, [], (4, 1)),                       # …up to four
    (1, [], (1, 4)),                        # one core: one worker, threaded as on loopback
    (2, ["--workers", "1"], (1, 4)),        # what the teacher asks for wins
    (2, ["--threads", "2"], (2, 2)),
])
def test_serving_beyond_loopback_defaults_to_a_worker_per_core(monkeypatch, capsys, cpus, argv, expect):
    started = {}

    def fake_gunicorn(app, host, port, n, on_ready, threads=1):
        started.update(workers=n, threads=threads, host=host)
        on_ready(8123)

    monkeypatch.setattr(serving, "serve_gunicorn", fake_gunicorn)
    monkeypatch.setattr(serving, "usable_cpus", lambda: cpus)
    assert cli.main(["--host", "0.0.0.0", *argv] + MODEL) == 0
    assert (started["host"], started["workers"], started["threads"]) == ("0.0.0.0", *expect)
    shown = f"gunicorn, {expect[0]} worker{'s' if expect[0] > 1 else ''}"
    assert shown in capsys.readouterr().out


def test_port_in_use_is_one_line(capsys):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert cli.main(["--workers", "2", "--port", str(port)] + MODEL) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def bad_model_files(tmp_path):
    """name → path of a model file broken in one way, and the words its one-line error must use."""
    import numpy as np
    from convscope.convnet import default_model_path
    good = default_model_path().read_bytes()
    files = {"truncated": (good[:3000], "truncated or damaged"), "text": (b"hello\n", "not a NumPy .npz archive"),
             "empty": (b"", "the file is empty")}
    out = {}
    for name, (data, words) in files.items():
        out[name] = (tmp_path / f"{name}.npz", words)
        out[name][0].write_bytes(data)
    np.save(tmp_path / "array.npy", np.zeros(3))
    out["npy"] = (tmp_path / "array.npy", "single .npy array")
    np.savez(tmp_path / "nospec.npz", images=np.zeros(2))
    out["nospec"] = (tmp_path / "nospec.npz", "has no __spec__")
    np.savez(tmp_path / "badjson.npz", __spec__=np.array("{not json"))
    out["badjson"] = (tmp_path / "badjson.npz", "not valid JSON")
    np.savez(tmp_path / "noweights.npz", __spec__=np.array(
        '[{"kind": "input", "name": "input", "shape": [1, 8, 8]}, {"kind": "flatten", "name": "f"}, '
        '{"kind": "dense", "name": "d", "units": 2}]'))
    out["noweights"] = (tmp_path / "noweights.npz", "no weight for layer d")
    np.savez(tmp_path / "misfit.npz", __spec__=np.array(
        '[{"kind": "input", "name": "input", "shape": [1, 8, 8]}, '
        '{"kind": "conv", "name": "c", "out_channels": 2, "kernel": [9, 9]}]'))
    out["misfit"] = (tmp_path / "misfit.npz", "does not fit the padded 8×8 input")
    for name, spec in (("shape", '[{"kind": "input", "name": "input", "shape": 5}]'),
                       ("units", '[{"kind": "input", "name": "input", "shape": [1, 8, 8]}, {"kind": "flatten", "name": "f"}, '
                                 '{"kind": "dense", "name": "d", "units": null}]')):
        np.savez(tmp_path / f"wrongtype-{name}.npz", __spec__=np.array(spec))
        out[f"wrongtype-{name}"] = (tmp_path / f"wrongtype-{name}.npz", "cannot read model")
    return out


def test_every_broken_model_file_is_one_line_naming_it(tmp_path, capsys):
    for name, (path, words) in bad_model_files(tmp_path).items():
        assert cli.main(["--model", str(path)]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, (name, err)
        assert str(path) in err and words in err, (name, err)


def test_a_bad_model_beside_good_ones_is_skipped_unless_strict(tmp_path, monkeypatch, capsys):
    from convscope.convnet import default_model_path
    broken = bad_model_files(tmp_path)["truncated"][0]
    served = {}

    def fake_werkzeug(app, host, port, on_ready):
        served["models"] = list(app.extensions["convscope"].models)
        on_ready(8123)

    monkeypatch.setattr(serving, "serve_werkzeug", fake_werkzeug)
    monkeypatch.setattr(serving, "serve_gunicorn", lambda app, host, port, n, on_ready, threads=1:
                        fake_werkzeug(app, host, port, on_ready))
    good = os.environ.get("CONVSCOPE_TEST_MODEL") or str(default_model_path())
    assert cli.main(["--model", str(broken), "--model", good]) == 0
    captured = capsys.readouterr()
    assert served["models"] and "warning: skipped" in captured.err and str(broken) in captured.err
    assert captured.err.count("\n") == 1
    assert cli.main(["--strict", "--model", good, "--model", str(broken)]) == 2
    assert "truncated or damaged" in capsys.readouterr().err
