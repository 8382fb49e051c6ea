"""The one blueprint: the JSON API under /api/, the two pages and the vendored Plotly.js."""
from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

from flask import Blueprint, Response, current_app, render_template, request, send_file

from . import __version__, pacing, preprocess, schema, validate
from .caching import conditional
from .decode import check_encoding, image_from, read_body
from .errors import ApiError
from .registry import registry
from .training import note_activity

bp = Blueprint("convscope", __name__)
YEAR = 365 * 24 * 3600


def json_response(body, status: int = 200) -> Response:
    data = body if isinstance(body, bytes) else schema.dumps(body)
    return Response(data, status=status, mimetype="application/json")


def _ms(t0: float, t1: float) -> float:
    return round((t1 - t0) * 1e3, 3)


# ---- pages -------------------------------------------------------------------------------------
@bp.get("/")
def index():
    return render_template("index.html", data_preloads=_data_preloads())


def _quote(text: str) -> str:
    return quote(text, safe="-_.!~*'()")          # as the page's encodeURIComponent writes it


def _data_preloads() -> list[str]:
    """The API answers the layer view fetches before its first picture, named in its HTML so the
    browser asks for them while the modules load (the same URLs, byte for byte, as core/api.js)."""
    try:
        net = registry().get(request.args.get("model"))
    except ApiError:
        return []                  # an unknown model: the page says so and shows the default
    if "@" in net.name:
        return []                  # a training snapshot: the page asks for its job first
    m = _quote(net.name)
    weights = [f"/api/model/layers/{_quote(e['name'])}/weights?encoding=base64&model={m}"
               for e in net.describe() if e["op"] in ("conv", "dense")]
    return ["/api/models", f"/api/model?model={m}", f"/api/samples?include=images&model={m}", *weights]


@bp.get("/kernels")
def kernels_page():
    return render_template("kernels.html")


