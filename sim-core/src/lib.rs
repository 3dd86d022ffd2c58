//! sim-core: the discrete-event engine of tcpsim. It knows nothing of TCP.

pub mod time;

pub use time::{SimDuration, SimTime};
