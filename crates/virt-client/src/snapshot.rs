//! Snapshot calls of [`Connection`] (SnapshotService).

use virt_core::proto;
use virt_core::types::DomainLookup;

use crate::connection::Connection;
use crate::domain::domain_ref;
use crate::error::ClientError;

impl Connection {
    /// Creates a snapshot from `<domainsnapshot>` XML (CreateSnapshotFlag bits).
    /// libvirt: virDomainSnapshotCreateXML.
    pub async fn create_snapshot(
        &self,
        dom: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> Result<proto::Snapshot, ClientError> {
        let req = proto::CreateSnapshotRequest {
            domain: Some(domain_ref(dom)),
            xml: xml.to_string(),
            flags,
        };
        Ok(self
            .snapshot_client()
            .create_snapshot(req)
            .await?
            .into_inner()
            .snapshot
            .unwrap_or_default())
    }

    /// The domain's snapshots matching `flags` (ListSnapshotsFlag bits).
    /// libvirt: virDomainListAllSnapshots.
    pub async fn list_snapshots(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> Result<Vec<proto::Snapshot>, ClientError> {
        let req = proto::ListSnapshotsRequest {
            domain: Some(domain_ref(dom)),
            flags,
        };
        Ok(self
            .snapshot_client()
            .list_snapshots(req)
            .await?
            .into_inner()
            .snapshots)
    }

    /// A snapshot's XML; empty `name` for the current one. libvirt: virDomainSnapshotGetXMLDesc.
    pub async fn snapshot_xml(
        &self,
        dom: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> Result<String, ClientError> {
        let req = proto::GetSnapshotXmlRequest {
            domain: Some(domain_ref(dom)),
            name: name.to_string(),
            flags,
        };
        Ok(self
            .snapshot_client()
            .get_snapshot_xml(req)
            .await?
            .into_inner()
            .xml)
    }

    /// Reverts to a snapshot (RevertSnapshotFlag bits). libvirt: virDomainRevertToSnapshot.
    pub async fn revert_to_snapshot(
        &self,
        dom: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::RevertToSnapshotRequest {
            domain: Some(domain_ref(dom)),
            name: name.to_string(),
            flags,
        };
        self.snapshot_client().revert_to_snapshot(req).await?;
        Ok(())
    }

    /// Deletes a snapshot (DeleteSnapshotFlag bits). libvirt: virDomainSnapshotDelete.
    pub async fn delete_snapshot(
        &self,
        dom: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> Result<(), ClientError> {
        let req = proto::DeleteSnapshotRequest {
            domain: Some(domain_ref(dom)),
            name: name.to_string(),
            flags,
        };
        self.snapshot_client().delete_snapshot(req).await?;
        Ok(())
    }
}
