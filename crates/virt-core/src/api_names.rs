//! The libvirt public API each gRPC method follows, so that messages that name an API
//! ("read only access prevents virDomainDestroy") read as libvirt's do.

/// libvirt's API name for a `virt.v1` method, given as its bare name (`DestroyDomain`) or its
/// gRPC path (`/virt.v1.DomainService/DestroyDomain`).
pub fn libvirt_api(method: &str) -> Option<&'static str> {
    let bare = method.rsplit('/').next().unwrap_or(method);
    Some(match bare {
        "GetVersion" => "virConnectGetVersion",
        "GetHostname" => "virConnectGetHostname",
        "GetUri" => "virConnectGetURI",
        "GetCapabilities" => "virConnectGetCapabilities",
        "GetDomainCapabilities" => "virConnectGetDomainCapabilities",
        "GetNodeInfo" => "virNodeGetInfo",
        "GetMaxVcpus" => "virConnectGetMaxVcpus",
        "GetSecurityModel" => "virNodeGetSecurityModel",
        "DomainXmlToNative" => "virConnectDomainXMLToNative",
        "DomainXmlFromNative" => "virConnectDomainXMLFromNative",
        "GetSysinfo" => "virConnectGetSysinfo",
        "GetCellsFreeMemory" => "virNodeGetCellsFreeMemory",
        "GetFreeMemory" => "virNodeGetFreeMemory",
        "GetCpuMap" => "virNodeGetCPUMap",
        "GetCpuStats" => "virNodeGetCPUStats",
        "GetMemoryStats" => "virNodeGetMemoryStats",
        "LookupDomain" => "virDomainLookupByName",
        "ListAllDomains" => "virConnectListAllDomains",
        "DefineDomain" => "virDomainDefineXML",
        // A dry run of virDomainDefineXMLFlags with VIR_DOMAIN_DEFINE_VALIDATE.
        "ValidateDomain" => "virDomainDefineXMLFlags",
        "UndefineDomain" => "virDomainUndefine",
        "CreateDomain" => "virDomainCreate",
        "CreateDomainXml" => "virDomainCreateXML",
        "ShutdownDomain" => "virDomainShutdown",
        "DestroyDomain" => "virDomainDestroy",
        "RebootDomain" => "virDomainReboot",
        "ResetDomain" => "virDomainReset",
        "SuspendDomain" => "virDomainSuspend",
        "ResumeDomain" => "virDomainResume",
        "GetDomainInfo" => "virDomainGetInfo",
        "GetDomainState" => "virDomainGetState",
        "GetDomainXml" => "virDomainGetXMLDesc",
        "SetDomainMemory" => "virDomainSetMemoryFlags",
        "SetDomainVcpus" => "virDomainSetVcpusFlags",
        "GetDomainVcpus" => "virDomainGetVcpusFlags",
        "GetMemoryParameters" => "virDomainGetMemoryParameters",
        "SetMemoryParameters" => "virDomainSetMemoryParameters",
        "GetSchedulerType" => "virDomainGetSchedulerType",
        "GetSchedulerParameters" => "virDomainGetSchedulerParametersFlags",
        "SetSchedulerParameters" => "virDomainSetSchedulerParametersFlags",
        "AttachDevice" => "virDomainAttachDeviceFlags",
        "DetachDevice" => "virDomainDetachDeviceFlags",
        "UpdateDevice" => "virDomainUpdateDeviceFlags",
        "GetAutostart" => "virDomainGetAutostart",
        "SetAutostart" => "virDomainSetAutostart",
        "ManagedSave" => "virDomainManagedSave",
        "HasManagedSaveImage" => "virDomainHasManagedSaveImage",
        "ManagedSaveRemove" => "virDomainManagedSaveRemove",
        "SaveDomain" => "virDomainSaveFlags",
        "RestoreDomain" => "virDomainRestoreFlags",
        "CreateSnapshot" => "virDomainSnapshotCreateXML",
        "ListSnapshots" => "virDomainListAllSnapshots",
        "GetSnapshotXml" => "virDomainSnapshotGetXMLDesc",
        "RevertToSnapshot" => "virDomainRevertToSnapshot",
        "DeleteSnapshot" => "virDomainSnapshotDelete",
        "GetAllDomainStats" => "virConnectGetAllDomainStats",
        "ListDomainStats" => "virDomainListGetStats",
        "GetInterfaceStats" => "virDomainInterfaceStats",
        "GetBlockStats" => "virDomainBlockStatsFlags",
        "GetControlInfo" => "virDomainGetControlInfo",
        "GetDiskErrors" => "virDomainGetDiskErrors",
        "AbortJob" => "virDomainAbortJob",
        "SetBlockThreshold" => "virDomainSetBlockThreshold",
        "GetMetadata" => "virDomainGetMetadata",
        "SetMetadata" => "virDomainSetMetadata",
        "RenameDomain" => "virDomainRename",
        "GetSaveImageXml" => "virDomainSaveImageGetXMLDesc",
        "DefineSaveImageXml" => "virDomainSaveImageDefineXML",
        "GetManagedSaveXml" => "virDomainManagedSaveGetXMLDesc",
        "DefineManagedSaveXml" => "virDomainManagedSaveDefineXML",
        "CoreDump" => "virDomainCoreDumpWithFormat",
        "GetBlockInfo" => "virDomainGetBlockInfo",
        "GetDomainMemoryStats" => "virDomainMemoryStats",
        "StreamEvents" => "virConnectDomainEventRegisterAny",
        // No libvirt counterpart (libvirt's events cannot be resumed); it reads where a
        // registration would start, so it is named after the registration.
        "GetEventSequence" => "virConnectDomainEventRegisterAny",
        "OpenConsole" => "virDomainOpenConsole",
        "GetInterfaceAddresses" => "virDomainInterfaceAddresses",
        "FsFreeze" => "virDomainFSFreeze",
        "FsThaw" => "virDomainFSThaw",
        "GetDomainTime" => "virDomainGetTime",
        "SetDomainTime" => "virDomainSetTime",
        "GetGuestInfo" => "virDomainGetGuestInfo",
        "GetDomainHostname" => "virDomainGetHostname",
        "QemuAgentCommand" => "virDomainQemuAgentCommand",
        "SetAgentResponseTimeout" => "virDomainAgentSetResponseTimeout",
        "LookupNetwork" => "virNetworkLookupByName",
        "ListAllNetworks" => "virConnectListAllNetworks",
        "DefineNetwork" => "virNetworkDefineXML",
        "CreateNetworkXml" => "virNetworkCreateXML",
        "UndefineNetwork" => "virNetworkUndefine",
        "StartNetwork" => "virNetworkCreate",
        "DestroyNetwork" => "virNetworkDestroy",
        "GetNetworkXml" => "virNetworkGetXMLDesc",
        "GetNetworkInfo" => "virNetworkIsActive",
        "SetNetworkAutostart" => "virNetworkSetAutostart",
        "GetDhcpLeases" => "virNetworkGetDHCPLeases",
        "CreateNetworkPort" => "virNetworkPortCreateXML",
        "ListNetworkPorts" => "virNetworkListAllPorts",
        "GetNetworkPortXml" => "virNetworkPortGetXMLDesc",
        "DeleteNetworkPort" => "virNetworkPortDelete",
        "StreamNetworkEvents" => "virConnectNetworkEventRegisterAny",
        "LookupStoragePool" => "virStoragePoolLookupByName",
        "ListAllStoragePools" => "virConnectListAllStoragePools",
        "DefineStoragePool" => "virStoragePoolDefineXML",
        "CreateStoragePoolXml" => "virStoragePoolCreateXML",
        "BuildStoragePool" => "virStoragePoolBuild",
        "StartStoragePool" => "virStoragePoolCreate",
        "RefreshStoragePool" => "virStoragePoolRefresh",
        "DestroyStoragePool" => "virStoragePoolDestroy",
        "DeleteStoragePool" => "virStoragePoolDelete",
        "UndefineStoragePool" => "virStoragePoolUndefine",
        "GetStoragePoolInfo" => "virStoragePoolGetInfo",
        "GetStoragePoolXml" => "virStoragePoolGetXMLDesc",
        "SetStoragePoolAutostart" => "virStoragePoolSetAutostart",
        "ListStorageVolumes" => "virStoragePoolListAllVolumes",
        "LookupStorageVolume" => "virStorageVolLookupByName",
        "CreateStorageVolume" => "virStorageVolCreateXML",
        "CloneStorageVolume" => "virStorageVolCreateXMLFrom",
        "DeleteStorageVolume" => "virStorageVolDelete",
        "ResizeStorageVolume" => "virStorageVolResize",
        "WipeStorageVolume" => "virStorageVolWipePattern",
        "GetStorageVolumeInfo" => "virStorageVolGetInfo",
        "GetStorageVolumeXml" => "virStorageVolGetXMLDesc",
        "UploadStorageVolume" => "virStorageVolUpload",
        "DownloadStorageVolume" => "virStorageVolDownload",
        "StreamStoragePoolEvents" => "virConnectStoragePoolEventRegisterAny",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn every_virt_v1_method_except_info_has_a_libvirt_name() {
        let fds = prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        for file in &fds.file {
            for svc in &file.service {
                for m in &svc.method {
                    let name = m.name();
                    if name == "Info" {
                        continue;
                    }
                    assert!(
                        libvirt_api(name).is_some(),
                        "{}/{name} has no libvirt name",
                        svc.name()
                    );
                }
            }
        }
        assert_eq!(
            libvirt_api("/virt.v1.DomainService/DestroyDomain"),
            Some("virDomainDestroy")
        );
    }
}
