#!/usr/bin/env bash
# Bring the offline image lab up: start the Docker engine if needed, then build
# any missing stand-in image (idempotent; quick no-op when all is there).
# Extra arguments go to build-images.sh (e.g. --force).
# Exits non-zero with a one-line reason on failure.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_STATE=${LAB_STATE:-/var/tmp/dockeropt-lab}
mkdir -p "$LAB_STATE"

if ! "$HERE/engine.sh" >"$LAB_STATE/engine.out" 2>&1; then
    echo "lab up failed: $(tail -n 1 "$LAB_STATE/engine.out")" >&2
    exit 1
fi
if ! "$HERE/build-images.sh" "$@" 2>"$LAB_STATE/build-images.err"; then
    echo "lab up failed: $(grep 'build-images.sh:' "$LAB_STATE/build-images.err" | tail -n 1)" >&2
    exit 1
fi
