#!/usr/bin/env bash
# Proves a GPU bundle (tests/gpu/bundle.sh) complete, on this machine (no GPU needed):
#   1. the folder is under 60 MiB (what travels to the device machine with the source tree);
#   2. with LD_LIBRARY_PATH set to the bundle's lib/ alone, `ldd` of every ELF file in it
#      (binaries, libraries, mpirun, Open MPI's components, PMIx's plugins) resolves each
#      library inside the bundle, except glibc, libstdc++ and libgcc_s (resolved anywhere) and
#      CUDA's cudart, cuBLAS, cuBLASLt, NCCL and libcuda, which must NOT be in the bundle and
#      are the only ones allowed to be missing; and a copy of the tree with one library removed
#      fails that same test (the test can fail);
#   3. in a private mount namespace where this machine's Open MPI, PMIx, HDF5 and OpenBLAS
#      folders and every host copy of a bundled library are hidden (so a fallback to them
#      fails loudly; a negative control shows they are hidden), the bundled binaries run with
#      the bundle's libraries: CPU unit tests (parallel HDF5 checkpoints included) as an MPI
#      singleton, isolated and with the bundled orted, `ompi_info` lists the bundled
#      components, and `mpirun -np 2` of the bundled `alibi` trains two CPU steps with dp 2
#      and writes a checkpoint through MPI-IO.
#
#   tests/gpu/bundle_check.sh [BUNDLE_DIR]     # default gpu-bundle/
# Exit 77 (ctest: skipped) without nvcc or without a bundle: making one is a CUDA build,
# too slow for every CI run; tests/gpu/bundle.sh runs this check on each bundle it makes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [[ -f $HERE/payload.tar.xz ]]; then DEFAULT=$HERE; else DEFAULT=$(cd "$HERE/../.." && pwd)/gpu-bundle; fi
BUNDLE=$(realpath -m "${1:-$DEFAULT}")
LIMIT_MIB=60

skip() { echo "SKIPPED: bundle_check.sh: $*"; exit 77; }
fail() { echo "FAIL: bundle_check.sh: $*" >&2; exit 1; }
command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]] ||
  skip "no nvcc on PATH or in /usr/local/cuda/bin: no CUDA build here, so no bundle to check"
[[ -f $BUNDLE/payload.tar.xz ]] ||
  skip "no bundle at $BUNDLE: make one with tests/gpu/bundle.sh (a separate CUDA build: too slow for every CI run; it runs this check itself)"

# ---- 1. size --------------------------------------------------------------------------------
bytes=$(du -sb "$BUNDLE" | cut -f1)
((bytes <= LIMIT_MIB * 1048576)) || fail "$BUNDLE is $((bytes / 1048576)) MiB, over $LIMIT_MIB MiB"
echo "ok: size $((bytes / 1048576)) MiB ($bytes bytes) <= $LIMIT_MIB MiB"

# ---- 2. every library resolves inside the bundle ----------------------------------------------
# shellcheck source=/dev/null
source "$BUNDLE/bundle_env.sh"
TREE=$ALIBI_BUNDLE_TREE
echo "ok: unpacked into $TREE ($(du -sm "$TREE" | cut -f1) MiB)"

elf_files() {
  local f
  while IFS= read -r -d '' f; do
    if [[ $(head -c 4 "$f") == $'\x7fELF' ]]; then echo "$f"; fi
  done < <(find "$1" -type f -print0 | sort -z)
}

