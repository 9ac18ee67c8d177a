//! Placeholder until the criterion benchmark lands.

fn main() {}
