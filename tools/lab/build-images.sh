#!/usr/bin/env bash
# Build offline stand-ins for the official images the tests use, from Debian
# packages only, and tag them with the official names.
#
#   build-images.sh [--force] [TAG...]
#
# Tags that already exist are skipped (idempotent); --force rebuilds them
# (and re-runs debootstrap). With TAG arguments only those tags are considered
# (their base images are built too if missing).
#
# On a machine that can reach Docker Hub / gcr.io, skip this script and pull the
# real images instead: the tags are the same.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOCKER=${DOCKER:-/usr/bin/docker}     # the engine's 20.10 client (BuildKit without buildx)
LAB_STATE=${LAB_STATE:-/var/tmp/dockeropt-lab}
CTX=$LAB_STATE/context
LOGS=$LAB_STATE/logs
RECIPES=$LAB_STATE/recipes   # per tag: the recipe hash and image id it was last built as
ROOTFS_IMAGE=dockeropt-lab/rootfs:bookworm
export DOCKER_BUILDKIT=1

die() { echo "build-images.sh: $*" >&2; exit 1; }
say() { echo "build-images.sh: $*"; }

FORCE=0
ONLY=()
for a in "$@"; do
    case $a in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) die "unknown option $a" ;;
        *) ONLY+=("$a") ;;
    esac
done

"$DOCKER" info >/dev/null 2>&1 || die "docker engine not running (run tools/lab/engine.sh)"
mkdir -p "$LAB_STATE" "$LOGS" "$RECIPES"
T_START=$(date +%s)
BUILT=()
declare -A DONE=()

have() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------------------
# Host facts, read at run time (never committed): the Debian mirror and apt
# sources, and the CA bundle of this machine's TLS-re-signing egress.

debian_mirror() {
    if [ -n "${LAB_DEBIAN_MIRROR:-}" ]; then echo "$LAB_DEBIAN_MIRROR"; return; fi
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822: first URI of a "deb" paragraph whose Suites include bookworm
        awk 'BEGIN{RS=""; FS="\n"}
             { uri=""; suites=""; types=""
               for (i=1;i<=NF;i++) {
                 if ($i ~ /^URIs:/)   { split($i,a,/[ \t]+/); uri=a[2] }
                 if ($i ~ /^Suites:/) { suites=" " $i " " }
                 if ($i ~ /^Types:/)  { types=" " $i " " }
               }
               if (uri != "" && suites ~ / bookworm / && types ~ / deb /) { print uri; exit }
             }' "$f"
    done | head -n1 | grep . && return
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\)[[:space:]]\+bookworm[[:space:]].*/\2/p' |
        head -n1 | grep . && return
    return 1
}

# The npm registry this machine's npm uses (for corepack in the node stand-ins;
# read at run time, never committed). Empty when npm is not installed here.
npm_registry() {
    if [ -n "${LAB_NPM_REGISTRY+x}" ]; then echo "${LAB_NPM_REGISTRY%/}"; return; fi
    local r=""
    command -v npm >/dev/null 2>&1 && r=$(npm config get registry 2>/dev/null || true)
    echo "${r%/}"
}

