//! Test driver snapshots: metadata-only snapshots holding a copy of the definition and state,
//! with parent links, a current snapshot, revert and delete (with CHILDREN / CHILDREN_ONLY).

use super::state::{Dom, Snapshot};
use super::TestDriver;
use crate::driver::prelude::*;
use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::events::lifecycle as ev;
use crate::kit::flags::snapshot::{create, delete, list, revert};
use crate::kit::flags::xml::SECURE;
use crate::state::{reason, DomainState, StateReason};
use crate::types::{DomainLookup, SnapshotInfo};
use crate::xml::FormatOptions;
use crate::VirtError;

fn no_snapshot(detail: String) -> VirtError {
    VirtError::new(
        ErrorCode::NoDomainSnapshot,
        ErrorDomain::DomainSnapshot,
        detail,
    )
}

fn find<'a>(dom: &'a Dom, name: &str) -> DriverResult<&'a Snapshot> {
    if name.is_empty() {
        return dom
            .snapshots
            .iter()
            .find(|s| s.info.current)
            .ok_or_else(|| no_snapshot("the domain does not have a current snapshot".into()));
    }
    dom.snapshots
        .iter()
        .find(|s| s.info.name == name)
        .ok_or_else(|| no_snapshot(format!("no domain snapshot with matching name '{name}'")))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

fn state_word(s: StateReason) -> &'static str {
    match s.state {
        DomainState::Running => "running",
        DomainState::Paused => "paused",
        DomainState::Shutoff => "shutoff",
        DomainState::Crashed => "crashed",
        DomainState::PmSuspended => "pmsuspended",
        DomainState::Shutdown => "shutdown",
        DomainState::Blocked => "blocked",
        DomainState::NoState => "nostate",
    }
}

#[async_trait::async_trait]
impl Snapshots for TestDriver {
    async fn create_snapshot(
        &self,
        lookup: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> DriverResult<SnapshotInfo> {
        // The test driver keeps metadata only, so ATOMIC holds trivially.
        self.check_flags(
            flags,
            create::REDEFINE
                | create::CURRENT
                | create::HALT
                | create::ATOMIC
                | create::LIVE
                | create::QUIESCE
                | create::VALIDATE,
            "testDomainSnapshotCreateXML",
        )?;
        if flags & create::CURRENT != 0 && flags & create::REDEFINE == 0 {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Test,
                "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' is required by flag 'VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT'",
            ));
        }
        if flags & create::REDEFINE != 0 {
            return self.redefine_snapshot(lookup, xml, flags);
        }
        let parsed = if xml.trim().is_empty() {
            crate::model::SnapshotDef::default()
        } else {
            self.codec.parse_snapshot(xml)?
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        let name = parsed.name.clone().unwrap_or_else(|| now.to_string());
        let dom = st.domains.get_mut(&uuid).expect("resolved");
        if dom.snapshots.iter().any(|s| s.info.name == name) {
            return Err(VirtError::new(
                ErrorCode::OperationFailed,
                ErrorDomain::DomainSnapshot,
                format!("domain moment {name} already exists"),
            )
            .clash());
        }
        let parent = dom
            .snapshots
            .iter()
            .find(|s| s.info.current)
            .map(|s| s.info.name.clone())
            .unwrap_or_default();
        for s in &mut dom.snapshots {
            s.info.current = false;
        }
        let info = SnapshotInfo {
            name,
            parent,
            creation_time: now,
            state: state_word(dom.state).into(),
            current: true,
            description: parsed.description.unwrap_or_default(),
        };
        dom.snapshots.push(Snapshot {
            info: info.clone(),
            def: dom.def.clone(),
            state: dom.state,
        });
        if flags & create::HALT != 0 && dom.is_active() {
            self.stop(
                &mut st,
                &uuid,
                reason::shutoff::FROM_SNAPSHOT,
                ev::stopped::FROM_SNAPSHOT,
            );
        }
        Ok(info)
    }

