//! A domain's UEFI variable store (`<nvram>`): where it is, and creating it from its
//! template before QEMU starts.
//!
//! The store is created only when missing, so the guest's variables (boot entries, secure
//! boot keys it enrolled) survive restarts; START_RESET_NVRAM (`virt start --reset-nvram`)
//! recreates it. It is a copy of the template, mode 0600, written to a temporary file and
//! renamed into place, so a crash never leaves a half-copied store that would then be kept.

use std::path::{Path, PathBuf};

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::DomainDef;
use virt_core::VirtError;

/// The variable store of `def` (its persistent definition): the `<nvram>` path, or for
/// auto-selected UEFI firmware `NVRAM_DIR/NAME_VARS.fd`, where start puts it.
pub fn path_of(def: &DomainDef, nvram_dir: &Path) -> Option<PathBuf> {
    let os = &def.os;
    if let Some(p) = os.nvram.as_ref().and_then(|n| n.path.as_ref()) {
        return Some(PathBuf::from(p));
    }
    (os.firmware.as_deref() == Some("efi"))
        .then(|| PathBuf::from(super::select::default_nvram(nvram_dir, &def.name)))
}

/// Makes sure the variable store of `live` (a resolved definition) exists: copied from its
/// template when missing, or always when `reset`. Nothing to do without a flash loader and
/// an `<nvram>` path. A missing store without a template is OPERATION_FAILED, as libvirt.
pub fn ensure(live: &DomainDef, reset: bool) -> Result<(), VirtError> {
    let os = &live.os;
    let Some(loader) = os.loader.as_ref() else {
        return Ok(());
    };
    let Some(path) = os.nvram.as_ref().and_then(|n| n.path.as_ref()) else {
        return Ok(());
    };
    if loader.loader_type.as_deref() != Some("pflash") {
        return Ok(());
    }
    let path = Path::new(path);
    if !reset && path.exists() {
        return Ok(());
    }
    let Some(template) = os.nvram.as_ref().and_then(|n| n.template.as_ref()) else {
        return Err(VirtError::new(
            ErrorCode::OperationFailed,
            ErrorDomain::Qemu,
            format!(
                "unable to find any master var store for loader: {}",
                loader.path.as_deref().unwrap_or("")
            ),
        ));
    };
    copy_template(Path::new(template), path)
}

fn copy_template(template: &Path, path: &Path) -> Result<(), VirtError> {
    let sys = |what: String| VirtError::new(ErrorCode::SystemError, ErrorDomain::Qemu, what);
    let data = std::fs::read(template).map_err(|e| {
        sys(format!(
            "cannot read the NVRAM template '{}': {e}",
            template.display()
        ))
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            sys(format!(
                "cannot create the NVRAM directory '{}': {e}",
                dir.display()
            ))
        })?;
    }
    virt_core::fsutil::write_atomic(path, &data, 0o600).map_err(|e| {
        sys(format!(
            "cannot create the NVRAM file '{}' from '{}': {e}",
            path.display(),
            template.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn live(path: &Path, template: Option<&Path>) -> DomainDef {
        let tpl = template
            .map(|t| format!(" template='{}'", t.display()))
            .unwrap_or_default();
        virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>v</name><memory>65536</memory><os>\
             <type arch='x86_64' machine='q35'>hvm</type>\
             <loader readonly='yes' type='pflash'>/c.fd</loader>\
             <nvram{tpl}>{}</nvram></os></domain>",
            path.display()
        ))
        .expect("parses")
    }

    #[test]
    fn the_store_is_copied_once_0600_and_reset_on_request() {
        let t = tempfile::tempdir().expect("tmp");
        let template = t.path().join("VARS.fd");
        std::fs::write(&template, b"pristine").expect("template");
        let store = t.path().join("nvram/sub/v_VARS.fd");
        let d = live(&store, Some(&template));
        ensure(&d, false).expect("created");
        assert_eq!(std::fs::read(&store).expect("store"), b"pristine");
        let mode = std::fs::metadata(&store)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&store, b"guest wrote").expect("guest");
        ensure(&d, false).expect("kept");
        assert_eq!(std::fs::read(&store).expect("store"), b"guest wrote");
        ensure(&d, true).expect("reset");
        assert_eq!(std::fs::read(&store).expect("store"), b"pristine");
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(store.parent().expect("dir"))
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_missing_store_without_template_or_a_missing_template_is_an_error() {
        let t = tempfile::tempdir().expect("tmp");
        let store = t.path().join("v_VARS.fd");
        let e = ensure(&live(&store, None), false).expect_err("no template");
        assert_eq!(e.code, ErrorCode::OperationFailed);
        assert_eq!(
            e.detail,
            "unable to find any master var store for loader: /c.fd"
        );
        // An existing store needs no template.
        std::fs::write(&store, b"x").expect("store");
        ensure(&live(&store, None), false).expect("exists");
        let gone = t.path().join("gone.fd");
        let e = ensure(&live(&t.path().join("w.fd"), Some(&gone)), false).expect_err("gone");
        assert_eq!(e.code, ErrorCode::SystemError);
        assert!(e.detail.contains("gone.fd"), "{}", e.detail);
    }

    #[test]
    fn the_store_path_follows_nvram_or_the_autoselection_default() {
        let dir = Path::new("/s/qemu/nvram");
        let explicit = live(Path::new("/x/y.fd"), None);
        assert_eq!(path_of(&explicit, dir), Some(PathBuf::from("/x/y.fd")));
        let auto = virt_xml::parse_domain(
            "<domain type='qemu'><name>w</name><memory>65536</memory><os firmware='efi'>\
             <type arch='x86_64' machine='q35'>hvm</type></os></domain>",
        )
        .expect("parses");
        assert_eq!(
            path_of(&auto, dir),
            Some(PathBuf::from("/s/qemu/nvram/w_VARS.fd"))
        );
        let bios = virt_xml::parse_domain(
            "<domain type='qemu'><name>b</name><memory>65536</memory><os>\
             <type arch='x86_64' machine='q35'>hvm</type></os></domain>",
        )
        .expect("parses");
        assert_eq!(path_of(&bios, dir), None);
    }
}
