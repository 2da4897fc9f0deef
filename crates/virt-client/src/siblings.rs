//! The daemons a hypervisor daemon (virtqemud, virtlxcd) is a client of: virtnetworkd for
//! `<interface type='network'>` (a network port per interface, whose answer names the bridge
//! to plug the tap or veth into) and virtstoraged for `<disk type='volume'>` (the volume's
//! path, type and format).
//!
//! As libvirt's virtqemud opens `network:///system` through its remote driver, a daemon opens
//! the sibling daemon's socket in its own tree (`RUN/virtnetworkd-sock`) with the project's
//! client library, once, on the first guest that needs it; the channel reconnects by itself
//! when the sibling restarts. A sibling that does not run fails the start with the socket's
//! path, as libvirt's "Failed to connect socket to '/run/libvirt/virtnetworkd-sock'".

use std::path::PathBuf;

use crate::Connection;
use tokio::sync::Mutex;
use virt_core::model::enums::{DiskType, InterfaceType};
use virt_core::model::DomainDef;
use virt_core::proto;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

/// One sibling daemon: its socket, the URI its calls carry, the connection once opened.
#[derive(Debug)]
struct Sibling {
    socket: PathBuf,
    uri: &'static str,
    conn: Mutex<Option<Connection>>,
}

impl Sibling {
    fn new(socket: PathBuf, uri: &'static str) -> Sibling {
        Sibling {
            socket,
            uri,
            conn: Mutex::new(None),
        }
    }

    /// The open connection (opened now if need be; a failure is not remembered).
    async fn conn(&self) -> Result<Connection, VirtError> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = &*guard {
            return Ok(c.clone());
        }
        let uri = format!("{}?socket={}", self.uri, self.socket.display());
        let c = Connection::open(Some(&uri), false).await.map_err(|e| {
            let domain = if self.uri.starts_with("network") {
                ErrorDomain::Network
            } else {
                ErrorDomain::Storage
            };
            VirtError::new(ErrorCode::NoConnect, domain, e.to_string())
        })?;
        *guard = Some(c.clone());
        Ok(c)
    }
}

/// virtnetworkd and virtstoraged as this daemon reaches them.
#[derive(Debug)]
pub struct Siblings {
    network: Sibling,
    storage: Sibling,
}

/// What a volume disk resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedVolume {
    /// The volume's path.
    pub path: String,
    /// File or block.
    pub disk_type: DiskType,
    /// Its image format (`raw`, `qcow2`).
    pub format: String,
}

impl Siblings {
    /// The siblings whose sockets are `network` and `storage`.
    pub fn new(network: PathBuf, storage: PathBuf) -> Siblings {
        Siblings {
            network: Sibling::new(network, "network:///system"),
            storage: Sibling::new(storage, "storage:///system"),
        }
    }

    /// Creates a port on network `network` for interface `mac` of domain `owner`; answers the
    /// port's UUID and the bridge to plug into.
    pub async fn create_port(
        &self,
        network: &str,
        owner: (&str, &str),
        mac: &str,
    ) -> Result<(String, String), VirtError> {
        let conn = self.network.conn().await?;
        let xml = format!(
            "<networkport>\n  <owner>\n    <name>{}</name>\n    <uuid>{}</uuid>\n  </owner>\n  \
             <mac address='{}'/>\n</networkport>\n",
            quick_xml::escape::escape(owner.0),
            owner.1,
            mac
        );
        let answer = conn
            .network_client()
            .create_network_port(proto::CreateNetworkPortRequest {
                network: Some(network_ref(network)),
                xml,
                flags: 0,
            })
            .await
            .map_err(|s| virt_core::status::from_status(&s))?
            .into_inner();
        let uuid = answer.port.map(|p| p.uuid).unwrap_or_default();
        let bridge = plug_bridge(&answer.xml).ok_or_else(|| {
            VirtError::new(
                ErrorCode::InternalError,
                ErrorDomain::Network,
                format!(
                    "network '{network}' gave port {uuid} no bridge to plug into: {}",
                    answer.xml.trim()
                ),
            )
        })?;
        Ok((uuid, bridge))
    }

    /// The bridge of active network `network`, without a port (a command-line preview).
    pub async fn bridge_of(&self, network: &str) -> Result<String, VirtError> {
        let conn = self.network.conn().await?;
        let info = conn
            .network_client()
            .get_network_info(proto::GetNetworkInfoRequest {
                network: Some(network_ref(network)),
            })
            .await
            .map_err(|s| virt_core::status::from_status(&s))?
            .into_inner();
        if !info.active {
            return Err(VirtError::operation_invalid(format!(
                "network '{network}' is not active"
            )));
        }
        Ok(info.bridge)
    }

