//! The CSV contract of `../shared/DESIGN.md`: one serde row type per output table.
//!
//! These types are the single definition of every output column. The writer
//! (`scenarios`) serializes them and the readers here deserialize them, so the two
//! cannot drift. Column order is field order. Times are seconds (`f64`); counts are
//! integers; optional times are empty cells when absent.
//!
//! Adding a column: add a field at the end of the struct (keep existing names: they
//! are the users' interface) and document it in the README's output section.

use serde::{Deserialize, Serialize};

/// The socket states reported per group, in the column order of `timeseries.csv`.
/// `CLOSED` is not a socket that exists; `LISTEN` is reported in `states.csv` only.
pub const STATE_COLUMNS: [&str; 9] = [
    "syn_sent",
    "syn_rcvd",
    "established",
    "fin_wait_1",
    "fin_wait_2",
    "closing",
    "time_wait",
    "close_wait",
    "last_ack",
];

/// How a connection attempt ended (`connections.csv` column `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Both sides closed and the request and response were delivered in full.
    Completed,
    /// A side saw ECONNRESET or EPIPE from a peer's RST.
    Reset,
    /// The client's SYN was answered by RST (ECONNREFUSED).
    Refused,
    /// The client gave up after `tcp.syn_retries` (ETIMEDOUT).
    ConnectTimeout,
    /// connect() found no free ephemeral port (EADDRNOTAVAIL).
    PortExhausted,
    /// A side aborted it itself (SO_LINGER 0, or close() with unread data).
    Aborted,
    /// An application never closed its socket (`never`), and the run ended.
    Leaked,
    /// Still in progress when the run's drain limit passed.
    Unfinished,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Completed,
        Outcome::Reset,
        Outcome::Refused,
        Outcome::ConnectTimeout,
        Outcome::PortExhausted,
        Outcome::Aborted,
        Outcome::Leaked,
        Outcome::Unfinished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Reset => "reset",
            Outcome::Refused => "refused",
            Outcome::ConnectTimeout => "connect_timeout",
            Outcome::PortExhausted => "port_exhausted",
            Outcome::Aborted => "aborted",
            Outcome::Leaked => "leaked",
            Outcome::Unfinished => "unfinished",
        }
    }
}

/// `summary.csv`: one row per run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub scenario: String,
    pub seed: u64,
    /// Virtual time at which the run ended.
    pub sim_time_s: f64,
    /// Events the scheduler processed.
    pub events: u64,
    pub attempted: u64,
    pub established: u64,
    pub completed: u64,
    pub port_exhausted: u64,
    pub connect_timeout: u64,
    pub refused: u64,
    pub reset: u64,
    pub aborted: u64,
    pub leaked: u64,
    pub bytes_requested: u64,
    pub bytes_delivered: u64,
    pub bytes_discarded: u64,
    pub stale_accepted: u64,
    pub tw_overflow: u64,
    pub connect_p50_s: Option<f64>,
    pub connect_p99_s: Option<f64>,
    pub peak_memory_bytes: u64,
    // Extensions beyond the DESIGN.md minimum.
    pub unfinished: u64,
    pub connect_p90_s: Option<f64>,
    /// RST segments sent by all hosts.
    pub rst_sent: u64,
    /// Data/SYN/FIN retransmissions by all hosts.
    pub retransmits: u64,
    /// Most TIME_WAIT sockets held at once, all hosts together.
    pub peak_time_wait: u64,
    /// Most ephemeral ports in use at once, all hosts together.
    pub peak_ports_in_use: u64,
    pub syn_cookies_sent: u64,
    /// SYNs dropped because a listener's queue was full (Linux `ListenOverflows`).
    pub listen_drops: u64,
}

