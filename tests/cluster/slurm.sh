#!/usr/bin/env bash
# A single-node Slurm with accounting on this machine, for the cluster tests (`make test-cluster`).
#
#   tests/cluster/slurm.sh start   # install (Debian packages, as root), start, wait until the node is idle;
#                                  # the last line printed is `export SLURM_CONF=<state dir>/slurm.conf`
#   tests/cluster/slurm.sh stop    # stop the daemons this script started, and only those
#
# slurmctld and slurmd on this host (proctrack/linuxproc, task/none: no cgroups needed), slurmdbd on
# a private MariaDB (so `sacct`, which submitit polls for job states, works), munge (reused when one
# already answers). Everything lives under $UNLEARN_SLURM_DIR (default /tmp/unlearn-slurm): configs,
# database, logs and the pid files of what it started. Its own ports (below), its own cluster name and
# SLURM_CONF, so a real Slurm on the same host is never touched. KillWait is 10 s (a job has 10 s
# between SIGTERM and SIGKILL at its time limit or on scancel), short for tests.
# Exit 3 with one line where it cannot be done (Slurm missing and no root or no apt-get).
set -euo pipefail

DIR=${UNLEARN_SLURM_DIR:-/tmp/unlearn-slurm}
CTLD_PORT=${UNLEARN_SLURM_PORT:-16817}
SLURMD_PORT=$((CTLD_PORT + 1))
DBD_PORT=$((CTLD_PORT + 2))
DB_PORT=$((CTLD_PORT + 3))
DB_PASS=unlearn-tests                        # a database on 127.0.0.1 that lives as long as the test cluster
HOST=$(hostname -s)
# job slots: at least 4 even on a 2-core machine (slurmd accepts the count, config_overrides), since the
# tests' gated jobs mostly wait; one job asks for one CPU (hydra/launcher=slurm_cpu)
SLOTS=${UNLEARN_SLURM_CPUS:-$(( $(nproc) > 4 ? $(nproc) : 4 ))}
PACKAGES=(slurm-wlm slurmdbd munge mariadb-server mariadb-client)
COMMANDS=(sbatch sacct slurmctld slurmd slurmdbd munged mariadbd mariadb-install-db)
export SLURM_CONF=$DIR/slurm.conf

say() { echo "slurm.sh: $*" >&2; }
die() { say "$1"; exit "${2:-1}"; }
alive() { [[ -f $DIR/pids/$1 ]] && kill -0 "$(cat "$DIR/pids/$1")" 2>/dev/null; }

install_packages() {
    local missing=()
    for cmd in "${COMMANDS[@]}"; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
    [[ ${#missing[@]} -eq 0 ]] && return
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null ||
        die "cannot start a test Slurm: ${missing[*]} missing, and installing ${PACKAGES[*]} needs root and apt-get" 3
    say "installing ${PACKAGES[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >"$DIR/apt.log" 2>&1 ||
        die "apt-get install failed: see $DIR/apt.log"
}

# run "$@" in the background as daemon $name, its pid in pids/$name
daemon() {
    local name=$1; shift
    "$@" >"$DIR/log/$name.out" 2>&1 &
    echo $! >"$DIR/pids/$name"
}

wait_for() {  # wait_for <seconds> <what> <command...>
    local seconds=$1 what=$2; shift 2
    for _ in $(seq $((seconds * 2))); do "$@" >/dev/null 2>&1 && return; sleep 0.5; done
    die "$what did not come up within $seconds s (logs: $DIR/log/)"
}

start_munge() {
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi   # one already answers: not ours to start
    install -d -o munge -g munge -m 0755 /run/munge
    [[ -s /etc/munge/munge.key ]] || setpriv --reuid=munge --regid=munge --init-groups mungekey --create
    daemon munged setpriv --reuid=munge --regid=munge --init-groups munged --foreground  # execs: the pid is munged's
    wait_for 20 munged bash -c 'munge -n </dev/null | unmunge'
}

start_database() {
    if [[ ! -d $DIR/db/mysql ]]; then
        mariadb-install-db --user=root --datadir="$DIR/db" --auth-root-authentication-method=socket \
            >"$DIR/log/mariadb-install.out" 2>&1 || die "mariadb-install-db failed: see $DIR/log/mariadb-install.out"
    fi
    daemon mariadbd mariadbd --user=root --datadir="$DIR/db" --socket="$DIR/mariadb.sock" --port="$DB_PORT" \
        --bind-address=127.0.0.1 --skip-name-resolve
    wait_for 60 MariaDB mariadb-admin --socket="$DIR/mariadb.sock" ping
    mariadb --socket="$DIR/mariadb.sock" -e "
        CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
}

write_configs() {
    local memory_mb
    memory_mb=$(awk '/MemTotal/ {print int($2 / 1024) - 512}' /proc/meminfo)
    cat >"$DIR/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/slurmdbd.pid
EOF
    chmod 600 "$DIR/slurmdbd.conf"
    cat >"$SLURM_CONF" <<EOF
ClusterName=unlearn-tests
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/slurmd
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
JobAcctGatherType=jobacct_gather/none
KillWait=10
SlurmdParameters=config_overrides
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$SLOTS RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

node_idle() { [[ $(sinfo -h -N -n "$HOST" -o %t 2>/dev/null) == idle ]]; }

# jobs a killed test run left on the test cluster: cancelled, so that every run starts on an idle node
cancel_leftovers() {
    local jobs
    jobs=$(squeue -h -o %A 2>/dev/null || true)
    [[ -z $jobs ]] && return
    say "cancelling jobs left by an earlier run: $(echo $jobs)"
    scancel $jobs 2>/dev/null || true
}

start() {
    mkdir -p "$DIR"/{log,pids,ctld,slurmd}
    install_packages
    start_munge
    alive mariadbd || start_database
    write_configs
    alive slurmdbd || daemon slurmdbd slurmdbd -D
    wait_for 60 slurmdbd sacctmgr -n list cluster
    sacctmgr -i add cluster unlearn-tests >/dev/null 2>&1 || true   # present already on a restart
    alive slurmctld || daemon slurmctld slurmctld -D -i
    alive slurmd || daemon slurmd slurmd -D
    wait_for 60 slurmctld squeue -h
    cancel_leftovers
    wait_for 60 "the node (sinfo: idle)" node_idle
    wait_for 30 "accounting (sacct)" sacct -n -X -S now
    say "Slurm up: node $HOST, $SLOTS job slots on $(nproc) cores, state in $DIR"
    echo "export SLURM_CONF=$SLURM_CONF"
}

stop() {
    local name pid
    alive slurmctld && cancel_leftovers
    for name in slurmd slurmctld slurmdbd mariadbd munged; do
        [[ -f $DIR/pids/$name ]] || continue
        pid=$(cat "$DIR/pids/$name")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        fi
        rm -f "$DIR/pids/$name"
    done
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    *) die "usage: $0 start|stop" 2 ;;
esac
