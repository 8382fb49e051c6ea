"""The ``convscope`` command: ``serve`` (the default), ``train``, ``evaluate`` and ``import``, on click.

Imports are lazy and ordered so that ``kernels`` (which points NUMBA_CACHE_DIR somewhere writable)
loads before anything imports numba.  Expected failures (a missing model file, a port in use, a bad
option value) print one line and exit with status 2, without a traceback.
"""
from __future__ import annotations

import os
import sys

import click

USAGE = """convscope [serve] [--host HOST] [--port PORT] [--workers N] [--threads N] [--model [NAME=]PATH ...]
       convscope train [options]      (convscope train --help)
       convscope evaluate [options]   (convscope evaluate --help)
       convscope import MODEL.onnx -o OUT.npz"""
PASS_THROUGH = {"train": "convscope.convnet.train", "evaluate": "convscope.convnet.evaluate"}
CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 100}
# train and evaluate parse their own options (and --help): everything after the word goes to them
RAW = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def serve_options(f):
    """serve's options, on both ``convscope`` itself and ``convscope serve``."""
    for option in reversed([
        click.option("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for a LAN)"),
        click.option("--port", type=int, default=8000, help="port (0 picks a free one)"),
        click.option("--workers", type=int, default=None,
                     help="gunicorn worker processes (1 for one user; N for a classroom); 0: Werkzeug's "
                          "development server (for debugging, or where gunicorn cannot run)  [default: 1 on "
                          "loopback; one per CPU core (up to 4) beyond it, for a class]"),
        click.option("--threads", type=int, default=None,
                     help="threads per gunicorn worker (1: sync workers, the steadiest latency for a class; "
                          "N>1: gthread with keep-alive)  [default: 4 with one worker, else 1]"),
        click.option("--model", multiple=True, metavar="[NAME=]PATH",
                     help="a ConvScope .npz or an .onnx file, named NAME (default: its card's name or the file's "
                          "stem); repeat to serve several, the first is the default  "
                          "[default: the shipped lenet and lenet5-classic]"),
        click.option("--class-code", metavar="CODE",
                     help="students must enter this code once (`auto`: generate one and print it)"),
        click.option("--no-rate-limits", is_flag=True,
                     help="beyond loopback, do not rate-limit each client's expensive requests"),
        click.option("--allow-upload", is_flag=True,
                     help="let the page upload .onnx models (up to 32 MB; parsed, never run; kept for this run)"),
        click.option("--allow-training", is_flag=True,
                     help="beyond loopback, let the training page start training jobs (on loopback they are on)"),
        click.option("--max-training-jobs", type=int, default=1, help="training jobs running at once"),
        click.option("--strict", is_flag=True,
                     help="refuse to start if any --model cannot be read (default: skip it with a warning "
                          "while at least one can)"),
    ]):
        f = option(f)
    return f


class Convscope(click.Group):
    """No command word (or only serve's options) means serve; an unknown word is a one-line error."""

    def format_usage(self, ctx, formatter):
        formatter.write(f"Usage: {USAGE}\n")

    def resolve_command(self, ctx, args):
        if not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            raise click.UsageError(f"unknown command {args[0]!r}; use serve, train, evaluate or import (convscope --help)")
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx):
        return ["serve", "train", "evaluate", "import"]


@click.group(cls=Convscope, invoke_without_command=True, context_settings=CONTEXT)
@serve_options
@click.pass_context
def convscope(ctx, **options):
    """ConvScope: watch a convolutional network think, layer by layer.

    Without a command, serves (the options below are serve's).
    """
    if ctx.invoked_subcommand is None:
        return serve(**options)
    given = [name for name in options if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"--{given[0].replace('_', '-')} goes after the command: "
                               f"convscope {ctx.invoked_subcommand} --help")
    return None


@convscope.command("serve", context_settings=CONTEXT)
@serve_options
def serve_command(**options):
    """Serve the web app (the default command)."""
    return serve(**options)


