"""Optimisers and learning-rate schedules for ``Network.loss_and_grads`` gradients.

Parameters and gradients are nested dicts {layer: {"weight": array, "bias": array}}; updates are
in place, float32, one kernel pass per parameter array (kernels/optimizers.py, whose NumPy twin is
the whole-array form of the same update).
"""
from __future__ import annotations

import math

import numpy as np

from convscope.kernels.optimizers import adam_update, sgd_update


class SGD:
    """SGD with (optionally Nesterov) momentum: v ← μv + g;  p ← p − lr·(g + μv if nesterov else v)."""

    def __init__(self, params, momentum=0.9, nesterov=True, weight_decay=0.0):
        self.params, self.momentum, self.nesterov, self.wd = params, momentum, nesterov, weight_decay
        self.velocity = {n: {k: np.zeros_like(v) for k, v in p.items()} for n, p in params.items()}

    def step(self, grads, lr):
        f32, mu = np.float32, np.float32(self.momentum)
        for name, group in grads.items():
            for key, g in group.items():
                wd = f32(self.wd if key == "weight" else 0.0)
                sgd_update(self.params[name][key], np.ascontiguousarray(g, np.float32),
                           self.velocity[name][key], mu, f32(lr), wd, self.nesterov)


class Adam:
    """Adam (Kingma & Ba 2015) with decoupled weight decay (AdamW) on weights only."""

    def __init__(self, params, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params, (self.b1, self.b2), self.eps, self.wd = params, betas, eps, weight_decay
        self.m = {n: {k: np.zeros_like(v) for k, v in p.items()} for n, p in params.items()}
        self.v = {n: {k: np.zeros_like(v) for k, v in p.items()} for n, p in params.items()}
        self.t = 0

    def step(self, grads, lr):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        f32 = np.float32
        b1, c1m, b2, c2m = f32(self.b1), f32(1 - self.b1), f32(self.b2), f32(1 - self.b2)
        step, c2, eps = f32(lr / c1), f32(c2), f32(self.eps)
        for name, group in grads.items():
            for key, g in group.items():
                decay = f32(lr * self.wd if key == "weight" else 0.0)
                adam_update(self.params[name][key], np.ascontiguousarray(g, np.float32),
                            self.m[name][key], self.v[name][key], b1, c1m, b2, c2m, decay, step,
                            c2, eps)


def make_optimizer(name, params, momentum=0.9, weight_decay=0.0):
    if name == "adam":
        return Adam(params, weight_decay=weight_decay)
    if name == "sgd":
        return SGD(params, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"unknown optimiser {name!r} (adam, sgd)")


def learning_rate(schedule, base, step, total, warmup=0):
    """lr at ``step`` of ``total``: 'constant', 'cosine' (to 0) or 'step' (÷10 at 50 % and 75 %)."""
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    if schedule == "constant":
        return base
    if schedule == "cosine":
        progress = (step - warmup) / max(1, total - warmup)
        return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    if schedule == "step":
        return base * (0.1 ** ((step >= total * 0.5) + (step >= total * 0.75)))
    raise ValueError(f"unknown schedule {schedule!r} (constant, cosine, step)")
