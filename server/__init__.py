"""ConvScope's web server: a Flask app factory, one blueprint, the JSON API and the two pages."""
from __future__ import annotations

from flask import Flask

from convscope import __version__  # noqa: F401  (the API reports it)
from convscope.resources import data_path


def create_app(test_config: dict | None = None, overrides: dict | None = None) -> Flask:
    """Defaults, then ``CONVSCOPE_*`` settings from the environment or ``test_config``, then
    ``overrides`` (the CLI's options), then the resources (errors, security headers, model
    registry), then the blueprint."""
    app = Flask(__name__, static_folder=str(data_path("static")),
                template_folder=str(data_path("templates")))
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=8 << 20,     # request bodies (413 above)
        MAX_FORM_MEMORY_SIZE=8 << 20,
        MAX_IMAGE_SIDE=4096,            # decoded images (400 image_too_large above)
        LAB_MAX_SIDE=512,               # the kernel lab downscales larger images, with a notice
        MODEL_PATHS=None,               # list of .npz files, the first is the default; None: models/lenet.npz
        MODEL_STRICT=True,              # an unreadable model file stops start-up (the CLI: unless --strict, skip it)
        SAMPLES_PATH=None,              # None: models/mnist_samples.npz
        WARM_JIT=True,                  # trace a blank image with every model at start-up
        WARM_LAB=True,                  # every kernel-lab path at start-up (after the fork if not fork-safe)
        WARM_MORE=True,                 # a network of every layer kind and every /api/explain method (tests of the cache: off)
        WARM_PROGRESS=None,             # callable(text) reporting the warm-up on one line (the CLI prints)
        JSON_SORT_KEYS=False,
        FORWARD_CACHE_BYTES=32 << 20,   # repeated /api/forward bodies answered from memory (0: off)
        CLASS_CODE=None,                # a code students enter once (server/lan.py); None: no code
        RATE_LIMITS=None,               # {endpoint: (per second, burst)} per client; the CLI sets them in LAN mode
        SESSION_COOKIE_SAMESITE="Lax",
        ALLOW_UPLOAD=False,             # POST /api/models takes an .onnx file (the CLI: --allow-upload)
        UPLOAD_MAX_BYTES=32 << 20,      # an uploaded model's size limit (413 above)
        UPLOAD_DIR=None,                # where uploaded models are kept (None: the user cache's convscope/uploads)
        MAX_UPLOADS=20,                 # uploaded models kept at most (409 above)
        ALLOW_TRAINING=False,           # the training page may start jobs (the CLI: on for loopback, else --allow-training)
        MAX_TRAINING_JOBS=1,            # jobs running at once (409 above)
        TRAIN_DIR=None,                 # where jobs keep their files (None: the user cache's convscope/jobs/<run>)
        TRAIN_DATA_DIR=None,            # the datasets' directory for jobs (None: each dataset's default)
        COMPRESS_RESPONSES=True,        # Brotli/gzip for text and JSON answers (server/compress.py)
        COMPRESS_KEPT_BYTES=32 << 20,   # compressed static files and GET answers kept in memory
    )
    if test_config is None:
        app.config.from_prefixed_env("CONVSCOPE")
    else:
        app.config.from_mapping(test_config)
    app.config.from_mapping(overrides or {})

    from . import api, compress, decode, errors, lan, registry, security, training
    errors.init_app(app)
    lan.init_app(app)        # the class code and rate limits first: before any body is read
    decode.init_app(app)
    security.init_app(app)
    compress.init_app(app)
    registry.init_app(app)
    if app.config["FORWARD_CACHE_BYTES"]:
        from .caching import ForwardCache
        app.extensions["convscope.forward_cache"] = ForwardCache(app.config["FORWARD_CACHE_BYTES"])
    app.register_blueprint(api.bp)
    from .modules import closure
    app.add_template_global(closure, "module_preloads")
    training.init_app(app)
    return app

