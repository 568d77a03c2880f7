#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, with accounting, for CI and for trying the
# SLURM profile (profiles/slurm) without a real cluster.
#
#   scripts/slurm-local.sh install  only install the packages (apt-get) when missing
#   scripts/slurm-local.sh start    install when missing, configure, start, wait until ready
#   scripts/slurm-local.sh status   daemons, sinfo and sacct; exit 0 when the cluster answers
#   scripts/slurm-local.sh stop     stop the daemons this script started
#   scripts/slurm-local.sh env      the line to paste into a shell: export SLURM_CONF=...
#
# Debian's slurm-wlm, slurmdbd, munge and mariadb-server; no systemd needed (the daemons
# are started directly). One node (this machine: `hostname -s`, `nproc` CPUs, its memory
# less a margin), one partition `ecoae` (the default), one account `ecoae` holding the
# calling user and root. Memory is a consumable (CR_Core_Memory) and a job step that goes
# over its --mem is killed (OUT_OF_MEMORY), as on a real cluster.
#
# State (configuration, logs, spool, pid files) lives in $ECOAE_SLURM_DIR
# (default /tmp/ecoae-slurm); `start` is idempotent. Exit code 77 (the "skip" code of
# test harnesses) when the cluster cannot be set up here: not root, or no apt-get for
# missing packages.
#
# Environment: ECOAE_SLURM_DIR, ECOAE_SLURM_TIMEOUT (seconds to wait for the cluster,
# default 120), ECOAE_SLURM_MEM_MARGIN_MB (memory kept back from the node, default 1024).
set -euo pipefail

STATE=${ECOAE_SLURM_DIR:-/tmp/ecoae-slurm}
TIMEOUT=${ECOAE_SLURM_TIMEOUT:-120}
MARGIN_MB=${ECOAE_SLURM_MEM_MARGIN_MB:-1024}
CLUSTER=ecoae
PARTITION=ecoae
ACCOUNT=ecoae
DB=ecoae_slurm_acct_db
DB_USER=slurm
DB_PASSWORD=ecoae-local-slurm
CONF_DIR=$STATE/etc
export SLURM_CONF=$CONF_DIR/slurm.conf
MARKER="# written by ecoae scripts/slurm-local.sh"
PACKAGES=(slurm-wlm slurmdbd munge mariadb-server)

say() { echo "slurm-local: $*" >&2; }
die() { say "error: $*"; exit 1; }
skip() { say "cannot start a local SLURM cluster: $*"; exit 77; }

pid_of() { cat "$1" 2>/dev/null || true; }
pid_alive() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

missing_packages() {
    local package missing=()
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    echo "${missing[@]:-}"
}

need_root() {
    [ "$(id -u)" = 0 ] || skip "needs root (it installs packages and runs the daemons, slurmd as root); run it as root or with sudo"
}

install_packages() {
    command -v dpkg-query >/dev/null 2>&1 || skip "not a Debian-like system (no dpkg-query)"
    local missing
    missing=$(missing_packages)
    [ -z "$missing" ] && return 0
    need_root
    command -v apt-get >/dev/null 2>&1 || skip "packages missing ($missing) and no apt-get to install them"
    say "installing $missing (apt-get)"
    # The packages' init scripts must not start anything: this script starts the daemons.
    local policy=/usr/sbin/policy-rc.d added_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
    fi
    local status=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } \
        >"/tmp/ecoae-slurm-apt.log" 2>&1 || status=$?
    [ -n "$added_policy" ] && rm -f "$policy"
    [ "$status" = 0 ] || skip "apt-get install $missing failed (exit $status; see /tmp/ecoae-slurm-apt.log): $(tail -n 3 /tmp/ecoae-slurm-apt.log | tr '\n' ' ')"
}

node_memory_mb() {
    local total_kb
    total_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
    local mb=$((total_kb / 1024 - MARGIN_MB))
    [ "$mb" -ge 512 ] || mb=512
    echo "$mb"
}

