#!/usr/bin/env bash
# Runs a daemon's image (build.sh) the way guests outlive the container: prints the `podman run`
# line on stderr, then runs it detached and prints the container id.
#
# Usage: deploy/containers/run.sh [options] DAEMON [-- PODMAN-RUN-OPTIONS...]
#
#   --name NAME      the container's name; default DAEMON
#   --image IMAGE    default localhost/virt/DAEMON:<workspace version>
#   --run-dir DIR    the host directory mounted at /run/virt (the sockets, status files and
#                    monitor sockets); default /run/virt
#   --etc SRC        what is mounted at /etc/virt: a host directory (absolute) or a volume name;
#                    default the volume virt-etc
#   --lib SRC        the same for /var/lib/virt; default the volume virt-lib
#   --log SRC        the same for /var/log/virt; default the volume virt-log
#   --network MODE   podman's network mode; default host (ns:/run/netns/NAME: a namespace of
#                    its own, e.g. to try virtnetworkd without touching the host's networks)
#   -- OPTIONS       more `podman run` options (e.g. -v for disk images, at the same path)
#
# Why each option (see README.md in this directory):
#   --privileged                 QEMU needs /dev/kvm, /dev/net/tun, and the daemon writes cgroups
#   --pid=host                   guests are host processes: their pids stay valid across the
#                                container's life, and a restarted daemon finds them
#   --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup
#                                the host's whole cgroup tree, read-write: virtqemud moves QEMU to
#                                /machine/qemu-ID-NAME.libvirt-qemu, out of the container's group,
#                                so the runtime's kill of that group on stop spares the guests
#   --network=host               bridges, taps and the daemons' TCP listeners are the host's
#   -v RUN:/run/virt             host clients reach the sockets; status files and monitor sockets
#                                outlive the container, so the next daemon reattaches
#   -v /dev/pts:/dev/pts         the guests' serial ptys live in the host's devpts instance: a
#                                restarted container (a new devpts otherwise) still opens them
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
name="" image="" network=host run_dir=/run/virt etc=virt-etc lib=virt-lib log=virt-log daemon=""
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=${2:?}; shift 2 ;;
    --image) image=${2:?}; shift 2 ;;
    --run-dir) run_dir=${2:?}; shift 2 ;;
    --network) network=${2:?}; shift 2 ;;
    --etc) etc=${2:?}; shift 2 ;;
    --lib) lib=${2:?}; shift 2 ;;
    --log) log=${2:?}; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) [ -z "$daemon" ] || { echo "run.sh: one daemon at a time ($daemon, $1)" >&2; exit 2; }; daemon=$1; shift ;;
  esac
done
[ -n "$daemon" ] || { echo "run.sh: name a daemon" >&2; exit 2; }
# shellcheck source=podman-env.sh
. "$here/podman-env.sh"
version=$(awk -F'"' '/^\[workspace.package\]/ {w = 1} w && /^version *=/ {print $2; exit}' "$repo/Cargo.toml")
name=${name:-$daemon}
image=${image:-localhost/virt/$daemon:$version}
mkdir -p "$run_dir"
for src in "$etc" "$lib" "$log"; do
  case "$src" in /*) mkdir -p "$src" ;; esac
done

cmd=(podman run -d --name "$name"
  --privileged --pid=host --cgroupns=host --network="$network"
  -v /sys/fs/cgroup:/sys/fs/cgroup:rw
  -v /dev/pts:/dev/pts
  -v "$run_dir:/run/virt"
  -v "$etc:/etc/virt" -v "$lib:/var/lib/virt" -v "$log:/var/log/virt"
  "$@" "$image")
echo "run.sh: ${cmd[*]}" >&2
"${cmd[@]}"
