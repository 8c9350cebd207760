# shellcheck shell=bash
# need_programs WHO PROGRAM:PACKAGE...: installs the Debian packages of the programs that
# are not on PATH, when we may (root with apt-get, as on CI); otherwise stops with the one
# line that says what to install. WHO names the calling script in its messages.
# Source it: . scripts/need-programs.sh
need_programs() {
  local who=$1 pair missing=()
  shift
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: error: missing programs; install: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "$who: installing ${missing[*]} with apt-get" >&2
  apt-get update -qq || { echo "$who: error: apt-get update failed" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { echo "$who: error: apt-get install ${missing[*]} failed" >&2; exit 1; }
}
