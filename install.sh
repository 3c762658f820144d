#!/usr/bin/env bash
# stairrig's installer for Raspberry Pi OS (Bookworm, Trixie) and Debian.
#
#   sudo ./install.sh               install (or repair) and start the service
#   sudo ./install.sh --update      reinstall the program from this checkout, restart
#   sudo ./install.sh --uninstall [--purge]
#                                   remove the service and the program; --purge
#                                   also deletes /etc/stairrig, /var/lib/stairrig
#                                   (the history!) and the stairrig account
# Options:
#   --no-start       install, but neither enable nor start the service
#   --enable-spi     append dtparam=spi=on to the firmware's config.txt if it lacks it
#   --dry-run        print every action instead of doing it
#   --root DIR       install into DIR as if it were / (file operations happen
#                    under DIR; apt, useradd, pip and systemctl are printed,
#                    not run; pip runs into DIR when STAIRRIG_INSTALL_PIP=1)
#   -h, --help       this text
#
# Running it twice changes nothing: every file is compared before it is
# written, and /etc/stairrig/rig.toml is never overwritten.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python3}
ACCOUNT=stairrig
GROUPS_HW=(gpio spi)
APT_PACKAGES=(python3-venv python3-lgpio)

ROOT=""
DRY_RUN=0
ACTION=install
PURGE=0
START=1
ENABLE_SPI=0
ARGS="$*"
BUILD=""
trap '[ -z "$BUILD" ] || rm -rf "$BUILD"' EXIT

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift ;;
    --root=*) ROOT=${1#--root=} ;;
    --dry-run) DRY_RUN=1 ;;
    --uninstall) ACTION=uninstall ;;
    --purge) PURGE=1 ;;
    --update) ACTION=update ;;
    --no-start) START=0 ;;
    --enable-spi) ENABLE_SPI=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done
[ "$PURGE" = 1 ] && [ "$ACTION" != uninstall ] && die "--purge goes with --uninstall"

if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT: no such directory"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" = / ] && ROOT=""
fi
# What is done for real: files (FILES=1) and system commands (CMDS=1).
# --root DIR: files under DIR, commands printed; --dry-run alone: nothing.
if [ -n "$ROOT" ]; then FILES=$((1 - DRY_RUN)); CMDS=0
elif [ "$DRY_RUN" = 1 ]; then FILES=0; CMDS=0
else FILES=1; CMDS=1
fi
if [ "$CMDS" = 1 ] && [ "$(id -u)" != 0 ]; then
  die "run it as root (sudo $0 $ARGS), or try --dry-run"
fi

VENV=/opt/stairrig/venv
ETC=/etc/stairrig
CONFIG=$ETC/rig.toml
STATE=/var/lib/stairrig
UNIT=/etc/systemd/system/stairrig.service
KIOSK_UNIT=/etc/systemd/user/stairrig-kiosk.service
LINK=/usr/local/bin/stairrig
STAMP=$VENV/.stairrig-source    # the hash of the sources last installed into the venv

say() { echo "  $*"; }
# change VERB WHAT: report a change to a file, done or (--dry-run) to be done.
change() {
  if [ "$FILES" = 1 ]; then say "$(printf '%-10s' "$1") $2"; else say "would be $1: $2"; fi
}
# A system command: run (and shown), or only shown.
shown() { local a out=""; for a in "$@"; do out+=" $(printf '%q' "$a")"; done; echo "${out# }"; }
# Both end the script on failure themselves: they also run inside `if step_...`,
# where bash's set -e does not apply.
cmd() {
  if [ "$CMDS" = 1 ]; then
    echo "  + $(shown "$@")"
    "$@" || die "failed: $(shown "$@")"
  else
    echo "  would run: $(shown "$@")"
  fi
}
# A file operation under $ROOT: done (and shown), or only shown.
fileop() {
  if [ "$FILES" = 1 ]; then "$@" || die "failed: $(shown "$@")"; else echo "  would run: $(shown "$@")"; fi
}

# install_file SRC DEST MODE: copy SRC to $ROOT/DEST unless it is already the
# same; returns 0 when it wrote the file, 1 when it was unchanged.
install_file() {
  local src=$1 dest=$ROOT$2 mode=$3
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    say "unchanged  $2"
    return 1
  fi
  if [ -e "$dest" ]; then change updated "$2"; else change created "$2"; fi
  fileop install -D -m "$mode" "$src" "$dest"
  return 0
}

make_dir() {  # make_dir DIR MODE
  if [ -d "$ROOT$1" ]; then say "unchanged  $1/"; return 1; fi
  change created "$1/"
  fileop install -d -m "$2" "$ROOT$1"
}

