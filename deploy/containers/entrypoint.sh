#!/bin/sh
# The images' entrypoint (/usr/bin/virt-entrypoint DAEMON ARGS...): leaves the container's cgroups
# in the hierarchies libvirt does not manage, then execs the daemon.
#
# The daemon moves each guest (QEMU, a container's init) into /machine/NAME.libvirt-DRIVER of
# every hierarchy of libvirt's controllers (crates/virt-core/src/cgroup.rs), which takes it out of
# the container's group where the runtime looks for processes to kill on stop (devices, freezer).
# In the other v1 hierarchies (pids, hugetlb, name=systemd, ..., and the controller-less v2 mount
# of a hybrid host) a guest stays where the daemon is, as under libvirt: in the container's group.
# There it would count against the container's pids limit and keep runc from removing those
# groups when the container stops ("Failed to remove cgroup ... device or resource busy").
# So the daemon first moves itself, and with it every guest it will start, to /machine in those
# hierarchies. It stays in the container's group of libvirt's controllers: the runtime still
# stops it, and its CPU and memory are still the container's.
#
# Nothing happens where /sys/fs/cgroup is not writable, on a cgroup v2 only host (the daemon
# takes guests out of the one hierarchy itself), in name=systemd when systemd runs the host, or
# when VIRT_CGROUP_ESCAPE=0.
set -eu

libvirt_controllers="cpu cpuacct cpuset memory devices freezer blkio net_cls net_prio perf_event"

if [ "${VIRT_CGROUP_ESCAPE:-1}" != 0 ] && [ -r /proc/self/mountinfo ]; then
  host_systemd=no
  [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && host_systemd=yes
  has_v1=no
  grep -q ' - cgroup ' /proc/self/mountinfo && has_v1=yes
  # mountinfo: ... MOUNTPOINT(5th) ... - FSTYPE SOURCE OPTIONS
  while read -r mnt fstype opts; do
    case "$fstype" in
      cgroup)
        skip=no
        for c in $libvirt_controllers; do
          case ",$opts," in *",$c,"*) skip=yes ;; esac
        done
        case ",$opts," in *",name=systemd,"*) [ "$host_systemd" = no ] || skip=yes ;; esac
        ;;
      cgroup2) skip=yes; [ "$has_v1" = yes ] && skip=no ;;
      *) skip=yes ;;
    esac
    [ "$skip" = no ] && [ -w "$mnt" ] || continue
    if mkdir -p "$mnt/machine" 2>/dev/null && echo $$ >"$mnt/machine/cgroup.procs" 2>/dev/null; then
      :
    else
      echo "virt-entrypoint: cannot move into $mnt/machine; guests stay in the container's group there" >&2
    fi
  done <<EOF
$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { print $5, $(i + 1), $(i + 3); break } }' /proc/self/mountinfo)
EOF
fi

exec "$@"
