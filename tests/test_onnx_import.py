"""ONNX import (convnet/onnx_import.py): models exported by PyTorch in the test (both exporters),
and small graphs of every supported op, each layer compared at atol = rtol = 1e-5 with an ONNX
runtime that is not ConvScope: onnxruntime for the exported models, and also the onnx package's
ReferenceEvaluator for the op graphs (its BatchNormalization-9 runs in training mode whenever the
node carries a ``momentum`` attribute, as PyTorch's opset-13 export does, so it cannot judge those);
and every kind of file it must refuse, with its words."""
import io
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from convscope.convnet.network import Network
from convscope.convnet.onnx_import import ImportError_, import_model, load_onnx

torch = pytest.importorskip("torch", reason="PyTorch is the exporter of these models (scripts/test.sh installs it)")
nn = torch.nn
TOL = {"rtol": 1e-5, "atol": 1e-5}


class Normalize(nn.Module):
    """The input normalisation a user folds into the export: (x − mean) / std per channel."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def rgb_bn():
    """RGB 40×40, normalised input, bias-less strided conv, batch norm, leaky ReLU, average pool
    with padding not counted, a non-square dilated kernel, ELU, global average pool, dropout, softmax."""
    return nn.Sequential(
        Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.LeakyReLU(0.2),
        nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        nn.Conv2d(8, 16, (3, 5), dilation=(2, 1)), nn.ELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(16, 10), nn.Softmax(dim=1)), (3, 40, 40)


def gray28():
    """28×28 gray without padding to 32: tanh, a padded overlapping max pool, asymmetric padding,
    sigmoid, average pooling, softplus, and no final softmax."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 5), nn.Tanh(), nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(4, 6, 3, padding=(2, 1)), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(6 * 7 * 6, 20), nn.Softplus(), nn.Linear(20, 10)), (1, 28, 28)


def wide():
    """32/64/128 channels, a zero pad folded into a conv, 1×1 conv, global max pool, 256 units."""
    return nn.Sequential(
        nn.ZeroPad2d((1, 2, 0, 1)), nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 128, 1), nn.ReLU(),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(128, 256, bias=False), nn.ReLU(),
        nn.Linear(256, 10)), (1, 16, 16)


ARCHITECTURES = {"rgb_bn": rgb_bn, "gray28": gray28, "wide": wide}


def export(model, shape, exporter):
    x = torch.rand(1, *shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            # its default optimiser folds batch norm into the conv; the TorchScript export keeps it
            return torch.onnx.export(model, (x,), dynamo=True, verbose=False).model_proto.SerializeToString()
        f = io.BytesIO()
        # no constant folding, so batch norm stays its own node, as in a model exported for inspection
        torch.onnx.export(model, x, f, dynamo=False, do_constant_folding=False, opset_version=13,
                          input_names=["image"], dynamic_axes={"image": {0: "batch"}})
        return f.getvalue()


def seeded(make):
    torch.manual_seed(0)
    model, shape = make()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):   # statistics that are not the identity
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    return model.eval(), shape


def every_layer_against_the_reference(data, net, x, reference=True):
    """Each ConvScope layer's output equals the ONNX tensor it was imported from, computed by
    onnxruntime (each such tensor made a graph output) and, with ``reference``, by the onnx
    package's ReferenceEvaluator."""
    import onnxruntime
    model = onnx.load_from_string(data)
    sources = [s for s in net.card["import"]["layers"] if s["output"] is not None]   # not an added softmax
    names = [s["output"] for s in sources[1:]]
    feed = {model.graph.input[0].name: x[None]}
    outputs = {o.name for o in model.graph.output}
    model.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
                              for n in names if n not in outputs)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    trace = net.trace(x)
    check_layers(trace, sources, session.run(names, feed), "onnxruntime")
    if reference:
        check_layers(trace, sources, ReferenceEvaluator(onnx.load_from_string(data)).run(names, feed), "reference")
    return trace


