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


@pytest.mark.parametrize("argv, workers", [([], 0), (["serve", "--port", "0"], 0), (["--workers", "2", "--port", "0"], 2)])
def test_serve_starts_the_right_server_and_prints_the_url(monkeypatch, capsys, argv, workers):
    started = {}

    def fake_werkzeug(app, host, port, on_ready):
        started.update(kind="werkzeug", host=host)
        on_ready(8123)

    def fake_gunicorn(app, host, port, n, on_ready, threads=1):
        started.update(kind="gunicorn", workers=n, host=host)
        on_ready(8123)

    monkeypatch.setattr(serving, "serve_werkzeug", fake_werkzeug)
    monkeypatch.setattr(serving, "serve_gunicorn", fake_gunicorn)
    assert cli.main(argv + MODEL) == 0
    assert started["kind"] == ("gunicorn" if workers else "werkzeug") and started["host"] == "127.0.0.1"
    assert "http://127.0.0.1:8123/" in capsys.readouterr().out


def test_port_in_use_is_one_line(capsys):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert cli.main(["--workers", "2", "--port", str(port)] + MODEL) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err
