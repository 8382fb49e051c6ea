"""POST /api/convolve, knob by knob, against references computed here independently.

The oracle is scipy.ndimage.correlate on an explicitly padded image with an explicitly dilated
kernel (zeros inserted), cropped to the positions where the window fits and subsampled by the
stride; pooling uses NumPy's sliding_window_view. Nothing here calls kernels/ or convnet/.
"""
from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image
from scipy import ndimage

TOL = dict(rtol=1e-5, atol=1e-5)
RNG = np.random.default_rng(7)
GRAY_13 = RNG.random((13, 13)).astype(np.float32)
GRAY_9x11 = RNG.random((9, 11)).astype(np.float32)
RGB_10 = RNG.random((10, 10, 3)).astype(np.float32)
SOBEL_X = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]


# ---- references ---------------------------------------------------------------------------------
def dilate(k, d):
    k = np.asarray(k, np.float64)
    out = np.zeros((d * (k.shape[0] - 1) + 1, d * (k.shape[1] - 1) + 1))
    out[::d, ::d] = k
    return out


def same_pad(n, k, s, d):
    """TensorFlow's 'same': ceil(n/s) outputs, the odd pixel at the bottom/right."""
    total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def correlate_ref(x, k, stride=1, pad=(0, 0, 0, 0), dilation=1):
    """x (H, W), k (kh, kw) → (Ho, Wo): valid correlation of the padded x with the dilated k, strided."""
    kd = dilate(k, dilation)
    xp = np.pad(np.asarray(x, np.float64), ((pad[0], pad[1]), (pad[2], pad[3])))
    full = ndimage.correlate(xp, kd, mode="constant", cval=0.0)
    cy, cx = kd.shape[0] // 2, kd.shape[1] // 2          # scipy centres the kernel at D // 2
    valid = full[cy:cy + xp.shape[0] - kd.shape[0] + 1, cx:cx + xp.shape[1] - kd.shape[1] + 1]
    return valid[::stride, ::stride]


