# A private single-node SLURM cluster for the e2e tests (tests/e2e/slurm.sh,
# study_slurm.sh), started when sourced after lib/common.bash: munged, slurmctld and
# slurmd on localhost with their own ports, munge socket and state under $WORK/cluster,
# 2 CPUs, SLURM_CONF exported; the EXIT trap cancels every job and stops the daemons.
# Skips the test (exit 77) without root, or when slurm-wlm and munge are missing and
# cannot be installed. slurm_wait_idle waits for the node to accept jobs.
# ---- SLURM and munge -----------------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then
  skip "a private SLURM needs root (slurmd launches jobs as their user)"
fi
have_slurm() { command -v slurmctld && command -v slurmd && command -v sbatch && command -v munged; } >/dev/null
if ! have_slurm; then
  # Not in launch/setup.sh: installing them enables slurmctld/slurmd/munge services at
  # boot on a systemd machine, which nobody who only trains should get.
  if ! command -v apt-get >/dev/null; then
    skip "slurm-wlm and munge are not installed and cannot be (no apt-get)"
  fi
  echo "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get -o DPkg::Lock::Timeout=600 update -qq &&
         apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends slurm-wlm munge; } \
         >"$WORK/apt.log" 2>&1 || ! have_slurm; then
    tail -5 "$WORK/apt.log"
    skip "could not install slurm-wlm and munge (apt-get failed: see above)"
  fi
fi

CL=$WORK/cluster
mkdir -p "$CL/state" "$CL/spool"
# munged wants every directory above its socket searchable by all.
chmod 711 "$WORK"
chmod 755 "$CL"

cleanup() {
  local code=$?
  set +e
  if [[ -f $CL/slurmctld.pid ]]; then
    # Jobs first, so that slurmd's step daemons end their ranks; then the daemons.
    local jobs; jobs=$(squeue -h -o %i 2>/dev/null)
    if [[ -n $jobs ]]; then
      scancel $jobs 2>/dev/null
      for _ in $(seq 40); do [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break; sleep 0.25; done
    fi
  fi
  local f pid
  for f in slurmd slurmctld munged; do
    [[ -f $CL/$f.pid ]] || continue
    pid=$(cat "$CL/$f.pid")
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  done
  if [[ $code -ne 0 ]]; then
    for f in "$CL"/*.log; do echo "---- $f (tail)"; tail -n 15 "$f"; done >&2
  fi
  e2e_exit "$code"
}
trap cleanup EXIT

# Two free TCP ports on localhost (a cluster already running here keeps its own).
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

head -c 1024 /dev/urandom >"$CL/munge.key"
chmod 400 "$CL/munge.key"
munged --socket="$CL/munge.sock" --key-file="$CL/munge.key" --pid-file="$CL/munged.pid" \
  --log-file="$CL/munged.log" --seed-file="$CL/munged.seed" || fail "munged did not start (see $CL/munged.log)"

# cred_expire: a requeued job may start again only after it (default 120 s); the
# scheduler intervals make the cluster notice that within a second or two.
cat >"$CL/slurm.conf" <<EOF
ClusterName=alibie2e
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=5,socket=$CL/munge.sock
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$CL/state
SlurmdSpoolDir=$CL/spool
SlurmctldPidFile=$CL/slurmctld.pid
SlurmdPidFile=$CL/slurmd.pid
SlurmctldLogFile=$CL/slurmctld.log
SlurmdLogFile=$CL/slurmd.log
ReturnToService=2
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES State=UP MaxTime=INFINITE
EOF
export SLURM_CONF=$CL/slurm.conf
slurmctld -i || fail "slurmctld did not start"
slurmd -N localhost || fail "slurmd did not start"

# slurm_wait_idle: until sinfo says the node is idle (a fresh slurmd registers in ~1 s).
slurm_wait_idle() {
  for _ in $(seq 120); do [[ $(sinfo -h -o %T 2>/dev/null) == idle ]] && break; sleep 0.25; done
  [[ $(sinfo -h -o %T) == idle ]] || fail "the SLURM node did not come up: sinfo says '$(sinfo -h -o %T)'"
}
