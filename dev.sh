#!/usr/bin/env bash
# stairrig's developer entry point: installs what it needs, then runs it.
#   ./dev.sh demo [demo options]   a simulated athlete on a simulated rig, the whole service
#   ./dev.sh test [pytest options] the test suite
#   ./dev.sh bench                 the speed measurements of docs/benchmarks.md
# Each installs stairrig into .venv first: then the command is .venv/bin/stairrig.
# Works as root or with sudo (for system packages), on Debian, Raspberry Pi OS and Ubuntu.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PY=${PYTHON:-python3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  # install the Debian packages given, only those missing
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} = 0 ] && return 0
  command -v apt-get >/dev/null || { echo "dev.sh: please install: ${missing[*]}" >&2; exit 1; }
  echo "dev.sh: installing ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_python() {
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "dev.sh: stairrig needs Python 3.11 or later ($PY is $("$PY" --version 2>&1))" >&2
    exit 1
  fi
  if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    # missing or broken (an interrupted creation): make it anew. On a Raspberry
    # Pi the distribution's lgpio comes in through the system site packages.
    local site=()
    if grep -qs "Raspberry Pi" /proc/device-tree/model; then
      apt_install python3-lgpio
      site=(--system-site-packages)
    fi
    if ! "$PY" -m venv --clear "${site[@]}" "$VENV" 2>/dev/null || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
      apt_install python3-venv   # Debian ships venv apart from python3
      "$PY" -m venv --clear "${site[@]}" "$VENV"
    fi
    rm -f "$VENV"/.installed-*
  fi
  # the demo needs stairrig alone, the tests their tools too (a .installed-HASH-test stamp covers both)
  local hash stamp
  hash=$(sha1sum pyproject.toml | cut -c1-12)
  stamp="$VENV/.installed-$hash${1:+-$1}"
  if [ ! -e "$stamp" ] && { [ -n "${1:-}" ] || [ ! -e "$VENV/.installed-$hash-test" ]; }; then
    "$VENV/bin/python" -m pip install -q -e ".${1:+[$1]}"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
    echo "dev.sh: the stairrig command is $PWD/$VENV/bin/stairrig (. $VENV/bin/activate puts it on the PATH)" >&2
  fi
}

ensure_home_assistant() {
  # tests/test_home_assistant.py runs a real Home Assistant, the oldest supported and a current one,
  # each in its own venv under ~/.cache/stairrig (tests/homeassistant/versions.py): made once, in a few
  # minutes (Python 3.13.5 is built from source for the current one), then only checked.
  # STAIRRIG_SKIP_HA=1 leaves them out, and those tests skip.
  case "${STAIRRIG_SKIP_HA:-}" in
    ""|0) ;;
    *) echo "dev.sh: STAIRRIG_SKIP_HA=$STAIRRIG_SKIP_HA: no Home Assistant for the tests" >&2; return 0 ;;
  esac
  # what building Python from source needs
  apt_install build-essential libssl-dev zlib1g-dev libbz2-dev libreadline-dev libsqlite3-dev \
    libffi-dev liblzma-dev libncurses-dev uuid-dev xz-utils
  if ! "$VENV/bin/python" -m tests.homeassistant.provision; then
    echo "dev.sh: cannot prepare Home Assistant for the tests (see above); STAIRRIG_SKIP_HA=1 ./dev.sh test" \
         "runs the other tests without it" >&2
    exit 1
  fi
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
  demo)
    ensure_python
    exec "$VENV/bin/stairrig" demo "$@"
    ;;
  test|tests)
    ensure_python test
    # the tests start their own Mosquitto on a free port and drive Debian's Chromium
    apt_install mosquitto chromium
    ensure_home_assistant
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  bench)
    ensure_python test
    "$VENV/bin/python" bench/replay_speed.py
    "$VENV/bin/python" bench/live_latency.py
    "$VENV/bin/python" bench/history_queries.py
    apt_install mosquitto chromium
    "$VENV/bin/python" bench/mqtt_latency.py
    "$VENV/bin/python" bench/panel_load.py
    "$VENV/bin/python" bench/panel_latency.py
    ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
