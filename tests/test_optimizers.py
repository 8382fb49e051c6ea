"""The optimiser kernels against their NumPy twins (bit for bit) and convnet.optim against both."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convscope.convnet.optim import SGD, Adam
from convscope.kernels.optimizers import adam_update, sgd_update
from convscope.kernels.optimizers_ref import adam_update_ref, sgd_update_ref

SETTINGS = settings(max_examples=40, deadline=None)
shapes = st.lists(st.integers(1, 9), min_size=1, max_size=4).map(tuple)
f32 = np.float32


def _arrays(seed, shape, k):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(k)]


@SETTINGS
@given(shape=shapes, seed=st.integers(0, 2**16), t=st.integers(1, 500),
       lr=st.floats(1e-5, 0.5), wd=st.sampled_from([0.0, 1e-4, 0.05]))
def test_adam_kernel_equals_its_twin(shape, seed, t, lr, wd):
    p, g, m, v = _arrays(seed, shape, 4)
    v = np.abs(v)                                  # a second moment is never negative
    b1, b2, eps = 0.9, 0.999, 1e-8
    args = (f32(b1), f32(1 - b1), f32(b2), f32(1 - b2), f32(lr * wd), f32(lr / (1 - b1 ** t)),
            f32(1 - b2 ** t), f32(eps))
    ours, ref = [a.copy() for a in (p, m, v)], [a.copy() for a in (p, m, v)]
    adam_update(ours[0], g, ours[1], ours[2], *args)
    adam_update_ref(ref[0], g, ref[1], ref[2], *args)
    for a, b in zip(ours, ref):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(ours[0], p)          # it moved


@SETTINGS
@given(shape=shapes, seed=st.integers(0, 2**16), lr=st.floats(1e-5, 0.5),
       momentum=st.sampled_from([0.0, 0.5, 0.9]), wd=st.sampled_from([0.0, 5e-4]),
       nesterov=st.booleans())
def test_sgd_kernel_equals_its_twin(shape, seed, lr, momentum, wd, nesterov):
    p, g, v = _arrays(seed, shape, 3)
    ours, ref = [p.copy(), v.copy()], [p.copy(), v.copy()]
    sgd_update(ours[0], g, ours[1], f32(momentum), f32(lr), f32(wd), nesterov)
    sgd_update_ref(ref[0], g, ref[1], f32(momentum), f32(lr), f32(wd), nesterov)
    for a, b in zip(ours, ref):
        np.testing.assert_array_equal(a, b)


def _params(seed):
    w, b = _arrays(seed, (4, 3, 2, 2), 1)[0], _arrays(seed + 1, (4,), 1)[0]
    return {"conv": {"weight": w, "bias": b}}


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_the_optimisers_take_the_same_steps_as_the_textbook_form(opt):
    """Three steps of convnet.optim's class against the whole-array NumPy form, written out here
    (decay on weights only, Adam's bias corrections from the step count)."""
    params = _params(0)
    ref = {k: v.copy() for k, v in params["conv"].items()}
    state = {k: [np.zeros_like(v), np.zeros_like(v)] for k, v in ref.items()}
    o = Adam(params, weight_decay=0.01) if opt == "adam" else SGD(params, weight_decay=0.01)
    for t in range(1, 4):
        grads = {"conv": {k: _arrays(10 * t + i, v.shape, 1)[0] for i, (k, v) in enumerate(ref.items())}}
        lr = 0.01 * t
        o.step(grads, lr)
        for k, p in ref.items():
            g, (m, v) = grads["conv"][k], state[k]
            wd = 0.01 if k == "weight" else 0.0
            if opt == "adam":
                m *= 0.9
                m += (1 - 0.9) * g
                v *= 0.999
                v += (1 - 0.999) * g * g
                p -= np.float32(lr * wd) * p
                p -= np.float32(lr / (1 - 0.9 ** t)) * m / (np.sqrt(v / np.float32(1 - 0.999 ** t)) + np.float32(1e-8))
            else:
                g = g + wd * p
                m *= 0.9
                m += g
                p -= np.float32(lr) * (g + 0.9 * m)
            np.testing.assert_array_equal(params["conv"][k], p)
