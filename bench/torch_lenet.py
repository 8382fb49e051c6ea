"""A PyTorch twin of a ConvScope network: same spec, same weights, for benchmarks and agreement tests.

PyTorch is never a dependency of the app: import this module only where torch is importable
(``torch_available()`` tells). Shapes follow the engine: a batch x is (N, C, H, W) float32.

    twin = TorchTwin(net)            # copies net's weights (masked conv weights, as the engine uses)
    outs = twin.trace(x)             # [(name, output (N, ...), indices or None), ...] input first
    logits = twin(x)                 # plain forward up to the logits (no softmax), for training
"""
from __future__ import annotations

import importlib.util


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def _build():
    import torch
    import torch.nn.functional as F
    from torch import nn

    def pad_args(pad):
        """Engine pad (top, bottom, left, right) -> (symmetric (ph, pw) or None, F.pad tuple)."""
        top, bottom, left, right = pad
        if top == bottom and left == right:
            return (top, left), None
        return (0, 0), (left, right, top, bottom)

    class TwinLayer(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.name, self.kind = layer.name, layer.kind
            self.alpha = getattr(layer, "alpha", 0.01)
            if layer.kind == "conv":
                w = torch.from_numpy(layer.params["weight"] * layer.mask[:, :, None, None])
                self.weight = nn.Parameter(w.clone())
                self.bias = nn.Parameter(torch.from_numpy(layer.params["bias"]).clone())
                self.register_buffer("mask", torch.from_numpy(layer.mask)[:, :, None, None].clone())
                self.masked = bool((layer.mask != 1).any())
                self.stride, self.dilation = layer.stride, layer.dilation
                self.padding, self.extra_pad = pad_args(layer.pad)
            elif layer.kind == "dense":
                self.weight = nn.Parameter(torch.from_numpy(layer.params["weight"]).clone())
                self.bias = nn.Parameter(torch.from_numpy(layer.params["bias"]).clone())
            elif layer.kind in ("maxpool", "avgpool", "l2pool"):
                self.size, self.stride = layer.size, layer.stride
                self.padding, self.extra_pad = pad_args(layer.pad)
                self.pad = layer.pad

        def forward(self, x, with_indices=False):
            """Returns (output, max-pool indices or None)."""
            k = self.kind
            if k == "conv":
                if self.extra_pad is not None:
                    x = F.pad(x, self.extra_pad)
                w = self.weight * self.mask if self.masked else self.weight
                return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation), None
            if k == "maxpool":
                if self.extra_pad is not None:
                    raise NotImplementedError("asymmetric max-pool padding")
                if with_indices:
                    return F.max_pool2d(x, self.size, self.stride, self.padding, return_indices=True)
                return F.max_pool2d(x, self.size, self.stride, self.padding), None
            if k == "avgpool":
                if self.extra_pad is not None:
                    x = F.pad(x, self.extra_pad)
                return F.avg_pool2d(x, self.size, self.stride, self.padding, count_include_pad=True), None
            if k == "l2pool":
                sq = F.pad(x * x, (self.pad[2], self.pad[3], self.pad[0], self.pad[1]))
                area = self.size[0] * self.size[1]
                return torch.sqrt(F.avg_pool2d(sq, self.size, self.stride) * area), None
            if k == "dense":
                return F.linear(x, self.weight, self.bias), None
            if k == "flatten":
                return x.flatten(1), None
            if k == "softmax":
                return F.softmax(x, dim=1), None
            return ACTIVATIONS[k](x, self.alpha), None

    ACTIVATIONS = {
        "relu": lambda x, a: F.relu(x),
        "leaky_relu": lambda x, a: F.leaky_relu(x, a),
        "sigmoid": lambda x, a: torch.sigmoid(x),
        "tanh": lambda x, a: torch.tanh(x),
        "lecun_tanh": lambda x, a: 1.7159 * torch.tanh(x * (2.0 / 3.0)),
        "softplus": lambda x, a: F.softplus(x),
    }

    class TorchTwin(nn.Module):
        """Every layer after the input, in the engine's order; ``forward`` stops at the logits."""

        def __init__(self, net):
            super().__init__()
            self.input_name = net.layers[0].name
            self.body = nn.ModuleList(TwinLayer(la) for la in net.layers[1:])
            self.train_layers = nn.ModuleList(la for la in self.body if la.kind != "softmax")

        def forward(self, x):
            for layer in self.train_layers:
                x, _ = layer(x)
            return x

        def trace(self, x, with_indices=True):
            """[(name, output, indices-or-None)] for the input and every layer, like Network.trace."""
            outs = [(self.input_name, x, None)]
            for layer in self.body:
                x, idx = layer(x, with_indices)
                outs.append((layer.name, x, idx))
            return outs

    return TorchTwin


_TWIN_CLASS = None


def TorchTwin(net):  # noqa: N802  (a class factory: torch is imported on first use only)
    """An ``nn.Module`` with net's spec and a copy of its weights (float32, CPU)."""
    global _TWIN_CLASS
    if _TWIN_CLASS is None:
        _TWIN_CLASS = _build()
    return _TWIN_CLASS(net).float().eval()
