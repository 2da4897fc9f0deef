//! The `Host` capability of the LXC driver: type `LXC` at the kernel's version (as libvirt's
//! LXC driver reports it), node facts, and capabilities with one `exe` guest per architecture
//! the kernel runs (the host's and its 32-bit sibling), whose emulator is the controller.
//! libvirt's LXC driver has no domain capabilities; neither has this one (NO_SUPPORT).

use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::ErrorDomain;
use virt_core::model::caps::GuestCaps;
use virt_core::model::Capabilities;
use virt_core::types::{NodeInfo, VersionInfo};

use crate::LxcDriver;

/// The kernel release as a libvirt version number (`6.1.0-28-cloud-amd64` → 6001000).
pub fn kernel_version() -> u64 {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    virt_core::hostinfo::version_number(&release).unwrap_or(0)
}

impl LxcDriver {
    /// The capabilities document's model.
    pub fn capabilities_model(&self) -> Capabilities {
        let arch = virt_core::hostinfo::host_arch();
        Capabilities {
            guests: GuestCaps::lxc_guests(&arch, &self.controller_name()),
            host_arch: arch,
            ..Capabilities::default()
        }
    }
}

#[async_trait::async_trait]
impl Host for LxcDriver {
    fn error_domain(&self) -> ErrorDomain {
        ErrorDomain::Lxc
    }

    fn uri(&self) -> String {
        self.uri.clone()
    }

    /// libvirt: virNodeSuspendForDuration, as its QEMU and LXC drivers do it
    /// (virt_core::nodesuspend).
    async fn suspend_for_duration(
        &self,
        target: u32,
        duration: u64,
        flags: u32,
    ) -> DriverResult<()> {
        virt_core::nodesuspend::suspend_in_background(target, duration, flags).await
    }

    async fn version(&self) -> DriverResult<VersionInfo> {
        Ok(VersionInfo {
            hypervisor_type: "LXC".into(),
            hypervisor_version: kernel_version(),
            lib_version: virt_core::test_driver::LIB_VERSION,
        })
    }

    async fn capabilities(&self) -> DriverResult<String> {
        Ok(self.codec.format_capabilities(&self.capabilities_model()))
    }

    async fn node_info(&self) -> DriverResult<NodeInfo> {
        Ok(virt_core::hostinfo::node_info())
    }
}
