//! Flag bits of every call, from the proto's enums (whose values are libvirt's), so no driver
//! spells a libvirt number by hand. Each module names one enum's bits and, where a call
//! accepts a fixed set, the mask a driver checks with [`crate::VirtError::check_flags`].
//! Each bit is documented once, on its proto enum value; the names here are libvirt's.
#![allow(missing_docs)]

use crate::proto;

/// virConnectListAllDomainsFlags (`ListAllDomainsFlag`).
pub mod list {
    use super::proto::ListAllDomainsFlag as F;
    pub const ACTIVE: u32 = F::Active as u32;
    pub const INACTIVE: u32 = F::Inactive as u32;
    pub const PERSISTENT: u32 = F::Persistent as u32;
    pub const TRANSIENT: u32 = F::Transient as u32;
    pub const RUNNING: u32 = F::Running as u32;
    pub const PAUSED: u32 = F::Paused as u32;
    pub const SHUTOFF: u32 = F::Shutoff as u32;
    pub const OTHER: u32 = F::Other as u32;
    pub const MANAGEDSAVE: u32 = F::Managedsave as u32;
    pub const NO_MANAGEDSAVE: u32 = F::NoManagedsave as u32;
    pub const AUTOSTART: u32 = F::Autostart as u32;
    pub const NO_AUTOSTART: u32 = F::NoAutostart as u32;
    pub const HAS_SNAPSHOT: u32 = F::HasSnapshot as u32;
    pub const NO_SNAPSHOT: u32 = F::NoSnapshot as u32;
    pub const HAS_CHECKPOINT: u32 = F::HasCheckpoint as u32;
    pub const NO_CHECKPOINT: u32 = F::NoCheckpoint as u32;
    /// The first eight bits (active / inactive, persistent / transient, the four states):
    /// the domain filter virConnectGetAllDomainStats shares.
    pub const STATES: u32 =
        ACTIVE | INACTIVE | PERSISTENT | TRANSIENT | RUNNING | PAUSED | SHUTOFF | OTHER;
    /// Every bit virConnectListAllDomains accepts.
    pub const ALL: u32 = STATES
        | MANAGEDSAVE
        | NO_MANAGEDSAVE
        | AUTOSTART
        | NO_AUTOSTART
        | HAS_SNAPSHOT
        | NO_SNAPSHOT
        | HAS_CHECKPOINT
        | NO_CHECKPOINT;
}

/// virDomainDefineFlags, virDomainCreateFlags' VALIDATE (`DefineDomainFlag`).
pub mod define {
    use super::proto::DefineDomainFlag as F;
    pub const VALIDATE: u32 = F::Validate as u32;
}

/// virTypedParameterFlags (`TypedParamFlag`).
pub mod typed_param {
    use super::proto::TypedParamFlag as F;
    pub const STRING_OKAY: u32 = F::StringOkay as u32;
}

/// virDomainUndefineFlagsValues (`UndefineDomainFlag`).
pub mod undefine {
    use super::proto::UndefineDomainFlag as F;
    pub const MANAGED_SAVE: u32 = F::ManagedSave as u32;
    pub const SNAPSHOTS_METADATA: u32 = F::SnapshotsMetadata as u32;
    pub const NVRAM: u32 = F::Nvram as u32;
    pub const KEEP_NVRAM: u32 = F::KeepNvram as u32;
    pub const CHECKPOINTS_METADATA: u32 = F::CheckpointsMetadata as u32;
    pub const TPM: u32 = F::Tpm as u32;
    pub const KEEP_TPM: u32 = F::KeepTpm as u32;
    /// Every bit virDomainUndefineFlags accepts.
    pub const ALL: u32 = MANAGED_SAVE
        | SNAPSHOTS_METADATA
        | NVRAM
        | KEEP_NVRAM
        | CHECKPOINTS_METADATA
        | TPM
        | KEEP_TPM;
}

/// virDomainCreateFlags (`CreateDomainFlag`).
pub mod create {
    use super::proto::CreateDomainFlag as F;
    pub const PAUSED: u32 = F::StartPaused as u32;
    pub const AUTODESTROY: u32 = F::StartAutodestroy as u32;
    pub const BYPASS_CACHE: u32 = F::StartBypassCache as u32;
    pub const FORCE_BOOT: u32 = F::StartForceBoot as u32;
    pub const VALIDATE: u32 = F::StartValidate as u32;
    pub const RESET_NVRAM: u32 = F::StartResetNvram as u32;
}

/// virDomainShutdownFlagValues / virDomainRebootFlagValues (`ShutdownDomainFlag`).
pub mod shutdown {
    use super::proto::ShutdownDomainFlag as F;
    pub const ACPI: u32 = F::AcpiPowerBtn as u32;
    pub const AGENT: u32 = F::GuestAgent as u32;
    pub const INITCTL: u32 = F::Initctl as u32;
    pub const SIGNAL: u32 = F::Signal as u32;
    pub const PARAVIRT: u32 = F::Paravirt as u32;
    /// Every mode bit.
    pub const ALL: u32 = ACPI | AGENT | INITCTL | SIGNAL | PARAVIRT;
}

