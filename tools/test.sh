#!/usr/bin/env bash
# dockeropt's test command (README: "bash tools/test.sh").
#
# On a fresh Debian machine, as root, it does the whole set-up: a virtualenv with
# the package and its test extra, the Docker engine and the offline image lab
# (tools/lab/up.sh), then ruff and every test (pytest, docker end-to-end included).
# Without root and without a running engine, the docker tests skip with a reason,
# except under CI=true, where a missing engine fails the run.
# Extra arguments go to pytest, e.g. `bash tools/test.sh -m "not docker"`.
#
# Run with no arguments (as .ci/run does) or under CI=true, it then also checks the other ways the
# package is used: a regular (non-editable) install in build/venv-dist runs every test that needs no
# Docker and `python -m dockeropt.docs --check`, and the same tests run under Python 3.10 (the oldest
# Python the package supports: python3.10 on PATH, a pyenv 3.10, or PYTHON310=...), the permission
# tests as uid 65534 included (a 3.10 under a private /root is copied to /opt/dockeropt-py310 first).
# Under CI=true a missing 3.10 fails the run instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

PY=${PYTHON:-python3}
VENV=${DOCKEROPT_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$PY" -m venv "$VENV"
    else
      echo "tools/test.sh: cannot create a virtualenv with $PY (install python3-venv)" >&2
      exit 2
    fi
  fi
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install -q -e '.[test]'
export PATH="$PWD/$VENV/bin:$PATH"

want_docker=1
for a in "$@"; do
  case "$a" in *"not docker"*) want_docker=0 ;; esac
done
if [ "$want_docker" = 1 ]; then
  if [ "$(id -u)" = 0 ] || /usr/bin/docker info >/dev/null 2>&1; then
    if ! bash tools/lab/up.sh; then
      if [ "${CI:-}" = "true" ]; then
        echo "tools/test.sh: the Docker lab could not be brought up (see above)" >&2
        exit 1
      fi
      echo "tools/test.sh: no Docker lab; docker tests will skip" >&2
    fi
  else
    echo "tools/test.sh: not root and no Docker engine; docker tests will skip" >&2
  fi
fi

echo "== ruff"
ruff check optimizer transforms tests benchmarks
echo "== generated docs are current"
python -m dockeropt.docs --check
echo "== pytest"
if [ "$(id -u)" = 0 ]; then export DOCKEROPT_REQUIRE_UNPRIVILEGED=1; fi  # permission tests run as uid 65534, never skipped
python -m pytest -q -p no:cacheprovider "$@"

if [ "$#" -eq 0 ] || [ "${CI:-}" = "true" ]; then
  echo "== regular install (build/venv-dist): docs command and every test that needs no Docker"
  DIST=build/venv-dist
  [ -x "$DIST/bin/python" ] || "$PY" -m venv "$DIST"
  "$DIST/bin/python" -m pip install -q '.[test]'
  "$DIST/bin/python" -m pip install -q --force-reinstall --no-deps .  # the code as it is now, not a cached build
  if "$DIST/bin/python" -c 'import dockeropt, sys; sys.exit("site-packages" not in dockeropt.__file__)'; then :; else
    echo "tools/test.sh: build/venv-dist does not hold a regular install" >&2; exit 1
  fi
  "$DIST/bin/python" -m dockeropt.docs --check
  PATH="$PWD/$DIST/bin:$PATH" "$DIST/bin/python" -m pytest -q -p no:cacheprovider -m "not docker"

  # a Python 3.10 that really runs (a pyenv shim on PATH may not, when 3.10 is not the active version)
  PY310=""
  for cand in "${PYTHON310:-}" "$(command -v python3.10 || true)" "$HOME"/.pyenv/versions/3.10*/bin/python3.10 \
              /root/.pyenv/versions/3.10*/bin/python3.10; do
    if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      PY310=$cand
      break
    fi
  done
  if [ -n "$PY310" ] && [ "$(id -u)" = 0 ] && ! setpriv --reuid=65534 --regid=65534 --clear-groups "$PY310" -c pass 2>/dev/null; then
    # the permission tests run as uid 65534, which cannot enter a private /root (pyenv's home):
    # run a copy of that interpreter from a folder everyone can read (its libpython included)
    prefix=$(cd "$(dirname "$PY310")/.." && pwd)
    COPY310=/opt/dockeropt-py310
    [ -x "$COPY310/bin/python3.10" ] || { rm -rf "$COPY310.tmp" && cp -a "$prefix" "$COPY310.tmp" && mv "$COPY310.tmp" "$COPY310"; }
    chmod -R a+rX "$COPY310"
    PY310=$COPY310/bin/python3.10
    export LD_LIBRARY_PATH="$COPY310/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  if [ -n "$PY310" ]; then
    echo "== Python 3.10 ($PY310): the tests that need no Docker, the permission tests included"
    V310=build/venv-py310
    if [ ! -x "$V310/bin/python" ] || [ "$(readlink -f "$V310/bin/python")" != "$(readlink -f "$PY310")" ]; then
      rm -rf "$V310" && "$PY310" -m venv "$V310"
    fi
    "$V310/bin/python" -m pip install -q -e '.[test]'
    PATH="$PWD/$V310/bin:$PATH" "$V310/bin/python" -m pytest -q -p no:cacheprovider -m "not docker"
  elif [ "${CI:-}" = "true" ]; then
    echo "tools/test.sh: no Python 3.10 interpreter; the package says requires-python >=3.10 (set PYTHON310=...)" >&2
    exit 1
  else
    echo "tools/test.sh: no Python 3.10 interpreter here; the 3.10 run is skipped (CI fails instead)" >&2
  fi
fi
echo "tools/test.sh: done in $(( $(date +%s) - start )) s"
