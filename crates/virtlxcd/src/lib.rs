//! virtlxcd
