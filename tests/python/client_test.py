"""A client in another language: generates Python stubs from proto/ with grpcio-tools and
drives the daemon over its UNIX socket (list, define, start), asserting what comes back.

Usage: client_test.py SOCKET_PATH
"""
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
URI = [("virt-uri", "test:///default")]


def generate(out):
    import grpc_tools

    includes = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = [os.path.join("virt", "v1", f) for f in sorted(os.listdir(os.path.join(PROTO_ROOT, "virt", "v1")))]
    rc = protoc.main(
        ["protoc", f"-I{PROTO_ROOT}", f"-I{includes}", f"--python_out={out}", f"--grpc_python_out={out}"]
        + files
    )
    if rc != 0:
        raise SystemExit(f"protoc failed with {rc}")
    sys.path.insert(0, out)


def main():
    socket = sys.argv[1]
    out = tempfile.mkdtemp(prefix="virt-py-stubs-")
    generate(out)
    from virt.v1 import common_pb2, domain_pb2, domain_pb2_grpc

    # No options: the daemons accept the socket path grpc-core sends as :authority (see
    # proto/README.md, "Connecting").
    chan = grpc.insecure_channel(f"unix://{socket}")
    dom = domain_pb2_grpc.DomainServiceStub(chan)

    listed = dom.ListAllDomains(domain_pb2.ListAllDomainsRequest(flags=0), metadata=URI)
    names = [d.domain.name for d in listed.domains]
    assert names == ["test"], names
    assert listed.domains[0].state.state == common_pb2.DOMAIN_STATE_RUNNING

    xml = (
        "<domain type='test'><name>py1</name><memory unit='MiB'>64</memory>"
        "<vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>"
    )
    defined = dom.DefineDomain(domain_pb2.DefineDomainRequest(xml=xml), metadata=URI).domain
    assert defined.name == "py1" and len(defined.uuid) == 36 and not defined.HasField("id"), defined

    ref = common_pb2.DomainRef(name="py1")
    started = dom.CreateDomain(domain_pb2.CreateDomainRequest(domain=ref), metadata=URI).domain
    assert started.HasField("id"), started
    state = dom.GetDomainState(domain_pb2.GetDomainStateRequest(domain=ref), metadata=URI).state
    assert state.state == common_pb2.DOMAIN_STATE_RUNNING, state
    assert state.reason == common_pb2.DOMAIN_RUNNING_REASON_BOOTED, state

    try:
        dom.CreateDomain(domain_pb2.CreateDomainRequest(domain=ref), metadata=URI)
        raise SystemExit("starting a running domain must fail")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION, e.code()

    listed = dom.ListAllDomains(domain_pb2.ListAllDomainsRequest(flags=1), metadata=URI)
    print("active:", " ".join(d.domain.name for d in listed.domains))
    print("python client ok")


if __name__ == "__main__":
    main()
