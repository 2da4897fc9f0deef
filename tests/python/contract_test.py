"""The contract as another language sees it (issue 11, points 1-3): a grpcio channel with no
options over virt-proxy's UNIX socket; where a call without `virt-uri` goes and how the client
learns it; a misspelt key; Info.features of a routed URI.

Usage: contract_test.py PROXY_SOCKET EMPTY_PROXY_SOCKET
  PROXY_SOCKET: a virt-proxy with a real virtqemud under its root (nothing else);
  EMPTY_PROXY_SOCKET: a virt-proxy with no driver daemon and no uri_default.
"""
import os
import sys
import tempfile

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_test import generate  # noqa: E402


def error_info(err):
    for detail in rpc_status.from_call(err).details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    raise AssertionError(f"no ErrorInfo in {err}")


def header(call, key):
    return dict(call.initial_metadata()).get(key)


def main():
    proxy, empty = sys.argv[1], sys.argv[2]
    generate(tempfile.mkdtemp(prefix="virt-py-stubs-"))
    from virt.v1 import connect_pb2, connect_pb2_grpc, domain_pb2, domain_pb2_grpc

    # Point 2: no channel options at all; grpc-core sends the socket path as :authority.
    chan = grpc.insecure_channel(f"unix:{proxy}")
    dom = domain_pb2_grpc.DomainServiceStub(chan)
    con = connect_pb2_grpc.ConnectServiceStub(chan)
    listed, call = dom.ListAllDomains.with_call(
        domain_pb2.ListAllDomainsRequest(), metadata=[("virt-uri", "test:///default")]
    )
    assert [d.domain.name for d in listed.domains] == ["test"], listed
    assert header(call, "virt-uri") == "test:///default", call.initial_metadata()
    print("no-options channel ok")

    # Point 1: no virt-uri goes to the probed driver daemon (virtqemud here), never the test
    # driver, and the response says which URI served it.
    xml = (
        "<domain type='kvm'><name>pyq</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>"
    )
    dom.DefineDomain(domain_pb2.DefineDomainRequest(xml=xml), metadata=[("virt-uri", "qemu:///system")])
    listed, call = dom.ListAllDomains.with_call(domain_pb2.ListAllDomainsRequest())
    assert header(call, "virt-uri") == "qemu:///system", call.initial_metadata()
    assert [d.domain.name for d in listed.domains] == ["pyq"], listed
    print("default uri:", header(call, "virt-uri"))

    for key in ["virt_uri", "uri", "virt-url"]:
        try:
            dom.ListAllDomains(domain_pb2.ListAllDomainsRequest(), metadata=[(key, "test:///default")])
            raise SystemExit(f"misspelt key {key} must be refused")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, (key, e.code())
            assert f"metadata key '{key}' is not read" in e.details(), e.details()
            assert "'virt-uri'" in e.details(), e.details()
            assert error_info(e).reason == "INVALID_ARG", error_info(e)
    print("misspelt keys refused")

    lonely = domain_pb2_grpc.DomainServiceStub(grpc.insecure_channel(f"unix:{empty}"))
    try:
        lonely.ListAllDomains(domain_pb2.ListAllDomainsRequest())
        raise SystemExit("no URI and nothing to probe must fail")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAVAILABLE, e.code()
        assert "without virt-uri metadata" in e.details(), e.details()
        assert "virt-uri: qemu:///system" in e.details(), e.details()
        assert error_info(e).reason == "NO_CONNECT", error_info(e)
    print("nothing to route: unavailable")

    # Point 3: Info of a routed URI is the backend's, with its own features.
    info, call = con.Info.with_call(connect_pb2.InfoRequest(), metadata=[("virt-uri", "qemu:///system")])
    assert info.daemon == "virtqemud" and info.driver == "QEMU", info
    for f in ["events.resume", "console", "stats.state", "stats.cpu_total", "stats.balloon",
              "stats.vcpu", "stats.interface", "stats.block", "guest.qemu_agent_command",
              "guest.fs_freeze", "domain.managed_save", "snapshots", "domain.block_commit"]:
        assert f in info.features, (f, list(info.features))
    assert [b.daemon for b in info.backends] == ["virtqemud"], info.backends
    assert header(call, "virt-uri") == "qemu:///system"
    test_info = con.Info(connect_pb2.InfoRequest(), metadata=[("virt-uri", "test:///default")])
    assert test_info.daemon == "virt-proxy" and test_info.driver == "TEST", test_info
    assert "snapshots" in test_info.features and "stats.cpu_total" not in test_info.features
    print("virtqemud features:", " ".join(info.features))
    print("python contract ok")


if __name__ == "__main__":
    main()
