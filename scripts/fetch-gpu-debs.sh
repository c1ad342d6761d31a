#!/usr/bin/env bash
# Run HERE (a Debian 12 machine with network): downloads the Debian packages the build needs, with
# their library dependencies, into gpu-debs/ (ignored by git). scripts/gpu-check.sh unpacks them on
# the GPU machine, which has the CUDA toolkit, a compiler, CMake and ninja but no network and no
# apt. Toolchain and base-system packages (libc, libstdc++, gcc runtimes, ssl, krb5...) are left
# out: the GPU machine has its own.
#   scripts/fetch-gpu-debs.sh [--no-dataset] [dir]     (docs/gpu.md)
set -euo pipefail
cd "$(dirname "$0")/.."

with_dataset=1
out=gpu-debs
for arg in "$@"; do
  case "$arg" in
    --no-dataset) with_dataset=0 ;;
    -h|--help) sed -n 2,8p "$0"; exit 0 ;;
    -*) echo "fetch-gpu-debs: unknown option $arg" >&2; exit 2 ;;
    *) out=$arg ;;
  esac
done

roots=(libeigen3-dev catch2 libfmt-dev libcli11-dev nlohmann-json3-dev zlib1g-dev libboost-context-dev)
# Fashion-MNIST (31 MB) is for training runs; the GPU tests and labs synthesize their data.
[ "$with_dataset" = 1 ] && roots+=(dataset-fashion-mnist)

base='^(libc6|libc6-dev|libc-dev-bin|linux-libc-dev|gcc-.*|cpp-.*|libgcc.*|libstdc\+\+.*|lib(asan|atomic|itm|lsan|tsan|hwasan|ubsan|quadmath|gomp|cc1-)[0-9]*|libcrypt.*|libssl.*|libkrb5.*|libk5crypto.*|libgssapi.*|libkeyutils.*|libcom-err.*|libtirpc.*|libnsl.*|rpcsvc-proto|pkgconf.*|pkg-config|libpkgconf.*|debconf.*|dpkg|perl.*|libperl.*)$'
mapfile -t packages < <(
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances "${roots[@]}" | grep -v '^ ' | grep -v '^<' | sort -u | grep -Ev "$base")
[ ${#packages[@]} -gt 0 ] || { echo "fetch-gpu-debs: apt-cache found no packages (run apt-get update?)" >&2; exit 1; }

mkdir -p "$out"
rm -f "$out"/*.deb
echo "fetch-gpu-debs: downloading ${#packages[@]} packages into $out/"
(cd "$out" && apt-get download -q "${packages[@]}")
(cd "$out" && ls -1 ./*.deb | sed 's|^\./||' > MANIFEST && sha256sum ./*.deb > SHA256SUMS)
echo "fetch-gpu-debs: $(wc -l < "$out/MANIFEST") packages, $(du -sh "$out" | cut -f1) in $out/"
