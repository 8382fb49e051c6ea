"""Kernel-lab benchmark: one k x k kernel applied to each channel of a 512x512 RGB float32 image.

Times, in the same run, ConvScope's `kernels.conv2d_depthwise` (parallel Numba),
`scipy.ndimage.correlate` (mode='constant', cval=0: the same zero 'same' padding) and Pillow's
`ImageFilter.Kernel` (on uint8, for reference only: other edge handling and rounding), prints
median / min / max over many repetitions and the speed-up over scipy, and asserts that ConvScope
and scipy agree to 1e-5 (max abs diff printed). Target (docs): >= 4x faster than scipy.

    python bench/bench_lab.py [--size 512] [--kernels 3 5] [--repeat 50]
"""
import argparse
import statistics
import time

import numpy as np


def timed(fn, repeat):
    """Milliseconds of `repeat` calls of fn(): (median, min, max)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times), max(times)


def row(name, stats, ref=None):
    ratio = f"  {ref / stats[0]:5.2f}x vs scipy" if ref else ""
    med, lo, hi = stats
    print(f"  {name:<28} median {med:7.3f} ms  min {lo:7.3f}  max {hi:7.3f}{ratio}")


def bench_kernel(k, image, repeat):
    from scipy import ndimage
    from convscope.kernels import conv2d_depthwise

    c = image.shape[0]
    rng = np.random.default_rng(k)
    kernel = rng.standard_normal((k, k))
    kernel = (kernel / np.abs(kernel).sum()).astype(np.float32)  # outputs stay within [-1, 1]
    p = k // 2  # 'same' padding, as ndimage's centred kernel
    w, b = np.ascontiguousarray(np.broadcast_to(kernel, (c, k, k))), np.zeros(c, np.float32)
    ours = lambda: conv2d_depthwise(image, w, b, (1, 1), (p, p, p, p), (1, 1))
    theirs = lambda: ndimage.correlate(image, kernel[None], mode="constant", cval=0.0)
    ours(), theirs()  # warm up: JIT compile (or cache load), page in
    diff = float(np.abs(ours().astype(np.float64) - theirs()).max())

    h, w_ = image.shape[1:]
    print(f"{k}x{k} kernel, same kernel on each of {c} channels, {h}x{w_}:")
    scipy_stats = timed(theirs, repeat)
    ours_stats = timed(ours, repeat)
    row("ConvScope conv2d_depthwise", ours_stats, scipy_stats[0])
    row("scipy.ndimage.correlate", scipy_stats)
    pillow(k, kernel, image, repeat)
    print(f"  max |ConvScope - scipy| = {diff:.2e}")
    assert diff <= 1e-5, f"ConvScope disagrees with scipy by {diff}"
    return scipy_stats[0] / ours_stats[0]


def pillow(k, kernel, image, repeat):
    try:
        from PIL import Image, ImageFilter
    except ImportError:
        print("  Pillow not installed: skipped")
        return
    rgb = Image.fromarray((image.transpose(1, 2, 0) * 255).astype(np.uint8), "RGB")
    filt = ImageFilter.Kernel((k, k), kernel.ravel().tolist(), scale=1.0)
    rgb.filter(filt)
    row("Pillow ImageFilter.Kernel u8", timed(lambda: rgb.filter(filt), repeat))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="image height and width (512)")
    parser.add_argument("--kernels", type=int, nargs="+", default=[3, 5],
                        help="kernel sizes (3 5); Pillow only supports 3 and 5")
    parser.add_argument("--repeat", type=int, default=50, help="timed repetitions (50)")
    parser.add_argument("--threads", type=int, default=0, help="Numba threads (0: all cores)")
    args = parser.parse_args(argv)

    import numba
    if args.threads:
        numba.set_num_threads(args.threads)
    image = np.random.default_rng(0).random((3, args.size, args.size), dtype=np.float32)
    print(f"numba {numba.__version__}, {numba.get_num_threads()} threads, {args.repeat} repeats")
    ratios = {k: bench_kernel(k, image, args.repeat) for k in args.kernels}
    print("speed-up over scipy (median): "
          + ", ".join(f"{k}x{k}: {r:.1f}x" for k, r in ratios.items()) + "  (target >= 4x)")


if __name__ == "__main__":
    main()
