"""The contract as a Python developer meets it, with stubs generated from proto/ by grpcio-tools
and the error details read with grpcio-status (googleapis-common-protos):

- ENFORCE_STATS: the enum constant reads -2147483648 and Python refuses it in the uint32 `flags`
  field; `enforce_stats=True` (or the constant masked to 32 bits) asks for it.
- Typed lifecycle details: a destroy reads as LIFECYCLE_STOPPED_DETAIL_DESTROYED.
- Errors: one ErrorInfo domain ("virt"); NO_DOMAIN names what was asked for; XML that is not
  well-formed carries a google.rpc.BadRequest and integer line / column metadata.
- GetEventSequence, then StreamEvents from it, misses nothing; a domain filter by a name not
  yet defined is accepted.

Usage: contract_test.py SOCKET_PATH
"""
import os
import sys
import tempfile

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
URI = [("virt-uri", "test:///default")]


def generate(out):
    """Python stubs for every file of proto/virt/v1 into `out`, importable as virt.v1."""
    import grpc_tools

    includes = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    v1 = os.path.join(PROTO_ROOT, "virt", "v1")
    files = [os.path.join("virt", "v1", f) for f in sorted(os.listdir(v1))]
    rc = protoc.main(
        ["protoc", f"-I{PROTO_ROOT}", f"-I{includes}", f"--python_out={out}", f"--grpc_python_out={out}"]
        + files
    )
    if rc != 0:
        raise SystemExit(f"protoc failed with {rc}")
    sys.path.insert(0, out)


def details(err):
    """ErrorInfo and BadRequest (or None) of a failed call."""
    status = rpc_status.from_call(err)
    assert status is not None, "status carries no details"
    info, bad = None, None
    for d in status.details:
        if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            d.Unpack(info)
        elif d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            d.Unpack(bad)
    assert info is not None, "no ErrorInfo"
    return info, bad


def main():
    socket = sys.argv[1]
    generate(tempfile.mkdtemp(prefix="virt-py-stubs-"))
    from virt.v1 import (
        common_pb2,
        domain_pb2,
        domain_pb2_grpc,
        event_pb2,
        event_pb2_grpc,
        stats_pb2,
        stats_pb2_grpc,
    )

    chan = grpc.insecure_channel(f"unix://{socket}", options=[("grpc.default_authority", "localhost")])
    dom = domain_pb2_grpc.DomainServiceStub(chan)
    ev = event_pb2_grpc.EventServiceStub(chan)
    stats = stats_pb2_grpc.StatsServiceStub(chan)

    # 5. ENFORCE_STATS.
    enforce = stats_pb2.DOMAIN_STATS_FLAG_ENFORCE_STATS
    assert enforce == -2147483648, enforce
    try:
        stats_pb2.GetAllDomainStatsRequest(flags=enforce)
        raise SystemExit("a negative value in a uint32 field must be refused by Python")
    except ValueError:
        pass
    cpu = stats_pb2.DOMAIN_STATS_GROUP_CPU_TOTAL
    stats.GetAllDomainStats(stats_pb2.GetAllDomainStatsRequest(stats=cpu), metadata=URI)
    for req in (
        stats_pb2.GetAllDomainStatsRequest(stats=cpu, enforce_stats=True),
        stats_pb2.GetAllDomainStatsRequest(stats=cpu, flags=enforce & 0xFFFFFFFF),
    ):
        try:
            stats.GetAllDomainStats(req, metadata=URI)
            raise SystemExit("ENFORCE_STATS must refuse a group the test driver lacks")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.code()
            info, _ = details(e)
            assert info.reason == "ARGUMENT_UNSUPPORTED", info

    # 8. Read the sequence first, act, then subscribe from it; and filter by a future name.
    nxt = ev.GetEventSequence(event_pb2.GetEventSequenceRequest(), metadata=URI).next_sequence
    # The subscription reaches the daemon asynchronously: from_sequence makes it see the events
    # from `nxt` on whatever the race, which is what the sequence number is for.
    later = ev.StreamEvents(
        event_pb2.StreamEventsRequest(
            domain=common_pb2.DomainRef(name="pyc1"), from_sequence=nxt
        ),
        metadata=URI,
    )
    xml = (
        "<domain type='test'><name>pyc1</name><memory unit='MiB'>64</memory>"
        "<vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>"
    )
    ref = common_pb2.DomainRef(name="pyc1")
    dom.DefineDomain(domain_pb2.DefineDomainRequest(xml=xml), metadata=URI)
    dom.CreateDomain(domain_pb2.CreateDomainRequest(domain=ref), metadata=URI)
    dom.DestroyDomain(domain_pb2.DestroyDomainRequest(domain=ref), metadata=URI)
    resumed = ev.StreamEvents(event_pb2.StreamEventsRequest(from_sequence=nxt), metadata=URI)
    got = []
    for msg in resumed:
        got.append(msg.event)
        if len(got) == 3:
            break
    resumed.cancel()
    assert [e.sequence for e in got] == [nxt, nxt + 1, nxt + 2], got
    assert all(e.domain.name == "pyc1" for e in got), got
    first = next(iter(later)).event
    later.cancel()
    assert first.sequence == nxt and first.domain.name == "pyc1", first

    # 6. Typed lifecycle details.
    stopped = got[2].lifecycle
    assert stopped.type == event_pb2.LIFECYCLE_EVENT_TYPE_STOPPED, stopped
    assert stopped.WhichOneof("typed_detail") == "stopped", stopped
    assert stopped.stopped == event_pb2.LIFECYCLE_STOPPED_DETAIL_DESTROYED, stopped
    assert stopped.detail == 1, "libvirt's number stays beside it"
    assert got[0].lifecycle.defined == event_pb2.LIFECYCLE_DEFINED_DETAIL_ADDED, got[0]

    # 7. Errors.
    try:
        dom.GetDomainInfo(domain_pb2.GetDomainInfoRequest(domain=common_pb2.DomainRef(name="nope")), metadata=URI)
        raise SystemExit("an unknown domain must fail")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND, e.code()
        info, _ = details(e)
        assert (info.reason, info.domain) == ("NO_DOMAIN", "virt"), info
        assert info.metadata["name"] == "nope", info
        assert int(info.metadata["code"]) == 42, info
        assert info.metadata["error_domain"] == "TEST", info
    try:
        dom.DefineDomain(
            domain_pb2.DefineDomainRequest(xml="<domain type='test'>\n  <name>x</name\n</domain>"),
            metadata=URI,
        )
        raise SystemExit("XML that is not well-formed must fail")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.code()
        info, bad = details(e)
        assert info.reason == "XML_ERROR", info
        line, column = int(info.metadata["line"]), int(info.metadata["column"])
        assert line in (2, 3) and column > 0, info
        assert bad is not None, "no BadRequest"
        v = bad.field_violations[0]
        assert v.field == "xml", v
        assert v.description.startswith(f"line {line}, column {column}: "), v

    print("python contract ok")


if __name__ == "__main__":
    main()