/// virDomainDestroyFlagsValues (`DestroyDomainFlag`).
pub mod destroy {
    use super::proto::DestroyDomainFlag as F;
    pub const GRACEFUL: u32 = F::Graceful as u32;
    pub const REMOVE_LOGS: u32 = F::RemoveLogs as u32;
}

/// virDomainSaveRestoreFlags (`SaveRestoreFlag`).
pub mod save {
    use super::proto::SaveRestoreFlag as F;
    pub const BYPASS_CACHE: u32 = F::BypassCache as u32;
    pub const RUNNING: u32 = F::Running as u32;
    pub const PAUSED: u32 = F::Paused as u32;
    pub const RESET_NVRAM: u32 = F::ResetNvram as u32;
}

/// virDomainModificationImpact and the vCPU / memory flags that share its bits
/// (`ModificationFlag`).
pub mod modify {
    use super::proto::ModificationFlag as F;
    pub const LIVE: u32 = F::Live as u32;
    pub const CONFIG: u32 = F::Config as u32;
    pub const MAXIMUM: u32 = F::Maximum as u32;
    pub const GUEST: u32 = F::Guest as u32;
    pub const HOTPLUGGABLE: u32 = F::Hotpluggable as u32;
}

/// virDomainConsoleFlags (`ConsoleFlag`).
pub mod console {
    use super::proto::ConsoleFlag as F;
    pub const FORCE: u32 = F::Force as u32;
    pub const SAFE: u32 = F::Safe as u32;
}

/// virConnectGetAllDomainStatsFlags and virDomainStatsTypes (`DomainStatsFlag`,
/// `DomainStatsGroup`).
pub mod stats {
    use super::proto::DomainStatsFlag as F;
    use super::proto::DomainStatsGroup as G;
    pub const STATE: u32 = G::State as u32;
    pub const CPU_TOTAL: u32 = G::CpuTotal as u32;
    pub const BALLOON: u32 = G::Balloon as u32;
    pub const VCPU: u32 = G::Vcpu as u32;
    pub const INTERFACE: u32 = G::Interface as u32;
    pub const BLOCK: u32 = G::Block as u32;
    pub const NOWAIT: u32 = F::Nowait as u32;
    pub const BACKING: u32 = F::Backing as u32;
    pub const ENFORCE_STATS: u32 = F::EnforceStats as u32;
    /// The domain filter bits virConnectGetAllDomainStats shares with the list call.
    pub const FILTERS: u32 = super::list::STATES;
    /// What virConnectGetAllDomainStats accepts.
    pub const ALL_DOMAINS: u32 = FILTERS | NOWAIT | BACKING | ENFORCE_STATS;
    /// What virDomainListGetStats accepts (no domain filter).
    pub const LISTED: u32 = NOWAIT | BACKING | ENFORCE_STATS;
}

/// virDomainSnapshotCreateFlags, virDomainSnapshotListFlags, virDomainSnapshotRevertFlags and
/// virDomainSnapshotDeleteFlags (`CreateSnapshotFlag`, `ListSnapshotsFlag`,
/// `RevertSnapshotFlag`, `DeleteSnapshotFlag`).
pub mod snapshot {
    pub mod create {
        use crate::proto::CreateSnapshotFlag as F;
        pub const REDEFINE: u32 = F::Redefine as u32;
        pub const CURRENT: u32 = F::Current as u32;
        pub const NO_METADATA: u32 = F::NoMetadata as u32;
        pub const HALT: u32 = F::Halt as u32;
        pub const DISK_ONLY: u32 = F::DiskOnly as u32;
        pub const REUSE_EXT: u32 = F::ReuseExt as u32;
        pub const QUIESCE: u32 = F::Quiesce as u32;
        pub const ATOMIC: u32 = F::Atomic as u32;
        pub const LIVE: u32 = F::Live as u32;
        pub const VALIDATE: u32 = F::Validate as u32;
    }
    pub mod list {
        use crate::proto::ListSnapshotsFlag as F;
        pub const ROOTS: u32 = F::Roots as u32;
        pub const METADATA: u32 = F::Metadata as u32;
        pub const LEAVES: u32 = F::Leaves as u32;
        pub const NO_LEAVES: u32 = F::NoLeaves as u32;
        pub const NO_METADATA: u32 = F::NoMetadata as u32;
        pub const INACTIVE: u32 = F::Inactive as u32;
        pub const ACTIVE: u32 = F::Active as u32;
        pub const DISK_ONLY: u32 = F::DiskOnly as u32;
        pub const INTERNAL: u32 = F::Internal as u32;
        pub const EXTERNAL: u32 = F::External as u32;
        pub const TOPOLOGICAL: u32 = F::Topological as u32;
        /// Every bit virDomainListAllSnapshots accepts.
        pub const ALL: u32 = ROOTS
            | METADATA
            | LEAVES
            | NO_LEAVES
            | NO_METADATA
            | INACTIVE
            | ACTIVE
            | DISK_ONLY
            | INTERNAL
            | EXTERNAL
            | TOPOLOGICAL;
    }
    pub mod revert {
        use crate::proto::RevertSnapshotFlag as F;
        pub const RUNNING: u32 = F::Running as u32;
        pub const PAUSED: u32 = F::Paused as u32;
        pub const FORCE: u32 = F::Force as u32;
        pub const RESET_NVRAM: u32 = F::ResetNvram as u32;
        /// Every bit virDomainRevertToSnapshot accepts.
        pub const ALL: u32 = RUNNING | PAUSED | FORCE | RESET_NVRAM;
    }
    pub mod delete {
        use crate::proto::DeleteSnapshotFlag as F;
        pub const CHILDREN: u32 = F::Children as u32;
        pub const METADATA_ONLY: u32 = F::MetadataOnly as u32;
        pub const CHILDREN_ONLY: u32 = F::ChildrenOnly as u32;
        /// Every bit virDomainSnapshotDelete accepts.
        pub const ALL: u32 = CHILDREN | METADATA_ONLY | CHILDREN_ONLY;
    }
}