impl SummaryRow {
    /// The count of each [`Outcome`], in [`Outcome::ALL`] order.
    pub fn outcome_counts(&self) -> [(Outcome, u64); 8] {
        Outcome::ALL.map(|o| {
            let n = match o {
                Outcome::Completed => self.completed,
                Outcome::Reset => self.reset,
                Outcome::Refused => self.refused,
                Outcome::ConnectTimeout => self.connect_timeout,
                Outcome::PortExhausted => self.port_exhausted,
                Outcome::Aborted => self.aborted,
                Outcome::Leaked => self.leaked,
                Outcome::Unfinished => self.unfinished,
            };
            (o, n)
        })
    }
}

/// `states.csv`: one row per (group, state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatesRow {
    pub group: String,
    /// RFC name with underscores, e.g. `TIME_WAIT`.
    pub state: String,
    /// Most sockets of the group in this state at once.
    pub peak: u64,
    /// Time-weighted mean count over the run.
    pub mean: f64,
    /// How many times a socket entered this state.
    pub entered: u64,
    /// Mean time a socket spent in this state, over the residences that ended
    /// (sockets that left it). Empty when none left it. Kept apart from `mean`
    /// (an integral over time) so that Little's law, `mean` = `exited` / run time ×
    /// `mean_residence_s` when every residence ended, checks two independent sums.
    pub mean_residence_s: Option<f64>,
    /// How many times a socket left this state (`entered` − `exited` sockets were
    /// still in it when the run ended).
    pub exited: u64,
}

/// `timeseries.csv`: one row per (sample time, group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeseriesRow {
    pub time_s: f64,
    pub group: String,
    pub syn_sent: u64,
    pub syn_rcvd: u64,
    pub established: u64,
    pub fin_wait_1: u64,
    pub fin_wait_2: u64,
    pub closing: u64,
    pub time_wait: u64,
    pub close_wait: u64,
    pub last_ack: u64,
    /// Modelled kernel memory of the group's sockets (`cost.*`).
    pub memory_bytes: u64,
    /// Local ports the group holds for outgoing connections.
    pub ports_in_use: u64,
}

impl TimeseriesRow {
    /// The state counts in [`STATE_COLUMNS`] order.
    pub fn state_counts(&self) -> [u64; 9] {
        [
            self.syn_sent,
            self.syn_rcvd,
            self.established,
            self.fin_wait_1,
            self.fin_wait_2,
            self.closing,
            self.time_wait,
            self.close_wait,
            self.last_ack,
        ]
    }
}

/// `connections.csv`: one row per connection attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRow {
    pub id: u64,
    /// Host name, `group/index`, e.g. `clients/17`.
    pub client: String,
    /// Empty when no port could be bound (`port_exhausted`).
    pub client_port: Option<u16>,
    pub server: String,
    pub server_port: u16,
    pub opened_s: f64,
    pub established_s: Option<f64>,
    pub finished_s: Option<f64>,
    pub outcome: Outcome,
    /// `client`, `server`, `both` (simultaneous close) or `none`.
    pub active_closer: String,
    /// States the client socket went through, joined by `>`; ends with `CLOSED`
    /// unless the socket was still open when the run ended.
    pub client_path: String,
    /// States the server socket went through, joined by `>` (empty if none was made).
    pub server_path: String,
    pub retransmits: u64,
    pub bytes_discarded: u64,
    pub stale_accepted: u64,
    // Extensions beyond the DESIGN.md minimum.
    pub bytes_delivered: u64,
    /// How long the closing application was blocked in close() (SO_LINGER N > 0).
    pub close_blocked_s: Option<f64>,
}

/// `transitions.csv` (with `--trace`): one row per state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionRow {
    pub time_s: f64,
    pub host: String,
    pub port: u16,
    pub peer: String,
    pub peer_port: u16,
    pub from: String,
    pub to: String,
    /// What caused it, e.g. `rcv_syn_ack`, `app_close`, `timeout_2msl`.
    pub cause: String,
    /// The connection id of `connections.csv`.
    pub conn: u64,
}

/// `run.json`: what is not deterministic about a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub version: String,
    pub scenario: String,
    pub seed: u64,
    pub wall_time_s: f64,
    pub events: u64,
    pub events_per_s: f64,
    pub connections: u64,
    pub connections_per_s: f64,
    pub peak_rss_bytes: u64,
}
