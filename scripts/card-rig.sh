#!/usr/bin/env bash
# A private pcscd with only the vpcd virtual reader, for tests and demos.
#
#   scripts/card-rig.sh start DIR [--no-readers]
#                                   start pcscd in the background; PID in DIR/pcscd.pid,
#                                   log in DIR/pcscd.log, reader config in DIR/reader.conf.d
#                                   (empty with --no-readers: a PC without a card reader)
#   scripts/card-rig.sh stop DIR    stop that pcscd by its PID and wait until it is gone
#
# CARD_RIG_DEBUG=1 makes pcscd log everything, APDUs included, to DIR/pcscd.log.
#
# Readers "Virtual PCD 00 00" and "Virtual PCD 00 01" then wait for a card on TCP
# 127.0.0.1:35963 and 35964 (`vcard --port ...`). pcscd's socket is fixed at
# /run/pcscd/pcscd.comm and the vpcd ports are machine-wide: one rig per machine at a time,
# so tests using it must not run in parallel.
set -euo pipefail

usage() { echo "usage: $0 start DIR [--no-readers] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1
with_readers=yes
case ${3-} in
  "") ;;
  --no-readers) [ "$action" = start ] || usage; with_readers=no ;;
  *) usage ;;
esac
mkdir -p "$2"
# pcscd changes to / before reading its config, so every path it gets must be absolute.
dir=$(cd "$2" && pwd)
pid_file=$dir/pcscd.pid
vpcd_driver=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
socket=/run/pcscd/pcscd.comm

is_our_pcscd() { # PID: alive and really pcscd (not a recycled PID)
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = pcscd ]
}

start() {
  command -v pcscd >/dev/null || { echo "pcscd is not installed: scripts/install-deps.sh --test" >&2; exit 1; }
  [ -f "$vpcd_driver" ] || { echo "vpcd is not installed: scripts/install-deps.sh --test" >&2; exit 1; }
  if [ -f "$pid_file" ] && is_our_pcscd "$(cat "$pid_file")"; then
    echo "card rig: already running (pid $(cat "$pid_file"))"
    return
  fi
  if [ -S "$socket" ] && pgrep -x pcscd >/dev/null; then
    echo "another pcscd is running (systemd? try: systemctl stop pcscd.socket pcscd)" >&2
    exit 1
  fi
  mkdir -p "$dir/reader.conf.d"
  rm -f "$dir/reader.conf.d/vpcd"
  if [ "$with_readers" = yes ]; then
    cat >"$dir/reader.conf.d/vpcd" <<CONF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:0x8C7B
LIBPATH      $vpcd_driver
CHANNELID    0x8C7B
CONF
  fi
  # setsid + redirections: pcscd must not hold the caller's terminal or pipes open.
  setsid pcscd --foreground ${CARD_RIG_DEBUG:+--debug --apdu} -c "$dir/reader.conf.d" </dev/null >"$dir/pcscd.log" 2>&1 &
  echo $! >"$pid_file"
  for _ in $(seq 100); do
    [ -S "$socket" ] && return
    # Not is_our_pcscd: right after the fork the child may not have become pcscd yet.
    kill -0 "$(cat "$pid_file")" 2>/dev/null || break
    sleep 0.05
  done
  echo "pcscd did not start; its log:" >&2
  cat "$dir/pcscd.log" >&2
  exit 1
}

stop() {
  [ -f "$pid_file" ] || return 0
  pid=$(cat "$pid_file")
  if is_our_pcscd "$pid"; then
    kill "$pid"
    for _ in $(seq 100); do
      is_our_pcscd "$pid" || break
      sleep 0.05
    done
    if is_our_pcscd "$pid"; then
      echo "pcscd $pid ignored SIGTERM for 5 s; killing it" >&2
      kill -KILL "$pid"
    fi
  fi
  rm -f "$pid_file"
}

case $action in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
