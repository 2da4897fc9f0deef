#!/usr/bin/env bash
# Runs every test of the project, as CI does, on a fresh Debian 12 machine: installs the system
# packages the suite needs when they are missing (root), prepares a Python venv with grpcio for
# the cross-language client test, then formatting, lints, and the whole test suite including the
# system tests (real virsh, real sockets, systemd-socket-activate, Python stubs).
set -euo pipefail
cd "$(dirname "$0")/.."
# One-shot builds gain nothing from incremental state, which doubled the target dir (1.4 GB).
export CARGO_INCREMENTAL=0
echo "disk free here: $(df -h . | awk 'NR==2 {print $4}')"

need=()
# libxml2-utils: xmllint, which virt-xml-validate runs (only a Recommends of libvirt-clients).
# qemu-system-x86 and busybox-static: the real guests of the QEMU driver's tests; ovmf (UEFI
# firmware and its descriptors), swtpm and swtpm-tools (swtpm_setup): their UEFI and TPM guests.
# qemu-guest-agent: the qemu-ga the agent tests run on the host and inside the test guest;
# e2fsprogs: mkfs.ext4 for the guest's freezable disk. virtiofsd: the virtiofs shares' daemon
# (Debian's Rust virtiofsd, where the archive has it; else QEMU's own, which
# qemu-system-common ships and names in /usr/share/qemu/vhost-user).
# virtnetworkd and virtstoraged: dnsmasq-base (DHCP and DNS of a network), nftables (NAT and
# routing rules), iproute2 (bridges), qemu-utils (qemu-img: volumes), lvm2 (logical pools);
# tests/tests/virtnetworkd.rs runs them in network namespaces of its own.
# virtlxcd: busybox-static is the containers' root filesystem too; iputils-ping pings a
# container's address inside the test's network namespace; util-linux (losetup) attaches
# file-backed filesystems.
# virtxend: Xen 4.17's real C xenstored (xen-utils-4.17; its libraries from libxen-dev) runs on
# this Xen-less host under ../shared/tools/xen's LD_PRELOAD shim, which gcc builds at test time;
# libvirt-daemon-driver-xen is libvirt's own libxl driver, the oracle of the xl conversions.
# podman, runc, debootstrap: deploy/containers builds the daemons' images (debootstrap's root
# filesystem, podman import) and tests/tests/container.rs runs virtqemud's under podman (runc);
# binutils: strip, which drops a debug build's DWARF from the image.
# The daemons' /metrics endpoint (tests/tests/metrics.rs): prometheus for `promtool check metrics`
# on the Prometheus text, python3-prometheus-client for its strict OpenMetrics parser.
# systemd-container: systemd-nspawn boots the root filesystem of tests/tests/systemd_units.rs
# (systemd as PID 1, the units of deploy/systemd).
# polkitd and dbus-bin (dbus-send): tests/tests/polkit.rs runs the real polkitd on a dbus-daemon
# of its own to authorize UNIX-socket clients (auth_unix_rw = "polkit").
for p in libvirt-clients libvirt-daemon libvirt-dev libxml2-utils pkg-config systemd dbus python3-venv \
  openssh-server openssh-client qemu-system-x86 busybox-static ovmf swtpm swtpm-tools qemu-guest-agent \
  e2fsprogs dnsmasq-base nftables iproute2 qemu-utils lvm2 iputils-ping util-linux \
  xen-utils-4.17 xenstore-utils xen-utils-common libxen-dev gcc libvirt-daemon-driver-xen \
  podman runc debootstrap binutils prometheus python3-prometheus-client polkitd dbus-bin \
  systemd-container; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ! dpkg -s virtiofsd >/dev/null 2>&1 && apt-cache show virtiofsd >/dev/null 2>&1; then
  need+=(virtiofsd)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  extra=()
  # Some images carry a backported qemu-utils that Breaks Debian 12's qemu-system-common: take
  # qemu-utils (and qemu-block-extra, if present) at the QEMU version being installed.
  qv=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ {print $2}')
  for q in qemu-utils qemu-block-extra; do
    iv=$(dpkg-query -W -f='${Version}' "$q" 2>/dev/null || true)
    if [ -n "$iv" ] && [ -n "$qv" ] && [ "$iv" != "$qv" ]; then extra+=("$q=$qv"); fi
  done
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends --allow-downgrades \
    "${need[@]}" "${extra[@]}" >/dev/null