def serve(host, port, workers, threads, model, strict=False, class_code=None, no_rate_limits=False,
          allow_upload=False, allow_training=False, max_training_jobs=1) -> int:
    if workers is None:   # a page for one user on loopback; a class beyond it (bench_stack.py: one
        # worker served 30 students 335 of 600 forwards/s at p95 112 ms, two sync workers all 600 at 32 ms)
        from .serving import usable_cpus
        workers = 1 if is_loopback(host) else min(usable_cpus(), 4)   # each worker holds its models
    if threads is None:   # one worker serves one user's page, whose requests come several at a time
        threads = 4 if workers == 1 else 1
    if workers < 0 or threads < 1 or not 0 <= port <= 65535 or not 1 <= max_training_jobs <= 8:
        return fail("--workers must be ≥ 0, --threads ≥ 1, --port 0–65535 and --max-training-jobs 1–8")
    if class_code is not None and not class_code.strip():
        return fail("--class-code must not be empty (or use --class-code auto)")
    from convscope import kernels  # noqa: F401  (sets NUMBA_CACHE_DIR before numba is imported)
    from . import create_app, serving
    from .registry import ModelLoadError, fork_safe
    if workers and not serving.gunicorn_available():
        print("convscope: gunicorn cannot run here (it needs a POSIX system); serving with Werkzeug's "
              "development server instead", file=sys.stderr, flush=True)
        workers = 0
    # Every kernel is warmed before "ready"; the lab's parallel kernels start Numba's thread pool,
    # which only a fork-safe threading layer survives, so otherwise gunicorn's workers warm them.
    overrides = {"WARM_LAB": not workers or fork_safe(),
                 "WARM_PROGRESS": lambda text: print(text, end="", flush=True)}
    if model:
        overrides["MODEL_PATHS"] = list(model)
    overrides["MODEL_STRICT"] = strict
    overrides["ALLOW_UPLOAD"] = allow_upload
    overrides["ALLOW_TRAINING"] = training_allowed(host, allow_training)
    overrides["MAX_TRAINING_JOBS"] = max_training_jobs
    overrides.update(lan_settings(host, class_code, no_rate_limits))
    try:
        app = create_app(None, overrides)
    except ModelLoadError as exc:
        return fail(str(exc))
    for reason in app.extensions["convscope"].skipped:
        print(f"convscope: warning: skipped {reason} (--strict makes this an error)", file=sys.stderr, flush=True)

    def ready(port):
        how = (f"gunicorn, {workers} worker{'s' if workers > 1 else ''}"
               + (f" × {threads} threads" if threads > 1 else "") + "; Ctrl+C to stop") if workers else \
            "Werkzeug's development server; Ctrl+C to stop"
        shown = f"[{host}]" if ":" in host else host
        print(f"ConvScope serving {app.extensions['convscope'].default} at http://{shown}:{port}/  ({how})", flush=True)
        code = app.config.get("CLASS_CODE")
        if not is_loopback(host):
            print(class_banner(host, port, code), flush=True)
        if allow_upload:
            print("  uploads on: the page can add .onnx models (POST /api/models)", flush=True)
        if allow_training and not is_loopback(host):
            print(f"  training on: the training page can start jobs (at most {max_training_jobs} at once)", flush=True)
        if app.config.get("RATE_LIMITS"):
            print("  LAN mode: each computer's expensive requests are rate-limited (--no-rate-limits to lift)",
                  flush=True)

    try:
        if workers:
            serving.check_port(host, port)   # gunicorn would retry, then exit without a reason
            serving.serve_gunicorn(app, host, port, workers, ready, threads)
        else:
            serving.serve_werkzeug(app, host, port, ready)
    except OSError as exc:
        return fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    return 0


def pass_through(command: str, args) -> int:
    import importlib
    from convscope import kernels  # noqa: F401  (NUMBA_CACHE_DIR first)
    return importlib.import_module(PASS_THROUGH[command]).main(list(args)) or 0


