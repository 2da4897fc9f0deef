//! The checks a definition passes at define (and in the VALIDATE dry run and a create), as
//! libvirt's QEMU driver makes them before it stores a definition, each refusal with
//! libvirt's code and text and a violation naming the element:
//!
//! 1. [`emulator`]: the `<emulator>` exists, is executable and is a QEMU whose probed
//!    capabilities serve the OS type, architecture, virt type and machine type;
//! 2. after the post-parse step ([`crate::postparse`]): [`devices`], libvirt's device and
//!    lifecycle rules, and [`tuning`], its rules for CPU cache, memory allocation, IOThreads,
//!    virtiofs and smartcards;
//! 3. then the honoured set ([`crate::command::honoured`]): what the command line cannot
//!    express is refused as unsupported, naming the XPath.

pub(crate) mod devices;
pub(crate) mod emulator;
pub(crate) mod tuning;
