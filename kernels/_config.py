"""Make Numba's on-disk JIT cache safe and usable before any kernel module imports numba.

Numba caches compiled kernels per source file and only notices edits to *that* file: a kernel that
calls into another module (``fused.py`` calls ``conv.py``) keeps its stale machine code after the
callee changes, which crashes or silently computes the old thing.  Numba also writes next to the
source by default, which fails when the package is installed read-only.  So, unless the user chose
``NUMBA_CACHE_DIR``, the cache lives in ``<user cache>/numba/<digest>``, where ``<user cache>`` is
``platformdirs.user_cache_dir("convscope")`` (on Linux ``$XDG_CACHE_HOME/convscope``, by default
``~/.cache/convscope``) and the digest covers every kernel source file: any edit starts a fresh cache.
"""
import hashlib
import os
import sys


def sources_digest(directory):
    """A short sha256 over the names and contents of the ``.py`` files in ``directory``."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        if name.endswith(".py"):
            h.update(name.encode())
            with open(os.path.join(directory, name), "rb") as f:
                h.update(f.read())
    return h.hexdigest()[:16]


def configure_numba_cache():
    """Set NUMBA_CACHE_DIR (unless set) to a per-version folder of the user's cache; return it."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    import platformdirs  # only when needed; light (standard library only), and it never imports numba
    path = os.path.join(platformdirs.user_cache_dir("convscope"), "numba",
                        sources_digest(os.path.dirname(os.path.abspath(__file__))))
    os.environ["NUMBA_CACHE_DIR"] = path
    if "numba" in sys.modules:  # numba read its config at import: make it re-read the variable
        sys.modules["numba"].core.config.reload_config()
    return path


CACHE_DIR = configure_numba_cache()


def configure_threading_layer():
    """Prefer Numba's 'workqueue' threading layer unless the user chose one.

    Measured here on 2 busy cores, a batch-64 training step took 212 ms (median) with the OpenMP
    layer against 76 ms with workqueue: OpenMP threads spin-wait for a descheduled partner.  It is
    also fork-safe (gunicorn forks workers) where GNU OpenMP is not.  Its limit — no concurrent
    parallel calls from several threads of one process — is respected by the server, which runs
    parallel (lab) kernels under a lock and the trace serially."""
    if not os.environ.get("NUMBA_THREADING_LAYER"):
        os.environ["NUMBA_THREADING_LAYER"] = "workqueue"
        if "numba" in sys.modules:
            sys.modules["numba"].core.config.reload_config()
    return os.environ["NUMBA_THREADING_LAYER"]


THREADING_LAYER = configure_threading_layer()


# ---- faults of the cache folder: unwritable, corrupt, from another version ----------------------
def cache_problem(path=None):
    """None if Numba can write its cache in ``path`` (default: the configured one), else why not,
    in a few words.  Numba itself then compiles in memory without saying so."""
    import tempfile
    path = path or os.environ.get("NUMBA_CACHE_DIR") or CACHE_DIR
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def cache_is_cold():
    """Whether the disk cache holds no usable compilation of the central kernel (conv2d): a first
    start after an install, an emptied cache, or one from other sources (Numba's index is keyed by
    the source file's stamp).  Private Numba API, so any surprise answers False (nothing changes)."""
    try:
        from convscope.kernels import conv
        return not conv.conv2d._cache._cache_file._load_index()
    except Exception:  # noqa: BLE001
        return False


def raised_by_the_cache(exc):
    """Whether ``exc`` came out of Numba's on-disk cache (an unreadable index or data file)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.replace(os.sep, "/").endswith("numba/core/caching.py"):
            return True
        tb = tb.tb_next
    return False


def _our_cache_folders():
    """The folders Numba caches ConvScope's kernels in (one per kernel source folder), nothing else:
    NUMBA_CACHE_DIR may be shared with other projects."""
    from numba.core.registry import CPUDispatcher
    folders = set()
    for name, module in list(sys.modules.items()):
        if name.startswith("convscope.kernels"):
            for value in vars(module).values():
                cache = getattr(value, "_cache", None) if isinstance(value, CPUDispatcher) else None
                if getattr(cache, "_cache_path", None):
                    folders.add(cache._cache_path)
    return folders


def clear_cache():
    """Delete Numba's index and data files of ConvScope's kernels so that every kernel compiles
    afresh and is cached again; returns how many files went (OSError if they cannot be removed)."""
    removed = 0
    for folder in _our_cache_folders():
        for name in os.listdir(folder) if os.path.isdir(folder) else ():
            if name.endswith((".nbi", ".nbc")):
                os.unlink(os.path.join(folder, name))
                removed += 1
    return removed


def disable_cache():
    """Stop every ConvScope kernel from reading or writing the disk cache for this process."""
    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher
    for name, module in list(sys.modules.items()):
        if name.startswith("convscope.kernels"):
            for value in vars(module).values():
                if isinstance(value, CPUDispatcher):
                    value._cache = NullCache()


def configure_blas_threads():
    """One thread for NumPy's BLAS (OpenBLAS) unless the user chose, when numpy is not loaded yet.

    The only BLAS calls are the dense layers' small matrix products (a batch of 64 or 1000 against
    120×400 weights), where a second thread gains little; but OpenBLAS's threads spin between calls
    and took the cores from Numba's conv threads right after: batch inference fell from ~32k to
    ~24k img/s in some runs, and a training job's BLAS threads took a class's CPU.  One BLAS thread
    made training steps 13 % and batch inference 5–15 % faster here (bench_train.py, bench_batch.py).
    Returns the setting, or None if numpy was imported first (then it cannot change)."""
    if "numpy" in sys.modules:
        return os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    return os.environ["OPENBLAS_NUM_THREADS"]


BLAS_THREADS = configure_blas_threads()
