#!/usr/bin/env bash
# Makes the GPU bundle: one folder that runs every GPU check on a machine with a GPU and a
# CUDA driver but none of our other dependencies (no Open MPI, HDF5, Boost, OpenBLAS, no
# network, no apt), such as the device machine (one H200: CUDA 13 and PyTorch's cuBLAS and
# NCCL wheels, nothing else of ours).
#
#   tests/gpu/bundle.sh [BUNDLE_DIR]     # default gpu-bundle/ (git-ignored); builds in build-bundle/
#   # then, on the GPU machine, from the folder's parent:
#   gpu-bundle/run.sh [OUT_DIR]
#
# 1. builds (here; no GPU needed) `alibi`, the GPU tests, the GPU benchmarks and the CPU unit
#    tests with the CUDA backend for sm_90, in its own build folder;
# 2. takes every shared library they, mpirun and Open MPI's components need that a bare CUDA
#    machine lacks from the Debian package that owns it here (dpkg -S, then `apt-get download`
#    of the installed version and `dpkg -x`): never a copy of this machine's /usr/lib. Left to
#    the machine: glibc, libstdc++, libgcc_s (bundle_env.sh lists them) and CUDA's cudart,
#    cuBLAS, cuBLASLt and NCCL, which run.sh finds on the device;
# 3. packs them into payload.tar.xz (bundle_env.sh unpacks it) beside run.sh, the scripts and
#    configs the run reads, and MANIFEST.txt (each file and the package it came from);
# 4. checks the folder is under 60 MiB (what one device call may carry, with the source tree)
#    and runs tests/gpu/bundle_check.sh on it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUNDLE=$(realpath -m "${1:-$ROOT/gpu-bundle}")
BUILD=${ALIBI_BUNDLE_BUILD:-$ROOT/build-bundle}
SCRATCH=$BUILD/bundle-scratch   # debs/ (kept between runs), root/ (their files), tree/ (the payload)
LIMIT_MIB=60
TARGETS=(alibi alibi_gpu_tests alibi_gpu_mpi_tests alibi_unit_tests bench_gpu_attention bench_gpu_gemm bench_gpu_train)
# Open MPI's launcher, components and help texts, and PMIx's plugins: found by no ldd.
MPI_PACKAGES=(openmpi-bin libopenmpi3 openmpi-common libpmix2)
# Open MPI components that need these stay behind: network fabrics (InfiniBand, OFI, UCX,
# PSM), OpenSHMEM and netlink. One GPU machine talks to itself through shared memory.
FABRIC_LIBS='^(libuc[mpst]|libfabric|libibverbs|librdmacm|libefa|libpsm|libinfinipath|liboshmem|libnl-|libnuma|libmca_common_(ucx|ofi|verbs))'

say() { echo "bundle.sh: $*"; }
die() { echo "bundle.sh: $*" >&2; exit 1; }
# shellcheck source=/dev/null
eval "$(grep -E '^ALIBI_BUNDLE_(SYSTEM|CUDA)_LIBS=' "$ROOT/tests/gpu/bundle_env.sh")"

# ---- 1. build ------------------------------------------------------------------------------
command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]] ||
  die "no nvcc on PATH or in /usr/local/cuda/bin: the bundle's binaries need the CUDA toolkit (no GPU)"
# The GPU machine's CPU is not this one: -march=native here (Zen 4, AVX-512) could emit
# instructions its host lacks; x86-64-v3 (AVX2, FMA) runs on every H100/H200 host. No RPATH:
# the bundle resolves every library through LD_LIBRARY_PATH, and only there.
say "building in $BUILD (nice; a first CUDA build takes a while on a shared machine)"
mkdir -p "$BUILD"
nice cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DALIBI_CUDA=ON -DALIBI_NATIVE=OFF \
  -DCMAKE_CXX_FLAGS=-march=x86-64-v3 -DCMAKE_SKIP_RPATH=ON >"$BUILD/bundle-configure.log" 2>&1 ||
  { tail -20 "$BUILD/bundle-configure.log" >&2; die "cmake configure failed (log: $BUILD/bundle-configure.log)"; }
