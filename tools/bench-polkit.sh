#!/usr/bin/env bash
# What polkit costs a client: `virt list --all` (a new connection and one call each time)
# against virtqemud with auth_unix_rw = "polkit", as root (never asked), as a user polkit allows
# (one CheckAuthorization per connection), and as that user on the read-only socket without
# polkit (auth_unix_ro = "none"), N runs each, median and 90th percentile in milliseconds.
#
# Runs as root, with its own dbus-daemon and polkitd (in a private mount namespace, the
# repository's action file and a rules file allowing uid 1 bind-mounted over polkit's
# directories, as tests/tests/polkit.rs does); the host's polkit and buses are not touched.
# Usage: tools/bench-polkit.sh [N]   (binaries from $CARGO_TARGET_DIR/release, else target/release,
# else the debug ones)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-30}
T=${CARGO_TARGET_DIR:-$PWD/target}
BIN=$T/release; [ -x "$BIN/virtqemud" ] && [ -x "$BIN/virt" ] || BIN=$T/debug
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
D=$(mktemp -d); chmod 755 "$D"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$D"; }
trap cleanup EXIT
mkdir -p "$D/actions" "$D/rules.d" "$D/empty" "$D/root/etc/virt"
chmod 755 "$D"/actions "$D"/rules.d "$D"/empty "$D"/root
cp deploy/polkit/org.libvirt.unix.policy "$D/actions/"
user=$(getent passwd 1 | cut -d: -f1)
cat > "$D/rules.d/50-bench.rules" <<EOF
polkit.addRule(function(action, subject) {
    if (action.id == "org.libvirt.unix.manage" && subject.user == "$user") return polkit.Result.YES;
});
EOF
chmod 644 "$D"/actions/* "$D"/rules.d/*
cat > "$D/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=$D/bus.sock</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>
<allow receive_sender="*"/></policy></busconfig>
EOF
dbus-daemon --config-file="$D/bus.conf" --nofork --nopidfile --nosyslog 2>/dev/null & pids+=($!)
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$D/bus.sock"
for _ in $(seq 100); do [ -S "$D/bus.sock" ] && break; sleep 0.05; done
unshare -m --propagation private sh -c "set -e
mount --bind $D/actions /usr/share/polkit-1/actions
mount --bind $D/rules.d /etc/polkit-1/rules.d
mount --bind $D/empty /usr/share/polkit-1/rules.d
exec /usr/lib/polkit-1/polkitd --no-debug" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 200); do
  dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.PolicyKit1 2>/dev/null | grep -q true && break
  sleep 0.05
done
printf 'auth_unix_rw = "polkit"\n' > "$D/root/etc/virt/virtqemud.conf"
RUST_LOG=warn "$BIN/virtqemud" --root "$D/root" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 400); do [ -S "$D/root/run/virt/virtqemud-sock-ro" ] && break; sleep 0.05; done
sleep 1

measure() { # label, command...
  local label=$1; shift
  local times=()
  for _ in $(seq "$N"); do
    local s e
    s=$(date +%s%N)
    VIRT_ROOT="$D/root" "$@" >/dev/null
    e=$(date +%s%N)
    times+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v l="$label" '{a[NR]=$1} END {
    printf "%-48s median %6.2f ms  p90 %6.2f ms  (n=%d)\n", l, a[int((NR+1)/2)]/1000, a[int(NR*0.9)]/1000, NR }'
}
as1=(setpriv --reuid=1 --regid=1 --clear-groups --)
echo "binaries: $BIN"
measure "root, rw socket (polkit bypassed)" "$BIN/virt" -c qemu:///system list --all
measure "uid 1, rw socket (polkit asked, allowed)" "${as1[@]}" "$BIN/virt" -c qemu:///system list --all
measure "uid 1, ro socket (no polkit)" "${as1[@]}" "$BIN/virt" -r -c qemu:///system list --all
measure "root, ro socket (no polkit)" "$BIN/virt" -r -c qemu:///system list --all