slurm_conf_text() {
    local host cpus memory
    host=$(hostname -s)
    cpus=$(nproc)
    memory=$(node_memory_mb)
    cat <<EOF
$MARKER
# A one-node cluster for CI. State in $STATE.
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# No cgroups in containers: processes are tracked through /proc, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Cores and memory are consumables: a job's --mem is reserved and enforced.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Memory is sampled every second; a step above its limit is killed (OUT_OF_MEMORY).
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStorageEnforce=associations
# sacct shows what each job was (the executor plugin puts the rule or group in --comment).
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldTimeout=60
SlurmdTimeout=60
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

config_current() { [ -f "$CONF_DIR/slurm.conf" ] && [ "$(slurm_conf_text)" = "$(cat "$CONF_DIR/slurm.conf")" ]; }

write_config() {
    mkdir -p "$CONF_DIR" "$STATE/log" "$STATE/run" "$STATE/ctld" "$STATE/spool"
    slurm_conf_text >"$CONF_DIR/slurm.conf.new"
    mv "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"
    # slurmdbd reads slurmdbd.conf beside slurm.conf ($SLURM_CONF); it must be private.
    umask 077
    cat >"$CONF_DIR/slurmdbd.conf" <<EOF
$MARKER
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$DB_PASSWORD
StorageLoc=$DB
EOF
    umask 022
    chmod 600 "$CONF_DIR/slurmdbd.conf"
    # Plain `sinfo`/`sbatch` (without SLURM_CONF) find this cluster when no other is configured.
    if [ ! -e /etc/slurm/slurm.conf ] || [ "$(readlink /etc/slurm/slurm.conf)" = "$CONF_DIR/slurm.conf" ]; then
        mkdir -p /etc/slurm && ln -sfn "$CONF_DIR/slurm.conf" /etc/slurm/slurm.conf
        # Remember that this link is ours, so that `stop` removes it again.
        touch "$STATE/run/etc-link"
    fi
}

start_munge() {
    if pid_alive /run/munge/munged.pid && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return 0
    fi
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        if command -v mungekey >/dev/null 2>&1; then
            runuser -u munge -- mungekey --create >/dev/null
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
            chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
        fi
    fi
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged
    touch "$STATE/run/started-munge"
}

mysql_ready() { mysqladmin --protocol=socket ping >/dev/null 2>&1; }

start_mariadb() {
    if ! mysql_ready; then
        say "starting mariadb"
        if [ -x /etc/init.d/mariadb ]; then
            /etc/init.d/mariadb start >"$STATE/log/mariadb-start.log" 2>&1 || true
        fi
        if ! mysql_ready; then
            mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
            (cd / && setsid nohup mysqld_safe >"$STATE/log/mysqld_safe.log" 2>&1 &)
        fi
        local waited=0
        until mysql_ready; do
            sleep 1
            waited=$((waited + 1))
            [ "$waited" -lt "$TIMEOUT" ] || die "mariadb did not answer within ${TIMEOUT}s (see $STATE/log/)"
        done
        touch "$STATE/run/started-mariadb"
    fi
    mysql --protocol=socket <<EOF
CREATE DATABASE IF NOT EXISTS $DB;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL ON $DB.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
EOF
}

wait_for() {  # wait_for DESCRIPTION LOG COMMAND...
    local what=$1 log=$2 waited=0
    shift 2
    until "$@" >/dev/null 2>&1; do
        sleep 1
        waited=$((waited + 1))
        if [ "$waited" -ge "$TIMEOUT" ]; then
            say "error: $what not ready within ${TIMEOUT}s; last lines of $log:"
            tail -n 20 "$log" >&2 2>/dev/null || true
            exit 1
        fi
    done
}

sacctmgr_add() {  # idempotent: sacctmgr says "Nothing new added" (exit 1) for what exists
    local out
    out=$(sacctmgr -i add "$@" 2>&1) || {
        echo "$out" | grep -qiE "nothing new added|already exists" || die "sacctmgr add $*: $out"
    }
}

start_slurmdbd() {
    pid_alive "$STATE/run/slurmdbd.pid" || { say "starting slurmdbd"; slurmdbd; }
    wait_for "slurmdbd" "$STATE/log/slurmdbd.log" sacctmgr -n list cluster
}

register_accounting() {
    sacctmgr_add cluster "$CLUSTER"
    sacctmgr_add account "$ACCOUNT" Cluster="$CLUSTER" Description="ecoae local cluster" Organization=ecoae
    local user users=(root)
    [ -n "${SUDO_USER:-}" ] && users+=("$SUDO_USER")
    for user in "${users[@]}"; do
        sacctmgr_add user "$user" Account="$ACCOUNT" DefaultAccount="$ACCOUNT" Cluster="$CLUSTER"
    done
}

node_idle() { sinfo -h -N -p "$PARTITION" -o "%T" | grep -qxE "idle|mixed|allocated"; }

start_slurmctld() {
    pid_alive "$STATE/run/slurmctld.pid" || { say "starting slurmctld"; slurmctld; }
    wait_for "slurmctld" "$STATE/log/slurmctld.log" scontrol ping
}

start_slurmd() {
    pid_alive "$STATE/run/slurmd.pid" || { say "starting slurmd"; slurmd; }
    # A node left down or drained by an earlier run is returned to service.
    local state
    state=$(sinfo -h -N -p "$PARTITION" -o "%T" 2>/dev/null | head -n 1)
    case "$state" in
        *drain* | down*) scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    wait_for "node $(hostname -s) idle in sinfo" "$STATE/log/slurmd.log" node_idle
}

