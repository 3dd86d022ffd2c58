#!/usr/bin/env bash
# End-to-end test of `tcpsim sweep` on a real Slurm cluster of one node, this machine:
#
#   1. builds tcpsim (release) unless TCPSIM names a binary;
#   2. installs Debian's slurm-wlm and munge if missing (re-running itself under
#      sudo when not root: the packages and the daemons need root);
#   3. writes slurm.conf and a munge key into a temporary directory, starts munged,
#      slurmctld and slurmd from there (own socket and ports: no system service is
#      touched);
#   4. submits examples/slurm/sweep.sbatch as a job array (`sbatch --wait`);
#      deletes two finished runs (an interruption) and submits the array again,
#      which must run exactly those two; merges (`tcpsim sweep PLAN --merge DIR`);
#   5. runs the same plan unsharded on this machine and compares the two sweep.csv
#      byte for byte (`cmp`);
#   6. stops the daemons by PID (trap), also on failure.
#
# Exit status 0 only if every step passed and the files are identical.
#
# Environment: PLAN (default examples/slurm/plan.toml), SHARDS (array size,
# default 3), TCPSIM (a built binary), KEEP=1 (keep the temporary directory),
# SLURM_E2E_PORT (slurmctld port, default 16817; slurmd uses the next one).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PLAN=$(realpath "${PLAN:-$ROOT/examples/slurm/plan.toml}")
SHARDS=${SHARDS:-3}
PORT=${SLURM_E2E_PORT:-16817}
T0=$(date +%s)

log() { printf '== %s (+%ss)\n' "$*" "$(($(date +%s) - T0))"; }
die() { printf 'slurm-e2e: FAIL: %s\n' "$*" >&2; exit 1; }

# --- 1. tcpsim (as the calling user: cargo may not be on root's PATH) ----------
if [ -z "${TCPSIM:-}" ]; then
    log "building tcpsim (release)"
    (cd "$ROOT" && cargo build --release -q -p scenarios --bin tcpsim)
    TCPSIM="${CARGO_TARGET_DIR:-$ROOT/target}/release/tcpsim"
fi
TCPSIM=$(realpath "$TCPSIM")
[ -x "$TCPSIM" ] || die "no tcpsim binary at $TCPSIM"
export TCPSIM PLAN SHARDS

# The daemons run as root (SlurmUser=root) and packages need root: re-run under sudo.
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "needs root (or sudo) to install packages and run the Slurm daemons"
    exec sudo --preserve-env=TCPSIM,PLAN,SHARDS,KEEP,SLURM_E2E_PORT "$0" "$@"
fi

# --- 2. packages ---------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 || {
        apt-get update -qq
        apt-get install -y -qq slurm-wlm munge >/dev/null
    }
fi

# --- 3. the cluster ------------------------------------------------------------
WORK=$(mktemp -d /tmp/tcpsim-slurm-e2e.XXXXXX)
chmod 755 "$WORK" # the munge user must reach its directory inside
PIDS=()
cleanup() {
    status=$?
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        # Not our children (munged daemonizes): poll until they are gone.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" = 1 ] || [ $status -ne 0 ]; then
        echo "slurm-e2e: logs and results kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit $status
}
trap cleanup EXIT INT TERM

MUNGE=$WORK/munge
install -d -o munge -g munge -m 700 "$MUNGE"
dd if=/dev/urandom of="$MUNGE/munge.key" bs=1024 count=1 status=none
chown munge:munge "$MUNGE/munge.key"
chmod 400 "$MUNGE/munge.key"
log "starting munged"
runuser -u munge -- /usr/sbin/munged --force \
    --key-file="$MUNGE/munge.key" --socket="$MUNGE/munge.socket" \
    --pid-file="$MUNGE/munged.pid" --log-file="$MUNGE/munged.log" \
    --seed-file="$MUNGE/munged.seed"
for _ in $(seq 50); do [ -s "$MUNGE/munged.pid" ] && break; sleep 0.1; done
[ -s "$MUNGE/munged.pid" ] || die "munged did not start: $(cat "$MUNGE/munged.log" 2>/dev/null)"
PIDS+=("$(cat "$MUNGE/munged.pid")")
chmod 755 "$MUNGE" # clients (slurmctld, slurmd, sbatch) connect to the socket

STATE=$WORK/slurm
mkdir -p "$STATE/ctld" "$STATE/d"
export SLURM_CONF=$WORK/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=tcpsim-e2e
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE/munge.socket
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

log "starting slurmctld and slurmd"
slurmctld -D -i >"$STATE/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N localhost >"$STATE/slurmd.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    [ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ] && break
    sleep 0.2
done
[ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ] \
    || die "the node is not idle: $(sinfo 2>&1); see $STATE/*.log"
log "cluster up: $(sinfo -h -o '%P %D %T %c CPUs')"

# --- 4. the array, then merge --------------------------------------------------
OUT=$WORK/sharded
cd "$WORK"
log "sbatch --wait --array=0-$((SHARDS - 1)) sweep.sbatch"
TCPSIM=$TCPSIM sbatch --wait --quiet --array=0-$((SHARDS - 1)) --cpus-per-task=1 \
    --output="$WORK/task-%a.out" --export=ALL \
    "$ROOT/examples/slurm/sweep.sbatch" "$PLAN" "$OUT" \
    || { cat "$WORK"/task-*.out >&2 || true; die "the array job failed"; }
for f in "$WORK"/task-*.out; do sed "s/^/  $(basename "$f" .out): /" "$f"; done
[ ! -e "$OUT/sweep.csv" ] || die "a shard wrote sweep.csv"

# An interrupted cluster sweep: runs lost (as if their tasks were killed before the
# rename), then the same array submitted again must run exactly those.
lost=$(find "$OUT/runs" -mindepth 1 -maxdepth 1 -name 'p*' | sort | sed -n '2p;5p')
rm -rf $lost
log "resubmitting the array after deleting $(echo $lost | wc -w) runs"
rm -f "$WORK"/task-*.out
TCPSIM=$TCPSIM sbatch --wait --quiet --array=0-$((SHARDS - 1)) --cpus-per-task=1 \
    --output="$WORK/task-%a.out" --export=ALL \
    "$ROOT/examples/slurm/sweep.sbatch" "$PLAN" "$OUT" \
    || { cat "$WORK"/task-*.out >&2 || true; die "the re-submitted array job failed"; }
reran=$(cat "$WORK"/task-*.out | sed -n 's/.*: ran \([0-9]*\),.*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
[ "$reran" = 2 ] || die "the re-submitted array ran $reran runs, expected the 2 lost ones"

log "merging"
"$TCPSIM" sweep "$PLAN" --merge "$OUT"

# --- 5. the same sweep here ----------------------------------------------------
log "unsharded local sweep"
"$TCPSIM" sweep "$PLAN" --out "$WORK/local" --quiet
cmp "$OUT/sweep.csv" "$WORK/local/sweep.csv" || die "sweep.csv of the Slurm array differs from the local sweep"
runs=$(($(wc -l <"$OUT/sweep.csv") - 1))
log "PASS: $runs runs in $SHARDS array tasks, merged sweep.csv identical to the local sweep"
