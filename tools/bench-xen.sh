#!/bin/bash
# Xen guests, ours (virtxend driven by `virt`) against xl alone, in a real Xen 4.17 nested under
# QEMU TCG (tools/xen-nested/run.sh: one boot per run, the scenario in tools/xen-nested/
# scenario.sh). The same 128 MiB busybox PV guest both ways. Medians of N runs (default 3) of:
#   start / create            `virt start tiny` / `xl create tinyxl.cfg`, call to return
#   start to console marker   from that call until the guest's first line is read through
#                             `virt console` / `xl console`, started right after it returned
#   start to log marker       the same, read in xenconsoled's guest log
#   list                      `virt list` / `xl list` (a second call, warm)
#   shutdown                  call to return; call until `xl list` no longer names the guest
#                             (both, polled every 50 ms); ours: until `virt domstate` says shut
#                             off (polled, each poll a CLI run)
#   destroy                   call to return
#   domstats                  `virt domstats tiny`, beside `xl list`
# All in ms, measured inside dom0 (busybox + bash $EPOCHREALTIME); TCG makes everything slower
# than on hardware, for both sides alike.
# usage: tools/bench-xen.sh [N]      BIN=dir of virtxend, virt-proxy, virt (default target/release)
set -euo pipefail
N=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}
for b in virtxend virt-proxy virt; do
  [ -x "$BIN/$b" ] || { echo "bench-xen: no $BIN/$b (cargo build --release --bins, or BIN=...)" >&2; exit 1; }
done
WORK=${XN_WORK:-$ROOT/target/xen-nested/bench}
logs=()
for i in $(seq 1 "$N"); do
  XN_BIN=$BIN XN_WORK=$WORK "$ROOT/tools/xen-nested/run.sh" >&2 || {
    echo "bench-xen: run $i failed; serial log: $WORK/serial.log" >&2; exit 1; }
  cp "$WORK/serial.log" "$WORK/serial.$i.log"
  logs+=("$WORK/serial.$i.log")
done
python3 - "${logs[@]}" <<'PY'
import re, statistics, sys
runs = []
for path in sys.argv[1:]:
    steps, calls, dom0 = {}, {}, None
    for line in open(path, errors="replace"):
        host, _, text = line.rstrip("\n").partition(" ")
        m = re.match(r"XN-STEP name=(\S+) rc=(-?\d+) ms=(\d+)", text)
        if m:
            steps[m[1]] = (int(m[2]), int(m[3]))
        elif text.startswith("XN-DOM0-UP"):
            dom0 = int(host)
        m = re.match(r"XN-OUT (\S+)\| \(Time: ([0-9.]+) ms\)", text)
        if m:
            calls[m[1]] = float(m[2])
    steps["dom0-up-host"] = (0, dom0 or 0)
    runs.append((steps, calls))
def med(step):
    vals = [s[step][1] for s, _ in runs if step in s and s[step][0] == 0]
    return f"{statistics.median(vals):.0f}" if vals else "-"
def call(step):
    vals = [c[step] for _, c in runs if step in c]
    return f"{statistics.median(vals):.0f}" if vals else "-"
print(f"nested Xen 4.17 under QEMU TCG, {len(runs)} run(s), medians in ms measured in dom0")
print("(ours: from exec of `virt` to its exit; call: the call alone, as `virt -t` reports it)")
print(f"{'':32} {'ours':>8} {'call':>8} {'xl':>8}")
for what, ours, xl in [
    ("start / create", "virt-start", "xl-create"),
    ("start to console marker", "virt-console-marker", "xl-console-marker"),
    ("start to log marker", "virt-log-marker", "xl-log-marker"),
    ("list", "virt-list-again", "xl-list-again"),
    ("shutdown (call)", "virt-shutdown", "xl-shutdown"),
    ("shutdown to gone from Xen", "virt-shutdown-gone", "xl-shutdown-gone"),
    ("shutdown to `shut off`", "virt-shutdown-off", "-"),
    ("destroy", "virt-destroy", "xl-destroy"),
    ("domstats / xl list", "virt-domstats-again", "xl-list"),
    ("exec alone (--help / help)", "virt-exec-again", "xl-exec"),
]:
    print(f"{what:32} {med(ours):>8} {call(ours):>8} {med(xl):>8}")
for what, step in [
    ("dom0 up (host ms after QEMU start)", "dom0-up-host"),
    ("virtxend answering", "virtxend-up"),
    ("virtxend back after kill -9", "virtxend-restart"),
    ("define", "virt-define"),
    ("suspend", "virt-suspend"),
    ("resume", "virt-resume"),
    ("list through virt-proxy", "proxy-list"),
]:
    print(f"{what:32} {med(step):>8} {call(step):>8}")
PY