targets=()
known=$(cmake --build "$BUILD" --target help)
for t in "${TARGETS[@]}"; do
  if grep -qw -- "$t" <<<"$known"; then targets+=("$t"); else say "no target $t here: left out"; fi
done
nice cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}" >"$BUILD/bundle-build.log" 2>&1 ||
  { tail -30 "$BUILD/bundle-build.log" >&2; die "build failed (log: $BUILD/bundle-build.log)"; }

# ---- 2. Debian packages ----------------------------------------------------------------------
DEBS=$SCRATCH/debs XROOT=$SCRATCH/root TREE=$SCRATCH/tree
rm -rf "$XROOT" "$TREE"
mkdir -p "$DEBS" "$XROOT" "$TREE/bin" "$TREE/lib"
declare -A FETCHED  # package -> version, once unpacked into $XROOT

# fetch PKG: the installed version's .deb (kept in $DEBS between runs), unpacked into $XROOT.
# Where the archive no longer has that build (a binNMU or stable update replaced it), the
# candidate version: the same library rebuilt, same soname; the manifest says which.
fetch() {
  local pkg=${1%%:*} ver cand deb dir have=""
  [[ -n ${FETCHED[$pkg]:-} ]] && return 0
  ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) ||
    die "$pkg is not installed here: run launch/setup.sh (the bundle carries the version this build linked)"
  cand=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
  dir=$DEBS/$pkg
  deb=$(find "$dir" -name '*.deb' 2>/dev/null | head -1 || true)
  [[ -n $deb ]] && have=$(dpkg-deb -f "$deb" Version)
  if [[ -z $deb || ($have != "$ver" && $have != "$cand") ]]; then
    rm -rf "$dir" && mkdir -p "$dir"
    if ! (cd "$dir" && apt-get download -q "$pkg=$ver" >apt.log 2>&1); then
      [[ -n $cand && $cand != "(none)" && $cand != "$ver" ]] &&
        (cd "$dir" && apt-get download -q "$pkg=$cand" >apt.log 2>&1) ||
        die "apt-get download $pkg=$ver failed ($(tail -1 "$dir/apt.log")); run apt-get update and retry"
      say "  $pkg: the archive no longer has the installed $ver; took its candidate $cand"
    fi
    deb=$(find "$dir" -name '*.deb' | head -1)
  fi
  dpkg -x "$deb" "$XROOT"
  FETCHED[$pkg]=$(dpkg-deb -f "$deb" Version)
  [[ ${FETCHED[$pkg]} == "$ver" ]] || FETCHED[$pkg]+=" (installed: $ver)"
}

# owner PATH: "package<TAB>the path as dpkg lists it" (merged /usr: a library may be listed
# under /lib or /usr/lib, and through an alternatives link under another name).
owner() {
  local p=$1 real c out
  real=$(readlink -f "$p")
  for c in "$real" "${real#/usr}" "/usr$real" "$p" "${p#/usr}" "/usr$p"; do
    out=$(dpkg -S "$c" 2>/dev/null | grep -v '^diversion' | head -1) || continue
    [[ -n $out ]] && { printf '%s\t%s\n' "${out%%: *}" "$c"; return 0; }
  done
  return 1
}

# elf_files DIR: the ELF files under DIR.
elf_files() {
  local f
  while IFS= read -r -d '' f; do
    if [[ $(head -c 4 "$f") == $'\x7fELF' ]]; then echo "$f"; fi
  done < <(find "$1" -type f -print0 | sort -z)
}

# deps FILE...: "soname<TAB>resolved path | not found" for each library they need (ldd: transitively).
deps() {
  local f
  for f; do ldd "$f" 2>/dev/null | awk '/=>/ { print $1 "\t" ($3 == "not" ? "not found" : $3) }' || true; done | sort -u
}

MANIFEST=$SCRATCH/MANIFEST.txt
: >"$MANIFEST"
record() { printf '%-70s %s\n' "$1" "$2" >>"$MANIFEST"; }

say "staging the binaries"
for t in "${targets[@]}"; do
  f=$(find "$BUILD" -type f -name "$t" -perm -u+x -not -path '*/CMakeFiles/*' | head -1)
  [[ -n $f ]] || die "built $t but cannot find it under $BUILD"
  cp "$f" "$TREE/bin/$t"
  record "bin/$t" "built here (${f#"$BUILD"/})"
