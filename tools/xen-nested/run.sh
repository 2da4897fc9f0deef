#!/bin/bash
# The nested-Xen harness: boots a REAL Xen 4.17 hypervisor with a Debian 12 dom0 kernel under
# qemu-system-x86_64 (TCG, no KVM), with a busybox dom0 initramfs that holds the Xen userspace
# (xl, xenstored, xenconsoled, xen-init-dom0 and their libraries) and OUR binaries (virtxend,
# virt-proxy, virt, stripped, with their libraries), and runs a scenario script inside dom0.
# Results come back through the serial log: the scenario prints marker lines
#   XN-STEP name=NAME rc=N ms=N up=UPTIME [key=value...]
# (ms: wall time of the step inside dom0; up: dom0 uptime in seconds when it ended), and the
# dom0 init frames it with XN-DOM0-UP, XN-SCENARIO-BEGIN and XN-SCENARIO-END rc=N.
# Adapted from ../shared/tools/xen/xen-in-qemu.sh (its lessons: smap=0 smep=0 under TCG, the
# uncompressed vmlinux, /var/run -> /run, 128 MiB PV guests, PV not PVH).
#
# Nothing is installed on the host: the hypervisor and the kernel are fetched with
# `apt-get download` and unpacked with `dpkg -x` into the cache directory, which later runs
# reuse without any download (the kernel version is remembered there too).
# Host prerequisites: qemu-system-x86, busybox-static, cpio, gzip, python3, binutils (strip),
# xen-utils-4.17 + xenstore-utils (their binaries and libraries are copied into dom0).
#
# usage: tools/xen-nested/run.sh [SCENARIO]
#   SCENARIO         script run by bash inside dom0 (default: scenario.sh beside this script)
#   XN_BIN=DIR       where virtxend, virt-proxy and virt are taken from (default target/debug);
#                    a missing one is left out (the scenario reports it)
#   XN_CACHE=DIR     download/unpack cache (default target/xen-nested/cache)
#   XN_WORK=DIR      image and serial log (default target/xen-nested/work)
#   XN_TIMEOUT=S     overall QEMU timeout (default 600)
#   XN_SHELL=1       after the scenario, a shell on the console instead of power-off
#   XN_DAEMON_ARGS   extra arguments of virtxend in the scenario (e.g. -v)
#   XN_XL_TRACE=1    virtxend runs xl through a wrapper that logs every call and its span
#   XN_KVER=...      kernel ABI (default: the cached one, else newest linux-image-6.1.0-N-amd64)
# Prints the serial log's path and, last, `xen-nested: qemu_rc=N scenario_rc=N total_ms=N ...`.
# Exit status: 0 when the scenario ran and returned 0.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SCENARIO=$(realpath "${1:-$HERE/scenario.sh}")
BIN=$(realpath "${XN_BIN:-$ROOT/target/debug}")
C=${XN_CACHE:-$ROOT/target/xen-nested/cache}
W=${XN_WORK:-$ROOT/target/xen-nested/work}
TIMEOUT=${XN_TIMEOUT:-600}
mkdir -p "$C/debs" "$W" && C=$(realpath "$C") && W=$(realpath "$W") || exit 1
rm -f "$W/serial.log"   # no stale log for a reader when this run fails early
log() { echo "xen-nested: $*" >&2; }
[ -f "$SCENARIO" ] || { log "no scenario $SCENARIO"; exit 2; }
for t in qemu-system-x86_64 busybox cpio gzip python3 strip; do
  command -v $t >/dev/null || { log "missing host tool: $t"; exit 2; }
done
[ -x /usr/lib/xen-4.17/bin/xl ] || { log "missing /usr/lib/xen-4.17/bin/xl (xen-utils-4.17)"; exit 2; }

# ---- 1. hypervisor + dom0-capable kernel, cached ----
KVER=${XN_KVER:-$(cat "$C/kver" 2>/dev/null)}
if [ -z "$KVER" ]; then
  KVER=$(apt-cache search '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' |
         sed 's/^linux-image-//' | sort -V | tail -1)
