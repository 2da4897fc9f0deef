//! A throwaway PKI generated at test time (rcgen): a CA, a server certificate for
//! `localhost`/`127.0.0.1`, and client certificates, written in libvirt's file layout.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A certificate authority that can issue certificates.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, PEM-encoded.
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// The private key.
    pub key_pem: String,
}

fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (t, v) in parts {
        dn.push(t.clone(), *v);
    }
    dn
}

impl Ca {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name = dn(&[
            (DnType::OrganizationName, "virt tests"),
            (DnType::CommonName, name),
        ]);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server(&self) -> Issued {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server params");
        params.distinguished_name = dn(&[
            (DnType::OrganizationName, "virt tests"),
            (DnType::CommonName, "localhost"),
        ]);
        self.issue(params)
    }

    /// A client certificate with subject `C=GB,O=<org>,CN=<cn>`.
    pub fn client(&self, org: &str, cn: &str) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name = dn(&[
            (DnType::CountryName, "GB"),
            (DnType::OrganizationName, org),
            (DnType::CommonName, cn),
        ]);
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> Issued {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// Writes the server side in libvirt's layout under `root` (`etc/pki/CA/cacert.pem`,
/// `etc/pki/libvirt/servercert.pem`, `etc/pki/libvirt/private/serverkey.pem`), the layout
/// `TlsSettings::libvirt_layout(_, Some(root))` reads.
pub fn write_server(root: &Path, ca: &Ca, server: &Issued) {
    write(&root.join("etc/pki/CA/cacert.pem"), &ca.cert_pem());
    write(
        &root.join("etc/pki/libvirt/servercert.pem"),
        &server.cert_pem,
    );
    write(
        &root.join("etc/pki/libvirt/private/serverkey.pem"),
        &server.key_pem,
    );
}

/// Writes a client's `pkipath` directory: `cacert.pem` (the CA it trusts servers by),
/// `clientcert.pem` and `clientkey.pem` when `client` is given. Returns the directory.
pub fn write_client(dir: &Path, trusted_ca: &Ca, client: Option<&Issued>) -> PathBuf {
    write(&dir.join("cacert.pem"), &trusted_ca.cert_pem());
    if let Some(c) = client {
        write(&dir.join("clientcert.pem"), &c.cert_pem);
        write(&dir.join("clientkey.pem"), &c.key_pem);
    }
    dir.to_path_buf()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write PEM");
}
