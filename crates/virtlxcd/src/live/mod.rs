//! Running containers: start (`start`), the plan handed to the controller (`plan_of`), the
//! control socket (`ctl`), the stop path and watches (`stop`), status files and reattach
//! (`status`, `reattach`), the cgroup (`cgroups`), veth pairs (`net`), and the capability
//! traits that act on running containers (`lifecycle`, `resources`, `console`, `stats`).

pub(crate) mod cgroups;
pub(crate) mod console;
pub(crate) mod ctl;
pub(crate) mod lifecycle;
pub(crate) mod net;
pub(crate) mod plan_of;
pub(crate) mod reattach;
pub(crate) mod resources;
pub(crate) mod start;
pub mod stats;
pub(crate) mod status;
pub(crate) mod stop;
pub(crate) mod tunables;
