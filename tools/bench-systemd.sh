#!/usr/bin/env bash
# Socket activation under a real systemd: the first call to a socket-activated virtqemud (service
# inactive -> answer) against a warm call (service running), median of RUNS runs each, for this
# project's virtqemud and, where Debian's libvirt-daemon ships its modular units, libvirt 9.0's
# own virtqemud under the same systemd 252.
#
# Each daemon runs in a Debian 12 container booting systemd as PID 1 (systemd-nspawn on an
# overlay of deploy/containers/rootfs.sh's tree, as tests/tests/systemd_units.rs does; ours
# boots the tests' very tree). The call is `virt -c qemu:///system list`
# (ours) and `virsh -c qemu:///system list` (libvirt), timed inside the container with
# `date +%s%N`, client start included; a cold run is `systemctl stop DAEMON.service` (the
# sockets stay) followed by the call. The first cold run of each is dropped (libvirt probes
# QEMU's capabilities on its first start and caches them; ours probes in the background).
#
# Usage: tools/bench-systemd.sh [RUNS]   (root; PROFILE=debug to use the debug binaries)
# Env: PROFILE (release), SKIP_LIBVIRT=1 (ours only).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-9}
PROFILE=${PROFILE:-release}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
CACHE="$TARGET/containers"
[ "$(id -u)" -eq 0 ] || { echo "bench-systemd.sh: needs root (overlay mounts, nspawn)" >&2; exit 1; }
for t in systemd-nspawn debootstrap nsenter; do
  command -v "$t" >/dev/null || { echo "bench-systemd.sh: $t is not installed" >&2; exit 1; }
done

# The tests' package list (tests/src/systemd_container.rs, SYSTEMD_PACKAGES): the same tarball.
OURS_PKGS="systemd,systemd-sysv,dbus,systemd-container,qemu-system-x86,busybox-static"
# libpam-systemd: polkitd (a dependency of libvirt-daemon-system) needs default-logind, a virtual
# package debootstrap does not resolve.
LIBVIRT_PKGS="$OURS_PKGS,libpam-systemd,libvirt-daemon-system,libvirt-daemon-driver-qemu,libvirt-clients"

# rootfs PKGS: deploy/containers/rootfs.sh's tarball with PKGS (built when missing: minutes),
# unpacked once as the tests unpack it; the tree's path on stdout.
rootfs() {
  local tarball dir
  tarball=$(deploy/containers/rootfs.sh --cache "$CACHE" --include "$1")
  dir="$CACHE/tree-$(basename "$tarball" .tar)"
  mkdir -p "$dir"
  (
    flock 9
    if [ ! -e "$dir/rootfs/usr/lib/systemd/systemd" ]; then
      rm -rf "$dir/rootfs.tmp"
      mkdir "$dir/rootfs.tmp"
      tar --numeric-owner --xattrs --acls -xf "$tarball" -C "$dir/rootfs.tmp"
      mv "$dir/rootfs.tmp" "$dir/rootfs"
    fi
  ) 9>"$dir/.lock"
  echo "$dir/rootfs"
}

WORK=$(mktemp -d "$CACHE/bench-XXXXXX")
NSPAWN=""; LEADER=""
cleanup() {
  [ -z "$LEADER" ] || kill -KILL "$LEADER" 2>/dev/null || true
  [ -z "$NSPAWN" ] || wait "$NSPAWN" 2>/dev/null || true
  LEADER=""; NSPAWN=""
  umount "$WORK/merged" 2>/dev/null || true
}
trap 'cleanup; rm -rf "$WORK"' EXIT

# boot LOWER: overlay on LOWER at $WORK/merged, systemd booted in it; sets LEADER.
boot() {
  cleanup
  rm -rf "$WORK/upper" "$WORK/work" "$WORK/merged"
  mkdir -p "$WORK/upper" "$WORK/work" "$WORK/merged"
  mount -t overlay overlay -o "lowerdir=$1,upperdir=$WORK/upper,workdir=$WORK/work" "$WORK/merged"
}
start() {
  systemd-nspawn --boot --quiet --register=no --keep-unit --private-network --machine="$1" \
    --directory "$WORK/merged" --console=passive >"$WORK/console.log" 2>&1 &
  NSPAWN=$!
  for _ in $(seq 300); do
    LEADER=$(pgrep -P "$NSPAWN" | head -1 || true)
    [ -n "$LEADER" ] && break
    sleep 0.1
  done
  [ -n "$LEADER" ] || { cat "$WORK/console.log" >&2; echo "no container" >&2; exit 1; }
  for _ in $(seq 300); do
    s=$(inside systemctl is-system-running --wait 2>/dev/null || true)
    case "$s" in running|degraded) return 0 ;; esac
    sleep 0.2
  done
  echo "systemd did not boot" >&2; exit 1
}
inside() {
  (nsenter --target "$LEADER" --mount --uts --ipc --net --pid --cgroup --root --wd \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SYSTEMD_PAGER= "$@")
}

