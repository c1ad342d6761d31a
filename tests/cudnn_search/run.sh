#!/usr/bin/env bash
# kernels/find_cudnn.cmake against fake installs in a temporary folder: cuDNN as pip's
# nvidia-cudnn wheel (what PyTorch installs) leaves it, nvidia/cudnn/include/cudnn.h and
# nvidia/cudnn/lib/libcudnn.so.9 with no unversioned libcudnn.so, in the site-packages of a venv
# whose python3 is first on PATH; the same without its library; and a toolkit with cuDNN, which
# comes first; a second configure keeps the first one's sentence. Usage: run.sh <cmake>
set -euo pipefail
cmake=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv --without-pip "$tmp/venv"
site=$("$tmp/venv/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
pip_cudnn=$site/nvidia/cudnn
mkdir -p "$pip_cudnn/include" "$pip_cudnn/lib" "$tmp/toolkit/include" "$tmp/toolkit/lib"
echo '#define CUDNN_MAJOR 9' > "$pip_cudnn/include/cudnn.h"
: > "$pip_cudnn/lib/libcudnn.so.9"

configure() {  # configure <name>: a fresh configure, its output in $tmp/<name>.log
  PATH="$tmp/venv/bin:$PATH" "$cmake" -S "$here" -B "$tmp/build-$1" -DCUDAToolkit_INCLUDE_DIRS="$tmp/toolkit/include" \
    -DCUDAToolkit_LIBRARY_DIR="$tmp/toolkit/lib" > "$tmp/$1.log" 2>&1 || { cat "$tmp/$1.log"; exit 1; }
}
expect() {  # expect <name> <text>: the configure output has the text
  grep -qF -- "$2" "$tmp/$1.log" || { echo "FAIL ($1): expected \"$2\" in:"; cat "$tmp/$1.log"; exit 1; }
}

configure pip
expect pip "found=ON"
expect pip "include=$pip_cudnn/include"
expect pip "library=$pip_cudnn/lib/libcudnn.so.9"
expect pip "where=found in pip's nvidia-cudnn in $site (python3 $tmp/venv/bin/python3)"
mv "$tmp/pip.log" "$tmp/first.log"
configure pip  # again, in the same folder: the cached result keeps its sentence
expect pip "where=found in pip's nvidia-cudnn in $site"

rm "$pip_cudnn/lib/libcudnn.so.9"
configure header-only
expect header-only "found=OFF"
expect header-only "has $pip_cudnn/include/cudnn.h but no libcudnn.so or libcudnn.so.9"
expect header-only "-DELR_CUDNN_INCLUDE_DIR="

: > "$pip_cudnn/lib/libcudnn.so.9"
cp "$pip_cudnn/include/cudnn.h" "$tmp/toolkit/include/"
: > "$tmp/toolkit/lib/libcudnn.so"
configure toolkit
expect toolkit "where=found in the CUDA toolkit: $tmp/toolkit/include/cudnn.h and $tmp/toolkit/lib/libcudnn.so"
echo "cudnn_search: ok"
