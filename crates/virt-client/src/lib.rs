//! virt-client
