"""A Python grpcio client reaching a driver daemon through the proxy's mutual-TLS listener:
defines and lists a QEMU domain on virtqemud with `virt-uri: qemu:///system`, then checks that
the same call without a client certificate is UNAUTHENTICATED.

Usage: tls_client_test.py HOST:PORT PKI_DIR   (PKI_DIR holds cacert.pem, clientcert.pem,
clientkey.pem, libvirt's client file names)
"""
import os
import sys
import tempfile

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_test import generate  # noqa: E402

URI = [("virt-uri", "qemu:///system")]


def read(pki, name):
    with open(os.path.join(pki, name), "rb") as f:
        return f.read()


def main():
    target, pki = sys.argv[1], sys.argv[2]
    out = tempfile.mkdtemp(prefix="virt-py-stubs-")
    generate(out)
    from virt.v1 import domain_pb2, domain_pb2_grpc

    creds = grpc.ssl_channel_credentials(
        root_certificates=read(pki, "cacert.pem"),
        private_key=read(pki, "clientkey.pem"),
        certificate_chain=read(pki, "clientcert.pem"),
    )
    dom = domain_pb2_grpc.DomainServiceStub(grpc.secure_channel(target, creds))
    xml = (
        "<domain type='qemu'><name>pytls</name><memory unit='MiB'>64</memory>"
        "<os><type arch='x86_64'>hvm</type></os></domain>"
    )
    defined = dom.DefineDomain(domain_pb2.DefineDomainRequest(xml=xml), metadata=URI).domain
    assert defined.name == "pytls" and len(defined.uuid) == 36, defined
    listed = dom.ListAllDomains(domain_pb2.ListAllDomainsRequest(flags=0), metadata=URI)
    names = [d.domain.name for d in listed.domains]
    assert "pytls" in names, names

    anonymous = grpc.ssl_channel_credentials(root_certificates=read(pki, "cacert.pem"))
    stranger = domain_pb2_grpc.DomainServiceStub(grpc.secure_channel(target, anonymous))
    try:
        stranger.ListAllDomains(domain_pb2.ListAllDomainsRequest(flags=0), metadata=URI)
        raise SystemExit("a client without a certificate must be refused")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED, (e.code(), e.details())
        assert "no client certificate" in e.details(), e.details()
    print("python TLS client ok:", " ".join(names))


if __name__ == "__main__":
    main()
