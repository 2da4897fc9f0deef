//! virtqemud