cmd_start() {
    if cmd_status >/dev/null 2>&1; then
        if config_current; then
            say "already running (SLURM_CONF=$SLURM_CONF)"
            return 0
        fi
        [ "$(id -u)" = 0 ] || skip "the running cluster's configuration is out of date and restarting it needs root"
        say "configuration changed: restarting"
        cmd_stop
    fi
    need_root
    install_packages
    write_config
    start_munge
    start_mariadb
    start_slurmdbd
    register_accounting
    start_slurmctld
    start_slurmd
    wait_for "sacct" "$STATE/log/slurmdbd.log" sacct -n -X --starttime now-1hours
    say "ready: partition $PARTITION, account $ACCOUNT, $(sinfo -h -N -o '%N %c CPUs %m MB %T' | head -n 1)"
    say "use it with: export SLURM_CONF=$SLURM_CONF"
}

stop_pidfile() {  # stop_pidfile NAME PIDFILE
    local name=$1 file=$2 waited=0
    pid_alive "$file" || return 0
    say "stopping $name"
    kill "$(pid_of "$file")" 2>/dev/null || true
    while pid_alive "$file" && [ "$waited" -lt 30 ]; do
        sleep 0.5
        waited=$((waited + 1))
    done
    pid_alive "$file" && kill -9 "$(pid_of "$file")" 2>/dev/null || true
    rm -f "$file"
}

cmd_stop() {
    [ -d "$STATE" ] || { say "nothing to stop ($STATE absent)"; return 0; }
    [ "$(id -u)" = 0 ] || die "needs root"
    # Jobs still running are cancelled first so that slurmd leaves no orphans.
    if [ -f "$CONF_DIR/slurm.conf" ] && pid_alive "$STATE/run/slurmctld.pid"; then
        scancel --state=RUNNING --full -p "$PARTITION" >/dev/null 2>&1 || true
        scancel -p "$PARTITION" >/dev/null 2>&1 || true
    fi
    stop_pidfile slurmd "$STATE/run/slurmd.pid"
    stop_pidfile slurmctld "$STATE/run/slurmctld.pid"
    stop_pidfile slurmdbd "$STATE/run/slurmdbd.pid"
    if [ -f "$STATE/run/started-mariadb" ]; then
        say "stopping mariadb"
        mysqladmin --protocol=socket shutdown >/dev/null 2>&1 || /etc/init.d/mariadb stop >/dev/null 2>&1 || true
        rm -f "$STATE/run/started-mariadb"
    fi
    if [ -f "$STATE/run/started-munge" ]; then
        stop_pidfile munged /run/munge/munged.pid
        rm -f "$STATE/run/started-munge"
    fi
    if [ -f "$STATE/run/etc-link" ]; then
        [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$CONF_DIR/slurm.conf" ] && rm -f /etc/slurm/slurm.conf
        rm -f "$STATE/run/etc-link"
    fi
    say "stopped"
}

cmd_status() {
    local ok=0 name
    for name in slurmdbd slurmctld slurmd; do
        if pid_alive "$STATE/run/$name.pid"; then echo "$name: running (pid $(pid_of "$STATE/run/$name.pid"))"; else echo "$name: not running"; ok=1; fi
    done
    pid_alive /run/munge/munged.pid && echo "munged: running" || { echo "munged: not running"; ok=1; }
    mysql_ready && echo "mariadb: running" || { echo "mariadb: not running"; ok=1; }
    [ "$ok" = 0 ] || return 1
    sinfo -N -p "$PARTITION" -o "%N %P %c %m %T" || return 1
    node_idle || return 1
    sacct -n -X --starttime now-1hours >/dev/null || return 1
    echo "SLURM_CONF=$SLURM_CONF"
}

case "${1:-}" in
    install) install_packages ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) echo "export SLURM_CONF=$SLURM_CONF" ;;
    *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
