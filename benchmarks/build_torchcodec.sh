#!/usr/bin/env bash
# Build torchcodec from source against the system FFmpeg and install it into PYTHON's environment, for
# benchmarks/decode.py. The torchcodec wheels on PyPI are built against CUDA torch and fail to import with CPU
# torch, and PyPI carries no source distribution of any release, so the source comes from GitHub.
#
# usage: bash benchmarks/build_torchcodec.sh [PYTHON]          (make bench-deps; PYTHON defaults to .venv/bin/python)
#   TORCHCODEC_SRC=<folder or .tar.gz>  build that source instead of downloading it
#   TORCHCODEC_REF=<tag or commit>      what to download (default: the commit tested below)
#
# Tested on Debian 12 (FFmpeg 5.1: libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavdevice-dev
# libavfilter-dev, cmake, a C++17 compiler) with torch 2.13.0+cpu and torchcodec main at c66da14b (0.7.0a0).
set -euo pipefail

PYTHON=${1:-.venv/bin/python}
REF=${TORCHCODEC_REF:-c66da14b}
fail() { echo "build_torchcodec.sh: $*" >&2; exit 2; }

"$PYTHON" -c "import torch" 2>/dev/null || fail "$PYTHON cannot import torch: run 'make setup' first"
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')  # absolute: the check at the end runs elsewhere
command -v cmake >/dev/null || fail "cmake not found: apt-get install cmake"
pkg-config --exists libavcodec libavformat libavutil libswscale libavdevice libavfilter ||
  fail "FFmpeg development files not found: apt-get install libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavdevice-dev libavfilter-dev pkg-config"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SRC=${TORCHCODEC_SRC:-}
if [ -z "$SRC" ]; then
  SRC="$WORK/torchcodec-$REF.tar.gz"
  curl -fsSL -o "$SRC" "https://github.com/pytorch/torchcodec/archive/$REF.tar.gz" ||
    fail "cannot download torchcodec $REF from GitHub: set TORCHCODEC_SRC to a source folder or .tar.gz"
fi
if [ -f "$SRC" ]; then
  mkdir "$WORK/src" && tar -xzf "$SRC" -C "$WORK/src" --strip-components=1 && SRC="$WORK/src"
fi
[ -f "$SRC/setup.py" ] || fail "$SRC: no setup.py; expected the torchcodec source tree"

# pybind11 only for the build, outside the environment
"$PYTHON" -m pip install --quiet --target "$WORK/tools" pybind11
export PYTHONPATH="$WORK/tools"
CMAKE_PREFIX_PATH=$("$PYTHON" -c 'import pybind11; print(pybind11.get_cmake_dir())')
export CMAKE_PREFIX_PATH
export ENABLE_CUDA=  # CPU decoding only: the torch here has no CUDA
# setup.py refuses to build a wheel unless told it is not for redistribution: this one links the system FFmpeg
# and stays on this machine.
export I_CONFIRM_THIS_IS_NOT_A_LICENSE_VIOLATION=1
# Newer torch headers warn where torchcodec's CMake turns warnings into errors.
export TORCHCODEC_DISABLE_COMPILE_WARNING_AS_ERROR=ON
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}

# Build in a copy: setuptools writes build/ and the libraries into the source tree.
cp -r "$SRC" "$WORK/build-src"
"$PYTHON" -m pip wheel --quiet --no-build-isolation --no-deps -w "$WORK/dist" "$WORK/build-src"
"$PYTHON" -m pip install --quiet --no-deps --force-reinstall "$WORK"/dist/torchcodec-*.whl
(cd "$WORK" && "$PYTHON" -c "import torchcodec, torch; from torchcodec.decoders import VideoDecoder; \
print(f'torchcodec {torchcodec.__version__} installed, torch {torch.__version__}')")
