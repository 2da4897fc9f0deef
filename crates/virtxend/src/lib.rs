//! virtxend: the Xen driver.
//!
//! What exists so far: [`xenstore`], an async (tokio) client of the Xen Store wire protocol
//! (every operation, watches delivered while requests keep flowing, transactions with `EAGAIN`
//! retries, the read-write and read-only connections); and [`xl`], the xl.cfg syntax and
//! xl.cfg <-> domain XML conversions for a first subset of keys, matching libvirt 9.0 and
//! refusing the rest by name. The rest of the driver (the other xl.cfg keys, the xm format, the
//! toolstack, the daemon binary) is still to come (issue 14).

pub mod xenstore;
pub mod xl;