done

say "staging Open MPI and PMIx (${MPI_PACKAGES[*]})"
for p in "${MPI_PACKAGES[@]}"; do fetch "$p"; done
OMPI_PKGLIB=lib/x86_64-linux-gnu/openmpi/lib/openmpi3  # under the prefix, as Debian's build expects
mkdir -p "$TREE/ompi/bin" "$TREE/ompi/$OMPI_PKGLIB" "$TREE/ompi/share" "$TREE/ompi/etc" "$TREE/pmix/lib" "$TREE/pmix/share"
cp -L "$XROOT/usr/bin/orterun" "$TREE/ompi/bin/mpirun"  # Debian's mpirun is a link to orterun
cp -L "$XROOT/usr/bin/orted" "$XROOT/usr/bin/ompi_info" "$TREE/ompi/bin/"
cp -rL "$XROOT/usr/share/openmpi" "$TREE/ompi/share/"
cp -rL "$XROOT/etc/openmpi" "$TREE/ompi/etc/"
for f in ompi/bin/mpirun ompi/bin/orted ompi/bin/ompi_info ompi/share/openmpi ompi/etc/openmpi; do
  record "$f" "from ${f##*/}'s package (openmpi-bin/openmpi-common ${FETCHED[openmpi-bin]})"
done
dropped=()
for c in "$XROOT/usr/$OMPI_PKGLIB"/*.so; do
  need=$(deps "$c" | cut -f1 | grep -E "$FABRIC_LIBS" | tr '\n' ' ' || true)
  if [[ -n $need ]]; then dropped+=("$(basename "$c" .so)"); continue; fi
  cp "$c" "$TREE/ompi/$OMPI_PKGLIB/"
done
record "ompi/$OMPI_PKGLIB/*.so" "libopenmpi3 ${FETCHED[libopenmpi3]} (less ${#dropped[@]} fabric/OpenSHMEM components)"
say "  left out ${#dropped[@]} Open MPI components that need a network fabric or OpenSHMEM: ${dropped[*]}"
PMIX=usr/lib/x86_64-linux-gnu/pmix2
cp -rL "$XROOT/$PMIX/lib/pmix" "$TREE/pmix/lib/"
cp -rL "$XROOT/$PMIX/share/." "$TREE/pmix/share/"
record "pmix/lib/pmix, pmix/share" "libpmix2 ${FETCHED[libpmix2]}"

say "collecting the libraries from their packages"
for pass in 1 2 3 4; do
  added=0
  while IFS=$'\t' read -r soname path; do
    [[ $soname =~ $ALIBI_BUNDLE_SYSTEM_LIBS || $soname =~ $ALIBI_BUNDLE_CUDA_LIBS ]] && continue
    [[ -e $TREE/lib/$soname ]] && continue
    [[ $path == "not found" ]] && die "$soname, needed by the staged files, is on no library path here: install its package"
    o=$(owner "$path") || die "no Debian package owns $path ($soname): the bundle takes libraries from packages only"
    pkg=${o%%$'\t'*} listed=${o#*$'\t'}
    fetch "$pkg"
    src=$(readlink -f "$XROOT$listed")
    [[ $src == "$XROOT"/* && -f $src ]] || die "$pkg's .deb has no file $listed (for $soname)"
    cp "$src" "$TREE/lib/$soname"
    record "lib/$soname" "$pkg ${FETCHED[${pkg%%:*}]} ($listed)"
    added=$((added + 1))
  done < <(LD_LIBRARY_PATH=$TREE/lib deps $(elf_files "$TREE"))
  say "  pass $pass: $added libraries"
  ((added)) || break
done
((added == 0)) || die "library collection did not settle after 4 passes"

# The glibc and libstdc++ versions the bundle needs: the GPU machine must have at least these.
glibc=$(for f in $(elf_files "$TREE"); do objdump -T "$f" 2>/dev/null; done | grep -oE 'GLIBC_[0-9.]+' | sort -uV | tail -1)
glibcxx=$(for f in $(elf_files "$TREE"); do objdump -T "$f" 2>/dev/null; done | grep -oE 'GLIBCXX_[0-9.]+' | sort -uV | tail -1)
echo "$glibc $glibcxx" >"$TREE/NEEDS"
record "NEEDS" "the newest glibc and libstdc++ symbol versions any file uses: $glibc $glibcxx"

# ---- 3. the folder ----------------------------------------------------------------------------
say "packing payload.tar.xz (xz -9: one stream, so the seven binaries' shared code compresses once)"
rm -rf "$BUNDLE.new" && mkdir -p "$BUNDLE.new/src/tests/e2e/lib" "$BUNDLE.new/src/launch" "$BUNDLE.new/src/corpus"
tar -C "$TREE" --sort=name --owner=0 --group=0 --numeric-owner -cf - . | xz -9 -T1 >"$BUNDLE.new/payload.tar.xz"
sha256sum "$BUNDLE.new/payload.tar.xz" | cut -d' ' -f1 >"$BUNDLE.new/payload.sha256"
cp "$ROOT/tests/gpu/run.sh" "$ROOT/tests/gpu/bundle_env.sh" "$ROOT/tests/gpu/bundle_check.sh" "$BUNDLE.new/"
cp "$ROOT/tests/e2e/train_gpu.sh" "$BUNDLE.new/src/tests/e2e/"
cp "$ROOT/tests/e2e/lib/common.bash" "$BUNDLE.new/src/tests/e2e/lib/"
cp -r "$ROOT/launch/configs" "$BUNDLE.new/src/launch/"
# Text for the end-to-end test's corpus (make_text_corpus reads *.cpp over 4 kB under its SRC).
find "$ROOT/kernels" "$ROOT/layers" "$ROOT/train" -name '*.cpp' -size +4k | sort | head -8 |
  xargs -I{} cp {} "$BUNDLE.new/src/corpus/"
{
  echo "GPU bundle of alibi-train $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'), made $(date -u +%FT%TZ) by tests/gpu/bundle.sh"
  echo "payload.tar.xz unpacks (bundle_env.sh) into bin/ lib/ ompi/ pmix/; each file and where it came from:"
  sort "$MANIFEST"
} >"$BUNDLE.new/MANIFEST.txt"
cat >"$BUNDLE.new/README.txt" <<'EOF'
alibi-train GPU bundle (tests/gpu/bundle.sh). On a machine with an NVIDIA GPU, a CUDA 13
driver and cuBLAS/NCCL (the toolkit's, or PyTorch's nvidia-* wheels), from this folder's parent:

    gpu-bundle/run.sh [OUT_DIR]        # every GPU check, about 8 minutes; logs in OUT_DIR ($OUT)
    gpu-bundle/run.sh --quick          # the probe and the GPU tests only
    gpu-bundle/run.sh --dry-run        # what it would run

No build, no network, no package manager: the binaries and every library they need except
glibc, libstdc++ and CUDA's are in payload.tar.xz (see MANIFEST.txt).
EOF
# The previous bundle's unpacked tree (bundle_env.sh's default place) is stale now.
if [[ -f $BUNDLE/payload.sha256 ]]; then
  old_tree=${TMPDIR:-/tmp}/alibi-gpu-bundle-$(cut -c1-16 "$BUNDLE/payload.sha256")
  [[ -e $old_tree/.unpacked ]] && rm -rf "$old_tree"
fi
rm -rf "$BUNDLE" && mv "$BUNDLE.new" "$BUNDLE"

# ---- 4. size and check ------------------------------------------------------------------------
tree_mib=$(du -sm "$TREE" | cut -f1)
bundle_bytes=$(du -sb "$BUNDLE" | cut -f1)
say "bundle $BUNDLE: $((bundle_bytes / 1048576)) MiB ($tree_mib MiB unpacked; $(wc -l <"$MANIFEST") manifest lines)"
((bundle_bytes <= LIMIT_MIB * 1048576)) || die "the bundle is over $LIMIT_MIB MiB: it would not travel with the source tree"
bash "$ROOT/tests/gpu/bundle_check.sh" "$BUNDLE"
say "carry $BUNDLE to the GPU machine and run: $(basename "$BUNDLE")/run.sh [OUT_DIR]   (--dry-run to see the steps)"
