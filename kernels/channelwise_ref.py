"""NumPy reference twin of kernels/channelwise.py (float32 arithmetic, as the kernel and ONNX)."""
import numpy as np

OPS = (np.subtract, np.divide, np.multiply, np.add)


def channel_steps_ref(x, codes, values):
    """x (C, ...): each step applied with the channel's constant broadcast over the rest."""
    y = np.array(x, dtype=np.float32)
    shape = (y.shape[0],) + (1,) * (y.ndim - 1)
    for code, v in zip(codes, np.asarray(values, np.float32)):
        y = OPS[int(code)](y, v.reshape(shape)).astype(np.float32)
    return y


def channel_steps_backward_ref(dy, codes, values):
    values = np.asarray(values, np.float64)
    slope = np.ones(values.shape[1])
    for code, v in zip(codes, values):
        if code == 1:
            slope = slope / v
        elif code == 2:
            slope = slope * v
    dy = np.asarray(dy, np.float64)
    return (dy * slope.reshape((-1,) + (1,) * (dy.ndim - 1))).astype(np.float32)
