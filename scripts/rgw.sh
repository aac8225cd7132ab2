#!/usr/bin/env bash
# A real S3 implementation on loopback for the tests that need S3's own answers (412 to a
# conditional write, which the embedded s3rver ignores): Ceph's RADOS Gateway from Debian's
# packages, on a one-monitor, one-OSD (memstore) cluster, no authentication inside the cluster,
# pool size 1. Everything lives under the data dir; every daemon listens on 127.0.0.1 only.
#
#   bash scripts/rgw.sh start   installs the packages if missing, starts the cluster (idempotent),
#                               writes the endpoint and the S3 user's keys to $RGW_DIR/env
#   bash scripts/rgw.sh env     prints that file (`source <(bash scripts/rgw.sh env)` in a shell)
#   bash scripts/rgw.sh stop    stops the daemons and removes the data dir (memstore keeps nothing)
#
# Settings: RGW_DIR (default .local/rgw), RGW_PORT (S3 API, default 7480), RGW_MON_PORT (default
# 46789), RGW_MEMSTORE_BYTES (the OSD's memory, default 1 GiB; the finalization benchmark's 2-hour
# calls need more). The keys stay in $RGW_DIR/env (mode 600), never on a command line or in a log.
set -euo pipefail
cd "$(dirname "$0")/.."

RGW_DIR=${RGW_DIR:-$PWD/.local/rgw}
RGW_DIR=$(realpath -m "$RGW_DIR")
RGW_PORT=${RGW_PORT:-7480}
RGW_MEMSTORE_BYTES=${RGW_MEMSTORE_BYTES:-1073741824}
RGW_MON_PORT=${RGW_MON_PORT:-46789}
CONF=$RGW_DIR/ceph.conf
ENV_FILE=$RGW_DIR/env
ceph_args=(-c "$CONF")

log() { echo "rgw: $*" >&2; }

install_packages() {
  local packages=(ceph-mon ceph-osd ceph-common radosgw uuid-runtime)
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  local t0=$SECONDS
  $sudo apt-get update -qq
  # The packages' own services are not wanted: this cluster is started by hand, under RGW_DIR.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "installed in $((SECONDS - t0)) s"
}

# True when the gateway answers S3 on its port.
rgw_up() { curl -fsS -o /dev/null "http://127.0.0.1:$RGW_PORT/" 2>/dev/null; }

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_conf() {
  mkdir -p "$RGW_DIR"/{mon,osd,run,log}
  local fsid
  fsid=$(uuidgen)
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$RGW_MON_PORT
public_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_mon_client_mode = crc
mon_data_avail_warn = 1
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_crush_chooseleaf_type = 0
mon_warn_on_pool_no_redundancy = false
run_dir = $RGW_DIR/run
pid_file = $RGW_DIR/run/\$name.pid
admin_socket = $RGW_DIR/run/\$name.asok
log_file = $RGW_DIR/log/\$name.log
keyring = $RGW_DIR/keyring

[mon.a]
mon_data = $RGW_DIR/mon

[osd.0]
osd_data = $RGW_DIR/osd
osd_objectstore = memstore
memstore_device_bytes = $RGW_MEMSTORE_BYTES

[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw_data = $RGW_DIR/rgw
rgw_dns_name = 127.0.0.1
EOF
}

start() {
  install_packages
  if rgw_up && [[ -f $ENV_FILE ]]; then
    log "already running at http://127.0.0.1:$RGW_PORT"
    return 0
  fi
  local t0=$SECONDS
  if ! pid_alive "$RGW_DIR/run/mon.a.pid"; then
    # A stopped cluster kept nothing (memstore): start from an empty data dir.
    stop_daemons
    rm -rf "$RGW_DIR"
    write_conf
    monmaptool --create --addv a "[v2:127.0.0.1:$RGW_MON_PORT]" --fsid "$(awk '/^fsid/ {print $3}' "$CONF")" \
      "$RGW_DIR/monmap" >/dev/null
    ceph-authtool --create-keyring "$RGW_DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-mon "${ceph_args[@]}" --mkfs -i a --monmap "$RGW_DIR/monmap" --keyring "$RGW_DIR/keyring"
    ceph-mon "${ceph_args[@]}" -i a
  fi
  if ! pid_alive "$RGW_DIR/run/osd.0.pid"; then
    timeout 60 ceph "${ceph_args[@]}" osd create >/dev/null
    ceph-osd "${ceph_args[@]}" -i 0 --mkfs 2>>"$RGW_DIR/log/osd-mkfs.log"
    ceph-osd "${ceph_args[@]}" -i 0
  fi
  if ! pid_alive "$RGW_DIR/run/client.rgw.pid"; then
    mkdir -p "$RGW_DIR/rgw"
    radosgw "${ceph_args[@]}" -n client.rgw
  fi
  for _ in $(seq 1 120); do
    rgw_up && break
    sleep 1
  done
  rgw_up || {
    log "the gateway did not answer on 127.0.0.1:$RGW_PORT; see $RGW_DIR/log"
    exit 1
  }
  if [[ ! -f $ENV_FILE ]]; then
    local user
    user=$(radosgw-admin "${ceph_args[@]}" user create --uid=recorder-tests --display-name="recorder tests")
    (
      umask 077
      node -e '
        const u = JSON.parse(require("fs").readFileSync(0, "utf8"));
        const k = u.keys[0];
        process.stdout.write(
          `RGW_ENDPOINT=http://127.0.0.1:${process.argv[1]}\nRGW_ACCESS_KEY_ID=${k.access_key}\nRGW_SECRET_ACCESS_KEY=${k.secret_key}\n`,
        );' "$RGW_PORT" <<<"$user" >"$ENV_FILE"
    )
  fi
  log "S3 API at http://127.0.0.1:$RGW_PORT (started in $((SECONDS - t0)) s); endpoint and keys in $ENV_FILE"
}

stop_daemons() {
  local name
  for name in client.rgw osd.0 mon.a; do
    local pidfile=$RGW_DIR/run/$name.pid
    if pid_alive "$pidfile"; then
      local pid
      pid=$(cat "$pidfile")
      kill "$pid"
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
    fi
  done
}

case "${1:-}" in
start) start ;;
stop)
  stop_daemons
  rm -rf "$RGW_DIR"
  log "stopped"
  ;;
env)
  [[ -f $ENV_FILE ]] || {
    log "not running (bash scripts/rgw.sh start)"
    exit 1
  }
  sed 's/^/export /' "$ENV_FILE"
  ;;
*)
  echo "usage: bash scripts/rgw.sh start|stop|env" >&2
  exit 2
  ;;
esac
