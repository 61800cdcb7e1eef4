#!/usr/bin/env bash
# Quick self-check of the lab images: run each with a trivial command, prove
# that the machine's CA trust works for npm and pip from inside containers,
# and print the image sizes. Exits non-zero if any check fails.
set -uo pipefail
DOCKER=${DOCKER:-/usr/bin/docker}
fails=0
run() {  # run DESCRIPTION IMAGE [docker run args / command...]
    local what=$1; shift
    local out
    if out=$("$DOCKER" run --rm --network host "$@" 2>&1); then
        printf 'ok    %-58s %s\n' "$what" "$(echo "$out" | tail -n 1 | cut -c1-60)"
    else
        printf 'FAIL  %-58s\n' "$what"; echo "$out" | tail -n 8 | sed 's/^/      /'
        fails=$((fails + 1))
    fi
}
no_shell() {  # the distroless images must not contain a shell
    local img=$1
    if "$DOCKER" run --rm --network host --entrypoint /bin/sh "$img" -c true >/dev/null 2>&1; then
        printf 'FAIL  %-58s\n' "$img has a shell"; fails=$((fails + 1))
    else
        printf 'ok    %-58s %s\n' "$img has no shell" ""
    fi
}

run "debian:bookworm apt-get update" debian:bookworm sh -c 'apt-get update -qq && echo apt ok'
run "debian:bookworm-slim" debian:bookworm-slim sh -c 'cat /etc/debian_version'
for img in python:3.11 python:3.11-slim; do
    run "$img python/python3/pip/pip3" "$img" sh -c \
        'python -c "import sys; print(sys.version.split()[0])" && python3 -V && pip -V >/dev/null && pip3 -V >/dev/null &&
         ! ls /usr/lib/python3*/EXTERNALLY-MANAGED 2>/dev/null && [ -z "${PYTHONDONTWRITEBYTECODE:-}" ] && echo python ok'
done
run "python:3.11 has gcc" python:3.11 gcc --version
run "python:3.11-slim has no gcc" python:3.11-slim sh -c '! command -v gcc && echo no gcc'
run "python:3.11-slim pip install (PyPI through the egress)" python:3.11-slim sh -c \
    'pip install -q --no-cache-dir iniconfig && python -c "import iniconfig; print(\"pip ok\")"'
run "node:18 node/npm/yarn/git/gcc" node:18 sh -c 'node -v && npm -v && yarn -v && git --version && gcc --version >/dev/null && echo node ok'
run "node:18 user node 1000" node:18 sh -c 'test "$(id -u node)" = 1000 && test -d /home/node && echo uid ok'
run "node:18 npm install (registry through the egress)" node:18 sh -c \
    'cd "$(mktemp -d)" && npm install --no-audit --no-fund is-number@7 >/dev/null && node -e "console.log(require(\"is-number\")(1) ? \"npm ok\" : \"bad\")"'
run "node:18-slim node -e" node:18-slim node -e 'console.log(process.version)'
run "node:18-slim has no gcc, has user node" node:18-slim sh -c '! command -v gcc && id node && echo ok'
run "node:18 / node:18-slim: yarn 1 and corepack, no pnpm until corepack enable" node:18-slim sh -c \
    'yarn --version | grep -q "^1\." && corepack --version && ! command -v pnpm && echo corepack ok'
run "nginx:1.22 config test, user nginx 101" nginx:1.22 sh -c 'nginx -t 2>&1 | tail -n1 && test "$(id -u nginx)" = 101'
run "php:8.2-fpm php-fpm -t, listens on 9000" php:8.2-fpm sh -c \
    'php-fpm -t 2>&1 | tail -n1 && grep -rq "^listen = 9000" /usr/local/etc/php-fpm.d/ && php -r "echo PHP_VERSION, PHP_EOL;"'
run "openjdk:17 java -version" openjdk:17 sh -c 'java -version 2>&1 | head -n1'
run "golang:1.19 go version" golang:1.19 go version
run "golang:1.19 env" golang:1.19 sh -c 'test "$(pwd)" = /go && test "$(go env GOPROXY)" = off && test -z "$(go env GOFLAGS)" && git --version'
run "golang:1.19 build hello" golang:1.19 sh -c \
    'mkdir -p /tmp/h && cd /tmp/h && printf "package main\nimport \"fmt\"\nfunc main(){fmt.Println(\"go ok\")}\n" >main.go && go mod init h >/dev/null 2>&1 && go run .'
run "eclipse-temurin:17-jdk java/javac/jar" eclipse-temurin:17-jdk sh -c 'java -version 2>&1 | head -n1 && javac -version && command -v jar'
run "eclipse-temurin:17-jre java -version" eclipse-temurin:17-jre sh -c 'java -version 2>&1 | head -n1'
run "openjdk:17-jdk-slim javac" openjdk:17-jdk-slim javac -version
run "distroless python3 -c print(1)" gcr.io/distroless/python3-debian12 -c 'print(1)'
run "distroless python3:nonroot" gcr.io/distroless/python3-debian12:nonroot -c 'import os; print(os.getuid())'
run "distroless nodejs18 -e console.log(1)" gcr.io/distroless/nodejs18-debian12 -e 'console.log(1)'
run "distroless nodejs18:nonroot" gcr.io/distroless/nodejs18-debian12:nonroot -e 'console.log(process.getuid())'
run "distroless java17 -version" --entrypoint /usr/bin/java gcr.io/distroless/java17-debian12 -version
run "distroless cc: dynamic loader runs" --entrypoint /lib64/ld-linux-x86-64.so.2 gcr.io/distroless/cc-debian12 --list /usr/lib/x86_64-linux-gnu/libstdc++.so.6
for d in static base cc python3 nodejs18 java17; do
    for t in latest nonroot; do no_shell "gcr.io/distroless/$d-debian12:$t"; done
done

echo
echo "lab images:"
"$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' |
    grep -E '^(debian|python|node|golang|eclipse-temurin|openjdk|nginx|php|gcr\.io/distroless/[a-z0-9]+-debian12|dockeropt-lab/rootfs):' |
    sort | awk -F'\t' '{printf "%-46s %s\n", $1, $2}'
echo
if [ $fails -gt 0 ]; then echo "check.sh: $fails check(s) failed"; exit 1; fi
echo "check.sh: all checks passed"
