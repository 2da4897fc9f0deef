//! virt-xml
