//! Atomic file writes: temp file in the same directory, fsync, rename, fsync of the directory.
//! Every piece of persistent state the project writes goes through [`write_atomic`].

use std::io::Write;
use std::path::Path;

/// Writes `data` to `path` so that a reader sees either the old file or the whole new one,
/// even across a crash. The file gets `mode` (e.g. 0o600).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no file name")
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_content_and_sets_mode_without_leaving_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("state.xml");
        write_atomic(&p, b"one", 0o600).expect("first write");
        write_atomic(&p, b"two", 0o600).expect("second write");
        assert_eq!(std::fs::read(&p).expect("read"), b"two");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let entries = std::fs::read_dir(dir.path()).expect("readdir").count();
        assert_eq!(entries, 1);
    }

    #[test]
    fn missing_directory_is_an_error_not_a_panic() {
        let err = write_atomic(Path::new("/nonexistent-dir-xyz/f"), b"x", 0o600);
        assert!(err.is_err());
    }
}
