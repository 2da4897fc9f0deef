//! The `swtpm` process of one guest: manufacturing its state with `swtpm_setup`, starting it
//! before QEMU, stopping it after (see the parent module for the whole story).
//!
//! The commands are libvirt 9.0's (qemu_tpm.c; checked against what `swtpm_setup --help` of
//! swtpm 0.7 accepts):
//!
//! ```text
//! swtpm_setup [--tpm2] --tpm-state DIR --vmid NAME:UUID --logfile LOG --createek
//!     --create-ek-cert --create-platform-cert --lock-nvram --not-overwrite
//! swtpm_setup --tpm2 --tpm-state DIR --logfile LOG --pcr-banks sha256,... --reconfigure
//! swtpm socket --ctrl type=unixio,path=SOCK,mode=0600 --tpmstate dir=DIR,mode=0600
//!     --log file=LOG --terminate [--tpm2]
//! ```
//!
//! One difference: as root the first call adds `--config` naming a configuration of ours
//! whose local CA lives under the driver's swtpm dir (see `setup_config`), where libvirt runs
//! swtpm_setup as its `tss` user against the system's CA.
//!
//! swtpm runs in its own session through [`crate::process::spawn_logged`], its command line
//! and any stderr in the domain's QEMU log under "Starting external device: TPM Emulator".

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::uuid::Uuid;
use virt_core::VirtError;

use super::Emulated;
use crate::process::{self, Pid, ProcHandle};

/// How long swtpm_setup may take (key generation under a loaded host).
const SETUP_WAIT: Duration = Duration::from_secs(120);
/// How long swtpm may take to create its control socket.
const SOCKET_WAIT: Duration = Duration::from_secs(10);
/// How long a stop waits for swtpm to leave by itself once QEMU has gone.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// One guest's swtpm: what to run it with.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The domain name (for `--vmid`, logs).
    pub name: String,
    /// The domain UUID (names the state dir).
    pub uuid: Uuid,
    /// The TPM asked for.
    pub tpm: Emulated,
    /// `STATE/swtpm`.
    pub swtpm_dir: PathBuf,
    /// The domain's private dir (the control socket goes there).
    pub domain_dir: PathBuf,
    /// swtpm's own log.
    pub swtpm_log: PathBuf,
    /// The domain's QEMU log (the command line and stderr go there).
    pub domain_log: PathBuf,
}

/// A started swtpm. Dropping it kills and reaps it; [`Running::keep`] hands the pid over
/// instead.
#[derive(Debug)]
pub struct Running {
    proc: Option<ProcHandle>,
    pid: Pid,
    kept: bool,
}

impl Running {
    /// The process.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Keeps swtpm running past this handle (its pid is recorded elsewhere).
    pub fn keep(mut self) -> Pid {
        self.kept = true;
        self.pid
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if let Some(p) = self.proc.take() {
            p.signal(nix::libc::SIGKILL);
        }
        // SAFETY: waitpid on our own child's pid (dead or just killed, so the wait is short;
        // ECHILD at once if it was reaped already), writing only into `status`.
        unsafe {
            let mut status = 0;
            nix::libc::waitpid(self.pid.pid, &mut status, 0);
        }
    }
}

fn system(detail: String) -> VirtError {
    VirtError::new(ErrorCode::SystemError, ErrorDomain::Qemu, detail)
}

/// `name` on PATH, or SYSTEM_ERROR as libvirt words it.
pub fn find_binary(name: &str) -> Result<PathBuf, VirtError> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| system(format!("Unable to find '{name}' binary in $PATH")))
}

/// Creates `dir` (and parents) with `mode`.
fn make_dir(dir: &Path, mode: u32) -> Result<(), VirtError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)))
        .map_err(|e| {
            system(format!(
                "Could not create TPM directory {}: {e}",
                dir.display()
            ))
        })
}

