//! sim-core: the discrete-event engine of tcpsim. It knows nothing of TCP.

pub mod deadline;
pub mod heap;
pub mod link;
pub mod queue;
pub mod rng;
pub mod sim;
pub mod time;

pub use deadline::{DeadlineSet, FastDeadlines, IndexedDeadlines, LazyDeadlines};
pub use link::{
    Bandwidth, DropReason, Fault, FaultModel, Link, LinkConfig, LinkError, LinkStats, Loss, Outage,
    Verdict,
};
pub use queue::{EventKey, EventQueue, Key};
pub use rng::{MasterSeed, StreamRng};
pub use sim::{Fired, ScheduleError, Sim};
pub use time::{SimDuration, SimTime};