    async fn list_snapshots(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<SnapshotInfo>> {
        self.check_flags(flags, list::ALL, "testDomainListAllSnapshots")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        let has_children = |n: &str| dom.snapshots.iter().any(|s| s.info.parent == n);
        let mut out: Vec<SnapshotInfo> = dom
            .snapshots
            .iter()
            .filter(|s| flags & list::ROOTS == 0 || s.info.parent.is_empty())
            // Both LEAVES and NO_LEAVES: each excludes what the other keeps, so none.
            .filter(|s| {
                let leaf = !has_children(&s.info.name);
                (flags & list::LEAVES == 0 || leaf) && (flags & list::NO_LEAVES == 0 || !leaf)
            })
            // Every snapshot has metadata: NO_METADATA alone matches none.
            .filter(|_| flags & list::NO_METADATA == 0 || flags & list::METADATA != 0)
            // By the state taken: none is disk-only.
            .filter(
                |s| match flags & (list::INACTIVE | list::ACTIVE | list::DISK_ONLY) {
                    0 => true,
                    f => {
                        let active = s.state.state.is_active();
                        (f & list::ACTIVE != 0 && active) || (f & list::INACTIVE != 0 && !active)
                    }
                },
            )
            // Every snapshot is internal.
            .filter(|_| {
                flags & (list::INTERNAL | list::EXTERNAL) == 0 || flags & list::INTERNAL != 0
            })
            .map(|s| s.info.clone())
            .collect();
        if flags & list::TOPOLOGICAL == 0 {
            out.sort_by(|a, b| a.name.cmp(&b.name));
        } else {
            // libvirt's order: parents before children, siblings (roots too) newest first.
            let mut order: Vec<String> = Vec::new();
            let mut stack: Vec<&str> = dom
                .snapshots
                .iter()
                .filter(|s| s.info.parent.is_empty())
                .map(|s| s.info.name.as_str())
                .collect();
            while let Some(n) = stack.pop() {
                order.push(n.to_string());
                stack.extend(
                    dom.snapshots
                        .iter()
                        .filter(|s| s.info.parent == n)
                        .map(|s| s.info.name.as_str()),
                );
            }
            out.sort_by_key(|s| order.iter().position(|n| *n == s.name));
        }
        Ok(out)
    }

    async fn snapshot_xml(
        &self,
        lookup: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, SECURE, "testDomainSnapshotGetXMLDesc")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        let s = find(dom, name)?;
        let mut x = String::from("<domainsnapshot>\n");
        x += &format!("  <name>{}</name>\n", escape(&s.info.name));
        if !s.info.description.is_empty() {
            x += &format!(
                "  <description>{}</description>\n",
                escape(&s.info.description)
            );
        }
        x += &format!("  <state>{}</state>\n", s.info.state);
        if !s.info.parent.is_empty() {
            x += &format!(
                "  <parent>\n    <name>{}</name>\n  </parent>\n",
                escape(&s.info.parent)
            );
        }
        x += &format!("  <creationTime>{}</creationTime>\n", s.info.creation_time);
        let snapshot_kind = if s.state.state.is_active() {
            "internal"
        } else {
            "no"
        };
        x += &format!("  <memory snapshot='{snapshot_kind}'/>\n");
        // Every disk of the definition, snapshotted internally unless read-only.
        if !s.def.devices.disks.is_empty() {
            x += "  <disks>\n";
            for d in &s.def.devices.disks {
                let kind = if d.readonly { "no" } else { "internal" };
                x += &format!(
                    "    <disk name='{}' snapshot='{kind}'/>\n",
                    escape(&d.target_dev)
                );
            }
            x += "  </disks>\n";
        }
        let opts = FormatOptions {
            id: None,
            secure: flags & SECURE != 0,
            inactive: true,
        };
        for line in self.codec.format_domain(&s.def, opts).lines() {
            x += &format!("  {line}\n");
        }
        x += "</domainsnapshot>\n";
        Ok(x)
    }

    async fn revert_to_snapshot(
        &self,
        lookup: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, revert::ALL, "testDomainRevertToSnapshot")?;
        if flags & revert::RUNNING != 0 && flags & revert::PAUSED != 0 {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Test,
                "Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and 'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' are mutually exclusive",
            ));
        }
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        let snap = find(&st.domains[&uuid], name)?.clone();
        if st.domains[&uuid].is_active() {
            self.stop(
                &mut st,
                &uuid,
                reason::shutoff::FROM_SNAPSHOT,
                ev::stopped::FROM_SNAPSHOT,
            );
            if !st.domains.contains_key(&uuid) {
                // A transient domain vanished on stop; reverting brings it back.
                st.insert(Dom::new(snap.def.clone(), false));
            }
        }
        let dom = st.domains.get_mut(&uuid).expect("present");
        dom.def = snap.def.clone();
        for s in &mut dom.snapshots {
            s.info.current = s.info.name == snap.info.name;
        }
        let (run_flag, pause_flag) = (flags & revert::RUNNING != 0, flags & revert::PAUSED != 0);
        let run = run_flag || (!pause_flag && snap.state.state == DomainState::Running);
        let pause = pause_flag || (!run_flag && snap.state.state == DomainState::Paused);
        if run || pause {
            let state = if pause {
                StateReason::new(DomainState::Paused, reason::paused::FROM_SNAPSHOT)
            } else {
                StateReason::new(DomainState::Running, reason::running::FROM_SNAPSHOT)
            };
            st.activate(&uuid, state);
            let h = st.domains[&uuid].handle();
            self.lifecycle(h.clone(), ev::STARTED, ev::started::FROM_SNAPSHOT);
            if pause {
                self.lifecycle(h, ev::SUSPENDED, ev::suspended::FROM_SNAPSHOT);
            }
        } else {
            let dom = st.domains.get_mut(&uuid).expect("present");
            dom.state = StateReason::new(DomainState::Shutoff, reason::shutoff::FROM_SNAPSHOT);
        }
        Ok(())
    }

    async fn delete_snapshot(
        &self,
        lookup: &DomainLookup,
        name: &str,
        flags: u32,
    ) -> DriverResult<()> {
        // libvirt's test driver refuses METADATA_ONLY (it keeps nothing but metadata).
        self.check_flags(
            flags,
            delete::CHILDREN | delete::CHILDREN_ONLY,
            "testDomainSnapshotDelete",
        )?;
        let mut st = self.lock();
        let dom = st.get_mut(lookup)?;
        let target = find(dom, name)?.clone();
        let mut doomed = vec![];
        if flags & (delete::CHILDREN | delete::CHILDREN_ONLY) != 0 {
            let mut frontier = vec![target.info.name.clone()];
            while let Some(p) = frontier.pop() {
                for s in dom.snapshots.iter().filter(|s| s.info.parent == p) {
                    doomed.push(s.info.name.clone());
                    frontier.push(s.info.name.clone());
                }
            }
        }
        if flags & delete::CHILDREN_ONLY == 0 {
            doomed.push(target.info.name.clone());
        }
        let current_doomed = dom
            .snapshots
            .iter()
            .any(|s| s.info.current && doomed.contains(&s.info.name));
        dom.snapshots.retain(|s| !doomed.contains(&s.info.name));
        for s in &mut dom.snapshots {
            if s.info.parent == target.info.name {
                s.info.parent = target.info.parent.clone();
            }
        }
        if current_doomed {
            let keep = if flags & delete::CHILDREN_ONLY != 0 {
                target.info.name.clone()
            } else {
                target.info.parent.clone()
            };
            for s in &mut dom.snapshots {
                s.info.current = s.info.name == keep;
            }
        }
        Ok(())
    }
}

