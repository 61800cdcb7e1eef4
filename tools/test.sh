#!/usr/bin/env bash
# dockeropt's test command (README: "bash tools/test.sh").
#
# On a fresh Debian machine, as root, it does the whole set-up: a virtualenv with
# the package and its test extra, the Docker engine and the offline image lab
# (tools/lab/up.sh), then ruff and every test (pytest, docker end-to-end included).
# Without root and without a running engine, the docker tests skip with a reason,
# except under CI=true, where a missing engine fails the run.
# Extra arguments go to pytest, e.g. `bash tools/test.sh -m "not docker"`.
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
python -m pytest -q -p no:cacheprovider "$@"
echo "tools/test.sh: done in $(( $(date +%s) - start )) s"