@convscope.command("train", context_settings=RAW, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def train_command(args):
    """Train a network (a shipped architecture or a design); write weights and a card (convscope train --help)."""
    return pass_through("train", args)


@convscope.command("evaluate", context_settings=RAW, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def evaluate_command(args):
    """Test accuracy and confusion matrix of a weights file (convscope evaluate --help)."""
    return pass_through("evaluate", args)


@convscope.command("import", context_settings=CONTEXT)
@click.argument("source", metavar="MODEL.onnx", type=click.Path(dir_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="the ConvScope .npz to write")
@click.option("--name", help="the model's name  [default: the output file's stem]")
@click.option("--preprocess", type=click.Choice(["mnist", "resize", "none"]),
              help="what the app does to a drawing or upload before this model reads it  "
                   "[default: mnist for a gray model, resize for RGB]")
def import_command(source, out, name, preprocess):
    """Convert an ONNX model once into a ConvScope .npz, with a model card beside it (the source
    file and its sha256, opset, the layers and the input)."""
    from pathlib import Path
    from convscope import kernels  # noqa: F401  (NUMBA_CACHE_DIR first)
    from convscope.convnet.onnx_import import load_onnx
    if not Path(source).is_file():
        return fail(f"no such file: {source}")
    try:
        net = load_onnx(source, name or Path(out).stem)
    except (ValueError, OSError) as exc:
        return fail(f"cannot import {source}: {exc}")
    card = dict(net.card)
    if preprocess:
        card["preprocess"] = preprocess
    card["command"] = f"convscope import {Path(source).name} -o {Path(out).name}" + (
        f" --name {name}" if name else "") + (f" --preprocess {preprocess}" if preprocess else "")
    try:
        net.save(out, card)
    except OSError as exc:
        return fail(f"cannot write {out}: {exc.strerror or exc}")
    c, h, w = net.input_shape
    print(f"{source} → {out}: {net.name}, {len(net.layers) - 1} layers "
          f"({', '.join(ls.kind for ls in net.specs[1:])}), input {c}×{h}×{w}, "
          f"preprocess {card['preprocess']}, {len(net.card['import']['folded'])} static nodes folded")
    return 0


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def lan_settings(host: str, class_code: str | None, no_rate_limits: bool) -> dict:
    """The locked-down profile for serving beyond this machine (server/lan.py)."""
    from .lan import LAN_RATE_LIMITS
    settings = {}
    if class_code == "auto":
        import secrets
        class_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
    if class_code:
        settings["CLASS_CODE"] = class_code
    if not is_loopback(host) and not no_rate_limits:
        settings["RATE_LIMITS"] = LAN_RATE_LIMITS
    return settings


def class_banner(host: str, port: int, code: str | None) -> str:
    """What the terminal shows a teacher serving a class: the address students open, the code, a QR
    code of that address, and where the same is shown large for the projector."""
    from .lan import join_url, lan_address, qr_text
    address = lan_address() if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
    url = join_url(address, port, code)
    lines = []
    if host in ("0.0.0.0", "::"):
        lines.append("  listening on every interface")
    if code:
        lines.append(f"  class code: {code}")
    lines.append(f"  students open {url}  (or scan:)")
    lines.append(qr_text(url).rstrip("\n"))
    lines.append(f"  the same, large, for the projector: http://127.0.0.1:{port}/class (on this machine)")
    return "\n".join(lines)


def training_allowed(host: str, flag: bool) -> bool:
    """Training jobs cost the machine: on for one user on loopback, beyond it only when asked."""
    return bool(flag) or is_loopback(host)


def fail(message: str) -> int:
    print(f"convscope: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    try:
        return _dispatch(argv)
    except BrokenPipeError:   # e.g. `convscope evaluate | head -1`: the reader left, not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with convscope.make_context("convscope", argv) as ctx:
            return convscope.invoke(ctx) or 0
    except click.exceptions.Exit as exc:   # --help was printed
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:    # a bad option value, an unknown command: one line, status 2
        return fail(exc.format_message())


if __name__ == "__main__":
    sys.exit(main())
