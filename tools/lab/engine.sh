#!/usr/bin/env bash
# Make sure a Docker engine is running on this machine (idempotent).
#
# - no-op when `docker info` already succeeds;
# - otherwise installs docker.io + debootstrap if missing (one `apt-get update`),
#   starts `dockerd --bridge=none --iptables=false` in the background (log in
#   $LAB_STATE/dockerd.log) and waits up to $LAB_ENGINE_TIMEOUT seconds for it.
#
# Uses /usr/bin/docker: the engine's own 20.10 client, which can drive BuildKit
# without the buildx plugin (a newer client elsewhere on PATH may not).
set -euo pipefail

DOCKER=${DOCKER:-/usr/bin/docker}
LAB_STATE=${LAB_STATE:-/var/tmp/dockeropt-lab}
TIMEOUT=${LAB_ENGINE_TIMEOUT:-60}

die() { echo "engine.sh: $*" >&2; exit 1; }

engine_up() { [ -x "$DOCKER" ] && "$DOCKER" info >/dev/null 2>&1; }

if engine_up; then
    echo "engine.sh: docker engine already running"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "docker engine is not running and starting it needs root"

need=()
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
    echo "engine.sh: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
        || die "apt-get install ${need[*]} failed"
fi

# live (non-zombie) dockerd processes; a crashed one can linger as a zombie
live_dockerd() { ps -eo pid=,stat=,comm= | awk '$3 == "dockerd" && $2 !~ /^Z/ {print $1}'; }

mkdir -p "$LAB_STATE"
log=$LAB_STATE/dockerd.log
if [ -z "$(live_dockerd)" ]; then
    # a stale pid file (crashed engine, pid now a zombie or reused) blocks a start
    if [ -f /var/run/docker.pid ]; then
        old=$(cat /var/run/docker.pid 2>/dev/null || true)
        if [ -z "$old" ] || ! live_dockerd | grep -qx "$old"; then rm -f /var/run/docker.pid; fi
    fi
    echo "engine.sh: starting dockerd (log: $log)"
    # containerd is started by dockerd itself when no system containerd runs.
    # --bridge=none/--iptables=false: no bridge networking on this machine;
    # builds and containers use --network host.
    # setsid: its own session, so it outlives the caller's process group
    setsid /usr/sbin/dockerd --bridge=none --iptables=false >>"$log" 2>&1 </dev/null &
    echo $! >"$LAB_STATE/dockerd.pid"
else
    echo "engine.sh: dockerd process exists, waiting for it to answer"
fi

for _ in $(seq "$TIMEOUT"); do
    engine_up && { echo "engine.sh: docker engine is up"; exit 0; }
    sleep 1
done
die "docker engine did not answer within ${TIMEOUT}s; last log lines: $(tail -n 3 "$log" 2>/dev/null | tr '\n' ' ')"