def check_layers(trace, sources, ref, oracle):
    by_name = {a.name: a for a in trace.activations}
    assert [a.name for a in trace.activations][:len(sources)] == [s["layer"] for s in sources]
    for expected, src in zip(ref, sources[1:]):
        act = by_name[src["layer"]]
        expected = np.asarray(expected)[0].reshape(act.data.shape)
        np.testing.assert_allclose(act.data, expected, **TOL, err_msg=f"{act.name} from {src['nodes']} ({oracle})")


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_exported_models_equal_the_reference_layer_by_layer(arch, exporter, tmp_path):
    model, shape = seeded(ARCHITECTURES[arch])
    data = export(model, shape, exporter)
    net = load_onnx(data, arch)
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    trace = every_layer_against_the_reference(data, net, x, reference=exporter == "dynamo")
    with torch.no_grad():
        out = model(torch.from_numpy(x[None])).numpy()[0]
    added = bool(net.card["import"]["added"])
    np.testing.assert_allclose(trace.activations[-2 if added else -1].data, out, **TOL)
    assert trace.label == int(out.argmax())
    if added:   # the appended softmax is the softmax of the graph's output
        e = np.exp(out.astype(np.float64) - out.max())
        np.testing.assert_allclose(trace.probabilities, e / e.sum(), rtol=1e-5, atol=1e-7)
    # the converted file loads back as the same network
    path = tmp_path / f"{arch}.npz"
    net.save(path)
    again = Network.load(path)
    np.testing.assert_array_equal(again.trace(x).activations[-1].data, trace.activations[-1].data)
    assert again.card["source"]["sha256"] == net.card["source"]["sha256"]


def test_the_vocabulary_of_the_imports():
    kinds = {}
    for arch, make in ARCHITECTURES.items():
        model, shape = seeded(make)
        kinds[arch] = [s["kind"] for s in load_onnx(export(model, shape, "torchscript")).spec]
    assert kinds["rgb_bn"] == ["input", "normalize", "conv", "batchnorm", "leaky_relu", "avgpool", "conv",
                               "elu", "global_avgpool", "flatten", "dense", "softmax"]   # eval drops Dropout
    assert kinds["gray28"] == ["input", "conv", "tanh", "maxpool", "conv", "sigmoid", "avgpool", "flatten",
                               "dense", "softplus", "dense", "softmax"]   # the softmax added for display
    assert kinds["wide"][:3] == ["input", "conv", "relu"] and "global_maxpool" in kinds["wide"]


def test_the_card_says_where_the_model_came_from(tmp_path):
    model, shape = seeded(rgb_bn)
    data = export(model, shape, "torchscript")
    path = tmp_path / "mine.onnx"
    path.write_bytes(data)
    spec, params, card = import_model(path)
    import hashlib
    assert card["name"] == "mine" and card["source"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert card["source"]["opset"] == 13 and card["input"] == {"channels": 3, "height": 40, "width": 40}
    assert card["preprocess"] == "resize" and card["classes"] == 10
    assert spec[0] == {"name": "input", "kind": "input", "shape": [3, 40, 40]}
    conv = next(s for s in spec if s["kind"] == "conv")
    assert conv["bias"] is False and conv["padding"] == [1, 1, 1, 1] and f"{conv['name']}.bias" not in params


# ---- single-node graphs of each supported op ------------------------------------------------------
def graph_model(nodes, in_shape, out_shape, inits=(), opset=17, out_name="y"):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, *in_shape])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(np.asarray(v, np.float32) if np.asarray(v).dtype.kind == "f" else np.asarray(v), k)
         for k, v in inits])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


