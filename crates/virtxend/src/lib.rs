//! virtxend: will hold the Xen driver (xl.cfg <-> domain XML, the xl toolstack, the xenstore wire protocol) and its daemon binary.
//!
//! Nothing lives here yet: the driver arrives with its own issue. This crate exists so the
//! workspace has its final shape and the other crates can name it.
