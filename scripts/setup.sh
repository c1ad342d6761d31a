#!/usr/bin/env bash
# Installs the Debian packages elrscope builds and tests with (root: apt-get; otherwise sudo).
set -euo pipefail
# chromium-headless-shell: the browser check of the report pages (tests/browser_check.sh).
# libopenmpi-dev, openmpi-bin: data-parallel training over MPI ranks and its tests (docs/scale.md).
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libeigen3-dev catch2 libfmt-dev libcli11-dev nlohmann-json3-dev zlib1g-dev libjpeg62-turbo-dev
  libboost-context-dev dataset-fashion-mnist gnuplot-nox python3-venv python3-numpy
  chromium-headless-shell libopenmpi-dev openmpi-bin
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "setup: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
