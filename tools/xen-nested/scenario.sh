#!/bin/bash
# The nested-Xen scenario, run by bash as root inside dom0 (tools/xen-nested/run.sh puts it at
# /scenario.sh; xenstored, xen-init-dom0 and xenconsoled already run). Every step prints
#   XN-STEP name=NAME rc=N ms=N up=UPTIME
# (ms: from the call to its return, measured in dom0), its output as `XN-OUT NAME| line`, and
# facts as `XN-FACT key=value`. tests/tests/xen_nested.rs asserts on these lines and
# tools/bench-xen.sh prints the figures; keep the formats.
# First xl alone (the baseline: create, console marker, list, shutdown, destroy of an xl.cfg
# guest), then the same guest through our CLI and daemons: virtxend started, define, start,
# console, list, domstate, suspend/resume, domstats, one call through virt-proxy, virtxend
# killed (-9) and restarted with the guest running (reattach), shutdown, start, destroy.
export PATH=/usr/lib/xen-4.17/bin:/usr/bin:/bin:/sbin:/usr/sbin NO_COLOR=1
# extra virtxend arguments (run.sh's XN_DAEMON_ARGS, e.g. -v)
DARGS=$(cat /etc/xn_daemon_args 2>/dev/null)
# run.sh's XN_XL_TRACE=1: virtxend runs xl through a wrapper logging each call's span
if [ "$(cat /etc/xn_xl_trace 2>/dev/null)" = 1 ]; then
  cat > /usr/bin/xl-trace <<'SH'
#!/bin/bash
t0=$EPOCHREALTIME
/usr/lib/xen-4.17/bin/xl "$@"
rc=$?
echo "$t0 $EPOCHREALTIME rc=$rc xl $*" >> /var/log/virt/xl-calls.log
exit $rc
SH
  chmod +x /usr/bin/xl-trace
  export VIRT_XL=/usr/bin/xl-trace
fi
U=xen:///system
up() { cut -d' ' -f1 /proc/uptime; }
now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
fact() { echo "XN-FACT $*"; }
# out NAME: stdin as XN-OUT lines (every one ends with a newline, none has a CR)
out() { tr -d '\r' | awk -v n="$1" '{print "XN-OUT " n "| " $0}'; }
# step NAME CMD...: runs CMD (a program, at most 120 s), prints its marker and output; its
# status is CMD's
step() {
  local name=$1 t0 rc ms
  shift
  t0=$(now)
  # a hung call fails its step (rc 143) instead of the whole boot timing out
  timeout 120 "$@" > /tmp/step.out 2>&1
  rc=$?
  ms=$(($(now) - t0))
  echo "XN-STEP name=$name rc=$rc ms=$ms up=$(up)"
  out "$name" < /tmp/step.out
  return $rc
}
# wait_for NAME T0 SECS CMD...: polls CMD (every 50 ms) until it succeeds; prints
# XN-STEP name=NAME with ms from T0 (a now() value), rc=1 on timeout
wait_for() {
  local name=$1 t0=$2 secs=$3 end rc=1
  shift 3
  end=$(($(now) + secs * 1000))
  while [ "$(now)" -lt $end ]; do
    if "$@" > /dev/null 2>&1; then rc=0; break; fi
    sleep 0.05
  done
  echo "XN-STEP name=$name rc=$rc ms=$(($(now) - t0)) up=$(up)"
  return $rc
}
marker_in() { grep -aq DOMU- "$1"; }
virt_state() { [ "$(timeout 30 virt -t -c $U domstate tiny 2>/dev/null | head -1)" = "$1" ]; }
not_listed() { ! xl list "$1" > /dev/null 2>&1; }
daemon_log() { tr -d '\r' < /var/log/virt/virtxend.log | awk '{print "XN-DAEMON-LOG| " $0}'; }

for b in virtxend virt-proxy virt; do
  if [ -x /usr/bin/$b ]; then fact "have_$b=1"; else fact "have_$b=0"; fi
done
fact "dom0_mem_kb=$(grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2)"
step xl-info xl info
# the cost of exec'ing our CLI alone (no connection), against xl's
step virt-exec virt --help
step virt-exec-again virt --help
step xl-exec xl help
step virt-test-list virt -c test:///default list --all
step virtxend-help virtxend --help