    /// Removes port `port` of network `network` (logged on failure: the guest is gone).
    pub async fn delete_port(&self, network: &str, port: &str) {
        let res = async {
            let conn = self.network.conn().await?;
            conn.network_client()
                .delete_network_port(proto::DeleteNetworkPortRequest {
                    network: Some(network_ref(network)),
                    port_uuid: port.to_string(),
                })
                .await
                .map_err(|s| virt_core::status::from_status(&s))?;
            Ok::<(), VirtError>(())
        };
        if let Err(e) = res.await {
            if e.code != ErrorCode::NoNetworkPort && e.code != ErrorCode::NoNetwork {
                tracing::warn!(network, port, error = %e, "cannot delete the network port");
            }
        }
    }

    /// The DHCP leases of network `network` for `mac`.
    pub async fn leases(
        &self,
        network: &str,
        mac: &str,
    ) -> Result<Vec<proto::DhcpLease>, VirtError> {
        let conn = self.network.conn().await?;
        let answer = conn
            .network_client()
            .get_dhcp_leases(proto::GetDhcpLeasesRequest {
                network: Some(network_ref(network)),
                mac: Some(mac.to_string()),
                flags: 0,
            })
            .await
            .map_err(|s| virt_core::status::from_status(&s))?;
        Ok(answer.into_inner().leases)
    }

    /// The path, type and format of volume `volume` in pool `pool`.
    pub async fn volume(&self, pool: &str, volume: &str) -> Result<ResolvedVolume, VirtError> {
        let conn = self.storage.conn().await?;
        let vref = proto::StorageVolumeRef {
            r#ref: Some(proto::storage_volume_ref::Ref::Name(
                proto::PoolVolumeName {
                    pool: Some(proto::StoragePoolRef {
                        r#ref: Some(proto::storage_pool_ref::Ref::Name(pool.to_string())),
                    }),
                    name: volume.to_string(),
                },
            )),
        };
        let info = conn
            .storage_client()
            .get_storage_volume_info(proto::GetStorageVolumeInfoRequest {
                volume: Some(vref),
                flags: 0,
            })
            .await
            .map_err(|s| virt_core::status::from_status(&s))?
            .into_inner()
            .info
            .unwrap_or_default();
        let disk_type = match info.r#type() {
            proto::StorageVolumeType::FileUnspecified => DiskType::File,
            proto::StorageVolumeType::Block => DiskType::Block,
            other => {
                return Err(VirtError::new(
                    ErrorCode::ConfigUnsupported,
                    ErrorDomain::Storage,
                    format!(
                        "volume '{volume}' of pool '{pool}' is of type '{}', which a disk \
                         cannot use (file and block volumes can)",
                        other.as_str_name()
                    ),
                ))
            }
        };
        Ok(ResolvedVolume {
            path: info.path,
            disk_type,
            format: if info.format.is_empty() {
                "raw".into()
            } else {
                info.format
            },
        })
    }
}

fn network_ref(name: &str) -> proto::NetworkRef {
    proto::NetworkRef {
        r#ref: Some(proto::network_ref::Ref::Name(name.to_string())),
    }
}

/// The `bridge` of the `<plug>` element of a `<networkport>` answer.
fn plug_bridge(xml: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Empty(e) | quick_xml::events::Event::Start(e)
                if e.name().as_ref() == b"plug" =>
            {
                return e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == b"bridge")
                    .and_then(|a| a.unescape_value().ok())
                    .map(|v| v.into_owned())
                    .filter(|v| !v.is_empty());
            }
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

/// Whether `def` needs virtnetworkd or virtstoraged to start.
pub fn needs_siblings(def: &DomainDef) -> bool {
    def.devices
        .interfaces
        .iter()
        .any(|n| n.interface_type == InterfaceType::Network)
        || def
            .devices
            .disks
            .iter()
            .any(|d| d.disk_type == DiskType::Volume)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plug_names_the_bridge() {
        let xml = "<networkport>\n  <uuid>u</uuid>\n  <plug type='bridge' bridge='virbr3' \
                   macTableManager='kernel'/>\n</networkport>\n";
        assert_eq!(plug_bridge(xml).as_deref(), Some("virbr3"));
        assert_eq!(plug_bridge("<networkport/>"), None);
        assert_eq!(
            plug_bridge("<networkport><plug type='direct'/></networkport>"),
            None
        );
    }
}
