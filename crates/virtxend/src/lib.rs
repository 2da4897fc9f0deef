//! virtxend: the Xen driver.
//!
//! What exists so far is [`xenstore`], an async (tokio) client of the Xen Store wire protocol:
//! every operation, watches delivered while requests keep flowing, transactions with `EAGAIN`
//! retries, the read-write and read-only connections; [`xl`], the xl.cfg syntax and the first
//! xl.cfg <-> domain XML conversions. The rest of the driver (xl.cfg and xm
//! conversions, the toolstack, the daemon binary) is still to come (issue 14).

pub mod xenstore;
pub mod xl;
