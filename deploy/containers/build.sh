#!/usr/bin/env bash
# Builds the container image of one daemon, without a Containerfile: a Debian 12 root filesystem
# (rootfs.sh, cached) with what the daemon runs, plus the daemon's binaries, imported with
# `podman import` and its entrypoint, environment and volumes set by --change.
#
# Usage: deploy/containers/build.sh [--bin-dir DIR] [--tag VERSION] [--cache DIR] DAEMON...
#
#   DAEMON         virtqemud, virtlxcd, virtnetworkd, virtstoraged, virtxend or virt-proxy
#   --bin-dir DIR  where the daemon's binaries are (e.g. target/debug); default: built here with
#                  `cargo build --release` ($CARGO_TARGET_DIR or target/, then its release/)
#   --tag VERSION  the image tag; default the workspace version (Cargo.toml)
#   --cache DIR    rootfs and podman storage; default <repo>/target/containers (podman-env.sh)
#
# The image is localhost/virt/DAEMON:VERSION. Its label org.virt.inputs hashes the root
# filesystem's key and the binaries: when an image with the same tag already carries the same
# hash, nothing is imported again (a warm build takes a second). Prints the image name.
#
# podman runs with this project's own configuration (podman-env.sh: vfs storage, cgroupfs,
# runc, under the cache dir); export CONTAINERS_CONF / CONTAINERS_STORAGE_CONF to use others.
# Must run as root (debootstrap).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin_dir=""
tag=""
daemons=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift 2 ;;
    --tag) tag=${2:?--tag needs a version}; shift 2 ;;
    --cache) export VIRT_CONTAINERS_DIR=${2:?--cache needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
    -*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    *) daemons+=("$1"); shift ;;
  esac
done
[ ${#daemons[@]} -gt 0 ] || { echo "build.sh: name a daemon (virtqemud, virtlxcd, ...)" >&2; exit 2; }
# shellcheck source=podman-env.sh
. "$here/podman-env.sh"
[ -n "$tag" ] || tag=$(awk -F'"' '/^\[workspace.package\]/ {w = 1} w && /^version *=/ {print $2; exit}' "$repo/Cargo.toml")

# One line per daemon: its cargo package, binaries, Debian packages (comma-separated, what it
# runs besides itself; Depends only, as debootstrap installs them) and volumes besides
# /etc/virt and /var/lib/virt, which every daemon keeps (its definitions and state).
recipe() {
  case "$1" in
    virtqemud)    echo "virtqemud|virtqemud|qemu-system-x86,qemu-utils|/var/log/virt" ;;
    virtlxcd)     echo "virtlxcd|virtlxcd virt-lxc-controller|iproute2,util-linux|/var/log/virt" ;;
    virtnetworkd) echo "virtnetworkd|virtnetworkd|dnsmasq-base,nftables,iproute2|" ;;
    virtstoraged) echo "virtstoraged|virtstoraged|qemu-utils,lvm2,util-linux,e2fsprogs|" ;;
    virtxend)     echo "virtxend|virtxend|xen-utils-4.17|/var/log/virt" ;;
    virt-proxy)   echo "virt-proxy|virt-proxy||" ;;
    *) echo "build.sh: no recipe for '$1' (virtqemud, virtlxcd, virtnetworkd, virtstoraged, virtxend, virt-proxy)" >&2; return 1 ;;
  esac
}

for d in "${daemons[@]}"; do recipe "$d" >/dev/null; done

if [ -z "$bin_dir" ]; then
  pkgs=()
  for d in "${daemons[@]}"; do pkgs+=(-p "$(recipe "$d" | cut -d'|' -f1)"); done
  echo "build.sh: cargo build --release ${pkgs[*]}" >&2
  (cd "$repo" && cargo build --release --bins "${pkgs[@]}" >&2)
  bin_dir="${CARGO_TARGET_DIR:-$repo/target}/release"
fi
bin_dir=$(cd "$bin_dir" && pwd)

for d in "${daemons[@]}"; do
  IFS='|' read -r _pkg bins debs volumes <<<"$(recipe "$d")"
  image="localhost/virt/$d:$tag"
  tarball=$("$here/rootfs.sh" --cache "$VIRT_CONTAINERS_DIR" --trim ${debs:+--include "$debs"})
  for b in $bins; do
    [ -x "$bin_dir/$b" ] || { echo "build.sh: $bin_dir/$b is missing (build it, or drop --bin-dir)" >&2; exit 1; }
  done
  inputs=$( { basename "$tarball"; cat "$0" "$here/entrypoint.sh"; for b in $bins; do sha256sum "$bin_dir/$b" | cut -d' ' -f1; done; } | sha256sum | cut -c1-16)
  have=$(podman image inspect --format '{{index .Labels "org.virt.inputs"}}' "$image" 2>/dev/null || true)
  if [ "$have" = "$inputs" ]; then
    echo "build.sh: $image is up to date (inputs $inputs)" >&2
    echo "$image"
    continue
  fi

  # The image's one layer: the cached root filesystem with the binaries appended (tar appends
  # in place, so the copy is the only cost).
  work=$(mktemp -d "$VIRT_CONTAINERS_DIR/.image-$d.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/add/usr/bin" "$work/add/etc/virt" "$work/add/var/lib/virt" "$work/add/run/virt"
  for b in $bins; do
    install -m 0755 "$bin_dir/$b" "$work/add/usr/bin/$b"
    # A debug build carries hundreds of MB of DWARF: the image gets the code only.
    strip --strip-debug "$work/add/usr/bin/$b" 2>/dev/null || true
  done
  install -m 0755 "$here/entrypoint.sh" "$work/add/usr/bin/virt-entrypoint"
  for v in $volumes; do mkdir -p "$work/add$v"; done
  cp "$tarball" "$work/image.tar"
  # Only the new entries: appending ./ or ./usr would override the root filesystem's own.
  add=(etc/virt var/lib/virt run/virt usr/bin/virt-entrypoint)
  for b in $bins; do add+=("usr/bin/$b"); done
  for v in $volumes; do add+=("${v#/}"); done
  tar --numeric-owner --owner=0 --group=0 -C "$work/add" -rf "$work/image.tar" "${add[@]}"

  changes=(
    # entrypoint.sh: out of the container's cgroups libvirt does not manage, then the daemon.
    --change "ENTRYPOINT [\"/usr/bin/virt-entrypoint\", \"/usr/bin/$d\"]"
    --change 'CMD ["--system"]'
    --change "ENV RUST_LOG=info"
    # tracing's colours are escape codes in `podman logs` and a log collector's files.
    --change "ENV NO_COLOR=1"
    --change "LABEL org.virt.inputs=$inputs"
    --change "LABEL org.virt.daemon=$d"
    --change "STOPSIGNAL SIGTERM"
    --change "VOLUME /etc/virt"
    --change "VOLUME /var/lib/virt"
  )
  for v in $volumes; do changes+=(--change "VOLUME $v"); done
  echo "build.sh: importing $image" >&2
  podman import --quiet "${changes[@]}" "$work/image.tar" "$image" >/dev/null
  rm -rf "$work"
  trap - EXIT
  echo "$image"
done