stage_context() {
    rm -rf "$CTX"
    mkdir -p "$CTX/host/ca/extra" "$CTX/host/apt/sources.list.d"
    cp -r "$HERE/images/." "$CTX/"
    [ -s /etc/ssl/certs/ca-certificates.crt ] || die "no /etc/ssl/certs/ca-certificates.crt on this machine"
    cp /etc/ssl/certs/ca-certificates.crt "$CTX/host/ca/"
    local c f
    for c in /usr/local/share/ca-certificates/*.crt; do
        [ -f "$c" ] && cp "$c" "$CTX/host/ca/extra/"
    done
    [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$CTX/host/apt/"
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && cp "$f" "$CTX/host/apt/sources.list.d/"
    done
}

# ---------------------------------------------------------------------------

selected() {  # is $1 one of the requested tags (or were none requested)?
    [ ${#ONLY[@]} -eq 0 ] && return 0
    local t; for t in "${ONLY[@]}"; do [ "$t" = "$1" ] && return 0; done
    return 1
}
needed() {    # should tag $1 be (re)built now? ([$2: the recipe it must have been built from])
    [ -n "${DONE[$1]:-}" ] && return 1
    [ $FORCE = 1 ] && return 0
    have "$1" || return 0
    [ -z "${2:-}" ] && return 1
    # built from another recipe (an older Dockerfile, other build args) or by hand: rebuild
    # (with the BuildKit cache still there, unchanged steps are cache hits and keep the image id)
    [ "$(cat "$RECIPES/$(echo "$1" | tr '/:' '__')" 2>/dev/null)" != "$2 $("$DOCKER" image inspect --format '{{.Id}}' "$1")" ]
}
remember() {  # remember TAG RECIPE: TAG (its current image id) was built from RECIPE
    echo "$2 $("$DOCKER" image inspect --format '{{.Id}}' "$1")" >"$RECIPES/$(echo "$1" | tr '/:' '__')"
}

# recipe DOCKERFILE [build args...]: a hash of what a stand-in is built from (its
# Dockerfile, the shared helpers, its own folder, the build args; not host files)
recipe() {
    local df=$1; shift
    local dirs=("$HERE/images/common") own=$HERE/images/$(basename "$df" .Dockerfile)
    [ -d "$own" ] && dirs+=("$own")
    { cat "$HERE/images/$df"; printf '%s\n' "$@"; find "${dirs[@]}" -type f | LC_ALL=C sort | xargs cat; } |
        sha256sum | cut -c1-16
}

# stand TAG DOCKERFILE [build args...]: build TAG if missing or built from another recipe
stand() {
    local tag=$1 df=$2; shift 2
    local r; r=$(recipe "$df" "$@")
    if needed "$tag" "$r"; then
        build "$tag" -f "$CTX/$df" "$@"
        remember "$tag" "$r"
    fi
    return 0
}

# alias TAG BASE: TAG names the same image as BASE (retagged whenever BASE was rebuilt)
alias_of() {
    local tag=$1 base=$2
    ensure "$base"
    local want got
    want=$("$DOCKER" image inspect --format '{{.Id}}' "$base")
    got=$("$DOCKER" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
    if [ "$want" != "$got" ]; then
        "$DOCKER" tag "$base" "$tag"; BUILT+=("$tag")
        say "tagged $tag (alias of $base)"
    fi
    DONE[$tag]=1
}

# build TAG [docker build args...]: build from the staged context
build() {
    local tag=$1; shift
    local log=$LOGS/$(echo "$tag" | tr '/:' '__').log t0=$(date +%s)
    say "building $tag"
    if ! "$DOCKER" build --network host --progress plain -t "$tag" "$@" "$CTX" >"$log" 2>&1; then
        # One retry: transient network errors happen, and the 20.10 engine's
        # BuildKit has been seen to panic under concurrent builds (then the
        # engine is gone and must be restarted).
        if ! "$DOCKER" info >/dev/null 2>&1; then
            say "engine died while building $tag; restarting it"
            "$HERE/engine.sh" >&2 || die "engine died while building $tag and did not restart"
        fi
        mv "$log" "$log.failed"
        say "retrying $tag (first attempt: $log.failed)"
        if ! "$DOCKER" build --network host --progress plain -t "$tag" "$@" "$CTX" >"$log" 2>&1; then
            tail -n 25 "$log" >&2
            die "build of $tag failed (full log: $log)"
        fi
    fi
    DONE[$tag]=1; BUILT+=("$tag")
    say "built $tag in $(( $(date +%s) - t0 ))s"
}

rootfs() {
    local tar=$LAB_STATE/rootfs-bookworm.tar
    if [ $FORCE = 1 ] || [ ! -s "$tar" ]; then
        command -v debootstrap >/dev/null || die "debootstrap missing (run tools/lab/engine.sh)"
        local mirror root=$LAB_STATE/rootfs.tmp t0=$(date +%s)
        mirror=$(debian_mirror) || die "no Debian bookworm mirror found in /etc/apt/sources.list*"
        say "debootstrap --variant=minbase bookworm (mirror from apt sources)"
        rm -rf "$root"
        debootstrap --variant=minbase bookworm "$root" "$mirror" >"$LOGS/debootstrap.log" 2>&1 ||
            { tail -n 20 "$LOGS/debootstrap.log" >&2; die "debootstrap failed (log: $LOGS/debootstrap.log)"; }
        # no package caches / lists in the image (about 80 MB); host-specific
        # files are bind-mounted by docker at run time
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
               "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/* "$root"/run/* 2>/dev/null || true
        rm -f "$root/etc/apt/sources.list" "$root/etc/hostname" "$root/etc/resolv.conf"
        : >"$root/etc/resolv.conf"
        tar --numeric-owner -C "$root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
        rm -rf "$root"
        say "debootstrap done in $(( $(date +%s) - t0 ))s"
    fi
    say "importing $ROOTFS_IMAGE"
    "$DOCKER" import "$tar" "$ROOTFS_IMAGE" >/dev/null
    DONE[$ROOTFS_IMAGE]=1
}

# ensure TAG: build it (and what it needs) if needed and selected
ensure() {
    local tag=$1
    case $tag in
        "$ROOTFS_IMAGE")
            needed "$tag" && rootfs ;;
        debian:bookworm)
            ensure "$ROOTFS_IMAGE"
            stand "$tag" debian.Dockerfile ;;
        debian:bookworm-slim)
            ensure debian:bookworm
            stand "$tag" debian-slim.Dockerfile ;;
        python:3.11)
            ensure debian:bookworm
            stand "$tag" python.Dockerfile \
                --build-arg BASE=debian:bookworm \
                --build-arg EXTRA_PACKAGES="python3-dev build-essential git curl" ;;
        python:3.11-slim)
            ensure debian:bookworm-slim
            stand "$tag" python.Dockerfile \
                --build-arg BASE=debian:bookworm-slim ;;
        node:18)
            ensure debian:bookworm
            stand "$tag" node.Dockerfile \
                --build-arg BASE=debian:bookworm \
                --build-arg EXTRA_PACKAGES="git build-essential python3 curl ca-certificates" \
                --build-arg INSTALL_YARN=1 \
                --build-arg LAB_NPM_REGISTRY="$(npm_registry)" ;;
        node:18-slim)
            ensure debian:bookworm-slim
            stand "$tag" node.Dockerfile \
                --build-arg BASE=debian:bookworm-slim \
                --build-arg LAB_NPM_REGISTRY="$(npm_registry)" ;;
        golang:1.19)
            ensure debian:bookworm
            stand "$tag" golang.Dockerfile ;;
        eclipse-temurin:17-jdk)
            ensure debian:bookworm
            stand "$tag" temurin.Dockerfile \
                --build-arg PACKAGE=openjdk-17-jdk-headless ;;
        eclipse-temurin:17-jre)
            ensure debian:bookworm
            stand "$tag" temurin.Dockerfile \
                --build-arg PACKAGE=openjdk-17-jre-headless ;;
        openjdk:17-jdk-slim|openjdk:17|openjdk:17-jdk)
            alias_of "$tag" eclipse-temurin:17-jdk ;;
        nginx:1.22)
            ensure debian:bookworm-slim
            stand "$tag" nginx.Dockerfile ;;
        "nginx:$NGINX_PIN")
            # the tag DO201 writes for a static site's runtime (catalog/pins.json): Debian has only
            # nginx 1.22, so the lab serves it under the pinned tag (same layout and config surface)
            alias_of "$tag" nginx:1.22 ;;
        php:8.2-fpm)
            ensure debian:bookworm
            stand "$tag" php.Dockerfile ;;
        debian:12) alias_of "$tag" debian:bookworm ;;
        debian:12-slim) alias_of "$tag" debian:bookworm-slim ;;
        python:3.11-bookworm) alias_of "$tag" python:3.11 ;;
        python:3.11-slim-bookworm) alias_of "$tag" python:3.11-slim ;;
        node:18-bookworm) alias_of "$tag" node:18 ;;
        node:18-bookworm-slim) alias_of "$tag" node:18-slim ;;
        gcr.io/distroless/*-debian12|gcr.io/distroless/*-debian12:latest)
            local name=${tag%:latest}
            local target=${name#gcr.io/distroless/}; target=${target%-debian12}
            ensure debian:bookworm
            [ "$target" = java17 ] && ensure eclipse-temurin:17-jre
            stand "$name:latest" distroless.Dockerfile --target "$target" ;;
        gcr.io/distroless/*-debian12:nonroot)
            local name=${tag%:nonroot}
            local target=${name#gcr.io/distroless/}; target=${target%-debian12}
            ensure "$name:latest"
            stand "$tag" distroless.Dockerfile --target "$target" \
                --build-arg DL_USER=65532:65532 --build-arg DL_WORKDIR=/home/nonroot ;;
        *) die "unknown tag $tag" ;;
    esac
    return 0
}

# the nginx tag dockeropt pins today (a static site's runtime stage uses it)
NGINX_PIN=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["families"]["nginx"]["tag"])' \
    "$HERE/../../optimizer/catalog/pins.json") || die "cannot read the nginx pin from optimizer/catalog/pins.json"
ALL_TAGS=(
    debian:bookworm debian:bookworm-slim
    python:3.11 python:3.11-slim
    node:18 node:18-slim
    golang:1.19
    eclipse-temurin:17-jdk eclipse-temurin:17-jre openjdk:17-jdk-slim openjdk:17 openjdk:17-jdk
    nginx:1.22 "nginx:$NGINX_PIN" php:8.2-fpm
    debian:12 debian:12-slim python:3.11-bookworm python:3.11-slim-bookworm node:18-bookworm node:18-bookworm-slim
)
for d in static base cc python3 nodejs18 java17; do
    ALL_TAGS+=("gcr.io/distroless/$d-debian12:latest" "gcr.io/distroless/$d-debian12:nonroot")
done

# unknown requested tags are an error
for t in "${ONLY[@]}"; do
    ok=0; for a in "${ALL_TAGS[@]}" "$ROOTFS_IMAGE"; do [ "$a" = "$t" ] || [ "$a" = "$t:latest" ] && ok=1; done
    [ $ok = 1 ] || die "unknown tag $t (known: ${ALL_TAGS[*]})"
done

stage_context
for t in "${ALL_TAGS[@]}"; do
    if selected "$t" || selected "${t%:latest}"; then ensure "$t"; fi
done

if [ ${#BUILT[@]} -eq 0 ]; then
    say "all ${#ALL_TAGS[@]} tags present, nothing to build (use --force to rebuild)"
fi
echo "build-images.sh: timing: built ${#BUILT[@]} image(s) in $(( $(date +%s) - T_START ))s"
