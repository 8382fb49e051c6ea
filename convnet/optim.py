"""Optimisers and learning-rate schedules for ``Network.loss_and_grads`` gradients.

Parameters and gradients are nested dicts {layer: {"weight": array, "bias": array}}; updates are
in place, float32.
"""
from __future__ import annotations

import math

import numpy as np


class SGD:
    """SGD with (optionally Nesterov) momentum: v ← μv + g;  p ← p − lr·(g + μv if nesterov else v)."""

    def __init__(self, params, momentum=0.9, nesterov=True, weight_decay=0.0):
        self.params, self.momentum, self.nesterov, self.wd = params, momentum, nesterov, weight_decay
        self.velocity = {n: {k: np.zeros_like(v) for k, v in p.items()} for n, p in params.items()}

    def step(self, grads, lr):
        for name, group in grads.items():
            for key, g in group.items():
                p, v = self.params[name][key], self.velocity[name][key]
                if self.wd and key == "weight":
                    g = g + self.wd * p
                v *= self.momentum
                v += g
                p -= np.float32(lr) * (g + self.momentum * v if self.nesterov else v)


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
        for name, group in grads.items():
            for key, g in group.items():
                p, m, v = self.params[name][key], self.m[name][key], self.v[name][key]
                m *= self.b1
                m += (1 - self.b1) * g
                v *= self.b2
                v += (1 - self.b2) * g * g
                if self.wd and key == "weight":
                    p -= np.float32(lr * self.wd) * p
                p -= (np.float32(lr / c1) * m / (np.sqrt(v / np.float32(c2)) + np.float32(self.eps))
                      ).astype(np.float32)


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