impl TestDriver {
    /// CREATE with REDEFINE: restores the metadata of a snapshot from its XML (as
    /// `snapshot-edit` and `snapshot-current --snapshotname` send it). An existing snapshot of
    /// that name takes the new description (its tree position, time and state stay); a new
    /// one is added as described. With CURRENT it becomes the current snapshot.
    fn redefine_snapshot(
        &self,
        lookup: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> DriverResult<SnapshotInfo> {
        let parsed = self.codec.parse_snapshot(xml)?;
        let Some(name) = parsed.name.clone() else {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::DomainSnapshot,
                "a redefined snapshot must have a name",
            ));
        };
        let mut st = self.lock();
        let dom = st.get_mut(lookup)?;
        let make_current = flags & create::CURRENT != 0;
        if make_current {
            for s in &mut dom.snapshots {
                s.info.current = false;
            }
        }
        if let Some(s) = dom.snapshots.iter_mut().find(|s| s.info.name == name) {
            s.info.description = parsed.description.unwrap_or_default();
            if make_current {
                s.info.current = true;
            }
            return Ok(s.info.clone());
        }
        let word = parsed.state.clone().unwrap_or_else(|| "shutoff".into());
        let info = SnapshotInfo {
            name,
            parent: parsed.parent.clone().unwrap_or_default(),
            creation_time: parsed.creation_time.unwrap_or(0),
            state: word.clone(),
            current: make_current,
            description: parsed.description.unwrap_or_default(),
        };
        dom.snapshots.push(Snapshot {
            info: info.clone(),
            def: parsed
                .domain
                .as_deref()
                .cloned()
                .unwrap_or_else(|| dom.def.clone()),
            state: state_from_word(&word),
        });
        Ok(info)
    }
}

/// The state a snapshot's `<state>` word names.
fn state_from_word(word: &str) -> StateReason {
    match word {
        "running" => StateReason::new(DomainState::Running, reason::running::FROM_SNAPSHOT),
        "paused" => StateReason::new(DomainState::Paused, reason::paused::FROM_SNAPSHOT),
        _ => StateReason::new(DomainState::Shutoff, reason::shutoff::FROM_SNAPSHOT),
    }
}

/// Snapshots listed in a node file, for domain `def`; the last one listed becomes current.
pub(crate) fn from_node(
    def: &crate::model::DomainDef,
    defs: &[crate::model::SnapshotDef],
) -> Vec<Snapshot> {
    let n = defs.len();
    defs.iter()
        .enumerate()
        .map(|(i, s)| {
            let word = s.state.clone().unwrap_or_else(|| "shutoff".into());
            Snapshot {
                info: SnapshotInfo {
                    name: s
                        .name
                        .clone()
                        .unwrap_or_else(|| s.creation_time.unwrap_or(0).to_string()),
                    parent: s.parent.clone().unwrap_or_default(),
                    creation_time: s.creation_time.unwrap_or(0),
                    state: word.clone(),
                    current: i + 1 == n,
                    description: s.description.clone().unwrap_or_default(),
                },
                def: s.domain.as_deref().cloned().unwrap_or_else(|| def.clone()),
                state: state_from_word(&word),
            }
        })
        .collect()
}