R = np.random.default_rng(0)
W = R.standard_normal((4, 3, 3, 3)).astype(np.float32)
FLAT = [helper.make_node("Flatten", ["h"], ["y"])]
CASES = {
    "conv same_upper stride 2": ([helper.make_node("Conv", ["x", "w", "b"], ["h"], kernel_shape=[3, 3],
                                                   strides=[2, 2], auto_pad="SAME_UPPER")] + FLAT,
                                 [("w", W), ("b", R.standard_normal(4))]),
    "conv pads dilation": ([helper.make_node("Conv", ["x", "w"], ["h"], kernel_shape=[3, 3], pads=[0, 2, 1, 1],
                                             dilations=[2, 1])] + FLAT, [("w", W)]),
    "pad then conv": ([helper.make_node("Pad", ["x", "p"], ["q"], mode="constant"),
                       helper.make_node("Conv", ["q", "w"], ["h"], kernel_shape=[3, 3])] + FLAT,
                      [("w", W), ("p", np.array([0, 0, 1, 2, 0, 0, 3, 0], np.int64))]),
    "batchnorm": ([helper.make_node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["h"], epsilon=1e-3)] + FLAT,
                  [("s", R.uniform(0.5, 2, 3)), ("bb", R.standard_normal(3)), ("m", R.standard_normal(3)),
                   ("v", R.uniform(0.5, 2, 3))]),
    "leakyrelu elu softplus": ([helper.make_node("LeakyRelu", ["x"], ["a"], alpha=0.3),
                                helper.make_node("Elu", ["a"], ["b"], alpha=0.7),
                                helper.make_node("Softplus", ["b"], ["h"])] + FLAT, []),
    "maxpool strided padded": ([helper.make_node("MaxPool", ["x"], ["h"], kernel_shape=[3, 2], strides=[2, 1],
                                                 pads=[1, 0, 1, 1])] + FLAT, []),
    "averagepool excluding pads": ([helper.make_node("AveragePool", ["x"], ["h"], kernel_shape=[3, 3],
                                                     strides=[2, 2], pads=[1, 1, 1, 1])] + FLAT, []),
    "averagepool counting pads": ([helper.make_node("AveragePool", ["x"], ["h"], kernel_shape=[2, 2],
                                                    pads=[1, 1, 0, 0], count_include_pad=1)] + FLAT, []),
    "lppool": ([helper.make_node("LpPool", ["x"], ["h"], kernel_shape=[2, 2], strides=[2, 2], p=2)] + FLAT, []),
    "globalmaxpool": ([helper.make_node("GlobalMaxPool", ["x"], ["h"])] + FLAT, []),
    "reducemean keepdims 0": ([helper.make_node("ReduceMean", ["x", "ax"], ["y"], keepdims=0)],
                              [("ax", np.array([2, 3], np.int64))]),
    "sub div mul add": ([helper.make_node("Sub", ["x", "m"], ["a"]), helper.make_node("Div", ["a", "s"], ["b"]),
                         helper.make_node("Mul", ["b", "k"], ["c"]), helper.make_node("Add", ["c", "k"], ["h"])] + FLAT,
                        [("m", R.standard_normal((1, 3, 1, 1))), ("s", R.uniform(0.5, 2, (3, 1, 1))), ("k", [0.5])]),
    "reshape matmul add softmax": ([helper.make_node("Reshape", ["x", "shape"], ["f"]),
                                    helper.make_node("MatMul", ["f", "mw"], ["m"]),
                                    helper.make_node("Add", ["m", "mb"], ["z"]),
                                    helper.make_node("Softmax", ["z"], ["y"], axis=1)],
                                   [("shape", np.array([1, -1], np.int64)), ("mw", R.standard_normal((300, 7)) * 0.1),
                                    ("mb", R.standard_normal(7))]),
    "gemm alpha beta": ([helper.make_node("Flatten", ["x"], ["f"]),
                         helper.make_node("Gemm", ["f", "gw", "gb"], ["y"], alpha=0.5, beta=2.0, transB=1)],
                        [("gw", R.standard_normal((5, 300)) * 0.1), ("gb", R.standard_normal(5))]),
    "shape gather concat flatten": ([helper.make_node("Shape", ["x"], ["s"]),
                                     helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
                                     helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"]),
                                     helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
                                     helper.make_node("Reshape", ["x", "target"], ["f"]),
                                     helper.make_node("Dropout", ["f"], ["d"]),
                                     helper.make_node("Identity", ["d"], ["y"])],
                                    [("zero", np.array(0, np.int64)), ("zero1", np.array([0], np.int64)),
                                     ("minus1", np.array([-1], np.int64))]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_supported_op_equals_the_reference(case):
    nodes, inits = CASES[case]
    data = graph_model(nodes, (3, 10, 10), None, inits, opset=18)
    net = load_onnx(data, case.replace(" ", "-"))
    x = R.random((3, 10, 10), dtype=np.float32) * 2 - 0.5
    every_layer_against_the_reference(data, net, x)


# ---- what it refuses -------------------------------------------------------------------------------
def residual():
    return graph_model([helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Add", ["a", "x"], ["h"]),
                        helper.make_node("Flatten", ["h"], ["y"])], (1, 8, 8), None)


REFUSALS = {
    "empty": (b"", "the file is empty"),
    "not onnx": (b"PK\x03\x04 this is a zip, not a model" * 4, "could not be parsed"),
    "truncated": (lambda: export(*seeded(gray28), "torchscript")[:3000], "could not be parsed|no graph|initializer"),
    "unsupported op": (lambda: graph_model([helper.make_node("Gelu", ["x"], ["h"]), *FLAT], (1, 8, 8), None, opset=20),
                       r"node \(unnamed\) \(Gelu\): op Gelu is not supported; supported: Add, AveragePool"),
    "residual": (residual, "residual or branching"),
    "grouped conv": (lambda: graph_model([helper.make_node("Conv", ["x", "w"], ["h"], kernel_shape=[1, 1], group=3),
                                          *FLAT], (3, 8, 8), None, [("w", np.ones((3, 1, 1, 1)))]), "group=3"),
    "weights contradict shapes": (lambda: graph_model([helper.make_node("Conv", ["x", "w"], ["h"], kernel_shape=[3, 3]),
                                                       *FLAT], (1, 8, 8), None, [("w", np.ones((2, 3, 3, 3)))]),
                                  "read 3 channels, but its input has 1"),
    "declared output contradicts": (lambda: graph_model(FLAT[:0] + [helper.make_node("Flatten", ["x"], ["y"])], (1, 8, 8),
                                                        [1, 65]), "declares its output 'y' as \\[1, 65\\]"),
    "old opset": (lambda: graph_model([helper.make_node("Flatten", ["x"], ["y"])], (1, 8, 8), None, opset=9),
                  "opset 9"),
    "too small": (lambda: graph_model([helper.make_node("Flatten", ["x"], ["y"])], (1, 4, 4), None), "supports 8×8"),
    "two channels": (lambda: graph_model([helper.make_node("Flatten", ["x"], ["y"])], (2, 8, 8), None),
                     "gray \\(1\\) or RGB \\(3\\)"),
    "ceil mode": (lambda: graph_model([helper.make_node("MaxPool", ["x"], ["h"], kernel_shape=[2, 2], strides=[2, 2],
                                                        ceil_mode=1), *FLAT], (1, 9, 9), None), "ceil_mode"),
    "map output": (lambda: graph_model([helper.make_node("Relu", ["x"], ["y"])], (1, 8, 8), None), "vector of class scores"),
    # a file of a few hundred bytes must not make the importer build gigabytes: each is refused
    # before its constant exists (test_a_constant_bomb_is_refused_before_it_is_built measures it)
    "constant bomb": (lambda: constant_bomb(10 ** 6), "would hold 1,024,000,000 values; ConvScope builds at most"),
    "broadcast bomb": (lambda: graph_model([helper.make_node("Mul", ["c", "r"], ["w"]), helper.make_node("Flatten", ["x"], ["f"]),
                                            helper.make_node("MatMul", ["f", "w"], ["y"])], (1, 8, 8), None,
                                           [("c", np.ones((20000, 1))), ("r", np.ones((1, 20000)))]),
                       r"\(Mul\): its constant would hold 400,000,000 values"),
    "gather bomb": (lambda: graph_model([helper.make_node("Gather", ["c", "i"], ["w"]), helper.make_node("Flatten", ["x"], ["f"]),
                                         helper.make_node("MatMul", ["f", "w"], ["y"])], (1, 8, 8), None,
                                        [("c", np.ones((2, 4096))), ("i", np.zeros(100_000, np.int64))]),
                    r"\(Gather\): its constant would hold 409,600,000 values"),
    "negative constant shape": (lambda: constant_bomb(-3), "a negative dimension"),
    "conv stride 0": (lambda: graph_model([helper.make_node("Conv", ["x", "w"], ["h"], strides=[0, 0]), *FLAT], (1, 8, 8),
                                          None, [("w", np.ones((2, 1, 3, 3)))]), r"strides \[0, 0\] must be"),
    "negative conv pads": (lambda: graph_model([helper.make_node("Conv", ["x", "w"], ["h"], pads=[-1, 0, 0, 0]), *FLAT],
                                               (1, 8, 8), None, [("w", np.ones((2, 1, 3, 3)))]), "are negative"),
    "pool of zero size": (lambda: graph_model([helper.make_node("MaxPool", ["x"], ["h"], kernel_shape=[0, 2]), *FLAT],
                                              (1, 8, 8), None), r"kernel_shape \[0, 2\] must be"),
    "padding beyond every limit": (lambda: graph_model([helper.make_node("Conv", ["x", "w"], ["h"], pads=[10 ** 6] * 4),
                                                        *FLAT], (1, 8, 8), None, [("w", np.ones((2, 1, 3, 3)))]),
                                   "values for one image; ConvScope shows"),
}


def constant_bomb(rows):
    """A ConstantOfShape of [rows, 1024] zeros as a dense layer's weights: about 150 bytes."""
    return graph_model([helper.make_node("ConstantOfShape", ["s"], ["w"]), helper.make_node("Flatten", ["x"], ["f"]),
                        helper.make_node("MatMul", ["f", "w"], ["y"])], (1, 8, 8), None,
                       [("s", np.array([rows, 1024], np.int64))])


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_say_what_is_wrong(case):
    data, message = REFUSALS[case]
    data = data() if callable(data) else data
    with pytest.raises(ImportError_, match=message):
        load_onnx(data)


def test_a_constant_bomb_is_refused_before_it_is_built():
    """The bomb of 10**6 × 1024 zeros (4 GB) is refused without the process growing; before the
    bound, importing it raised the peak resident memory by about 4 GB (and 10**8 rows: MemoryError)."""
    import resource
    data = constant_bomb(10 ** 6)
    assert len(data) < 300
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(3):
        with pytest.raises(ImportError_, match="would hold"):
            import_model(data)
    with pytest.raises(ImportError_, match="would hold 102,400,000,000 values"):
        import_model(constant_bomb(10 ** 8))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024   # KiB: < 100 MB


def test_a_conv_without_kernel_shape_takes_its_weights_shape():
    """kernel_shape is optional in ONNX (the weights say it); PyTorch writes it, other tools may not."""
    data = graph_model([helper.make_node("Conv", ["x", "w"], ["h"], strides=[2, 1], pads=[1, 0, 1, 2]), *FLAT],
                       (3, 10, 10), None, [("w", R.standard_normal((4, 3, 3, 2)))], opset=18)
    net = load_onnx(data, "no-kernel-shape")
    assert net.card["architecture"][1]["kernel"] == [3, 2]
    every_layer_against_the_reference(data, net, R.random((3, 10, 10), dtype=np.float32))


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.onnx"
    with open(path, "wb") as f:      # a sparse 500 MB file: costs no disk, and is never read
        f.truncate(500 * 2 ** 20)
    with pytest.raises(ImportError_, match="the file is 500 MB; ConvScope imports models up to 64 MB"):
        load_onnx(path)


def test_external_data_is_never_opened(tmp_path):
    model = onnx.load_from_string(graph_model(CASES["conv pads dilation"][0], (3, 10, 10), None,
                                              CASES["conv pads dilation"][1]))
    onnx.save_model(model, tmp_path / "ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    with pytest.raises(ImportError_, match="external file"):
        load_onnx(tmp_path / "ext.onnx")
