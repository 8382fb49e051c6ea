"""MNIST-style preprocessing: geometry of each step, blank detection, and real digits re-drawn at
other scales, positions and paper colours still read as their label (needs the trained
models/lenet.npz: on randomly initialised weights the classification rows fail, as they should)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from convscope.server import preprocess

N_CLASSIFY = 100


def ink_box(a: np.ndarray, threshold: float = 0.05):
    rows, cols = np.flatnonzero((a > threshold).any(1)), np.flatnonzero((a > threshold).any(0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def centre_of_mass(a: np.ndarray):
    ys, xs = np.indices(a.shape)
    return (ys * a).sum() / a.sum(), (xs * a).sum() / a.sum()


# ---- re-drawings of a real digit (uint8 28×28, ink 255 on 0) ---------------------------------------
def scaled(u8: np.ndarray, factor: float) -> np.ndarray:
    size = round(28 * factor)
    return np.asarray(Image.fromarray(u8).resize((size, size), Image.Resampling.BILINEAR))


def corner(u8):
    """Same size, shoved into the top-left corner of a 200×200 canvas."""
    r0, r1, c0, c1 = ink_box(u8 / 255)
    out = np.zeros((200, 200), np.uint8)
    out[:r1 - r0, :c1 - c0] = u8[r0:r1, c0:c1]
    return out


def four_times(u8):
    """4× larger, off-centre on a 300×260 canvas."""
    big = scaled(u8, 4)
    out = np.zeros((300, 260), np.uint8)
    out[150:150 + 112, 10:10 + 112] = big
    return out


def white_paper(u8):
    """3× larger, dark ink on white RGB paper."""
    big = 255 - scaled(u8, 3)
    return np.dstack([big] * 3)


def grey_paper_photo(u8):
    """Dark-grey ink on light-grey paper with noise, as a float image."""
    big = scaled(u8, 2.5) / 255.0
    rng = np.random.default_rng(0)
    return np.clip(0.85 - 0.6 * big + rng.normal(0, 0.01, big.shape), 0, 1).astype(np.float32)


def canvas_rgba(u8):
    """The draw pad: black strokes on a transparent 280×280 canvas."""
    big = scaled(u8, 10)
    out = np.zeros(big.shape + (4,), np.uint8)
    out[..., 3] = big
    return out


def small_in_big(u8):
    """Drawn small (0.6×) in the middle of a large canvas."""
    small = scaled(u8, 0.6)
    out = np.zeros((280, 280), np.uint8)
    out[130:130 + small.shape[0], 100:100 + small.shape[1]] = small
    return out


REDRAWS = {"as shipped": lambda u8: u8, "corner": corner, "4x larger": four_times, "white paper": white_paper,
           "grey paper photo": grey_paper_photo, "canvas rgba": canvas_rgba, "small in big": small_in_big}


@pytest.fixture(scope="module")
def net():
    from convscope import convnet
    return convnet.Network.load(convnet.default_model_path())


# ---- geometry of the steps --------------------------------------------------------------------------
@pytest.mark.parametrize("redraw", list(REDRAWS), ids=list(REDRAWS))
def test_output_is_an_mnist_digit(samples, redraw):
    pre = preprocess.mnist(REDRAWS[redraw](samples.images[7]), keep_steps=True)
    assert not pre.empty and pre.x.shape == (1, 32, 32) and pre.x.dtype == np.float32
    assert pre.x.min() >= 0 and 0.85 <= pre.x.max() <= 1     # ink normalised to peak ≈ 1
    assert (pre.x[0, :2] == 0).all() and (pre.x[0, -2:] == 0).all()      # padding
    r0, r1, c0, c1 = ink_box(pre.x[0, 2:30, 2:30])
    assert max(r1 - r0, c1 - c0) <= 20 and max(r1 - r0, c1 - c0) >= 18
    cy, cx = centre_of_mass(pre.x[0, 2:30, 2:30])
    assert abs(cy - 14) <= 0.75 and abs(cx - 14) <= 0.75
    assert pre.inverted == (redraw in ("white paper", "grey paper photo", "canvas rgba"))


@pytest.mark.parametrize("redraw, tolerance", [("corner", 1e-6), ("4x larger", 0.08), ("canvas rgba", 0.08),
                                               ("small in big", 0.12)])
def test_redrawn_digit_looks_like_the_original(samples, redraw, tolerance):
    """Position and scale are normalised away: the result is close to preprocessing the original."""
    for i in range(5):
        u8 = samples.images[i]
        a, b = preprocess.mnist(u8).x, preprocess.mnist(REDRAWS[redraw](u8)).x
        assert np.abs(a - b).mean() <= tolerance, f"sample {i}"


def test_steps_are_named_and_shaped(samples):
    steps = dict(preprocess.mnist(white_paper(samples.images[0]), keep_steps=True).steps)
    assert list(steps) == ["grayscale", "inverted", "crop", "fit", "center", "pad"]
    assert steps["grayscale"].shape == (84, 84) and steps["center"].shape == (28, 28)
    assert max(steps["fit"].shape) == 20 and steps["pad"].shape == (32, 32)


@pytest.mark.parametrize("image", [
    np.zeros((28, 28), np.uint8), np.full((100, 60), 255, np.uint8), np.full((50, 50), 0.5, np.float32),
    np.zeros((280, 280, 4), np.uint8), np.full((40, 40, 3), 200, np.uint8), np.zeros((1, 1), np.float32),
    np.full((30, 30), 0.04, np.float32)],
    ids=["black", "white", "grey", "transparent", "white rgb", "one pixel", "faint"])
def test_blank_is_empty_not_a_guess(image):
    pre = preprocess.mnist(image)
    assert pre.empty and (pre.x == 0).all()


@pytest.mark.parametrize("shape", [(1, 1), (1, 300), (300, 2), (3, 3)])
def test_thin_and_tiny_ink(shape):
    img = np.zeros((40, 400), np.float32)
    img[5:5 + shape[0], 7:7 + shape[1]] = 1
    pre = preprocess.mnist(img)
    assert not pre.empty and pre.x.max() > 0.5


def test_white_pen_on_transparent_canvas(samples):
    rgba = canvas_rgba(samples.images[9])
    rgba[..., :3] = 255
    a, b = preprocess.mnist(rgba).x, preprocess.mnist(canvas_rgba(samples.images[9])).x
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("shape, ok", [((28, 28), True), ((32, 32), True), ((30, 30), False), ((28, 32), False)])
def test_none_accepts_only_28_or_32(shape, ok):
    img = np.zeros(shape, np.float32)
    img[10:15, 10:15] = 1
    if ok:
        assert preprocess.none(img).x.shape == (1, 32, 32)
    else:
        with pytest.raises(ValueError):
            preprocess.none(img)


# ---- classification (the trained model) --------------------------------------------------------------
@pytest.mark.parametrize("redraw", list(REDRAWS), ids=list(REDRAWS))
def test_redrawn_samples_are_classified_as_their_label(net, samples, redraw):
    n = min(N_CLASSIFY, len(samples))
    predicted = np.array([net.trace(preprocess.mnist(REDRAWS[redraw](samples.images[i])).x).label
                          for i in range(n)])
    wrong = np.flatnonzero(predicted != samples.labels[:n]).tolist()
    assert len(wrong) <= n // 50, f"{redraw}: samples {wrong} misread as {predicted[wrong].tolist()}"


@pytest.mark.parametrize("i", range(5))
@pytest.mark.parametrize("redraw", ["corner", "4x larger", "white paper", "canvas rgba"])
def test_each_redrawing_of_the_first_digits(net, samples, redraw, i):
    assert net.trace(preprocess.mnist(REDRAWS[redraw](samples.images[i])).x).label == samples.labels[i]
