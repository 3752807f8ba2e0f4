#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 machine (run as root, or with sudo available):
# installs the Debian packages alibi-train builds and runs with, skipping what is present.
# Fast (no apt call at all) when everything is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ccache pkg-config python3
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools zlib1g-dev
  libboost-program-options-dev libboost-dev nlohmann-json3-dev
  libopenblas-openmp-dev
  libdnnl-dev          # oneDNN: the CPU's fp32 GEMM (ALIBI_GEMM=onednn, the default) and its bf16 products
  libgtest-dev googletest
  linux-doc-6.1
  gnuplot-nox
  python3-numpy python3-scipy python3-matplotlib   # alibi study report (fits, plots); /usr/bin/python3
)
# Optional extras used by benchmarks / interop checks; installed with ALIBI_SETUP_EXTRAS=1.
EXTRAS=(python3-h5py python3-torch libopenblas0-openmp libtcmalloc-minimal4
        libblis-openmp-dev   # -DALIBI_GEMM=blis
        linux-perf           # bench/profile_step.sh
        slurm-wlm munge)  # tests/e2e/slurm.sh (it installs these two itself when missing)
if [[ "${ALIBI_SETUP_EXTRAS:-0}" == 1 ]]; then PACKAGES+=("${EXTRAS[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The serial HDF5 development package makes CMake's FindHDF5 pick the serial h5cc.
if dpkg-query -W -f='${Status}' libhdf5-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "setup: note: libhdf5-dev (serial) is installed; the build forces the parallel HDF5" >&2
fi

if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all packages present"