fi
[ -n "$KVER" ] || { log "no linux-image-6.1.0-*-amd64 in the apt cache"; exit 2; }
if [ ! -f "$C/root/boot/vmlinuz-$KVER" ] || [ ! -f "$C/root/boot/xen-4.17-amd64.gz" ]; then
  log "downloading xen-hypervisor-4.17-amd64 and linux-image-$KVER into $C"
  (cd "$C/debs" && apt-get download -q xen-hypervisor-4.17-amd64 "linux-image-$KVER" 2>&1 |
     grep -v unsandboxed) || true
  for d in "$C"/debs/xen-hypervisor-4.17-amd64_*.deb "$C"/debs/linux-image-"${KVER}"_*.deb; do
    dpkg -x "$d" "$C/root" || { log "dpkg -x $d failed"; exit 2; }
  done
  # keep what is used: the kernel, its config, the Xen modules (not the other ~400 MB)
  find "$C/root/lib/modules/$KVER/kernel" -mindepth 1 -maxdepth 1 ! -name drivers -exec rm -rf {} +
  find "$C/root/lib/modules/$KVER/kernel/drivers" -mindepth 1 -maxdepth 1 ! -name xen -exec rm -rf {} +
  rm -f "$C"/debs/*.deb
fi
grep -q '^CONFIG_XEN_DOM0=y' "$C/root/boot/config-$KVER" || { log "kernel $KVER lacks CONFIG_XEN_DOM0"; exit 2; }
echo "$KVER" > "$C/kver"
# QEMU's multiboot loader needs the 32-bit ELF, not the .gz
[ -s "$C/xen" ] || zcat "$C/root/boot/xen-4.17-amd64.gz" > "$C/xen" || exit 2
# the uncompressed vmlinux for dom0 and the guest (xz under TCG costs ~20 s per decompression)
VMLINUX=$C/vmlinux-$KVER
if [ ! -s "$VMLINUX" ]; then python3 -c '
import lzma,sys
d=open(sys.argv[1],"rb").read(); i=d.find(b"\xfd7zXZ\x00")
open(sys.argv[2]+".tmp","wb").write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[i:]))' \
    "$C/root/boot/vmlinuz-$KVER" "$VMLINUX" && mv "$VMLINUX.tmp" "$VMLINUX" || exit 2
fi
MODDIR=$C/root/lib/modules/$KVER/kernel/drivers/xen

# ---- 2. the guest's (domU) initramfs: busybox, a marker, a heartbeat, poweroff on a signal ----
cd "$W" || exit 1
rm -rf ir-domu ir-dom0 ir-big
mkdir -p ir-domu/{bin,sbin,dev,proc,sys}
cp /usr/bin/busybox ir-domu/bin/
cat > ir-domu/init <<'GUEST'
#!/bin/busybox sh
/bin/busybox --install -s /bin
ln -sf /bin/busybox /sbin/poweroff
ln -sf /bin/busybox /sbin/reboot
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
# `xl shutdown` / `xl reboot` (a PV guest's control/shutdown key) make the kernel run
# /sbin/poweroff or /sbin/reboot, which signal PID 1 (busybox: SIGUSR2 to power off, SIGTERM
# to reboot): do that then.
trap 'echo "DOMU-POWEROFF uptime=$(cut -d" " -f1 /proc/uptime)"; poweroff -f' USR2 INT
trap 'echo "DOMU-REBOOT uptime=$(cut -d" " -f1 /proc/uptime)"; reboot -f' TERM
echo "DOMU-MARKER uptime=$(cut -d' ' -f1 /proc/uptime) mem_kb=$(grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2)"
i=0; while :; do i=$((i+1)); echo "DOMU-ALIVE $i"; sleep 1 & wait $!; done
GUEST
chmod +x ir-domu/init
(cd ir-domu && find . | cpio -o -H newc 2>/dev/null | gzip -1) > domu-initrd.gz

# ---- 3. dom0's initramfs ----
R=ir-dom0
mkdir -p $R/{bin,sbin,dev,proc,sys,tmp,root,etc,boot,lib/modules} \
         $R/var/{lib/xen,lib/xenstored,log/xen/console,lock} $R/run/xen $R/run/xenstored \
         $R/etc/virt $R/var/lib/virt $R/run/virt $R/var/log/virt
ln -s ../run $R/var/run    # libxl needs /var/run/xen (domid-history.lock)
cp /usr/bin/busybox $R/bin/
for m in xen-privcmd.ko xenfs/xenfs.ko xen-evtchn.ko xen-gntdev.ko xen-gntalloc.ko; do
  cp "$MODDIR/$m" $R/lib/modules/ || exit 2
done
BINS="/usr/lib/xen-4.17/bin/xl /usr/lib/xen-4.17/bin/xenstored /usr/lib/xen-4.17/bin/xenconsoled
 /usr/lib/xen-4.17/bin/xenconsole /usr/lib/xen-4.17/bin/xen-init-dom0
 /usr/lib/xen-4.17/bin/libxl-save-helper /usr/bin/xenstore /usr/bin/xenstore-read
 /usr/bin/xenstore-write /usr/bin/xenstore-ls /usr/bin/xenstore-list /usr/bin/xenstore-exists
 /usr/bin/xenstore-rm /bin/bash /bin/date"
for b in $BINS; do mkdir -p $R$(dirname $b); cp -L $b $R$b || exit 2; done
# ours, stripped, in a second (uncompressed) tree: they are most of the image and the kernel
# would gunzip them under TCG
B=ir-big
mkdir -p $B/usr/bin $B/boot
OURS=""
for n in virtxend virt-proxy virt; do
  if [ -x "$BIN/$n" ]; then
    strip -o $B/usr/bin/$n "$BIN/$n" || exit 2
    OURS="$OURS $BIN/$n"
  else
    log "no $BIN/$n: left out"
  fi
done
for l in $(for b in $BINS $OURS; do ldd $b | awk '/=>/ {print $3} /ld-linux/ {print $1}'; done | sort -u) \
         /lib/x86_64-linux-gnu/libgcc_s.so.1; do
  mkdir -p $R$(dirname $l); cp -L $l $R$l
done
mkdir -p $R/lib64 && cp -L /lib64/ld-linux-x86-64.so.2 $R/lib64/
cp -a /etc/xen $R/etc/
cp domu-initrd.gz $R/boot/domu-initrd.gz
cp "$SCENARIO" $R/scenario.sh
echo "${XN_SHELL:-0}" > $R/etc/xn_shell
echo "${XN_DAEMON_ARGS:-}" > $R/etc/xn_daemon_args
echo "${XN_XL_TRACE:-0}" > $R/etc/xn_xl_trace
cat > $R/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
ln -sf /bin/busybox /sbin/poweroff
export PATH=/usr/lib/xen-4.17/bin:/usr/bin:/bin:/sbin:/usr/sbin HOME=/root
up() { cut -d' ' -f1 /proc/uptime; }
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /tmp
for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc; do insmod /lib/modules/$m.ko || echo "insmod $m failed"; done
mkdir -p /proc/xen; mount -t xenfs xenfs /proc/xen
echo "XN-DOM0-UP up=$(up) hyp=$(cat /sys/hypervisor/type) $(cat /sys/hypervisor/version/major).$(cat /sys/hypervisor/version/minor)$(cat /sys/hypervisor/version/extra)"
xenstored --pid-file /var/run/xenstored.pid; echo "XN-XENSTORED rc=$?"
i=0; until xenstore-ls / >/dev/null 2>&1; do
  i=$((i+1)); [ $i -gt 100 ] && { echo "XN-XENSTORED not answering"; break; }; sleep 0.2; done
xen-init-dom0 >/tmp/xen-init-dom0.log 2>&1; echo "XN-XEN-INIT-DOM0 rc=$?"
xenconsoled --pid-file=/var/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console; echo "XN-XENCONSOLED rc=$?"
echo "XN-SCENARIO-BEGIN up=$(up)"
cd /root && bash /scenario.sh; rc=$?
echo "XN-SCENARIO-END rc=$rc up=$(up)"
if [ "$(cat /etc/xn_shell)" = 1 ]; then
  echo "shell on hvc0 (Ctrl-a x quits QEMU)"; exec setsid cttyhack sh
fi
poweroff -f
INIT
chmod +x $R/init
# initrd = an uncompressed cpio (the guest kernel, our binaries) followed by the gzip'd rest (an
# uncompressed segment placed AFTER the gzip one was not unpacked)
cp "$VMLINUX" $B/boot/vmlinuz
(cd $B && find . | cpio -o -H newc 2>/dev/null) > dom0-initrd.img
(cd $R && find . | cpio -o -H newc 2>/dev/null | gzip -1) >> dom0-initrd.img
log "dom0 initrd $(du -k dom0-initrd.img | cut -f1) KiB, kernel $KVER, ours:${OURS:- none}"
rm -rf ir-domu ir-dom0 ir-big

# ---- 4. boot: Xen (multiboot) + dom0 kernel + dom0 initrd as modules ----
# smap=0 smep=0: under QEMU 7.2 TCG with -cpu max, dom0 dies at its first #PF otherwise.
XENCMD="console=com1 com1=115200,8n1 dom0_mem=768M,max:768M dom0_max_vcpus=1 loglvl=all guest_loglvl=all smap=0 smep=0"
start=$(date +%s%3N)
if [ "${XN_SHELL:-0}" = 1 ]; then
  exec qemu-system-x86_64 -accel tcg -cpu max -m 1280 -smp 2 -nographic -no-reboot -nic none \
    -kernel "$C/xen" -append "$XENCMD" -initrd "$VMLINUX console=hvc0 earlyprintk=xen,dom0-initrd.img"
fi
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 1280 -smp 2 -nographic -no-reboot -nic none \
  -kernel "$C/xen" -append "$XENCMD" -initrd "$VMLINUX console=hvc0 earlyprintk=xen,dom0-initrd.img" \
  </dev/null 2>&1 | while IFS= read -r line; do
    now=${EPOCHREALTIME/./}; printf '%d %s\n' $(( now/1000 - start )) "${line%$'\r'}"
  done > serial.log
rc=${PIPESTATUS[0]}
end=$(( $(date +%s%3N) - start ))
src=$(sed -n 's/^[0-9]* XN-SCENARIO-END rc=\([0-9]*\).*/\1/p' serial.log | tail -1)
dom0=$(awk '/ XN-DOM0-UP /{print $1; exit}' serial.log)
echo "$W/serial.log"
echo "xen-nested: qemu_rc=$rc scenario_rc=${src:-none} dom0_ms=${dom0:-none} total_ms=$end"
[ "${src:-x}" = 0 ]