def pool_ref(m, kind, size, stride):
    """m (C, H, W) → (C, Ho, Wo), no padding."""
    win = sliding_window_view(m, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    if kind == "max":
        return win.max(axis=(-2, -1))
    if kind == "avg":
        return win.mean(axis=(-2, -1))
    return np.sqrt((win.astype(np.float64) ** 2).sum(axis=(-2, -1)))


ACT = {"relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh}


def post(client, **body):
    body["image"] = body["image"].tolist() if isinstance(body["image"], np.ndarray) else body["image"]
    r = client.post("/api/convolve", json=body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def arr(stage):
    a = np.array(stage["data"], np.float64)
    assert list(a.shape) == stage["shape"]
    return a


# ---- stride, padding, dilation, kernel sizes (grayscale) -----------------------------------------
CASES = [  # id, image, kernel size, stride, padding (API form), dilation
    ("identity-valid", GRAY_13, 3, 1, "valid", 1),
    ("stride-gt-kernel", GRAY_13, 3, 4, "valid", 1),
    ("stride2-same", GRAY_13, 3, 2, "same", 1),
    ("explicit-pad", GRAY_13, 3, 1, 2, 1),
    ("explicit-pad-pair", GRAY_9x11, 3, 1, [1, 3], 1),
    ("dilation-with-pad", GRAY_13, 3, 1, 2, 2),
    ("dilation-stride-same", GRAY_13, 3, 2, "same", 3),
    ("kernel-1x1", GRAY_9x11, 1, 1, "valid", 1),
    ("kernel-1x1-stride3", GRAY_13, 1, 3, 1, 1),
    ("kernel-11x11-valid", GRAY_13, 11, 1, "valid", 1),
    ("kernel-11x11-same", GRAY_13, 11, 1, "same", 1),
    ("kernel-5-same-nonsquare-image", GRAY_9x11, 5, 1, "same", 1),
    ("even-kernel-same", GRAY_13, 2, 1, "same", 1),
    ("even-kernel-4-same-stride2", GRAY_9x11, 4, 2, "same", 1),
]


def resolve(padding, shape, k, s, d):
    h, w = shape
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        return (*same_pad(h, k, s, d), *same_pad(w, k, s, d))
    if isinstance(padding, list):
        return (padding[0], padding[0], padding[1], padding[1])
    return (padding,) * 4


@pytest.mark.parametrize("name, image, k, stride, padding, dilation", CASES, ids=[c[0] for c in CASES])
def test_geometry_knobs_match_scipy(client, name, image, k, stride, padding, dilation):
    kernel = np.round(RNG.normal(size=(k, k)), 3).astype(np.float32)
    body = post(client, image=image, kernel=kernel.tolist(), stride=stride, padding=padding, dilation=dilation)
    pad = resolve(padding, image.shape, k, stride, dilation)
    expected = correlate_ref(image, kernel, stride, pad, dilation)
    got = arr(body["conv"])
    assert got.shape == (1, *expected.shape), name
    np.testing.assert_allclose(got[0], expected, **TOL, err_msg=name)
    assert body["possible"] is True and body["explanation"] is None
    f = body["formula"]
    assert (f["height"]["out"], f["width"]["out"]) == expected.shape
    assert f["height"]["p"] == list(pad[:2]) and f["width"]["p"] == list(pad[2:])
    assert (f["height"]["k"], f["height"]["s"], f["height"]["d"], f["height"]["n"]) == (k, stride, dilation, image.shape[0])
    assert f["width"]["n"] == image.shape[1]
    assert f["height"]["text"].endswith(f"= {expected.shape[0]}")
    np.testing.assert_allclose(arr(body["output"]), got)
    np.testing.assert_array_equal(arr(body["input"])[0].astype(np.float32), image)   # float32 round trip


def test_same_keeps_size_and_even_kernel_pads_bottom_right(client):
    body = post(client, image=GRAY_13, kernel=[[1, 2], [3, 4]], padding="same")
    assert body["conv"]["shape"] == [1, 13, 13]
    assert body["formula"]["height"]["p"] == [0, 1] and body["formula"]["width"]["p"] == [0, 1]


def test_stride_and_dilation_pairs(client):
    kernel = np.arange(9, dtype=np.float32).reshape(3, 3) - 4
    body = post(client, image=GRAY_13, kernel=kernel.tolist(), stride=[2, 3], dilation=[1, 2], padding=1)
    kd = np.zeros((3, 5)); kd[:, ::2] = kernel
    xp = np.pad(GRAY_13.astype(np.float64), 1)
    win = sliding_window_view(xp, kd.shape)[::2, ::3]
    expected = (win * kd).sum(axis=(-2, -1))
    np.testing.assert_allclose(arr(body["conv"])[0], expected, **TOL)


# ---- colour: both modes ------------------------------------------------------------------------
def test_rgb_per_channel_filters_each_channel(client):
    body = post(client, image=RGB_10, kernel=SOBEL_X, mode="per_channel", padding="same")
    got = arr(body["conv"])
    assert got.shape == (3, 10, 10)
    for c in range(3):
        np.testing.assert_allclose(got[c], correlate_ref(RGB_10[..., c], SOBEL_X, 1, (1, 1, 1, 1)), **TOL)
    np.testing.assert_array_equal(arr(body["input"]).astype(np.float32), np.moveaxis(RGB_10, -1, 0))


def test_rgb_sum_is_one_map_summed_over_channels(client):
    body = post(client, image=RGB_10, kernel=SOBEL_X, mode="sum", stride=2, bias=0.5)
    expected = sum(correlate_ref(RGB_10[..., c], SOBEL_X, 2) for c in range(3)) + 0.5
    got = arr(body["conv"])
    assert got.shape == (1, 4, 4)
    np.testing.assert_allclose(got[0], expected, **TOL)


def test_rgb_sum_with_one_kernel_per_channel(client):
    kernels = np.round(RNG.normal(size=(3, 3, 3)), 3)
    body = post(client, image=RGB_10, kernel=kernels.tolist(), mode="sum", padding=1, dilation=2)
    expected = sum(correlate_ref(RGB_10[..., c], kernels[c], 1, (1, 1, 1, 1), 2) for c in range(3))
    np.testing.assert_allclose(arr(body["conv"])[0], expected, **TOL)


# ---- activation and pooling ---------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_activation(client, activation):
    body = post(client, image=GRAY_13, kernel=SOBEL_X, activation=activation)
    conv = correlate_ref(GRAY_13, SOBEL_X)
    np.testing.assert_allclose(arr(body["conv"])[0], conv, **TOL)
    np.testing.assert_allclose(arr(body["activation"])[0], ACT[activation](conv), **TOL)
    np.testing.assert_allclose(arr(body["output"]), arr(body["activation"]))
    assert body["pool"] is None and body["formula"]["pool"] is None


@pytest.mark.parametrize("kind", ["max", "avg", "l2"])
@pytest.mark.parametrize("size, stride", [(2, 2), (3, 1), (3, 2)])
def test_pooling(client, kind, size, stride):
    body = post(client, image=GRAY_13, kernel=SOBEL_X, padding="same", activation="relu",
                pool={"kind": kind, "size": size, "stride": stride})
    act = np.maximum(correlate_ref(GRAY_13, SOBEL_X, 1, (1, 1, 1, 1)), 0)[None]
    expected = pool_ref(act, kind, size, stride)
    np.testing.assert_allclose(arr(body["pool"]), expected, **TOL)
    np.testing.assert_allclose(arr(body["output"]), expected, **TOL)
    fp = body["formula"]["pool"]
    assert (fp["height"]["out"], fp["width"]["out"]) == expected.shape[1:]
    assert (fp["height"]["k"], fp["height"]["s"]) == (size, stride)


def test_pooling_without_activation_pools_negative_values(client):
    body = post(client, image=RGB_10, kernel=SOBEL_X, pool={"kind": "max", "size": 2})
    conv = np.stack([correlate_ref(RGB_10[..., c], SOBEL_X) for c in range(3)])
    np.testing.assert_allclose(arr(body["pool"]), pool_ref(conv, "max", 2, 2), **TOL)
    assert body["pool"]["min"] < 0


# ---- impossible settings: explained, not errors -------------------------------------------------------
@pytest.mark.parametrize("body, axis", [
    (dict(image=GRAY_9x11[:7, :7], kernel=np.ones((11, 11)).tolist()), "height"),
    (dict(image=GRAY_13, kernel=np.ones((5, 5)).tolist(), dilation=4), "height"),
    (dict(image=GRAY_9x11, kernel=np.ones((3, 3)).tolist(), dilation=5), "height"),
    (dict(image=np.ones((20, 4), np.float32), kernel=np.ones((5, 5)).tolist()), "width"),
])
def test_impossible_conv(client, body, axis):
    out = post(client, **body)
    assert out["possible"] is False
    assert out["formula"][axis]["out"] <= 0
    assert out["explanation"] and axis in out["explanation"]
    assert out["conv"] is None and out["output"] is None


def test_impossible_pool(client):
    out = post(client, image=GRAY_9x11[:7, :7], kernel=SOBEL_X, pool={"kind": "avg", "size": 6, "stride": 1})
    assert out["possible"] is False and out["output"] is None
    assert out["conv"]["shape"] == [1, 5, 5]
    assert out["formula"]["pool"]["height"]["out"] == 0
    assert "pool" in out["explanation"]


def test_padding_makes_it_possible_again(client):
    out = post(client, image=GRAY_9x11[:7, :7], kernel=np.ones((11, 11)).tolist(), padding=2)
    assert out["possible"] is True and out["conv"]["shape"] == [1, 1, 1]
    np.testing.assert_allclose(out["conv"]["data"][0][0][0], GRAY_9x11[:7, :7].sum(dtype=np.float64), rtol=1e-5)


# ---- data URL input (colour kept) --------------------------------------------------------------
def data_url(a_uint8, fmt="PNG"):
    buf = io.BytesIO()
    Image.fromarray(a_uint8).save(buf, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode()


def test_data_url_rgb_png(client):
    rgb = (RNG.random((12, 16, 3)) * 255).astype(np.uint8)
    out = post(client, image=data_url(rgb), kernel=SOBEL_X, mode="per_channel")
    x = np.moveaxis(rgb.astype(np.float32) / 255, -1, 0)
    np.testing.assert_allclose(arr(out["input"]), x, atol=1e-6)
    got = arr(out["conv"])
    for c in range(3):
        np.testing.assert_allclose(got[c], correlate_ref(x[c], SOBEL_X), **TOL)
    assert out["notice"] is None


def test_data_url_large_image_is_downscaled_with_notice(client):
    big = np.zeros((600, 1024, 3), np.uint8)
    big[:, 512:] = 255
    out = post(client, image=data_url(big), kernel=[[1]])
    assert out["input"]["shape"] == [3, 300, 512]
    assert "downscaled" in out["notice"] and "1024" in out["notice"]


# ---- the limits are errors with a code ---------------------------------------------------------------
@pytest.mark.parametrize("body, code", [
    (dict(kernel=np.ones((13, 13)).tolist()), "kernel_too_large"),
    (dict(kernel=[[1, 2, 3], [4, 5, 6]]), "kernel_not_square"),
])
def test_kernel_limits(client, body, code):
    r = client.post("/api/convolve", json={"image": GRAY_13.tolist(), **body})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == code


def test_echo_input_false_leaves_the_input_out_and_nothing_else(client):
    rng = np.random.default_rng(4)
    image = rng.random((9, 11, 3)).round(3).tolist()
    kernel = rng.standard_normal((3, 3)).round(3).tolist()
    full = post(client, image=image, kernel=kernel, stride=2, padding="same", activation="relu",
                pool={"kind": "max", "size": 2, "stride": 1})
    lean = post(client, image=image, kernel=kernel, stride=2, padding="same", activation="relu",
                pool={"kind": "max", "size": 2, "stride": 1}, echo_input=False)
    assert full["input"]["shape"] == [3, 9, 11] and len(full["input"]["data"]) == 3
    assert lean["input"] == {"shape": [3, 9, 11]}
    for key in ("conv", "activation", "pool", "output", "formula", "possible"):
        assert lean[key] == full[key], key


@pytest.mark.parametrize("knobs, stage", [
    ({}, "conv"), ({"activation": "tanh"}, "activation"),
    ({"activation": "relu", "pool": {"kind": "avg", "size": 2, "stride": 1}}, "pool"),
])
def test_echo_output_false_names_the_stage_the_output_equals(client, knobs, stage):
    rng = np.random.default_rng(5)
    body = dict(image=rng.random((8, 10, 3)).round(3).tolist(), kernel=rng.standard_normal((3, 3)).round(3).tolist(),
                padding="same", **knobs)
    full, lean = post(client, **body), post(client, **body, echo_output=False)
    assert lean["output"] == {"shape": full["output"]["shape"], "stage": stage}
    assert full["output"] == full[stage]
    for key in ("input", "conv", "activation", "pool", "formula", "possible"):
        assert lean[key] == full[key], key


def test_echo_output_false_of_an_impossible_output_is_still_null(client):
    out = post(client, image=np.zeros((4, 4)).tolist(), kernel=np.ones((5, 5)).tolist(), echo_output=False)
    assert out["possible"] is False and out["output"] is None


def test_convolve_packs_every_array_as_base64_with_the_same_numbers(client):
    rng = np.random.default_rng(6)
    body = dict(image=rng.random((7, 9, 3)).round(3).tolist(), kernel=rng.standard_normal((3, 3)).round(3).tolist(),
                activation="relu", pool={"kind": "max", "size": 2, "stride": 2})
    plain, packed = post(client, **body), post(client, **body, encoding="base64")
    for key in ("input", "conv", "activation", "pool", "output"):
        got = np.frombuffer(base64.b64decode(packed[key]["base64"]), "<f4").reshape(packed[key]["shape"])
        assert packed[key]["dtype"] == "float32" and "data" not in packed[key]
        np.testing.assert_array_equal(got, np.asarray(plain[key]["data"], np.float32))
        assert packed[key].get("min") == plain[key].get("min") and packed[key].get("max") == plain[key].get("max")
    assert packed["formula"] == plain["formula"]


@pytest.mark.parametrize("value", ["false", 0, None, [False]])
def test_echo_input_must_be_a_boolean(client, value):
    r = client.post("/api/convolve", json={"image": [[0, 1], [1, 0]], "kernel": [[1]], "echo_input": value})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "wrong_type"
