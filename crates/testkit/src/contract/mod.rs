//! Generic adapter contract suites: each port's behaviour, run against every adapter of
//! that port (the embedded ones in `im-runtime`, the distributed ones in their crates).

pub mod bus;
pub mod registry;

pub use bus::bus;
pub use registry::registry;
