//! Domains as the Xen Store shows them: `/local/domain/DOMID/name` and `.../vm`
//! (`/vm/UUID`, written by the toolstack at creation). The daemon reads them through the store's
//! read-only connection, so the list, state and info of domains never need the toolstack.

use virt_core::uuid::Uuid;

use crate::xenstore::XenStore;

/// One domain the store knows.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreDomain {
    /// Xen's domain ID.
    pub domid: u32,
    /// `/local/domain/DOMID/name`.
    pub name: String,
    /// From `/local/domain/DOMID/vm`, when the toolstack wrote one.
    pub uuid: Option<Uuid>,
}

/// The UUID in a `vm` path (`/vm/6695eb01-...`, possibly with a `-N` suffix xl adds for a
/// second domain of the same UUID).
pub fn uuid_of_vm_path(vm: &str) -> Option<Uuid> {
    let tail = vm.strip_prefix("/vm/")?;
    Uuid::parse(tail.get(..36)?)
}

/// Every domain in `/local/domain`; domains whose entries vanish while being read are left
/// out.
pub async fn domains(xs: &XenStore) -> crate::xenstore::Result<Vec<StoreDomain>> {
    let mut out = Vec::new();
    for id in xs.directory("/local/domain").await? {
        let Ok(domid) = id.parse::<u32>() else {
            continue;
        };
        let Ok(name) = xs.read_string(&format!("/local/domain/{domid}/name")).await else {
            continue;
        };
        let uuid = xs
            .read_string(&format!("/local/domain/{domid}/vm"))
            .await
            .ok()
            .and_then(|vm| uuid_of_vm_path(&vm));
        out.push(StoreDomain { domid, name, uuid });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uuid_comes_from_the_vm_path() {
        let u = "6695eb01-f6a4-8304-79aa-97f2502e193f";
        assert_eq!(uuid_of_vm_path(&format!("/vm/{u}")), Uuid::parse(u));
        assert_eq!(uuid_of_vm_path(&format!("/vm/{u}-1")), Uuid::parse(u));
        assert_eq!(uuid_of_vm_path("/vm/short"), None);
        assert_eq!(uuid_of_vm_path("/elsewhere"), None);
    }
}
