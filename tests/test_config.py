"""Numba cache placement: per kernel-source version, in the user's cache, unless the user chose one."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import convscope.kernels
from convscope.kernels._config import sources_digest

KERNELS = Path(convscope.kernels.__file__).resolve().parent
PROBE = "import convscope.kernels, os; print(os.environ['NUMBA_CACHE_DIR'])"


def run_probe(env_overrides):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(env_overrides)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=KERNELS.parent.parent, env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    return out.stdout.strip()


def test_cache_goes_to_xdg_cache_keyed_by_the_kernel_sources(tmp_path):
    path = Path(run_probe({"XDG_CACHE_HOME": str(tmp_path)}))
    assert path == tmp_path / "convscope" / "numba" / sources_digest(KERNELS)


def test_without_xdg_cache_home_it_is_under_home(tmp_path):
    path = Path(run_probe({"XDG_CACHE_HOME": "", "HOME": str(tmp_path)}))   # empty counts as unset
    assert path == tmp_path / ".cache" / "convscope" / "numba" / sources_digest(KERNELS)


def test_a_users_numba_cache_dir_wins(tmp_path):
    assert run_probe({"NUMBA_CACHE_DIR": str(tmp_path / "mine")}) == str(tmp_path / "mine")


def test_digest_changes_when_any_kernel_source_changes(tmp_path):
    copy = tmp_path / "kernels"
    shutil.copytree(KERNELS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = sources_digest(copy)
    assert sources_digest(copy) == before
    (copy / "conv.py").write_text((copy / "conv.py").read_text() + "\n# edited\n")
    assert sources_digest(copy) != before