@bp.get("/vendor/plotly.min.js")
def plotly_js():
    import plotly
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    response = send_file(path, mimetype="text/javascript", max_age=YEAR, conditional=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


# ---- model -------------------------------------------------------------------------------------
@bp.get("/api/health")
def health():
    return json_response(schema.health(registry().default, __version__))


@bp.get("/api/models")
def models():
    reg = registry()
    reg.refresh_uploads()
    body = reg.models_json(lambda: schema.dumps(schema.models(reg, __version__, current_app.config["ALLOW_UPLOAD"])))
    return conditional(json_response(body))


@bp.post("/api/models")
def upload_model():
    """An .onnx file (multipart ``file``, or the raw bytes as application/octet-stream), optional
    ``name``: imported (parsed, never run), kept in the upload folder and served like the others."""
    if not current_app.config["ALLOW_UPLOAD"]:
        raise ApiError(403, "uploads_off", "Uploading models is off on this server; start it with "
                       "`convscope serve --allow-upload` to allow it.")
    check_encoding(request)
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ApiError(400, "missing_field", "Send the model as a multipart 'file' field.")
        data, name = upload.read(), request.form.get("name") or Path(upload.filename or "").stem
    else:
        data, name = request.get_data(cache=False), request.args.get("name")
    net = registry().add_upload(data, name or "")
    response = json_response(schema.model_summary(net, False), 201)
    response.headers["Location"] = f"/api/model?model={net.name}"
    return response


@bp.get("/api/model")
def model():
    body = registry().model_json(request.args.get("model"), lambda net: schema.dumps(schema.model(net, __version__)))
    return conditional(json_response(body))


@bp.get("/api/model/layers/<name>/weights")
def layer_weights(name: str):
    net = registry().get(request.args.get("model"))
    try:
        params = net.layer_weights(name)
    except KeyError:
        raise ApiError(404, "unknown_layer", f"The model {net.name!r} has no layer {name!r}.") from None
    if not params:
        raise ApiError(404, "no_weights", f"The layer {name!r} has no weights.")
    layer = net.layer(name)
    encoding = validate.choice(request.args, "encoding", schema.ENCODINGS, "json")
    return conditional(json_response(schema.weights(name, layer.kind, params, getattr(layer, "bias", None), encoding)))


# ---- forward -----------------------------------------------------------------------------------
@bp.post("/api/forward")
def forward():
    t0 = time.perf_counter()
    queued = pacing.queued_ms(request.environ)    # read first: the time before this view began
    note_activity()
    cache, key = current_app.extensions.get("convscope.forward_cache"), None
    if cache is not None and request.mimetype == "application/json":
        check_encoding(request)   # a body that would be refused is never answered from the cache
        key = cache.key(request.get_data(cache=True), registry().default)
        hit = cache.get(key)
        if hit is not None:   # the same body as before: the same answer (the trace is deterministic)
            t1 = time.perf_counter()
            timing = {"decode": _ms(t0, t1), "preprocess": 0.0, "trace": 0.0, "serialise": 0.0, "total": _ms(t0, t1)}
            response = json_response(schema.with_timing(hit, timing))
            response.headers["X-ConvScope-Cache"] = "hit"
            return _paced(response, queued)
    fields, upload = read_body(request)
    net = registry().get(fields.get("model"))
    method = validate.choice(fields, "preprocess", tuple(preprocess.METHODS), schema.preprocess_of(net))
    steps = validate.flag(fields, "steps")
    encoding = validate.choice(fields, "encoding", schema.ENCODINGS, "json")
    image = image_from(fields, upload, color=net.input_shape[0] == 3)
    t1 = time.perf_counter()
    try:
        pre = preprocess.METHODS[method](image, keep_steps=steps, shape=net.input_shape)
    except ValueError as exc:
        code = "wrong_preprocess" if "channel" in str(exc) and "preprocess" in str(exc) and "must be" not in str(exc) else "bad_image_size"
        raise ApiError(400, code, str(exc)) from None
    t2 = time.perf_counter()
    trace = net.trace(pre.x)
    t3 = time.perf_counter()
    body = schema.dumps(schema.forward(net.name, pre, trace, steps, encoding))
    t4 = time.perf_counter()
    timing = {"decode": _ms(t0, t1), "preprocess": _ms(t1, t2), "trace": _ms(t2, t3),
              "serialise": _ms(t3, t4), "total": _ms(t0, t4)}
    if key is not None:
        cache.put(key, body)
    response = json_response(schema.with_timing(body, timing))
    response.headers["X-ConvScope-Cache"] = "miss" if key is not None else "off"
    return _paced(response, queued)


def _paced(response: Response, queued: int | None) -> Response:
    if queued is not None:
        response.headers[pacing.HEADER] = str(queued)
    return response


# ---- explain -------------------------------------------------------------------------------------
EXPLAIN_LIMITS = {"patch": (1, 32), "stride": (1, 16)}


def _whole(fields, key, lo, hi, default):
    value = fields.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ApiError(400, f"invalid_{key}", f"'{key}' must be a whole number from {lo} to {hi}.")
    return value


@bp.post("/api/explain")
def explain_route():
    """Why the network gave its answer: an attribution map for one class (convnet/explain.py)."""
    from convscope.convnet import explain as E
    t0 = time.perf_counter()
    fields, upload = read_body(request)
    net = registry().get(fields.get("model"))
    method = validate.choice(fields, "method", E.METHODS, "gradient")
    preprocessing = validate.choice(fields, "preprocess", tuple(preprocess.METHODS), schema.preprocess_of(net))
    encoding = validate.choice(fields, "encoding", schema.ENCODINGS, "json")
    classes = net.layers[-1].out_shape[0]
    cls = fields.get("class")
    if cls is not None:
        cls = _whole(fields, "class", 0, classes - 1, None)
    layer = fields.get("layer")
    if method == "gradcam":
        allowed = E.cam_layers(net)
        if layer is not None and layer not in allowed:
            raise ApiError(400, "invalid_layer", f"Grad-CAM explains at a layer with a spatial map; {net.name!r} has "
                           f"{', '.join(allowed)}, not {layer!r}.")
    randomize = _whole(fields, "randomize", 0, len(E.trainable(net)), 0)
    if randomize:
        net = registry().randomized(net, randomize)
    patch = stride = None
    _, h, w = net.input_shape
    if method == "occlusion":
        patch = _whole(fields, "patch", 1, min(h, w, EXPLAIN_LIMITS["patch"][1]), 4)
        stride = _whole(fields, "stride", *EXPLAIN_LIMITS["stride"], 2)
        ys, xs = E.occlusion_positions(h, w, patch, stride)
        if len(ys) * len(xs) > E.MAX_OCCLUSIONS:
            raise ApiError(400, "too_many_occlusions", f"A {patch}-pixel patch with stride {stride} makes "
                           f"{len(ys) * len(xs)} placements; at most {E.MAX_OCCLUSIONS} (use a larger stride).")
    image = image_from(fields, upload, color=net.input_shape[0] == 3)
    try:
        pre = preprocess.METHODS[preprocessing](image, shape=net.input_shape)
    except ValueError as exc:
        raise ApiError(400, "bad_image_size", str(exc)) from None
    t1 = time.perf_counter()
    try:
        result = E.explain(net, pre.x, method, cls, layer, patch or 4, stride or 2)
    except E.NotExplainable as exc:
        raise ApiError(400, "not_explainable", f"This model cannot be explained that way: {exc}") from None
    t2 = time.perf_counter()
    body = schema.explanation(net.name, pre, result, encoding)
    body["randomized"] = E.trainable(net)[len(E.trainable(net)) - randomize:] if randomize else []
    body = schema.dumps(body)
    t3 = time.perf_counter()
    timing = {"decode": _ms(t0, t1), "explain": _ms(t1, t2), "serialise": _ms(t2, t3), "total": _ms(t0, t3)}
    return json_response(schema.with_timing(body, timing))


@bp.get("/api/top")
def top_images():
    """The test images that excite a unit most: ?layer=NAME&unit=c[,y,x][&model=NAME]."""
    from convscope.convnet import explain as E
    from convscope.kernels import geometry
    reg = registry()
    net = reg.get(request.args.get("model"))
    names = [la.name for la in E._scored_layers(net)]
    layer = request.args.get("layer")
    if layer not in names:
        raise ApiError(400, "invalid_layer", f"'layer' must be one of {', '.join(names)}.")
    shape = net.layer(layer).out_shape
    try:
        unit = [int(v) for v in (request.args.get("unit") or "").split(",")]
    except ValueError:
        unit = []
    full = unit + [0] * (len(shape) - len(unit))
    if len(unit) not in (1, len(shape)) or any(not 0 <= v < n for v, n in zip(full, shape)):
        raise ApiError(400, "invalid_unit", f"'unit' must be c or c,y,x inside {layer}'s {list(shape)}.")
    top = reg.top(net, layer)
    if top is None:
        raise ApiError(400, "no_dataset", f"There is no test set that fits {net.name!r}'s "
                       f"{'×'.join(map(str, net.input_shape))} input (MNIST's digits fit 1×28×28 and 1×32×32).")
    values, indices, (images, labels, mnist_index, dataset) = top
    at = (slice(None), *full)
    rf = geometry.receptive_fields(net.specs)[[ls.name for ls in net.specs].index(layer)]
    map_unit = len(shape) == 3
    rect = {"top": int(rf["offset"][0] + (full[1] * rf["jump"][0] if map_unit else 0)),
            "left": int(rf["offset"][1] + (full[2] * rf["jump"][1] if map_unit else 0)),
            "height": int(rf["size"][0]), "width": int(rf["size"][1])}
    out = [{"index": int(mnist_index[i]), "label": int(labels[i]), "value": float(v),
            "image": schema.array(images[i])} for v, i in zip(values[at], indices[at])]
    return conditional(json_response({"model": net.name, "layer": layer, "unit": full, "dataset": dataset,
                                      "receptive_field": rect, "images": out}))


def _evaluation(net):
    result = registry().evaluation(net)
    if result is None:
        raise ApiError(400, "no_dataset", f"There is no test set that fits {net.name!r}'s "
                       f"{'×'.join(map(str, net.input_shape))} input (MNIST's digits fit 1×28×28 and 1×32×32).")
    return result


def _test_item(i, labels, predicted, probs, mnist_index, images=None):
    out = {"index": int(mnist_index[i]), "position": int(i), "label": int(labels[i]),
           "predicted": int(predicted[i]), "confidence": float(probs[i, predicted[i]])}
    if images is not None:
        out["image"] = schema.array(images[i])
    return out


@bp.get("/api/evaluation")
def evaluation():
    """The model on its test images: accuracy, the confusion matrix, the mistakes by confidence."""
    net = registry().get(request.args.get("model"))
    predicted, probs, (images, labels, mnist_index, dataset) = _evaluation(net)
    classes = probs.shape[1]
    from convscope.convnet import explain as E
    wrong = np.flatnonzero(predicted != labels)
    wrong = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")]
    return conditional(json_response({
        "model": net.name, "dataset": dataset, "count": int(len(labels)),
        "accuracy": float((predicted == labels).mean()),
        "confusion": E.confusion(labels, predicted, classes),
        "mistakes": [_test_item(i, labels, predicted, probs, mnist_index, images) for i in wrong[:60]],
        "mistake_count": int(len(wrong))}))


@bp.get("/api/evaluation/cell")
def evaluation_cell():
    """The test images of one confusion-matrix cell: ?true=T&predicted=P (at most 60, most confident first)."""
    net = registry().get(request.args.get("model"))
    predicted, probs, (images, labels, mnist_index, dataset) = _evaluation(net)
    classes = probs.shape[1]
    try:
        t, p = int(request.args.get("true", "")), int(request.args.get("predicted", ""))
    except ValueError:
        t = p = -1
    if not (0 <= t < classes and 0 <= p < classes):
        raise ApiError(400, "invalid_cell", f"'true' and 'predicted' must be classes from 0 to {classes - 1}.")
    members = np.flatnonzero((labels == t) & (predicted == p))
    members = members[np.argsort(-probs[members, p], kind="stable")]
    return conditional(json_response({
        "model": net.name, "dataset": dataset, "true": t, "predicted": p, "count": int(len(members)),
        "images": [_test_item(i, labels, predicted, probs, mnist_index, images) for i in members[:60]]}))


EMBED_MAX = 2000


@bp.get("/api/embedding")
def embedding():
    """A 2-D PCA map of a layer's activations over the first n test images: ?layer=NAME&n=2000."""
    from convscope.convnet import explain as E
    reg = registry()
    net = reg.get(request.args.get("model"))
    names = [la.name for la in E._scored_layers(net)]
    layer = request.args.get("layer", names[-1])
    if layer not in names:
        raise ApiError(400, "invalid_layer", f"'layer' must be one of {', '.join(names)}.")
    try:
        n = int(request.args.get("n", EMBED_MAX))
    except ValueError:
        n = -1
    if not 10 <= n <= EMBED_MAX:
        raise ApiError(400, "invalid_n", f"'n' must be a whole number from 10 to {EMBED_MAX}.")
    predicted, probs, (images, labels, mnist_index, dataset) = _evaluation(net)
    n = min(n, len(labels))
    t0 = time.perf_counter()
    points, variance = E.pca_2d(E.layer_activations(net, layer, images[:n]))
    return conditional(json_response({
        "model": net.name, "layer": layer, "dataset": dataset, "method": "pca", "points": points,
        "explained_variance": variance, "labels": labels[:n].astype(np.int32),
        "predicted": predicted[:n].astype(np.int32), "indices": np.asarray(mnist_index[:n], np.int32),
        "timing_ms": {"compute": _ms(t0, time.perf_counter())}}))


@bp.get("/api/testset/<int:position>")
def test_image(position: int):
    """One test image (as the model reads it) by its position in the dataset /api/evaluation names."""
    net = registry().get(request.args.get("model"))
    predicted, probs, (images, labels, mnist_index, dataset) = _evaluation(net)
    if not 0 <= position < len(labels):
        raise ApiError(404, "unknown_image", f"There is no test image {position}; positions run from 0 to {len(labels) - 1}.")
    return conditional(json_response({**_test_item(position, labels, predicted, probs, mnist_index, images),
                                      "dataset": dataset}))


@bp.post("/api/synthesize")
def synthesize_route():
    """What a unit wants to see: {"layer", "unit": [c, y, x] | [c], "steps", "seed", "model"}."""
    from convscope.convnet import explain as E
    t0 = time.perf_counter()
    fields, _ = read_body(request)
    net = registry().get(fields.get("model"))
    names = [la.name for la in E._scored_layers(net)]
    layer = fields.get("layer", names[-1])
    if layer not in names:
        raise ApiError(400, "invalid_layer", f"'layer' must be one of {', '.join(names)}.")
    shape = net.layer(layer).out_shape
    unit = fields.get("unit", [0])
    if (not isinstance(unit, list) or len(unit) not in (1, len(shape))
            or any(isinstance(v, bool) or not isinstance(v, int) for v in unit)):
        raise ApiError(400, "invalid_unit", f"'unit' must be [channel] or [channel, row, col] of {layer}'s {list(shape)}.")
    full = list(unit) + [0] * (len(shape) - len(unit))
    if any(not 0 <= v < n for v, n in zip(full, shape)):
        raise ApiError(400, "invalid_unit", f"'unit' {unit} is outside {layer}'s {list(shape)}.")
    steps = _whole(fields, "steps", *E.ASCENT_LIMITS["steps"], 120)
    seed = _whole(fields, "seed", 0, 2**31 - 1, 0)
    t1 = time.perf_counter()
    try:
        image, history = E.synthesize(net, layer, tuple(full), steps=steps, seed=seed)
    except E.NotExplainable as exc:
        raise ApiError(400, "not_explainable", f"This model cannot be explained that way: {exc}") from None
    t2 = time.perf_counter()
    body = schema.dumps({"model": net.name, "layer": layer, "unit": full, "steps": steps, "seed": seed,
                         "image": schema.stats_array(image), "activation": history})
    return json_response(schema.with_timing(body, {"compute": _ms(t1, t2), "total": _ms(t0, time.perf_counter())}))


# ---- kernel lab ----------------------------------------------------------------------------------
def _lab_image(fields, upload) -> tuple[np.ndarray, str | None]:
    """(C, H, W) float32 in [0, 1], gray or RGB, downscaled to LAB_MAX_SIDE with a notice."""
    from PIL import Image
    a = image_from(fields, upload, color=True)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / np.float32(255)
    if a.ndim == 3 and a.shape[-1] == 4:   # composite transparency over white
        a = a[..., :3] * a[..., 3:] + (1 - a[..., 3:])
    h, w = a.shape[:2]
    limit, notice = current_app.config["LAB_MAX_SIDE"], None
    if max(h, w) > limit:
        s = limit / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        planes = a[..., None] if a.ndim == 2 else a
        a = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(planes[..., c]), mode="F")
                                 .resize(size, Image.Resampling.LANCZOS)) for c in range(planes.shape[-1])], -1)
        a = np.clip(a, 0, 1)
        notice = f"downscaled from {w}×{h} to {size[0]}×{size[1]}"
    chw = a[None] if a.ndim == 2 else np.moveaxis(a, -1, 0)
    return np.ascontiguousarray(chw, dtype=np.float32), notice