remove() {  # remove PATH...: files, symlinks or directory trees under $ROOT
  local p
  for p in "$@"; do
    if [ -e "$ROOT$p" ] || [ -L "$ROOT$p" ]; then
      change removed "$p"
      fileop rm -rf -- "$ROOT$p"
    else
      say "absent     $p"
    fi
  done
}

user_exists() {
  if [ -n "$ROOT" ]; then grep -qs "^$1:" "$ROOT/etc/passwd"; else getent passwd "$1" >/dev/null; fi
}
group_exists() {
  if [ -n "$ROOT" ]; then grep -qs "^$1:" "$ROOT/etc/group"; else getent group "$1" >/dev/null; fi
}
have_systemctl() { [ "$CMDS" = 0 ] || command -v systemctl >/dev/null; }

# What pip installs from: the whole checkout, as one sorted list of paths
# relative to $SRC, read once into SOURCES; the same list is hashed (the stamp)
# and copied for pip, so the stamp covers exactly what gets built. In a git
# checkout: every file git tracks, and new files it does not ignore. From a
# tarball (no .git): every file but hidden folders (version control, caches,
# .venv), virtual environments, build artefacts and compiled Python.
# pyproject.toml decides what of it is installed.
SOURCES=()
collect_sources() {
  local list inside="" f
  list=$(mktemp) || die "cannot create a temporary file"
  if [ -e "$SRC/.git" ] && command -v git >/dev/null; then
    # -c safe.directory: root may list a checkout that another user owns
    git -c safe.directory="$SRC" -C "$SRC" ls-files -z --cached --others --exclude-standard > "$list" \
      || { rm -f "$list"; die "cannot list the files of the checkout $SRC (git ls-files failed, above)"; }
  else
    # hidden folders (.git, .venv, .cache, .pytest_cache, ...) hold no package
    (cd "$SRC" && find . -mindepth 1 \( -type d \( -name '.*' -o -name venv -o -name __pycache__ \
        -o -name '*.egg-info' -o -path ./build -o -path ./dist \) \) -prune \
        -o \( -type f -o -type l \) ! -name '*.py[co]' -printf '%P\0') \
      > "$list" || { rm -f "$list"; die "cannot list the files under $SRC"; }
  fi
  # a --root inside the checkout is not part of it
  case "$ROOT/" in "$SRC"/?*) inside=${ROOT#"$SRC"/}/ ;; esac
  SOURCES=()
  local project=0
  while IFS= read -r -d '' f; do
    if [ -n "$inside" ] && [[ "$f/" == "$inside"* ]]; then continue; fi
    # a tracked file deleted in the working tree, or a submodule, is not a file to copy
    if [ -f "$SRC/$f" ] || [ -L "$SRC/$f" ]; then SOURCES+=("$f"); fi
    if [ "$f" = pyproject.toml ]; then project=1; fi
  done < <(LC_ALL=C sort -z "$list")
  rm -f "$list"
  [ "$project" = 1 ] && [ -f "$SRC/pyproject.toml" ] \
    || die "$SRC has no pyproject.toml: run install.sh from a stairrig checkout or its unpacked tarball"
}

# The hash of SOURCES: their names and contents.
source_hash() {
  (cd "$SRC" && printf '%s\0' "${SOURCES[@]}" | xargs -0 -r sha256sum -- | sha256sum | cut -d' ' -f1)
}

