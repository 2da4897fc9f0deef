//! `virt validate FILE [--print]`: checks a domain XML file as `define --validate` would,
//! defining nothing.
//!
//! On success it prints `FILE validates`, as libvirt's `virt-xml-validate` does, or with
//! `--print` the effective configuration (the inactive XML the driver would store, defaults
//! filled). On failure it prints `error: Failed to validate domain from FILE`, then one
//! `error: XPATH: problem` line per violation the server reported, and exits 1.

use virt_client::{ClientError, Connection};
use virt_core::proto::DefineDomainFlag;

use super::capabilities::print_xml;
use super::define::read_file;
use super::output::Output;
use super::report::CliError;

/// Options of `validate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// File containing an XML domain description.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Print the effective XML (defaults filled) instead of `FILE validates`.
    #[arg(long)]
    pub print: bool,
}

/// Runs `validate`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let xml = read_file(&args.file)?;
    let resp = conn
        .validate(&xml, DefineDomainFlag::Validate as u32)
        .await
        .map_err(|e| failure(&args.file, e))?;
    if args.print {
        print_xml(out, &resp.xml);
    } else {
        out.extra(&format!("{} validates", args.file));
    }
    Ok(())
}

/// The error of a failed validation of `file`: the context line, then one line per violation
/// (`/domain/devices/foo: unsupported element /domain/devices/foo`), or libvirt's message when
/// the failure names no place (a lost connection, an unsupported call).
fn failure(file: &str, err: ClientError) -> CliError {
    let context = format!("Failed to validate domain from {file}");
    let violations = err
        .virt_error()
        .map(|e| e.violations.clone())
        .unwrap_or_default();
    if violations.is_empty() {
        return CliError::Call {
            context: Some(context),
            source: Box::new(err),
        };
    }
    CliError::Lines(
        std::iter::once(context)
            .chain(
                violations
                    .iter()
                    .map(|v| format!("{}: {}", v.path, v.description)),
            )
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::output::testing::capture;
    use super::*;
    use std::io::Write;
    use virt_core::error::Violation;
    use virt_core::{ErrorCode, ErrorDomain, VirtError};

    fn file(xml: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(xml.as_bytes()).expect("write");
        f
    }

    fn args(f: &tempfile::NamedTempFile, print: bool) -> Args {
        Args {
            file: f.path().to_string_lossy().into_owned(),
            print,
        }
    }

    const VALID: &str = "<domain type='test'><name>cli-validate-unit</name>\
        <memory>8192</memory><os><type>hvm</type></os></domain>";

    #[tokio::test]
    async fn valid_file_validates_and_print_gives_the_effective_xml() {
        let conn = Connection::open(Some("test:///default"), false)
            .await
            .expect("embedded connection");
        let f = file(VALID);
        let (mut out, buf) = capture(false);
        run(&conn, &args(&f, false), &mut out)
            .await
            .expect("validates");
        assert_eq!(buf.text(), format!("{} validates\n", f.path().display()));
        let (mut out, buf) = capture(false);
        run(&conn, &args(&f, true), &mut out)
            .await
            .expect("validates");
        let xml = buf.text();
        assert!(xml.contains("<name>cli-validate-unit</name>"), "{xml}");
        assert!(xml.contains("<uuid>"), "UUID default filled: {xml}");
        assert!(
            xml.contains("<currentMemory"),
            "current memory filled: {xml}"
        );
    }

    #[tokio::test]
    async fn invalid_file_prints_one_line_per_violation_with_its_xpath() {
        let conn = Connection::open(Some("test:///default"), false)
            .await
            .expect("embedded connection");
        let f = file(&VALID.replace("</os>", "</os><devices><foo/></devices>"));
        let (mut out, _buf) = capture(false);
        let err = run(&conn, &args(&f, false), &mut out)
            .await
            .expect_err("invalid");
        assert_eq!(
            err.lines(),
            vec![
                format!("Failed to validate domain from {}", f.path().display()),
                "/domain/devices/foo: unsupported element /domain/devices/foo".to_string(),
            ]
        );
    }

    #[test]
    fn failure_without_violations_keeps_libvirt_message() {
        let err = failure(
            "x.xml",
            VirtError::read_only("virDomainDefineXMLFlags").into(),
        );
        assert_eq!(
            err.lines(),
            vec![
                "Failed to validate domain from x.xml".to_string(),
                "operation forbidden: read only access prevents virDomainDefineXMLFlags"
                    .to_string(),
            ]
        );
        let mut e = VirtError::new(ErrorCode::XmlDetail, ErrorDomain::Domain, "two problems");
        e.violations = vec![
            Violation {
                path: "/domain/a".into(),
                description: "bad a".into(),
            },
            Violation {
                path: "/domain/b".into(),
                description: "bad b".into(),
            },
        ];
        assert_eq!(
            failure("x.xml", e.into()).lines(),
            vec![
                "Failed to validate domain from x.xml",
                "/domain/a: bad a",
                "/domain/b: bad b"
            ]
        );
    }
}