# closure_errors TREE: one line per library an ELF file under TREE needs that does not resolve
# as the bundle promises, with LD_LIBRARY_PATH=TREE/lib alone. Prints nothing when complete.
closure_errors() {
  local tree=$1 f soname arrow path
  while IFS= read -r f; do
    while read -r soname arrow path _; do
      [[ $arrow == "=>" ]] || continue  # the loader and the vDSO: no "=>"
      if [[ $soname =~ $ALIBI_BUNDLE_CUDA_LIBS ]]; then
        if [[ $path == "$tree"/* ]]; then
          echo "${f#"$tree"/}: $soname is in the bundle ($path): CUDA's libraries must come from the device"
        fi
      elif [[ $path == not ]]; then
        echo "${f#"$tree"/}: $soname not found"
      elif [[ $soname =~ $ALIBI_BUNDLE_SYSTEM_LIBS ]]; then
        :
      elif [[ $path != "$tree"/* ]]; then
        echo "${f#"$tree"/}: $soname resolves outside the bundle, to $path"
      fi
    done < <(LD_LIBRARY_PATH=$tree/lib ldd "$f" 2>&1)
  done < <(elf_files "$tree")
}

n_elf=$(elf_files "$TREE" | wc -l)
errors=$(closure_errors "$TREE")
[[ -z $errors ]] || { echo "$errors" >&2; fail "$(wc -l <<<"$errors") libraries do not resolve inside the bundle"; }
missing_cuda=$(for f in "$TREE"/bin/*; do LD_LIBRARY_PATH=$TREE/lib ldd "$f"; done | awk '/=>/ { print $1 }' |
               grep -E "$ALIBI_BUNDLE_CUDA_LIBS" | sort -u | paste -sd' ')
echo "ok: ldd of $n_elf ELF files: every library inside the bundle but glibc/libstdc++/libgcc_s and CUDA's ($missing_cuda)"
[[ -n $missing_cuda ]] || fail "the binaries need none of CUDA's libraries: is this a CUDA build?"

# Negative control: the same test on a copy without parallel HDF5 must fail.
control=$(mktemp -d /tmp/alibi-bundle-control.XXXXXX)
trap 'rm -rf "$control"' EXIT
cp -al "$TREE/." "$control/"
rm "$control/lib/libhdf5_openmpi.so.103"
control_errors=$(closure_errors "$control")
grep -q ": libhdf5_openmpi.so.103 " <<<"$control_errors" ||
  fail "the negative control passed: removing lib/libhdf5_openmpi.so.103 went unnoticed"
echo "ok: negative control: without lib/libhdf5_openmpi.so.103 the ldd test fails"

# ---- 3. the binaries run on the bundle's libraries alone ---------------------------------------
work=$(mktemp -d /tmp/alibi-bundle-run.XXXXXX)
trap 'rm -rf "$control" "$work"' EXIT
mkdir -p "$work/text"
cp "$BUNDLE"/src/corpus/*.cpp "$work/text/"
# The run, as a script for the namespace: each command's output to a log, scanned afterwards.
cat >"$work/inner.sh" <<'EOF'
set -uo pipefail
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cd "$WORK"
status=0
run() { local name=$1; shift; echo "+ $*" >"$name.log"; "$@" >>"$name.log" 2>&1 || { echo "exit $?" >>"$name.log"; status=1; echo "FAIL: $name"; }; }
# Negative control: without the bundle on the library path the binary cannot load.
if env LD_LIBRARY_PATH= "$TREE/bin/alibi_unit_tests" --gtest_list_tests >control.log 2>&1; then
  echo "FAIL: control: alibi_unit_tests loaded without the bundle's libraries: the host's copies are not hidden"; status=1
fi
filter='AlibiSlope.*:Grid.*:H5.*:CheckpointTest.*'
run unit_isolated "$TREE/bin/alibi_unit_tests" --gtest_filter="$filter"
OMPI_MCA_ess_singleton_isolated=0 run unit_orted "$TREE/bin/alibi_unit_tests" --gtest_filter="$filter"
run ompi_info "$TREE/ompi/bin/ompi_info"
run preprocess "$TREE/bin/alibi" preprocess --input text --output c.h5
run mpirun_np2 "$TREE/ompi/bin/mpirun" -np 2 --oversubscribe "$TREE/bin/alibi" train --data c.h5 --out-dir run \
  --layers 1 --channels 32 --heads 2 --seq-len 32 --micro-batch 2 --steps 2 --warmup 1 --eval-every 0 \
  --eval-batches 1 --log-every 1
exit $status
EOF

hide=()
if unshare -m --propagation private true 2>/dev/null; then
  # Host folders that hold what the bundle carries, and each host copy of a bundled library.
  for d in /usr/lib/x86_64-linux-gnu/openmpi /usr/lib/x86_64-linux-gnu/pmix2 /usr/lib/x86_64-linux-gnu/hdf5 \
           /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/x86_64-linux-gnu/openblas-pthread \
           /usr/share/openmpi /etc/openmpi; do
    [[ -d $d ]] && hide+=("mount -t tmpfs none $d")
  done
  for l in "$TREE"/lib/*; do
    for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib /lib; do
      h="$d/$(basename "$l")"
      [[ -e $h && ! $h -ef $l ]] && { hide+=("mount --bind /dev/null $(readlink -f "$h")"); break; }
    done
  done
  printf '%s\n' "${hide[@]}" | sort -u >"$work/hide.sh"
  echo "ok: a private mount namespace hides $(wc -l <"$work/hide.sh") host folders and libraries"
  WORK=$work TREE=$TREE unshare -m --propagation private bash -c "set -e; . '$work/hide.sh'; bash '$work/inner.sh'" \
    >"$work/result.txt" 2>&1 || true
else
  echo "note: no private mount namespace here (unshare -m refused): the host's Open MPI/HDF5/OpenBLAS stay"
  echo "      visible to dlopen; ldd above still proves the libraries, not the components and help files"
  WORK=$work TREE=$TREE bash "$work/inner.sh" >"$work/result.txt" 2>&1 || true
  sed -i '/^FAIL: control/d' "$work/result.txt"  # the control needs the namespace
fi

show() { sed 's/^/    /' "$work/$1.log" | tail -"${2:-20}" >&2; }
bad=0
while read -r line; do
  [[ $line == FAIL:* ]] || continue
  echo "$line" >&2; bad=1
  name=${line#FAIL: }; [[ -f $work/$name.log ]] && show "$name"
done <"$work/result.txt"
# Open MPI complains on stderr, not in its exit code, when a component or help text is missing.
if grep -l -E "unable to open|help file|Sorry!  You were supposed|cannot open shared object" "$work"/*.log |
     grep -v control.log >"$work/complaints"; then
  for f in $(cat "$work/complaints"); do echo "FAIL: $(basename "$f" .log) printed a loader/Open MPI complaint:" >&2; show "$(basename "$f" .log)" 8; done
  bad=1
fi
((bad == 0)) || fail "the bundled binaries did not run on the bundle's libraries (logs above)"
grep -q "PASSED" "$work/unit_isolated.log" && grep -q "PASSED" "$work/unit_orted.log" || fail "unit tests printed no PASSED"
echo "ok: alibi_unit_tests ($(grep -oE '[0-9]+ tests from [0-9]+ test suites ran' "$work/unit_isolated.log")) as a singleton, isolated and with the bundled orted"
for c in "btl: self" "btl: vader" "io: romio321" "io: ompio" "pml: ob1"; do
  grep -q "MCA $c " "$work/ompi_info.log" || { show ompi_info 30; fail "ompi_info lists no 'MCA $c' component"; }
done
grep -q "Prefix: $TREE/ompi" "$work/ompi_info.log" || { show ompi_info 30; fail "ompi_info's prefix is not the bundle's"; }
echo "ok: ompi_info: prefix $TREE/ompi; btl self+vader, pml ob1, io romio321+ompio from the bundle"
[[ -f $work/run/step_00000002.h5 ]] || { show mpirun_np2; fail "mpirun -np 2 alibi train wrote no step_00000002.h5"; }
echo "ok: mpirun -np 2 alibi train (dp 2, CPU): 2 steps, checkpoint $(du -k "$work/run/step_00000002.h5" | cut -f1) kB through parallel HDF5"
echo "bundle_check.sh: PASSED ($BUNDLE)"