# -- install steps -------------------------------------------------------------
step_packages() {
  echo "system packages"
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} = 0 ]; then say "unchanged  ${APT_PACKAGES[*]} installed"; return; fi
  if [ "$CMDS" = 1 ] && ! command -v apt-get >/dev/null; then
    die "please install ${missing[*]} (no apt-get here)"
  fi
  cmd apt-get update -qq
  if [ "$CMDS" = 1 ] && [[ " ${missing[*]} " == *" python3-lgpio "* ]] \
       && ! apt-cache show python3-lgpio >/dev/null 2>&1; then
    # Not a Raspberry Pi OS archive: the pins then need lgpio from PyPI
    # (pip install 'stairrig[lgpio]' into the venv) or another pin factory.
    echo "install.sh: warning: python3-lgpio is not in this system's archive; skipping it" >&2
    local keep=()
    for pkg in "${missing[@]}"; do [ "$pkg" = python3-lgpio ] || keep+=("$pkg"); done
    missing=("${keep[@]}")
    [ ${#missing[@]} = 0 ] && return
  fi
  cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

step_account() {
  echo "account"
  local g
  for g in "${GROUPS_HW[@]}"; do
    if group_exists "$g"; then say "unchanged  group $g"; else cmd groupadd --system "$g"; fi
  done
  if user_exists "$ACCOUNT"; then
    say "unchanged  user $ACCOUNT"
  else
    cmd useradd --system --user-group --home-dir "$STATE" --no-create-home \
      --shell /usr/sbin/nologin --groups "$(IFS=,; echo "${GROUPS_HW[*]}")" \
      --comment "stairrig service" "$ACCOUNT"
  fi
}

step_dirs() {
  echo "directories"
  make_dir "$ETC" 0755 || true
  if make_dir "$STATE" 0750; then cmd chown "$ACCOUNT:$ACCOUNT" "$ROOT$STATE"; fi
}

# Returns 0 when the program changed (a restart is due).
step_program() {
  echo "program ($VENV)"
  local real=$CMDS
  [ -n "$ROOT" ] && [ "$FILES" = 1 ] && [ "${STAIRRIG_INSTALL_PIP:-0}" = 1 ] && real=1   # never in a dry run
  if [ "$real" = 0 ]; then
    [ -x "$ROOT$VENV/bin/python" ] && say "unchanged  $VENV/" \
      || echo "  would run: $PYTHON -m venv --system-site-packages $ROOT$VENV"
    echo "  would run: $ROOT$VENV/bin/python -m pip install $SRC  (from a copy of the checkout)"
    return 1
  fi
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "stairrig needs Python 3.11 or later ($PYTHON is $("$PYTHON" --version 2>&1))"
  if [ -x "$ROOT$VENV/bin/python" ] && ! "$ROOT$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    # a system upgrade (Bookworm -> Trixie: Python 3.11 -> 3.13) leaves a venv without its packages
    change recreated "$VENV/ (its Python changed)"
    "$PYTHON" -m venv --clear --system-site-packages "$ROOT$VENV" || die "recreating the venv $VENV failed"
    rm -f "$ROOT$STAMP"
  elif [ -x "$ROOT$VENV/bin/python" ]; then
    say "unchanged  $VENV/"
    grep -qs '^include-system-site-packages = true' "$ROOT$VENV/pyvenv.cfg" || echo \
      "install.sh: warning: $VENV was made without --system-site-packages: python3-lgpio is not visible in it" >&2
  else
    change created "$VENV/"
    echo "  + $PYTHON -m venv --system-site-packages $ROOT$VENV"
    "$PYTHON" -m venv --system-site-packages "$ROOT$VENV" || die "creating the venv $VENV failed"
  fi
  local hash
  collect_sources
  hash=$(source_hash)
  if [ "$ACTION" != update ] && [ "$(cat "$ROOT$STAMP" 2>/dev/null)" = "$hash" ]; then
    say "unchanged  stairrig in $VENV (same sources)"
    return 1
  fi
  # pip builds in the source folder (build/, *.egg-info): build from a copy of
  # the checkout (SOURCES, the files just hashed) so that it gets no root-owned files.
  BUILD=$(mktemp -d)
  (cd "$SRC" && printf '%s\0' "${SOURCES[@]}" | xargs -0 -r cp -P --parents -t "$BUILD" --) \
    || die "copying the checkout $SRC to $BUILD failed"
  echo "  + $ROOT$VENV/bin/python -m pip install $SRC  (from a copy of its ${#SOURCES[@]} files)"
  "$ROOT$VENV/bin/python" -m pip install -q --disable-pip-version-check "$BUILD" \
    || die "installing stairrig into $VENV failed (see pip's message above); nothing was marked installed"
  rm -rf "$BUILD"; BUILD=""
  echo "$hash" > "$ROOT$STAMP"
  say "installed  stairrig $("$ROOT$VENV/bin/python" -c 'import rig; print(rig.__version__)' 2>/dev/null || true) in $VENV"
  return 0
}

step_link() {
  # `stairrig status` and `stairrig sessions ...` from any shell.
  if [ -L "$ROOT$LINK" ] && [ "$(readlink "$ROOT$LINK")" = "$VENV/bin/stairrig" ]; then
    say "unchanged  $LINK"
  elif [ -e "$ROOT$LINK" ] || [ -L "$ROOT$LINK" ]; then
    say "kept       $LINK (not ours; the program is $VENV/bin/stairrig)"
  else
    change created "$LINK -> $VENV/bin/stairrig"
    fileop install -d "$ROOT$(dirname "$LINK")"
    fileop ln -s "$VENV/bin/stairrig" "$ROOT$LINK"
  fi
}

step_config() {
  echo "configuration"
  if [ -e "$ROOT$CONFIG" ]; then
    if cmp -s "$SRC/rig/rig.example.toml" "$ROOT$CONFIG"; then
      say "unchanged  $CONFIG"
    else
      say "kept       $CONFIG (yours, never overwritten; the example is $SRC/rig/rig.example.toml)"
    fi
  else
    install_file "$SRC/rig/rig.example.toml" "$CONFIG" 0640 || true
    # Readable by the service (MQTT credentials may go in it later: not by all).
    cmd chgrp "$ACCOUNT" "$ROOT$CONFIG"
    say "edit it for your rig: the pins, the rails, the athlete (stairrig check-config $CONFIG)"
  fi
  if [ "$CMDS" = 1 ] && [ -x "$VENV/bin/stairrig" ]; then
    "$VENV/bin/stairrig" check-config "$CONFIG" >/dev/null \
      || echo "install.sh: warning: $CONFIG has a mistake (above): the service will not start until it is fixed" >&2
  fi
}

# Returns 0 when the unit changed.
step_units() {
  echo "systemd units"
  local changed=1
  if install_file "$SRC/systemd/stairrig.service" "$UNIT" 0644; then
    changed=0
    have_systemctl && cmd systemctl daemon-reload
  fi
  # The wall panel: a user unit, enabled by the desktop user (see the file).
  install_file "$SRC/systemd/stairrig-kiosk.service" "$KIOSK_UNIT" 0644 || true
  return $changed
}

step_spi() {
  echo "SPI (the MCP3008 for the rail load cells)"
  local cfg
  for cfg in /boot/firmware/config.txt /boot/config.txt; do
    [ -f "$ROOT$cfg" ] && break
  done
  if [ ! -f "$ROOT$cfg" ]; then
    say "no /boot/firmware/config.txt: not a Raspberry Pi, nothing to check"
    return
  fi
  if grep -Eqs '^[[:space:]]*dtparam=spi=on' "$ROOT$cfg"; then
    say "unchanged  $cfg has dtparam=spi=on"
  elif [ "$ENABLE_SPI" = 1 ]; then
    # After an [all] filter, so that no [pi4]-style section at the end limits it.
    change updated "$cfg: dtparam=spi=on appended; reboot for it to take effect"
    fileop sh -c "printf '\n[all]\ndtparam=spi=on\n' >> '$ROOT$cfg'"
  else
    echo "install.sh: warning: $cfg lacks dtparam=spi=on: the force channels (MCP3008)" \
         "cannot be read. Run again with --enable-spi (or raspi-config), then reboot." >&2
  fi
}

step_service() {  # step_service RESTART(0|1)
  echo "service"
  if [ "$START" = 0 ]; then
    say "not started (--no-start): sudo systemctl enable --now stairrig"
    return
  fi
  have_systemctl || { say "no systemctl here: start $VENV/bin/stairrig run --config $CONFIG yourself"; return; }
  if [ "$1" = 1 ]; then
    cmd systemctl enable stairrig
    cmd systemctl restart stairrig
  else
    cmd systemctl enable --now stairrig   # nothing to do when it already runs
  fi
}

do_install() {
  echo "stairrig $ACTION${ROOT:+ into $ROOT}$([ "$DRY_RUN" = 1 ] && echo ' (dry run)')"
  step_packages
  step_account
  step_dirs
  # each step returns 0 when it changed something (a restart is due), 1 when not;
  # failures inside them end the script with die (set -e is off on the left of &&)
  local restart=0
  if step_program; then restart=1; fi
  step_link
  step_config
  if step_units; then restart=1; fi
  step_spi
  [ "$ACTION" = update ] && restart=1
  step_service "$restart"
  echo
  echo "done. Its state:   stairrig status"
  echo "      its log:     journalctl -u stairrig -f"
  echo "      the panel:   as the desktop user, systemctl --user enable --now stairrig-kiosk"
}

do_uninstall() {
  echo "stairrig uninstall${ROOT:+ from $ROOT}$([ "$PURGE" = 1 ] && echo ' --purge')$([ "$DRY_RUN" = 1 ] && echo ' (dry run)')"
  echo "service"
  if [ -e "$ROOT$UNIT" ] && have_systemctl; then
    cmd systemctl disable --now stairrig
  fi
  # (a desktop user's enabled stairrig-kiosk link is left dangling: harmless)
  local had_unit=0
  [ -e "$ROOT$UNIT" ] && had_unit=1
  remove "$UNIT" "$KIOSK_UNIT"
  [ "$had_unit" = 1 ] && have_systemctl && cmd systemctl daemon-reload
  echo "program"
  if [ -L "$ROOT$LINK" ] && [ "$(readlink "$ROOT$LINK")" = "$VENV/bin/stairrig" ]; then remove "$LINK"; fi
  remove /opt/stairrig
  echo "data"
  if [ "$PURGE" = 1 ]; then
    remove "$ETC" "$STATE"
    if user_exists "$ACCOUNT"; then cmd userdel "$ACCOUNT"; else say "absent     user $ACCOUNT"; fi
  else
    local d
    for d in "$ETC" "$STATE"; do
      [ -e "$ROOT$d" ] && say "kept       $d (--purge deletes it)"
    done
    user_exists "$ACCOUNT" && say "kept       user $ACCOUNT (--purge deletes it)"
  fi
  return 0
}

case "$ACTION" in
  install|update) do_install ;;
  uninstall) do_uninstall ;;
esac