/// Block job flags (libvirt's values; issue 15, qemu group).
pub mod block {
    /// virDomainBlockPullFlags.
    pub mod pull {
        pub const BANDWIDTH_BYTES: u32 = 1 << 6;
    }
    /// virDomainBlockRebaseFlags.
    pub mod rebase {
        pub const SHALLOW: u32 = 1 << 0;
        pub const REUSE_EXT: u32 = 1 << 1;
        pub const COPY_RAW: u32 = 1 << 2;
        pub const COPY: u32 = 1 << 3;
        pub const RELATIVE: u32 = 1 << 4;
        pub const COPY_DEV: u32 = 1 << 5;
        pub const BANDWIDTH_BYTES: u32 = 1 << 6;
    }
    /// virDomainBlockCommitFlags.
    pub mod commit {
        pub const SHALLOW: u32 = 1 << 0;
        pub const DELETE: u32 = 1 << 1;
        pub const ACTIVE: u32 = 1 << 2;
        pub const RELATIVE: u32 = 1 << 3;
        pub const BANDWIDTH_BYTES: u32 = 1 << 4;
    }
    /// virDomainBlockCopyFlags.
    pub mod copy {
        pub const SHALLOW: u32 = 1 << 0;
        pub const REUSE_EXT: u32 = 1 << 1;
        pub const TRANSIENT_JOB: u32 = 1 << 2;
        pub const SYNCHRONOUS_WRITES: u32 = 1 << 3;
    }
    /// virDomainBlockJobInfoFlags / SetSpeedFlags.
    pub const BANDWIDTH_BYTES: u32 = 1;
    /// virDomainBlockJobAbortFlags.
    pub mod abort {
        pub const ASYNC: u32 = 1 << 0;
        pub const PIVOT: u32 = 1 << 1;
    }
    /// virDomainBlockResizeFlags.
    pub const RESIZE_BYTES: u32 = 1;
    /// virDomainBlockJobType.
    pub mod job_type {
        pub const PULL: i32 = 1;
        pub const COPY: i32 = 2;
        pub const COMMIT: i32 = 3;
        pub const ACTIVE_COMMIT: i32 = 4;
    }
}

/// virDomainXMLFlags (`DomainXmlFlag`).
pub mod xml {
    use super::proto::DomainXmlFlag as F;
    pub const SECURE: u32 = F::Secure as u32;
    pub const INACTIVE: u32 = F::Inactive as u32;
    pub const UPDATE_CPU: u32 = F::UpdateCpu as u32;
    pub const MIGRATABLE: u32 = F::Migratable as u32;
    /// Every bit virDomainGetXMLDesc accepts.
    pub const ALL: u32 = SECURE | INACTIVE | UPDATE_CPU | MIGRATABLE;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_libvirts_values() {
        // Spot checks against libvirt's headers (include/libvirt/libvirt-domain.h).
        assert_eq!(list::ALL, 0xffff);
        assert_eq!(list::STATES, 0xff);
        assert_eq!(list::HAS_CHECKPOINT, 1 << 14);
        assert_eq!(modify::HOTPLUGGABLE, 16);
        assert_eq!(create::RESET_NVRAM, 32);
        assert_eq!(undefine::KEEP_TPM, 64);
        assert_eq!(stats::ENFORCE_STATS, 0x8000_0000);
        assert_eq!(stats::NOWAIT, 1 << 29);
        assert_eq!(stats::BACKING, 1 << 30);
        assert_eq!(console::SAFE, 2);
        assert_eq!(shutdown::PARAVIRT, 16);
        assert_eq!(undefine::ALL, 0x7f);
        assert_eq!(snapshot::list::ALL, 0x7ff);
        assert_eq!(snapshot::list::TOPOLOGICAL, 1024);
        assert_eq!(snapshot::revert::ALL, 0xf);
        assert_eq!(snapshot::delete::CHILDREN_ONLY, 4);
        assert_eq!(snapshot::create::VALIDATE, 512);
    }
}
