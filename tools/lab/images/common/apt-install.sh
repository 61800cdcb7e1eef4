#!/bin/sh
# apt-get install helper for the lab's stand-in images (used in RUN steps with
# BuildKit cache mounts on /var/cache/apt/archives and /var/lib/apt/lists, so
# that downloads and package lists are shared by all stand-in builds).
# Usage: sh /mnt/apt-install.sh PACKAGE...
set -eu
export DEBIAN_FRONTEND=noninteractive
inst() { apt-get install -y -q --no-install-recommends "$@"; }
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then apt-get update -q; fi
# Lists in the shared cache may be stale: refresh once and retry on failure.
inst "$@" || { apt-get update -q && inst "$@"; }