/// Prepares the state (manufacturing it when new, reconfiguring PCR banks), starts swtpm and
/// waits for its socket. On failure nothing keeps running and new state is removed.
pub async fn start(l: &Launch) -> Result<Running, VirtError> {
    let swtpm = find_binary("swtpm")?;
    let setup = find_binary("swtpm_setup")?;
    let root = super::domain_state_root(&l.swtpm_dir, &l.uuid);
    let state = super::state_dir(&l.swtpm_dir, &l.uuid, &l.tpm);
    // Others may enter the top dirs, as libvirt's 0711; the state itself is private.
    make_dir(&l.swtpm_dir, 0o711)?;
    make_dir(&root, 0o711)?;
    let created = std::fs::read_dir(&state).map_or(true, |mut d| d.next().is_none());
    make_dir(&state, 0o700)?;
    if let Some(dir) = l.swtpm_log.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| system(format!("cannot create {}: {e}", dir.display())))?;
    }
    let prepared = async {
        if created {
            manufacture(&setup, l, &state).await?;
        }
        if l.tpm.tpm2() && !l.tpm.pcr_banks.is_empty() {
            let banks = l.tpm.pcr_banks.join(",");
            let mut args = vec!["--tpm2".to_string()];
            args.extend(state_args(&state, &l.swtpm_log));
            args.extend(["--pcr-banks".into(), banks, "--reconfigure".into()]);
            run_setup(&setup, &args, &l.swtpm_log).await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = prepared {
        if created {
            let _ = std::fs::remove_dir_all(&root);
        }
        return Err(e);
    }
    spawn(&swtpm, l, &state).await
}

fn state_args(state: &Path, log: &Path) -> Vec<String> {
    vec![
        "--tpm-state".into(),
        state.display().to_string(),
        "--logfile".into(),
        log.display().to_string(),
    ]
}

/// The configuration `swtpm_setup` runs with as root: the system's, except that the local CA
/// signing the endorsement-key certificates keeps its key, certificate and serial under our
/// own swtpm dir. The system's CA dir (/var/lib/swtpm-localca) belongs to libvirt's swtpm user
/// (`tss`); files root created there would keep libvirt's own TPM guests from starting
/// ("Need read/write rights on /var/lib/swtpm-localca/.lock.swtpm-localca for user tss").
fn setup_config(swtpm_dir: &Path) -> Result<PathBuf, VirtError> {
    let ca = swtpm_dir.join("localca");
    make_dir(&ca, 0o700)?;
    let localca = find_binary("swtpm_localca")?;
    let ca_conf = swtpm_dir.join("swtpm-localca.conf");
    let at = |f: &str| ca.join(f).display().to_string();
    let ca_text = format!(
        "statedir = {}\nsigningkey = {}\nissuercert = {}\ncertserial = {}\n",
        ca.display(),
        at("signkey.pem"),
        at("issuercert.pem"),
        at("certserial")
    );
    let mut setup_text = format!(
        "create_certs_tool = {}\ncreate_certs_tool_config = {}\n",
        localca.display(),
        ca_conf.display()
    );
    // The platform manufacturer, version and model the system's CA writes into certificates.
    let options = Path::new("/etc/swtpm-localca.options");
    if options.exists() {
        setup_text.push_str(&format!(
            "create_certs_tool_options = {}\n",
            options.display()
        ));
    }
    setup_text.push_str("active_pcr_banks = sha256\n");
    let conf = swtpm_dir.join("swtpm_setup.conf");
    for (path, text) in [(&ca_conf, ca_text), (&conf, setup_text)] {
        virt_core::fsutil::write_atomic(path, text.as_bytes(), 0o600)
            .map_err(|e| system(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(conf)
}

/// The first `swtpm_setup`: endorsement key, certificates, locked NVRAM.
async fn manufacture(setup: &Path, l: &Launch, state: &Path) -> Result<(), VirtError> {
    let mut args = Vec::new();
    if nix::unistd::geteuid().is_root() {
        let conf = setup_config(&l.swtpm_dir)?;
        args.extend(["--config".to_string(), conf.display().to_string()]);
    } else {
        // An unprivileged user needs swtpm's config files in their home first.
        let args = ["--create-config-files".to_string(), "skip-if-exist".into()];
        run_setup(setup, &args, &l.swtpm_log).await?;
    }
    if l.tpm.tpm2() {
        args.push("--tpm2".to_string());
    }
    let mut state_args = state_args(state, &l.swtpm_log);
    state_args.insert(2, "--vmid".into());
    state_args.insert(3, format!("{}:{}", l.name, l.uuid));
    args.extend(state_args);
    for a in [
        "--createek",
        "--create-ek-cert",
        "--create-platform-cert",
        "--lock-nvram",
        "--not-overwrite",
    ] {
        args.push(a.into());
    }
    run_setup(setup, &args, &l.swtpm_log).await
}

/// Runs swtpm_setup; a failure is INTERNAL_ERROR in libvirt's words plus the log's last lines.
async fn run_setup(setup: &Path, args: &[String], log: &Path) -> Result<(), VirtError> {
    let fail = |status: String| {
        let tail = process::log_since(log, 0, 5);
        VirtError::new(
            ErrorCode::InternalError,
            ErrorDomain::Qemu,
            format!(
                "Could not run '{}'. exitstatus: {status}; Check error log '{}' for details.{}",
                setup.display(),
                log.display(),
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(" Last lines: {tail}")
                }
            ),
        )
    };
    let mut cmd = tokio::process::Command::new(setup);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(SETUP_WAIT, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(fail(format!("not started ({e})"))),
        Err(_) => return Err(fail(format!("none after {} s", SETUP_WAIT.as_secs()))),
    };
    if out.status.success() {
        return Ok(());
    }
    let code = out
        .status
        .code()
        .map_or_else(|| out.status.to_string(), |c| c.to_string());
    let mut e = fail(code);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.trim().is_empty() {
        e.detail.push_str(&format!(" stderr: {}", stderr.trim()));
    }
    Err(e)
}

/// Starts `swtpm socket` and waits for its control socket.
async fn spawn(swtpm: &Path, l: &Launch, state: &Path) -> Result<Running, VirtError> {
    let socket = super::socket_path(&l.domain_dir);
    let _ = std::fs::remove_file(&socket);
    let mut args: Vec<String> = vec![
        "socket".into(),
        "--ctrl".into(),
        format!("type=unixio,path={},mode=0600", socket.display()),
        "--tpmstate".into(),
        format!("dir={},mode=0600", state.display()),
        "--log".into(),
        format!("file={}", l.swtpm_log.display()),
        "--terminate".into(),
    ];
    if l.tpm.tpm2() {
        args.push("--tpm2".into());
    }
    let env: Vec<(String, String)> = ["PATH", "HOME", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    // Logged on one line, as libvirt logs external devices.
    let rendered = format!("{} {}", swtpm.display(), args.join(" "));
    let launch = process::Launch {
        program: swtpm.to_path_buf(),
        args,
        env,
        rendered,
        ..process::Launch::default()
    };
    let journal = crate::journal::Journal::of(&l.domain_dir);
    let (pid, log_start) = process::spawn_logged(
        launch,
        &l.domain_log,
        "Starting external device: TPM Emulator",
        Some(&|p| journal.note(p)),
    )
    .map_err(|e| e.to_virt())?;
    let running = Running {
        proc: ProcHandle::open(pid),
        pid,
        kept: false,
    };
    let deadline = Instant::now() + SOCKET_WAIT;
    loop {
        if socket.exists() {
            return Ok(running);
        }
        if !process::is_alive(pid) {
            drop(running);
            let mut said = process::log_since(&l.domain_log, log_start, 10);
            if said.is_empty() {
                said = process::log_since(&l.swtpm_log, 0, 5);
            }
            return Err(VirtError::new(
                ErrorCode::OperationFailed,
                ErrorDomain::Qemu,
                format!("swtpm died and reported: {said}"),
            ));
        }
        if Instant::now() > deadline {
            return Err(VirtError::new(
                ErrorCode::OperationTimeout,
                ErrorDomain::Qemu,
                "swtpm socket did not show up",
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Stops swtpm `pid` after its guest: it leaves by itself once QEMU's connection is gone
/// (`--terminate`); if it has not within `EXIT_WAIT`, it is signalled as QEMU would be.
/// Reaped when it is our child; a zombie or a recycled pid is left alone.
pub async fn stop(pid: Pid, domain: &str) {
    let Some(p) = ProcHandle::open(pid).filter(|_| process::is_alive(pid)) else {
        process::reap(pid.pid);
        return;
    };
    if p.wait_exit(EXIT_WAIT).await {
        return;
    }
    if let Err(e) = p.terminate(false).await {
        tracing::error!(domain, error = %e, "cannot stop swtpm");
    }
}
