#!/usr/bin/env bash
# virtqemud's container image (deploy/containers): its size, and how long from `podman run` (and
# from `podman start` of a stopped container) until the daemon answers its first call.
#
# Usage: tools/bench-container.sh [RUNS]   (default 7; needs root, podman, debootstrap)
#
# Builds the image from the debug binaries of $CARGO_TARGET_DIR (or target/) unless
# VIRT_BENCH_BIN_DIR names another directory; the root filesystem comes from the cache
# (target/containers). "Answering" is the first `virt -c qemu+unix:///system?socket=... list
# --all` that succeeds, polled every 20 ms; the figure is the median of RUNS.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
target=${CARGO_TARGET_DIR:-$PWD/target}
bin_dir=${VIRT_BENCH_BIN_DIR:-$target/debug}
[ -x "$bin_dir/virtqemud" ] && [ -x "$bin_dir/virt" ] ||
  cargo build -p virtqemud --bin virtqemud -p virt-client --bin virt
export VIRT_CONTAINERS_DIR=$target/containers
. deploy/containers/podman-env.sh

t0=$(date +%s.%N)
image=$(deploy/containers/build.sh --bin-dir "$bin_dir" --tag bench virtqemud)
t1=$(date +%s.%N)
echo "build.sh (warm when cached): $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
tarball=$(deploy/containers/rootfs.sh --cache "$VIRT_CONTAINERS_DIR" --trim --include qemu-system-x86,qemu-utils 2>/dev/null)
echo "rootfs tarball: $(du -h --apparent-size "$tarball" | cut -f1) ($tarball)"
echo "binary in the image: $(podman run --rm --network=none --entrypoint /bin/sh "$image" -c 'du -h /usr/bin/virtqemud' | cut -f1)"
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$image" | sed 's/^/image: /'

work=$(mktemp -d)
name="virt-bench-$$"
cleanup() { podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
uri="qemu+unix:///system?socket=$work/run/virt/virtqemud-sock"

# Milliseconds from now until the daemon answers.
until_answer() {
  local start now
  start=$(date +%s%N)
  until "$bin_dir/virt" -c "$uri" list --all >/dev/null 2>&1; do
    now=$(date +%s%N)
    if [ $(((now - start) / 1000000)) -gt 60000 ]; then echo "no answer within 60 s" >&2; exit 1; fi
    sleep 0.02
  done
  now=$(date +%s%N)
  echo $(((now - start) / 1000000))
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

runs_run=() runs_start=()
for i in $(seq "$runs"); do
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  rm -rf "$work/run"
  start=$(date +%s%N)
  deploy/containers/run.sh --name "$name" --image "$image" --run-dir "$work/run/virt" \
    --etc "$work/etc" --lib "$work/lib" --log "$work/log" virtqemud >/dev/null 2>&1
  until_answer >/dev/null
  runs_run+=($((($(date +%s%N) - start) / 1000000)))
  podman stop -t 10 "$name" >/dev/null 2>&1
  start=$(date +%s%N)
  podman start "$name" >/dev/null
  until_answer >/dev/null
  runs_start+=($((($(date +%s%N) - start) / 1000000)))
done
echo "podman run to first answer (ms): ${runs_run[*]}; median $(printf '%s\n' "${runs_run[@]}" | median)"
echo "podman start to first answer (ms): ${runs_start[*]}; median $(printf '%s\n' "${runs_start[@]}" | median)"
