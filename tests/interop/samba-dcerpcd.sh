#!/usr/bin/env bash
# Starts Samba's samba-dcerpcd (EPM on 135 plus lsarpc/samr/winreg/srvsvc/wkssvc on dynamic
# ports) on a loopback address of its own, with a private configuration under DIR.
#   samba-dcerpcd.sh start DIR [ADDR]   -> prints the PID once port 135 answers
#   samba-dcerpcd.sh stop DIR
# With SAMBA_EXTRA_CONF=FILE, FILE is appended to the generated smb.conf (shares, options).
# Needs the Debian packages samba, samba-common-bin (and smbclient for rpcclient).
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
addr=${3:-127.0.0.2}
case "$cmd" in
start)
  mkdir -p "$dir"/{private,state,lock,pid,ncalrpc,cache,log}
  cat >"$dir/smb.conf" <<CONF
[global]
  workgroup = MSRPCTEST
  netbios name = MSRPCSAMBA
  server role = standalone server
  interfaces = $addr/8
  bind interfaces only = yes
  rpc start on demand helpers = false
  private dir = $dir/private
  state directory = $dir/state
  lock directory = $dir/lock
  pid directory = $dir/pid
  ncalrpc dir = $dir/ncalrpc
  cache directory = $dir/cache
  log file = $dir/log/%m.log
  disable netbios = yes
  smb ports = 1445
CONF
  if [ -n "${SAMBA_EXTRA_CONF:-}" ]; then
    cat "$SAMBA_EXTRA_CONF" >>"$dir/smb.conf"
  fi
  /usr/libexec/samba/samba-dcerpcd -s "$dir/smb.conf" --libexec-rpcds -F --no-process-group \
    >"$dir/samba-dcerpcd.out" 2>&1 &
  echo $! >"$dir/samba-dcerpcd.pid"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/$addr/135") 2>/dev/null; then
      cat "$dir/samba-dcerpcd.pid"
      exit 0
    fi
    sleep 0.2
  done
  echo "samba-dcerpcd did not open $addr:135; see $dir/samba-dcerpcd.out" >&2
  exit 1
  ;;
stop)
  if [ -f "$dir/samba-dcerpcd.pid" ]; then
    kill "$(cat "$dir/samba-dcerpcd.pid")" 2>/dev/null || true
    pkill -f "samba-dcerpcd -s $dir/smb.conf" 2>/dev/null || true
    pkill -f "$dir/smb.conf" 2>/dev/null || true
  fi
  ;;
*) echo "usage: $0 start|stop DIR [ADDR]" >&2; exit 2 ;;
esac
