#!/usr/bin/env bash
# Builds a Debian 12 (bookworm) root filesystem as a tarball, cached by its inputs.
#
# Usage: deploy/containers/rootfs.sh [--cache DIR] [--include pkg,pkg,...] [--trim] [--mirror URL] [OUT.tar]
#
#   --cache DIR     where cached tarballs (and downloaded .debs) live; default <repo>/target/containers
#   --include LIST  extra packages, comma-separated (repeatable); installed by debootstrap together
#                   with the minbase set, so their dependencies (not their Recommends) come along
#   --trim          drop documentation, man and info pages, non-English locales and apt's lists
#                   from the tree (for images that only run a daemon)
#   --mirror URL    the Debian mirror; default: the first non-security Debian URI of the host's apt
#                   sources, else http://deb.debian.org/debian
#   OUT.tar         where to put the tarball (hard link to the cached one when on the same
#                   filesystem, else a copy: never modify it in place); optional
#
# Prints the path of the cached tarball on stdout (progress goes to stderr). Must run as root
# (debootstrap chroots and makes device nodes).
#
# Cache: the tarball is <cache>/rootfs-<key>.tar, where key hashes the sorted package list, --trim,
# the suite, the architecture and this script's own text: another package list or an edit of this
# script builds anew; the same inputs reuse the tarball without running debootstrap. The mirror is
# not part of the key (any mirror serves the same suite). The tarball is written under a temporary
# name and renamed into place, so a crash never leaves a half tarball under the final name; a lock
# per key makes concurrent callers wait for one build instead of racing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache="$repo/target/containers"
include=()
trim=0
mirror=""
out=""
suite=bookworm

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache=${2:?--cache needs a directory}; shift 2 ;;
    --cache=*) cache=${1#--cache=}; shift ;;
    --include) IFS=, read -r -a more <<<"${2:?--include needs a package list}"; include+=("${more[@]}"); shift 2 ;;
    --include=*) IFS=, read -r -a more <<<"${1#--include=}"; include+=("${more[@]}"); shift ;;
    --trim) trim=1; shift ;;
    --mirror) mirror=${2:?--mirror needs a URL}; shift 2 ;;
    --mirror=*) mirror=${1#--mirror=}; shift ;;
    -h|--help) usage ;;
    -*) echo "rootfs.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$out" ] || { echo "rootfs.sh: more than one OUT.tar ($out, $1)" >&2; exit 2; }; out=$1; shift ;;
  esac
done

for p in "${include[@]}"; do
  if ! [[ "$p" =~ ^[a-z0-9][a-z0-9+.-]+$ ]]; then
    echo "rootfs.sh: --include: '$p' is not a Debian package name" >&2
    exit 2
  fi
done

if [ "$(id -u)" -ne 0 ]; then
  echo "rootfs.sh: debootstrap needs root" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "rootfs.sh: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

# The host's Debian mirror: deb822 sources (URIs:) first, then one-line sources (deb URL suite).
host_mirror() {
  local f u
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    for u in $(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f"); do
      case "$u" in *security*|*backports*) ;; http://*|https://*) echo "${u%/}"; return ;; esac
    done
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    u=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; exit } }' "$f" | grep -v -e security -e backports | head -n1 || true)
    [ -z "$u" ] || { echo "${u%/}"; return; }
  done
  echo http://deb.debian.org/debian
}
[ -n "$mirror" ] || mirror=$(host_mirror)

arch=$(dpkg --print-architecture)
pkgs=$(printf '%s\n' "${include[@]}" | sed '/^$/d' | sort -u | paste -sd, -)
key=$( { echo "suite=$suite arch=$arch trim=$trim"; echo "include=$pkgs"; cat "$0"; } | sha256sum | cut -c1-16)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
tarball="$cache/rootfs-$key.tar"

emit() {
  # rename(2) onto a hard link of the same file does nothing (and would leave the temporary name).
  if [ -n "$out" ] && ! [ "$out" -ef "$tarball" ]; then
    local tmp
    mkdir -p "$(dirname "$out")"
    tmp="$(dirname "$out")/.$(basename "$out").tmp.$$"
    ln -f "$tarball" "$tmp" 2>/dev/null || cp "$tarball" "$tmp"
    mv -f "$tmp" "$out"
  fi
  echo "$tarball"
}

exec 9>"$cache/rootfs-$key.lock"
flock 9
if [ -s "$tarball" ]; then
  echo "rootfs.sh: cached $tarball (packages: ${pkgs:-none})" >&2
  emit
  exit 0
fi

work=$(mktemp -d "$cache/.rootfs-$key.XXXXXX")
cleanup() {
  # A failed debootstrap can leave /proc or /sys mounted in the tree: never rm -rf through them.
  local m
  for m in $(awk -v d="$work/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
mkdir -p "$cache/debs" "$work/root"

echo "rootfs.sh: debootstrap $suite ($arch, minbase${pkgs:+, +$pkgs}) from $mirror" >&2
# --cache-dir keeps the downloaded .debs, so a rebuild after an edit of this script does not
# download again (debootstrap verifies them against the Release file it fetches).
debootstrap --variant=minbase --arch="$arch" --cache-dir="$cache/debs" ${pkgs:+--include="$pkgs"} \
  "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  echo "rootfs.sh: debootstrap failed; its log ($work/debootstrap.log) ends with:" >&2
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

r="$work/root"
# apt's package lists and the .deb cache are not part of an image.
rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* "$r"/var/log/*.log \
  "$r"/var/cache/debconf/*-old
if [ "$trim" = 1 ]; then
  rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/lintian \
    "$r"/usr/share/linda
  find "$r"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'en*' ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  # Keep the copyright files' directory structure dpkg expects? dpkg does not need them to run.
  mkdir -p "$r"/usr/share/doc "$r"/usr/share/man
fi
# Reproducible enough: no machine id baked into the image (systemd makes one on first boot).
: >"$r/etc/machine-id" 2>/dev/null || true
rm -f "$r/var/lib/dbus/machine-id"

tar --numeric-owner --xattrs --acls -C "$r" -cf "$work/rootfs.tar" .
mv -f "$work/rootfs.tar" "$tarball"
echo "rootfs.sh: built $tarball ($(du -h "$tarball" | cut -f1))" >&2
emit