fi

# The real libvirt 9.0 (QEMU and test drivers) the QEMU driver is compared with, and Debian's
# virt-install, which writes the real-world corpus of tests/tests/qemu_realworld.rs.
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO bash ../shared/tools/libvirt-anchor.sh
if ! dpkg -s virtinst >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends virtinst >/dev/null
fi

# Python with grpcio for the generated-stub client tests (tests/python, proto/README.md's
# example): grpcio-status reads the ErrorInfo details of an error.
PYVENV="$PWD/target/pyvenv"
if [ ! -x "$PYVENV/bin/python" ] || ! "$PYVENV/bin/python" -c 'import grpc, grpc_tools, grpc_status, google.rpc.error_details_pb2' 2>/dev/null; then
  python3 -m venv "$PYVENV"
  # grpcio-status (with googleapis-common-protos) reads google.rpc error details, as a client does.
  "$PYVENV/bin/pip" install --quiet --disable-pip-version-check grpcio grpcio-tools grpcio-status googleapis-common-protos
fi
export VIRT_TEST_PYTHON="$PYVENV/bin/python"
export VIRT_REQUIRE_VIRSH=1
export VIRT_REQUIRE_SSHD=1
export VIRT_REQUIRE_LIBVIRT=1
export VIRT_REQUIRE_NETWORK=1
# promtool and the OpenMetrics parser validate the /metrics output (tests/tests/metrics.rs).
export VIRT_REQUIRE_METRICS=1
# virtstoraged's real-part tests (loop devices, LVM, mount) need root.
[ "$(id -u)" -ne 0 ] || export VIRT_REQUIRE_STORAGE=1
# virtlxcd's containers (namespaces, cgroups, veths) need root.
[ "$(id -u)" -ne 0 ] || export VIRT_REQUIRE_LXC=1
# virtxend's Xen Store tests start that xenstored (root).
[ "$(id -u)" -ne 0 ] || export VIRT_REQUIRE_XEN=1
# virtqemud's container image (tests/tests/container.rs, feature container-tests, which
# --all-features below enables): debootstrap and podman need root; so do
# tests/tests/systemd_units.rs's overlay mounts and systemd-nspawn.
[ "$(id -u)" -ne 0 ] || export VIRT_REQUIRE_CONTAINERS=1
# The polkit test runs polkitd in a private mount namespace and clients as other users (root).
[ "$(id -u)" -ne 0 ] || export VIRT_REQUIRE_POLKIT=1

command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

# buf (from the npm registry) lints and format-checks the proto contract.
BUFDIR="$PWD/target/buf"
if [ ! -x "$BUFDIR/node_modules/.bin/buf" ]; then
  mkdir -p "$BUFDIR"
  (cd "$BUFDIR" && npm install --silent --no-audit --no-fund @bufbuild/buf@1 >/dev/null)
fi
(cd proto && "$BUFDIR/node_modules/.bin/buf" lint && "$BUFDIR/node_modules/.bin/buf" format --diff --exit-code)
# The compatibility rule (proto/README.md): buf breaking, category FILE (proto/buf.yaml), against
# the released schema: the git ref VIRT_PROTO_BASELINE (a release tag once there is one; the main
# branch by default, so a branch is checked before it merges).
PROTO_BASELINE="${VIRT_PROTO_BASELINE:-main}"
GITDIR="$(git rev-parse --path-format=absolute --git-common-dir)"
(cd proto && "$BUFDIR/node_modules/.bin/buf" breaking --against "$GITDIR#ref=$PROTO_BASELINE,subdir=proto")

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
# virt-client (library and CLI) must not build the daemon runtime (virt-core's `server` feature).
tools/check-client-deps.sh
cargo check -p virt-client --all-targets
# The daemon tests run the real binaries: build them first.
cargo build --workspace --bins --all-features
cargo nextest run --workspace --all-features --no-fail-fast