# measure SERVICE CALL...: prints the medians (ms, RUNS runs each) of the cold call, the warm
# call, the daemon's exec to READY=1 (systemd's timestamps) and the client's exec alone.
measure() {
  local svc=$1; shift
  inside sh -c '
    svc=$1; runs=$2; shift 2
    t() { s=$(date +%s%N); "$@" >/dev/null || exit 1; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
    # Warm-up: the first start ever (capability caches) is not what we measure.
    systemctl stop "$svc" 2>/dev/null; t "$@" >/dev/null
    for i in $(seq "$runs"); do
      # systemd fails a unit (and its sockets) started more than 5 times in 10 s
      # (StartLimitBurst=, StartLimitIntervalSec= defaults): pace the cold starts.
      sleep 2.5
      systemctl stop "$svc" 2>/dev/null
      [ "$(systemctl is-active "$svc")" = inactive ] || exit 2
      echo "cold $(t "$@")"
      [ "$(systemctl is-active "$svc")" = active ] || exit 3
      # By the clock of systemd: from the exec of the daemon to its READY=1.
      a=$(systemctl show -p ActiveEnterTimestampMonotonic --value "$svc")
      x=$(systemctl show -p ExecMainStartTimestampMonotonic --value "$svc")
      echo "ready $((a - x))"
    done
    for i in $(seq "$runs"); do echo "warm $(t "$@")"; done
    # The client alone: exec to exit without a connection.
    for i in $(seq "$runs"); do echo "client $(t "$1" --version)"; done
  ' sh "$svc" "$RUNS" "$@" >"$WORK/times" || { echo "measuring $svc failed" >&2; cat "$WORK/times" >&2; exit 1; }
  for kind in cold warm ready client; do
    awk -v k=$kind '$1 == k {print $2}' "$WORK/times" | sort -n |
      awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f ", m / 1000}'
  done
  echo
}

echo "# socket-activated first call vs warm call, median of $RUNS (ms), $(nproc) CPUs, $(date -u +%F)"

# Ours.
BIN="$TARGET/$PROFILE"
[ -x "$BIN/virtqemud" ] && [ -x "$BIN/virt" ] ||
  { echo "build first: cargo build ${PROFILE/debug/} -p virtqemud -p virt-client --bins" >&2; exit 1; }
boot "$(rootfs "$OURS_PKGS")"
install -m 0755 "$BIN/virtqemud" "$WORK/merged/usr/sbin/virtqemud"
install -m 0755 "$BIN/virt" "$WORK/merged/usr/bin/virt"
install -m 0644 deploy/systemd/virtqemud.service deploy/systemd/virtqemud.socket \
  deploy/systemd/virtqemud-ro.socket "$WORK/merged/etc/systemd/system/"
systemctl --root="$WORK/merged" enable virtqemud.socket virtqemud-ro.socket >/dev/null 2>&1
start bench-virt
printf '%-28s %9s %9s %16s %14s\n' "" "cold call" "warm call" "daemon to READY" "client alone"
read -r cold warm ready client < <(measure virtqemud.service virt -c qemu:///system list)
printf '%-28s %9s %9s %16s %14s\n' "virt virtqemud ($PROFILE)" "$cold" "$warm" "$ready" "$client"
cleanup

# libvirt's. Debian 12's libvirt 9.0 ships no modular daemons (no virtqemud binary or units:
# libvirt-daemon has libvirtd only); its socket-activated QEMU daemon is libvirtd, from
# libvirt-daemon-system's libvirtd.socket / libvirtd.service (Type=notify, --timeout 120 from
# /etc/default/libvirtd), so that is what is measured, unless a virtqemud.socket is there.
[ "${SKIP_LIBVIRT:-0}" = 1 ] && exit 0
boot "$(rootfs "$LIBVIRT_PKGS")"
M="$WORK/merged"
if [ -e "$M/lib/systemd/system/virtqemud.socket" ]; then
  systemctl --root="$M" disable libvirtd.service libvirtd.socket libvirtd-ro.socket \
    libvirtd-admin.socket >/dev/null 2>&1 || true
  systemctl --root="$M" enable virtqemud.socket virtqemud-ro.socket virtqemud-admin.socket \
    virtlogd.socket >/dev/null 2>&1
  svc=virtqemud.service; daemon=virtqemud
else
  # Socket-activated only: not started at boot, started by the first connection.
  systemctl --root="$M" disable libvirtd.service >/dev/null 2>&1 || true
  systemctl --root="$M" enable libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket \
    virtlogd.socket >/dev/null 2>&1
  svc=libvirtd.service; daemon=libvirtd
fi
# libvirt-daemon-config-network's "default" network autostarts (a bridge, dnsmasq, firewall
# rules): not part of the call measured, and the container's network is private anyway.
rm -f "$M/etc/libvirt/qemu/networks/autostart/"*.xml
start bench-libvirt
ver=$(inside "$daemon" --version | awk '{print $NF}')
read -r cold warm ready client < <(measure "$svc" virsh -c qemu:///system list)
printf '%-28s %9s %9s %16s %14s\n' "libvirt $ver $daemon" "$cold" "$warm" "$ready" "$client"
