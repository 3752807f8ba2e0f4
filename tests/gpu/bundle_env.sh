# The GPU bundle's environment (tests/gpu/bundle.sh makes the bundle): sourced by run.sh
# and bundle_check.sh from inside a bundle folder. It unpacks the bundle's payload once
# per payload (payload.tar.xz holds the binaries and the Debian libraries; compressed because
# OpenBLAS alone is 36 MB of the 64 MiB a device call may carry) and points the dynamic
# loader, Open MPI and PMIx at the unpacked tree, and at nothing of this machine's:
#
#   . gpu-bundle/bundle_env.sh       # sets ALIBI_BUNDLE, ALIBI_BUNDLE_TREE and the variables below
#   ldd "$ALIBI_BUNDLE_TREE/bin/alibi"
#
# The tree lives in $ALIBI_BUNDLE_TREE (default ${TMPDIR:-/tmp}/alibi-gpu-bundle-<payload
# sha256>), outside the bundle folder so that the folder stays small enough to carry.
# Needs tar with xz, or python3; nothing else. The CUDA libraries (cudart, cuBLAS, NCCL) are
# not in the bundle: run.sh finds the device's and appends their folders to LD_LIBRARY_PATH.

# Libraries the bundle leaves to the machine: the C library and the compiler's runtime
# (every Linux with a CUDA driver has them, newer than Debian 12's), ...
ALIBI_BUNDLE_SYSTEM_LIBS='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libmvec\.so\.1|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libresolv\.so\.2|libutil\.so\.1|libanl\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1)$'
# ... and CUDA's, which must come from the device (its driver decides which work).
ALIBI_BUNDLE_CUDA_LIBS='^(libcuda\.so\.1|libcudart\.so\.13|libcublas\.so\.13|libcublasLt\.so\.13|libnccl\.so\.2)$'

alibi_bundle_unpack() {
  ALIBI_BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  local payload=$ALIBI_BUNDLE/payload.tar.xz sha
  if [[ ! -f $payload || ! -f $ALIBI_BUNDLE/payload.sha256 ]]; then
    echo "bundle_env.sh: $ALIBI_BUNDLE has no payload.tar.xz/payload.sha256: make the bundle with tests/gpu/bundle.sh" >&2
    return 1
  fi
  sha=$(cut -c1-16 "$ALIBI_BUNDLE/payload.sha256")
  ALIBI_BUNDLE_TREE=${ALIBI_BUNDLE_TREE:-${TMPDIR:-/tmp}/alibi-gpu-bundle-$sha}
  if [[ ! -e $ALIBI_BUNDLE_TREE/.unpacked ]]; then
    local tmp="$ALIBI_BUNDLE_TREE.tmp.$$"
    rm -rf "$tmp" && mkdir -p "$tmp" || return 1
    if command -v xz >/dev/null; then
      xz -dc "$payload" | tar -xf - -C "$tmp" || { echo "bundle_env.sh: unpacking $payload failed" >&2; return 1; }
    else  # no xz: Python's lzma reads it
      python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$payload" "$tmp" ||
        { echo "bundle_env.sh: unpacking $payload failed (no xz; python3 could not either)" >&2; return 1; }
    fi
    touch "$tmp/.unpacked"
    rm -rf "$ALIBI_BUNDLE_TREE" && mv "$tmp" "$ALIBI_BUNDLE_TREE" || return 1
  fi
}
alibi_bundle_unpack || return 1 2>/dev/null || exit 1

export ALIBI_BUNDLE ALIBI_BUNDLE_TREE
export LD_LIBRARY_PATH="$ALIBI_BUNDLE_TREE/lib"
export PATH="$ALIBI_BUNDLE_TREE/bin:$ALIBI_BUNDLE_TREE/ompi/bin:$PATH"
# Open MPI finds its components (lib/.../openmpi3), help texts (share/openmpi) and orted
# (bin) under OPAL_PREFIX; Debian's sysconfdir (/etc/openmpi) is not under the prefix, so it
# is named too. PMIx (mpirun's launcher and the ranks' client): Debian built it with absolute
# folders under /usr/lib/x86_64-linux-gnu/pmix2, which PMIX_PREFIX does not move, so each
# folder it reads (plugins, help texts, its parameter file) is named.
export OPAL_PREFIX="$ALIBI_BUNDLE_TREE/ompi"
export OPAL_SYSCONFDIR="$ALIBI_BUNDLE_TREE/ompi/etc/openmpi"
export PMIX_PREFIX="$ALIBI_BUNDLE_TREE/pmix"
export PMIX_LIBDIR="$PMIX_PREFIX/lib" PMIX_PKGLIBDIR="$PMIX_PREFIX/lib/pmix"
export PMIX_DATADIR="$PMIX_PREFIX/share" PMIX_PKGDATADIR="$PMIX_PREFIX/share/pmix" PMIX_SYSCONFDIR="$PMIX_PREFIX/share"
# A process started without mpirun (every run.sh step) is an MPI world of one; "isolated"
# keeps it from forking an orted daemon it would never use (bundle_check.sh tests both).
export OMPI_MCA_ess_singleton_isolated=${OMPI_MCA_ess_singleton_isolated:-1}
# GPU machines run commands as root; mpirun refuses that without these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