# ---------- the baseline: xl alone, with an identical guest ----------
cat > /etc/xen/tinyxl.cfg <<CFG
name = "tinyxl"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/domu-initrd.gz"
extra = "console=hvc0"
memory = 128
vcpus = 1
on_crash = "preserve"
CFG
t0=$(now)
if step xl-create xl create /etc/xen/tinyxl.cfg; then
  (sleep 30 | timeout 30 xl console tinyxl > /tmp/xlcons.out 2>&1) &
  cons=$!
  wait_for xl-console-marker $t0 90 marker_in /tmp/xlcons.out
  wait_for xl-log-marker $t0 90 grep -aq DOMU-MARKER /var/log/xen/console/guest-tinyxl.log
  step xl-list xl list
  step xl-list-again xl list
  t0=$(now)
  step xl-shutdown xl shutdown tinyxl
  wait_for xl-shutdown-gone $t0 60 not_listed tinyxl
  kill $cons 2> /dev/null
  wait $cons 2> /dev/null
  grep -a DOMU- /tmp/xlcons.out | head -3 | out xl-console
  tail -3 /var/log/xen/console/guest-tinyxl.log | out xl-guest-log
  xl destroy tinyxl > /dev/null 2>&1
  rm -f /var/log/xen/console/guest-tinyxl.log
  t0=$(now)
  step xl-create-2 xl create /etc/xen/tinyxl.cfg
  wait_for xl-log-marker-2 $t0 90 grep -aq DOMU-MARKER /var/log/xen/console/guest-tinyxl.log
  step xl-destroy xl destroy tinyxl
fi
rm -f /var/log/xen/console/guest-tinyxl.log*

# ---------- ours: virtxend, virt, virt-proxy ----------
if [ ! -x /usr/bin/virtxend ]; then
  fact "ours=skipped-no-virtxend"
  exit 0
fi
start_daemon() {
  local t0
  t0=$(now)
  # shellcheck disable=SC2086
  virtxend --system $DARGS >> /var/log/virt/virtxend.log 2>&1 &
  daemon=$!
  echo "XN-FACT virtxend_pid=$daemon"
  # answering, not only the socket file there (a killed daemon leaves its file behind)
  wait_for "$1" $t0 30 timeout 10 virt -t -c $U version
}
cat > /root/tiny.xml <<XML
<domain type='xen'>
  <name>tiny</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='xenpv'>linux</type>
    <kernel>/boot/vmlinuz</kernel>
    <initrd>/boot/domu-initrd.gz</initrd>
    <cmdline>console=hvc0</cmdline>
  </os>
  <on_crash>preserve</on_crash>
  <devices>
    <console type='pty'>
      <target type='xen' port='0'/>
    </console>
  </devices>
</domain>
XML
if ! start_daemon virtxend-up; then daemon_log; exit 1; fi
step virt-version virt -t -c $U version
step virt-define virt -t -c $U define /root/tiny.xml
step virt-to-native virt -t -c $U domxml-to-native xen-xl /root/tiny.xml
step virt-list-defined virt -t -c $U list --all
t0=$(now)
if ! step virt-start virt -t -c $U start tiny; then daemon_log; fi
(sleep 30 | timeout 30 virt -t -c $U console tiny > /tmp/cons1.out 2>&1) &
cons=$!
if [ -n "${VIRT_XL:-}" ]; then # diagnostics (XN_XL_TRACE=1): what dom0 runs while the guest boots
  (sleep 3; top -b -n 1 | head -14 | out top-during-boot) &
fi
wait_for virt-console-marker $t0 90 marker_in /tmp/cons1.out
wait_for virt-log-marker $t0 90 grep -aq DOMU-MARKER /var/log/xen/console/guest-tiny.log
sleep 2
kill $cons 2> /dev/null
wait $cons 2> /dev/null
fact "console1_alive_lines=$(grep -ac DOMU-ALIVE /tmp/cons1.out)"
head -c 2000 /tmp/cons1.out | out virt-console
grep -a DOMU- /tmp/cons1.out | head -3 | out virt-console-domu
out virt-run-cfg < /run/virt/libxl/tiny.cfg
step virt-list virt -t -c $U list --all
step virt-list-again virt -t -c $U list
step xl-list-ours xl list
step virt-domstate virt -t -c $U domstate tiny --reason
step virt-domid virt -t -c $U domid tiny
step virt-dominfo virt -t -c $U dominfo tiny
step virt-suspend virt -t -c $U suspend tiny
step virt-domstate-suspended virt -t -c $U domstate tiny --reason
step xl-list-suspended xl list tiny
step virt-resume virt -t -c $U resume tiny
step virt-domstate-resumed virt -t -c $U domstate tiny --reason
step virt-domstats virt -t -c $U domstats tiny
step virt-domstats-again virt -t -c $U domstats tiny
step virt-domstats-all virt -t -c $U domstats
step virt-dumpxml virt -t -c $U dumpxml tiny

