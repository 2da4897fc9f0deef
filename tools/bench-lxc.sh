#!/bin/bash
# Containers, ours (virtlxcd + virt-lxc-controller, release builds) against libvirt 9.0's LXC
# driver (libvirtd + libvirt_lxc), side by side in one run, with the same busybox-static root and
# the same domain XML. Medians of N (default 7) of, through each one's CLI (`virt` / `virsh`):
#   define                     one fresh definition (undefined again, untimed)
#   start                      from exec of `start` to its exit
#   start to marker            from exec of `start` until the init's first line is read through
#                              `console NAME`, run right after start returned (in a pty); both
#                              timed by tools' marker.py below, outside its interpreter start-up
#   destroy                    `destroy` of a running container, exec to exit
#   shutdown                   plain `shutdown` (libvirt: `--mode signal`; its plain shutdown
#                              does nothing without an initctl FIFO) until `domstate` reads shut
#                              off (polled: a CLI run per poll)
#   controller RSS             VmRSS of each container's controller with 10 running
#   daemon growth              (daemon RSS with 10 running - with none) / 10
#   domstats                   of all running containers, 10 and 50 (libvirt: unsupported, its
#                              error is shown), from exec to exit and the call alone (`virt -t`,
#                              virsh's --timing), beside one `domstate` through the same CLI
#                              (the floor: exec, connect, one call, exit)
# libvirtd runs in a private mount namespace with tmpfs over its state directories (it touches
# nothing of the host's libvirt). Its LXC driver fails on this hybrid cgroup host ("Unable to create
# directory /sys/fs/cgroup/unified") while the v2 mount still offers the hugetlb controller: the
# script mounts hugetlb as cgroup v1 first (/sys/fs/cgroup/hugetlb), as shared/tools/
# libvirt-anchor.sh does; this binds hugetlb to v1 for the whole host until reboot.
#
# Needs root, busybox-static, python3, bc, libvirt-daemon + libvirt-daemon-driver-lxc.
# usage: tools/bench-lxc.sh [N]        BIN=dir to use other binaries (default target/release)
#        SIDES="ours libvirt" (default) to pick the sides
set -euo pipefail
N=${1:-7}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}
SIDES=${SIDES:-ours libvirt}
[ "$(id -u)" = 0 ] || { echo "bench-lxc: needs root" >&2; exit 1; }
WORK=$(mktemp -d /tmp/bench-lxc.XXXXXX)
chmod 755 "$WORK"
OURS_PID=
cleanup() {
  # Every container of ours: the controllers the status files name, then the daemon.
  for f in "$WORK"/ours/run/virt/lxc/*.json; do
    [ -e "$f" ] || continue
    for p in $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("controller_pid",0), d.get("init_pid",0))' "$f"); do
      [ "$p" -gt 0 ] && kill -9 "$p" 2>/dev/null || true
    done
  done
  [ -n "$OURS_PID" ] && kill -9 "$OURS_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- the root filesystem and the domain XML, shared by both sides
R=$WORK/rootfs
mkdir -p "$R"/{bin,etc,proc,sys,dev,tmp,root}
cp /bin/busybox "$R/bin/busybox"
for a in sh echo cat sleep ip ping dd hostname id mount reboot poweroff ls; do ln -s busybox "$R/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\ntty:x:5:\n' > "$R/etc/group"
printf '#!/bin/sh\ntrap "exit 0" TERM\necho BENCH-MARKER\nwhile :; do sleep 1 & wait $!; done\n' > "$R/init"
chmod 755 "$R" "$R/init"; chmod 1777 "$R/tmp"
xml() {
  cat <<XML
<domain type='lxc'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>exe</type>
    <init>/init</init>
  </os>
  <devices>
    <filesystem type='mount' accessmode='passthrough'>
      <source dir='$R'/>
      <target dir='/'/>
    </filesystem>
    <console type='pty'/>
  </devices>
</domain>
XML
}
export -f xml
export R

# start-to-marker: `marker.py MARKER CLIENT URI NAME` runs `CLIENT -c URI start NAME`, then
# `CLIENT -c URI console NAME` in a pty (virsh's console needs a terminal) right after it returns,
# and prints "START_MS MARKER_MS", both from the exec of start. The interpreter's own start-up is
# outside the timed span.
cat > "$WORK/marker.py" <<'PY'
import os, pty, select, subprocess, sys, time
marker, client, uri, name = sys.argv[1].encode(), sys.argv[2], sys.argv[3], sys.argv[4]
t0 = time.monotonic_ns()
subprocess.run([client, "-q", "-c", uri, "start", name], check=True, stdout=subprocess.DEVNULL)
t1 = time.monotonic_ns()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(client, [client, "-c", uri, "console", name])
buf, end = b"", time.time() + 20
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        continue
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    buf += d
    if marker in buf:
        t2 = time.monotonic_ns()
        print("%.3f %.3f" % ((t1 - t0) / 1e6, (t2 - t0) / 1e6))
        os.kill(pid, 9); os.waitpid(pid, 0)
        sys.exit(0)
os.kill(pid, 9); os.waitpid(pid, 0)
sys.stderr.write("no marker on the console: %r\n" % buf[-400:])
sys.exit(1)
PY
PY3=/usr/bin/python3; [ -x "$PY3" ] || PY3=python3
export PY3

# The measurements, run by each side with: SIDE OUT_DIR DAEMON_PID CLIENT URI [SHUTDOWN ARGS...]
cat > "$WORK/measure.sh" <<'SH'
set -euo pipefail
SIDE=$1 OUT=$2 DPID=$3 CLIENT=$4 URI=$5; shift 5
SHUT=("$@")
WORK=$(dirname "$OUT")
V() { "$CLIENT" -q -c "$URI" "$@"; }
now() { date +%s%N; }
ms() { echo "scale=3; ($2-$1)/1000000" | bc; }
mkdir -p "$OUT"
state() { V domstate "$1" | head -1 | tr -d '\n'; }
wait_state() { for _ in $(seq 500); do [ "$(state "$1")" = "$2" ] && return 0; sleep 0.01; done; echo "$1 never $2" >&2; return 1; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
controllers() {
  if [ "$SIDE" = libvirt ]; then pgrep -f '^/usr/lib/libvirt/libvirt_lxc --name bench-r' || true
  else for f in "$WORK"/ours/run/virt/lxc/bench-r*.json; do [ -e "$f" ] && python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["controller_pid"])' "$f"; done; fi
}

xml bench-c > "$OUT/c.xml"
for i in $(seq "$N"); do xml "bench-d$i" > "$OUT/d$i.xml"; done
# define
for i in $(seq "$N"); do
  t0=$(now); V define "$OUT/d$i.xml" >/dev/null; t1=$(now); ms "$t0" "$t1" >> "$OUT/define"
  V undefine "bench-d$i" >/dev/null
done
V define "$OUT/c.xml" >/dev/null
# start, start to marker, destroy
for _ in $(seq "$N"); do
  read -r st mk < <("$PY3" "$WORK/marker.py" BENCH-MARKER "$CLIENT" "$URI" bench-c)
  echo "$st" >> "$OUT/start"; echo "$mk" >> "$OUT/marker"
  t0=$(now); V destroy bench-c >/dev/null; t1=$(now); ms "$t0" "$t1" >> "$OUT/destroy"
  wait_state bench-c "shut off"
done
# shutdown until shut off (the init has printed its marker: its TERM trap is set)
for _ in $(seq "$N"); do
  "$PY3" "$WORK/marker.py" BENCH-MARKER "$CLIENT" "$URI" bench-c >/dev/null
  t0=$(now); V shutdown bench-c "${SHUT[@]}" >/dev/null; wait_state bench-c "shut off"; t1=$(now)
  ms "$t0" "$t1" >> "$OUT/shutdown"
done
V undefine bench-c >/dev/null
# memory with 10 running
before=$(rss_kib "$DPID")
for i in $(seq 10); do xml "bench-r$i" > "$OUT/r$i.xml"; V create "$OUT/r$i.xml" >/dev/null; done
sleep 1
after=$(rss_kib "$DPID")
total=0; n=0
for p in $(controllers); do total=$((total + $(rss_kib "$p"))); n=$((n + 1)); done
echo "$n $total $before $after" > "$OUT/memory"
# bulk stats of 10, then 50 running
stats() {
  if V domstats >/dev/null 2>"$OUT/domstats.err"; then
    for _ in $(seq "$N"); do t0=$(now); V domstats >/dev/null; t1=$(now); ms "$t0" "$t1" >> "$OUT/domstats$1"; done
    V domstats | grep -c '^Domain:' > "$OUT/domstats$1.count" || true
    # The call alone, as the CLI's -t (virsh's --timing) reports it: request sent to answer read.
    for _ in $(seq "$N"); do V -t domstats | sed -n 's/^(Time: \(.*\) ms)$/\1/p' >> "$OUT/call$1"; done
    # One unary call through the same CLI (exec, connect, one RPC, exit): the floor under it.
    for _ in $(seq "$N"); do t0=$(now); V domstate bench-r1 >/dev/null; t1=$(now); ms "$t0" "$t1" >> "$OUT/unary$1"; done
  fi
}
stats 10
if [ "$SIDE" = ours ]; then
  for i in $(seq 11 50); do xml "bench-r$i" > "$OUT/r$i.xml"; V create "$OUT/r$i.xml" >/dev/null; done
  stats 50
fi
for i in $(seq 50); do V destroy "bench-r$i" >/dev/null 2>&1 || true; done
SH

median() { [ -s "$1" ] && sort -n "$1" | awk '{a[NR]=$1} END {printf "%.1f ms (min %.1f, max %.1f, n=%d)", a[int((NR+1)/2)], a[1], a[NR], NR}' || echo "-"; }
report() {
  local o=$WORK/$1
  echo "== $2"
  for m in define start marker destroy shutdown; do
    printf '  %-22s %s\n' "$m" "$(median "$o/$m")"
  done
  if [ -s "$o/memory" ]; then
    read -r n total before after < "$o/memory"
    printf '  %-22s %s\n' "controller RSS" "$([ "$n" -gt 0 ] && echo "$((total / n)) KiB per container ($n controllers)" || echo "-")"
    printf '  %-22s %s\n' "daemon growth" "$(( (after - before) / 10 )) KiB per container (daemon $before -> $after KiB)"
  fi
  for k in 10 50; do
    if [ -s "$o/domstats$k" ]; then
      printf '  %-22s %s (%s domains)\n' "domstats of $k" "$(median "$o/domstats$k")" "$(cat "$o/domstats$k.count")"
      printf '  %-22s %s\n' "  the call alone (-t)" "$(median "$o/call$k")"
      printf '  %-22s %s\n' "  one domstate, $k up" "$(median "$o/unary$k")"
    fi
  done
  [ -s "$o/domstats.err" ] && printf '  %-22s %s\n' "domstats" "$(tr '\n' ' ' < "$o/domstats.err")"
  return 0
}
export N

for side in $SIDES; do
  case $side in
  ours)
    [ -x "$BIN/virtlxcd" ] && [ -x "$BIN/virt-lxc-controller" ] && [ -x "$BIN/virt" ] ||
      cargo build -q --release -p virtlxcd -p virt-client --manifest-path "$ROOT/Cargo.toml"
    mkdir -p "$WORK/ours"
    "$BIN/virtlxcd" --root "$WORK/ours" --system >"$WORK/ours.log" 2>&1 &
    OURS_PID=$!
    for _ in $(seq 200); do [ -S "$WORK/ours/run/virt/virtlxcd-sock" ] && break; sleep 0.05; done
    if ! [ -S "$WORK/ours/run/virt/virtlxcd-sock" ]; then
      echo "== ours: virtlxcd did not start:"; cat "$WORK/ours.log"
    elif bash "$WORK/measure.sh" ours "$WORK/o" "$OURS_PID" "$BIN/virt" \
        "lxc+unix:///system?socket=$WORK/ours/run/virt/virtlxcd-sock" 2>"$WORK/ours.err"; then
      report o "ours (virtlxcd, virt -c lxc:///system)"
    else
      report o "ours (virtlxcd, virt -c lxc:///system): FAILED: $(tail -3 "$WORK/ours.err")"
    fi
    kill "$OURS_PID" 2>/dev/null || true; wait "$OURS_PID" 2>/dev/null || true; OURS_PID=
    ;;
  libvirt)
    command -v libvirtd >/dev/null && [ -x /usr/lib/libvirt/libvirt_lxc ] ||
      { echo "== libvirt: libvirtd or its LXC driver not installed, skipped"; continue; }
    # The accounts libvirt's QEMU driver looks up at start (it is loaded whether used or not).
    getent group kvm >/dev/null || groupadd -r -f kvm
    getent group libvirt-qemu >/dev/null || groupadd -f libvirt-qemu
    getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -G kvm libvirt-qemu
    # libvirt 9.0's LXC driver on this hybrid host: hugetlb must not be offered by the v2 mount.
    if grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null &&
        ! mountpoint -q /sys/fs/cgroup/hugetlb; then
      mkdir -p /sys/fs/cgroup/hugetlb
      mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
    fi
    unshare -m --propagation private bash -euc '
      for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt; do
        mkdir -p "$d"; mount -t tmpfs tmpfs "$d"
      done
      printf "user = \"root\"\ngroup = \"root\"\n" > /etc/libvirt/qemu.conf
      libvirtd --pid-file /run/libvirt/bench-libvirtd.pid >"$0/lv.log" 2>&1 &
      LV=$!
      for _ in $(seq 300); do [ -S /run/libvirt/libvirt-sock ] && break; sleep 0.05; done
      rc=0
      bash "$0/measure.sh" libvirt "$0/l" "$LV" virsh lxc:///system --mode signal 2>"$0/lv.err" || rc=$?
      for p in $(pgrep -f "^/usr/lib/libvirt/libvirt_lxc --name bench-" || true); do kill -9 "$p" || true; done
      kill "$LV"; wait "$LV" || true
      exit $rc
    ' "$WORK" && report l "libvirt 9.0 (libvirtd, virsh -c lxc:///system)" ||
      report l "libvirt 9.0: FAILED: $(tail -3 "$WORK/lv.err")"
    ;;
  esac
done
