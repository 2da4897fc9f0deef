//! virtxend
