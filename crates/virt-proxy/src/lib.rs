//! virt-proxy
