//! virtlxcd: will hold the LXC driver (one controller process per container: namespaces, cgroups, veth), its controller binary and its daemon binary.
//!
//! Nothing lives here yet: the driver arrives with its own issue. This crate exists so the
//! workspace has its final shape and the other crates can name it.