def _model_filter(net, ref: dict) -> list:
    """The kernel (C_in, kh, kw) of filter ``ref["filter"]`` of the conv layer ``ref["layer"]``."""
    name, index = ref.get("layer"), ref.get("filter")
    if not isinstance(name, str) or set(ref) - {"layer", "filter"}:
        raise ApiError(400, "wrong_type", "A 'kernel' object names a model's filter: {\"layer\": \"conv1\", "
                       "\"filter\": 0}; otherwise send the kernel as a k×k array of numbers.")
    layer = next((la for la in net.layers if la.name == name), None)
    if layer is None or layer.spec.op != "conv":
        convs = ", ".join(la.name for la in net.layers if la.spec.op == "conv")
        raise ApiError(404, "unknown_layer", f"The 'kernel' names layer {name!r}, but the model {net.name!r} "
                       f"has no such conv layer; its conv layers: {convs}.")
    w = layer.params["weight"]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < w.shape[0]:
        raise ApiError(400, "invalid_filter", f"The 'kernel' filter must be a whole number from 0 to {w.shape[0] - 1}.")
    if w.shape[2] != w.shape[3]:
        raise ApiError(400, "kernel_not_square", f"The lab's kernels are square; {name}'s are {w.shape[2]}×{w.shape[3]}.")
    k = w[index] * layer.mask[index][:, None, None]
    return (k[0] if k.shape[0] == 1 else k).tolist()