# one call through the proxy: ?mode=legacy takes virt-proxy's socket
t0=$(now)
virt-proxy --system -t 0 > /var/log/virt/virt-proxy.log 2>&1 &
proxy=$!
wait_for proxy-up $t0 30 test -S /run/virt/virt-proxy-sock
step proxy-list virt -t -c "$U?mode=legacy" list --all
step proxy-domstate virt -t -c "$U?mode=legacy" domstate tiny
kill $proxy 2> /dev/null
wait $proxy 2> /dev/null
tail -20 /var/log/virt/virt-proxy.log | out proxy-log

# reattach: the daemon dies (-9) with the guest running and comes back
step xl-domid-before xl domid tiny
kill -9 $daemon
wait $daemon 2> /dev/null
fact "virtxend_killed=$daemon"
fact "stale_socket_left=$(test -S /run/virt/virtxend-sock && echo 1 || echo 0)"
start_daemon virtxend-restart
step virt-list-reattached virt -t -c $U list --all
step virt-domid-reattached virt -t -c $U domid tiny
step virt-domstate-reattached virt -t -c $U domstate tiny --reason
(sleep 6 | timeout 6 virt -t -c $U console tiny > /tmp/cons2.out 2>&1) &
cons=$!
wait $cons
echo "XN-STEP name=virt-console-reattached rc=$? ms=6000 up=$(up)"
fact "console2_alive_lines=$(grep -ac DOMU-ALIVE /tmp/cons2.out)"
head -c 1000 /tmp/cons2.out | out virt-console-reattached

# lifecycle events from here on, as a client sees them (`virt event --all --loop`)
virt -c $U event --all --loop > /tmp/events.out 2>&1 &
events=$!
sleep 1
# the balloon target (LIVE): xl mem-set, seen in the Xen Store
step virt-setmem virt -t -c $U setmem tiny 98304 --live
step xs-memory-target xenstore-read "/local/domain/$(xl domid tiny)/memory/target"
step virt-dominfo-setmem virt -t -c $U dominfo tiny

# stop: shutdown (the guest's init powers off on the signal), start again, destroy
t0=$(now)
step virt-shutdown virt -t -c $U shutdown tiny
# gone from Xen (polled with xl, as for xl's own shutdown), then shut off for virtxend
wait_for virt-shutdown-gone $t0 90 not_listed tiny
wait_for virt-shutdown-off $t0 90 virt_state "shut off"
step virt-domstate-shutoff virt -t -c $U domstate tiny --reason
step xl-list-after-shutdown xl list
tail -3 /var/log/xen/console/guest-tiny.log | out guest-log
rm -f /var/log/xen/console/guest-tiny.log
t0=$(now)
step virt-start-2 virt -t -c $U start tiny
wait_for virt-log-marker-2 $t0 90 grep -aq DOMU-MARKER /var/log/xen/console/guest-tiny.log
# reboot: xl's monitor builds the domain again under a new ID; virtxend follows it
old_id=$(xl domid tiny)
fact "id_before_reboot=$old_id"
new_id() { local n; n=$(xl domid tiny 2> /dev/null) && [ -n "$n" ] && [ "$n" != "$old_id" ]; }
rm -f /var/log/xen/console/guest-tiny.log
t0=$(now)
step virt-reboot virt -t -c $U reboot tiny
wait_for virt-reboot-newid $t0 90 new_id
wait_for virt-reboot-marker $t0 120 grep -aq DOMU-MARKER /var/log/xen/console/guest-tiny.log
step xl-domid-rebooted xl domid tiny
running_as() { [ "$(virt -c $U domid tiny 2>/dev/null | head -1)" = "$(xl domid tiny 2>/dev/null)" ]; }
wait_for virt-follows-reboot $t0 30 running_as
step virt-domid-rebooted virt -t -c $U domid tiny
step virt-domstate-rebooted virt -t -c $U domstate tiny --reason
step virt-destroy virt -t -c $U destroy tiny
step virt-domstate-destroyed virt -t -c $U domstate tiny --reason
step xl-list-after-destroy xl list
step virt-undefine virt -t -c $U undefine tiny
sleep 1
kill $events 2> /dev/null
wait $events 2> /dev/null
out virt-events < /tmp/events.out
step virt-list-final virt -t -c $U list --all
daemon_log | grep -Ev 'h2::|loona_hpack|tonic::transport' | tail -150
[ -f /var/log/virt/xl-calls.log ] && out xl-calls < /var/log/virt/xl-calls.log
kill $daemon 2> /dev/null
exit 0
