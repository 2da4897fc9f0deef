# Sourced (not run): points podman and buildah at configuration files of this project's own,
# under the cache dir (default <repo>/target/containers), never the host's /etc/containers:
#
#   CONTAINERS_CONF          containers.conf: cgroupfs cgroup manager, runc, no default ulimits,
#                            events to a file (no journald here)
#   CONTAINERS_STORAGE_CONF  storage.conf: the vfs driver, graph and run roots under the cache dir
#
# This host needs all of that: no systemd (so no systemd cgroup manager or journald), an
# overlay-less filesystem (so vfs), crun absent (runc), and a hard RLIMIT_NOFILE below
# podman's default ulimit (so default_ulimits = []). Set VIRT_CONTAINERS_DIR to use another
# directory; call with the variables already set to keep yours. podman's run root and tmp dir
# live there too (so nothing of it lands in /run); they are not on a tmpfs, so after a reboot
# remove storage/run and storage/tmp before using the containers again.
_virt_ct_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VIRT_CONTAINERS_DIR=${VIRT_CONTAINERS_DIR:-$_virt_ct_repo/target/containers}
mkdir -p "$VIRT_CONTAINERS_DIR/storage"
VIRT_CONTAINERS_DIR=$(cd "$VIRT_CONTAINERS_DIR" && pwd)
export VIRT_CONTAINERS_DIR
if [ -z "${CONTAINERS_CONF:-}" ]; then
  export CONTAINERS_CONF="$VIRT_CONTAINERS_DIR/containers.conf"
  cat >"$CONTAINERS_CONF.tmp.$$" <<CONF
[containers]
default_ulimits = []
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
events_logfile_path = "$VIRT_CONTAINERS_DIR/storage/events.log"
tmp_dir = "$VIRT_CONTAINERS_DIR/storage/tmp"
CONF
  mv -f "$CONTAINERS_CONF.tmp.$$" "$CONTAINERS_CONF"
fi
if [ -z "${CONTAINERS_STORAGE_CONF:-}" ]; then
  export CONTAINERS_STORAGE_CONF="$VIRT_CONTAINERS_DIR/storage.conf"
  cat >"$CONTAINERS_STORAGE_CONF.tmp.$$" <<CONF
[storage]
driver = "vfs"
graphroot = "$VIRT_CONTAINERS_DIR/storage/graph"
runroot = "$VIRT_CONTAINERS_DIR/storage/run"
CONF
  mv -f "$CONTAINERS_STORAGE_CONF.tmp.$$" "$CONTAINERS_STORAGE_CONF"
fi
unset _virt_ct_repo