@bp.post("/api/convolve")
def convolve():
    from convscope.convnet import lab
    t0 = time.perf_counter()
    fields, upload = read_body(request)
    image, notice = _lab_image(fields, upload)
    kernel = fields.get("kernel")
    if isinstance(kernel, dict):   # {"layer", "filter"}: a filter of a served model's conv layer
        kernel = _model_filter(registry().get(fields.get("model")), kernel)
    elif fields.get("model") is not None:
        registry().get(fields.get("model"))   # an unknown name is a 404 even when no filter is asked for
    options = dict(
        kernel=validate.kernel(kernel, image.shape[0]),
        stride=validate.int_pair(fields.get("stride", 1), "stride"),
        padding=validate.padding(fields.get("padding", "valid")),
        dilation=validate.int_pair(fields.get("dilation", 1), "dilation"),
        mode=validate.choice(fields, "mode", ("per_channel", "sum"), "per_channel"),
        bias=validate.bias(fields.get("bias", 0.0)),
        activation=validate.choice(fields, "activation", (None, *lab.LAB_ACTIVATIONS), None),
        pool=validate.pool(fields.get("pool")))
    echo_input = validate.flag(fields, "echo_input", True)
    echo_output = validate.flag(fields, "echo_output", True)
    encoding = validate.choice(fields, "encoding", schema.ENCODINGS, "json")
    t1 = time.perf_counter()
    with registry().lab_lock:
        result = lab.convolve(image, **options)
    t2 = time.perf_counter()
    body = schema.dumps(schema.convolve(image, result, notice, echo_input, encoding, echo_output))
    t3 = time.perf_counter()
    timing = {"decode": _ms(t0, t1), "convolve": _ms(t1, t2), "serialise": _ms(t2, t3), "total": _ms(t0, t3)}
    return json_response(schema.with_timing(body, timing))


# ---- samples -------------------------------------------------------------------------------------
@bp.get("/api/samples")
def samples():
    include = request.args.get("include")
    if include not in (None, "images"):
        raise ApiError(400, "invalid_include", "'include' may only be \"images\".")
    reg = registry()
    data = reg.samples(reg.get(request.args.get("model")))
    return conditional(json_response(schema.samples_list(data, include == "images")))


@bp.get("/api/samples/<int(signed=True):sample_id>")
def sample(sample_id: int):
    reg = registry()
    data = reg.samples(reg.get(request.args.get("model")))
    if not 0 <= sample_id < len(data):
        raise ApiError(404, "unknown_sample", f"There is no sample {sample_id}; ids run from 0 to {len(data) - 1}.")
    return conditional(json_response(schema.sample(sample_id, data, True)))
