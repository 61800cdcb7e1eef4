#!/bin/sh
# apt-get install helper for the lab's stand-in images (used in RUN steps with
# BuildKit cache mounts on /var/cache/apt/archives and /var/lib/apt/lists, so
# that downloads and package lists are shared by all stand-in builds).
# Usage: sh /mnt/apt-install.sh PACKAGE...
set -eu
export DEBIAN_FRONTEND=noninteractive
# --force-unsafe-io: no fsync per file while unpacking; a build step is thrown
# away on failure anyway, and node's ~400 small packages unpack much faster.
inst() { apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-unsafe-io "$@"; }
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then apt-get update -q; fi
# Lists in the shared cache may be stale: refresh once and retry on failure.
inst "$@" || { apt-get update -q && inst "$@"; }
