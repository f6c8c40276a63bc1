//! Headless test harness (in progress).

/// Placeholder.
pub struct Harness;
