//! sim-tcp: skeleton (see host.rs).
mod config;
mod host;
mod segment;
mod seq;
mod state;
mod stats;

pub use config::{ConfigError, CostModel, Errno, IsnPolicy, Linger, TcpConfig};
pub use host::{AppEvent, Host, SocketId};
pub use segment::{Addr, ConnId, Flags, Segment, SockAddr};
pub use seq::Seq;
pub use state::{ALLOWED_TRANSITIONS, Cause, State, transition_allowed};
pub use stats::{Counters, Gauge, Path, SocketRecord, StateStats, Stats, Transition};
mod hash;
mod rtt;
mod sock;
mod tw;
pub use sim_core::time::{SimDuration, SimTime};
