"""`convscope train` / `convscope evaluate` end to end on a tiny MNIST cache built from the shipped digits."""
import json

import numpy as np
import pytest

from convscope.convnet import Network, mnist
from convscope.convnet import evaluate as evaluate_cli
from convscope.convnet import train as train_cli
from convscope.convnet.samples import load_samples


def idx_bytes(array: np.ndarray) -> bytes:
    header = (0x800 | array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_mnist(tmp_path):
    """240 training and 60 test images (real MNIST test digits) in the loader's cache layout."""
    s = load_samples()
    split = {"train": (s.images[:240], s.labels[:240]), "test": (s.images[240:], s.labels[240:])}
    for name, (images, labels) in split.items():
        img_name, lab_name = mnist.FILES[name]
        (tmp_path / img_name).write_bytes(idx_bytes(images))
        (tmp_path / lab_name).write_bytes(idx_bytes(labels))
    return tmp_path


def run_train(data_dir, out, *extra):
    return train_cli.main(["--epochs", "1", "--batch-size", "32", "--data-dir", str(data_dir),
                           "--out", str(out), "--warmup", "2", *extra])


def test_train_writes_weights_and_a_truthful_card(tiny_mnist, tmp_path, capsys):
    out = tmp_path / "models" / "tiny.npz"
    assert run_train(tiny_mnist, out, "--seed", "3") == 0
    card = json.loads(out.with_name("tiny.card.json").read_text())
    net = Network.load(out)
    assert net.card == card and card["seed"] == 3 and card["name"] == "tiny"
    assert card["data"]["sha256"] == mnist.mnist_checksum(tiny_mnist)
    assert card["data"]["train_images"] == 240 and card["data"]["test_images"] == 60
    confusion = np.array(card["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == 60
    assert card["test_accuracy"] == pytest.approx(np.trace(confusion) / 60, abs=1e-5)
    assert len(card["history"]) == 1 and card["training"]["augment"].startswith("shift=")
    # evaluate reads the same file and reports the same accuracy
    capsys.readouterr()
    assert evaluate_cli.main(["--model", str(out), "--data-dir", str(tiny_mnist)]) == 0
    assert f"{100 * card['test_accuracy']:.2f}%" in capsys.readouterr().out


def test_training_is_deterministic_for_a_seed(tiny_mnist, tmp_path):
    a, b, c = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    assert run_train(tiny_mnist, a, "--seed", "1") == 0
    assert run_train(tiny_mnist, b, "--seed", "1") == 0
    assert run_train(tiny_mnist, c, "--seed", "2") == 0
    na, nb, nc = (Network.load(p).parameters() for p in (a, b, c))
    for layer in na:
        for key in na[layer]:
            np.testing.assert_array_equal(na[layer][key], nb[layer][key], err_msg=f"{layer}.{key}")
    assert any(not np.array_equal(na[la][k], nc[la][k]) for la in na for k in na[la])


def test_train_without_data_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVSCOPE_NPM_REGISTRY", "http://127.0.0.1:9")   # nothing listens there
    assert run_train(tmp_path / "empty", tmp_path / "m.npz") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CONVSCOPE_DATA_DIR" in err
    assert not (tmp_path / "m.npz").exists()


def test_train_help_lists_every_knob_with_its_default(capsys):
    assert train_cli.main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())   # click wraps long lines
    for param in train_cli.command.params:
        assert param.opts[0] in out
    assert "[default: 15; x>=1]" in out and "[default: shift=2,rotate=12,scale=0.12]" in out


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "Invalid value for '--epochs'"),
    (["--augment", "zoom=2"], "unknown augmentation 'zoom'"),
    (["--arch", "vgg"], "Invalid value for '--arch'"),
    (["--bogus"], "No such option '--bogus'"),
])
def test_bad_train_options_are_one_line(capsys, argv, message):
    assert train_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("convscope train: error: ") and message in err and err.count("\n") == 1


def test_evaluate_a_missing_model_is_one_line(tmp_path, capsys):
    assert evaluate_cli.main(["--model", str(tmp_path / "nope.npz"), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("convscope evaluate: error: cannot read") and err.count("\n") == 1


def test_an_unwritable_output_is_refused_before_training(tmp_path, capsys):
    from convscope.convnet import train as train_cli
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert train_cli.main(["--epochs", "1", "--out", str(blocker / "sub" / "model.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write" in err and "Traceback" not in err


def test_train_builds_a_design_the_page_would_build(tmp_path, capsys):
    """`convscope train --design` takes a preset or a JSON file, on the shipped digits offline."""
    from convscope.convnet import design
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"blocks": [{"filters": 3, "kernel": 3, "pool": "avg"}], "dense": [16]}))
    out = tmp_path / "net.npz"
    assert train_cli.main(["--design", str(path), "--dataset", "digits", "--epochs", "2", "--batch-size", "16",
                           "--warmup", "2", "--out", str(out)]) == 0
    net = Network.load(out)
    assert net.spec == design.build(json.loads(path.read_text()))
    assert net.card["design"]["blocks"][0]["filters"] == 3 and net.card["data"]["dataset"] == "digits"
    assert net.card["data"]["test_images"] == 60 and len(net.card["history"]) == 2
    assert train_cli.main(["--design", "tiny", "--dataset", "digits", "--epochs", "1", "--out",
                           str(tmp_path / "t.npz")]) == 0
    assert Network.load(tmp_path / "t.npz").spec == design.build({"preset": "tiny"})


@pytest.mark.parametrize("value, words", [("vgg", "neither a preset"), ('{"blocks": [{"kernel": 40}]}', "kernel")])
def test_train_refuses_a_bad_design_in_one_line(tmp_path, capsys, value, words):
    assert train_cli.main(["--design", value, "--dataset", "digits", "--out", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("convscope train: error: --design:") and words in err and "\n" not in err
