#!/bin/bash
# Whole-process cost of the CLI, ours against virsh 9.0, on the same guest: the `test` domain
# of the embedded test driver (`-c test:///default`), which both run in-process, so the
# figures are the client's own: exec to exit (wall, median of RUNS) and peak RSS (GNU time's
# %M, median). snapshot-list lists the snapshot the same command string has just taken
# (test:///default starts empty each run); "snapshot-create-as" alone is shown beside it so
# the list's share can be read off.
# Needs virsh (libvirt-clients) and the workspace's virt: cargo build --profile cli -p virt-client
# (the CLI as shipped, built for size: Cargo.toml's [profile.cli]).
# Usage: tools/bench-cli.sh [cli|release|debug]
set -euo pipefail
profile=${1:-cli}
here=$(cd "$(dirname "$0")/.." && pwd)
virt="$here/target/$profile/virt"
RUNS=${RUNS:-21}
build="--profile $profile"; [ "$profile" = debug ] && build=""
[ -x "$virt" ] || { echo "build first: cargo build $build -p virt-client --bin virt" >&2; exit 2; }

rss=$(mktemp /tmp/bench-cli.XXXXXX)
trap 'rm -f "$rss"' EXIT

# "median-ms median-KiB" of RUNS runs of "$@".
measure() {
  local ms=() kb=()
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%M' -o "$rss" "$@" >/dev/null 2>&1 || true
    local t0 t1
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    ms+=($(( (t1 - t0) / 1000 )))
    kb+=("$(tail -1 "$rss")")
  done
  local m k
  m=$(printf '%s\n' "${ms[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}')
  k=$(printf '%s\n' "${kb[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$m $k"
}

printf '%-44s %9s %9s %6s %10s %10s %6s\n' "command ($profile, median of $RUNS)" "virt ms" "virsh ms" "ratio" "virt KiB" "virsh KiB" "ratio"
for c in "dominfo test" "domstats test" "domblklist test" "snapshot-create-as test s1" \
  "snapshot-create-as test s1; snapshot-list test"; do
  read -r om ok < <(measure "$virt" -c test:///default "$c")
  read -r tm tk < <(measure virsh -c test:///default "$c")
  printf '%-44s %9s %9s %6.2f %10s %10s %6.2f\n' "$c" "$om" "$tm" \
    "$(echo "$om / $tm" | bc -l)" "$ok" "$tk" "$(echo "$ok / $tk" | bc -l)"
done
