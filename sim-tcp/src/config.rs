//! Configuration: [`TcpConfig`] (the `tcp.*` scenario keys, Linux defaults, each
//! naming the sysctl or socket option it mirrors) and [`CostModel`] (the `cost.*`
//! keys: modelled kernel bytes per object, REFERENCE.md slab sizes).
//!
//! Both are serde structs with `deny_unknown_fields` and `default`, so a scenario's
//! `[tcp]` / `[cost]` table may give any subset of keys; durations are humantime
//! strings (`"200ms"`, `"60s"`).

use serde::{Deserialize, Serialize};
use sim_core::time::SimDuration;

/// Initial sequence number policy (`tcp.isn`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IsnPolicy {
    /// RFC 6528 / Linux `secure_tcp_seq()`: a keyed hash of the 4-tuple plus a clock
    /// ticking every 4 µs (RFC 6528's suggestion; Linux ticks every 64 ns, which only
    /// changes how fast ISNs wrap, not any behaviour modelled here).
    #[default]
    Linux,
    /// A fresh draw from the host's seeded stream for every connection.
    Random,
    /// Always 0: makes scripted exchanges and traces easy to read.
    Zero,
}

/// TCP stack configuration, one per host group. Defaults are Linux 6.x's
/// (REFERENCE.md); each field's doc names what it mirrors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpConfig {
    /// Maximum segment lifetime (RFC 9293 §3.4.2; Linux has no such knob). Default
    /// 30 s. Only used to derive [`TcpConfig::time_wait`] when that is not set.
    pub msl: SimDuration,
    /// TIME_WAIT length. Linux: the compile-time `TCP_TIMEWAIT_LEN`, 60 s, not tied to
    /// MSL or `tcp_fin_timeout`. Unset (the default) means 2 × `msl` = 60 s (RFC 9293
    /// MUST-13); use [`TcpConfig::time_wait_len`] to read the effective value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_wait: Option<SimDuration>,
    /// `net.ipv4.tcp_fin_timeout` / `TCP_LINGER2`: FIN_WAIT_2 time-out of an
    /// **orphaned** socket. Default 60 s. Effective `max(F, 3.5·RTO)`; F ≤ 60 s: a
    /// FIN_WAIT_2 mini-socket for F; F > 60 s: the full socket waits F−60, then a
    /// mini-socket F−60 more (total 2F−120). Freed silently (no RST).
    pub fin_timeout: SimDuration,
    /// `net.ipv4.tcp_syn_retries` / `TCP_SYNCNT`: SYN retransmissions before
    /// connect() fails with ETIMEDOUT. Default 6 (give-up at 127 s). Range 1..=127.
    pub syn_retries: u8,
    /// `net.ipv4.tcp_syn_linear_timeouts` (Linux 6.18): this many SYN retransmissions
    /// first at a constant `rto_initial`, before exponential back-off. Default 0
    /// (classic back-off; 6.18's own default is 4).
    pub syn_linear_timeouts: u8,
    /// `net.ipv4.tcp_synack_retries`: SYN-ACK retransmissions before a passive
    /// request is dropped. Default 5 (dropped at 63 s).
    pub synack_retries: u8,
    /// `net.ipv4.tcp_orphan_retries`: retransmissions of an orphan's data/FIN before
    /// it is killed (time-based as `tcp_retries2`). Default 0, which Linux reads as 8.
    pub orphan_retries: u8,
    /// `net.ipv4.tcp_retries2`: data retransmission limit, converted to a time as
    /// Linux `tcp_model_timeout()` does from a 200 ms base (`TCP_RTO_MIN`, fixed) and
    /// `rto_max`: 15 → 924.6 s. Give-up at the first time-out that much after the
    /// first transmission of the oldest unacknowledged segment.
    pub retries2: u8,
    /// Initial RTO (RFC 6298 (2.1); Linux `TCP_TIMEOUT_INIT`). Default 1 s.
    pub rto_initial: SimDuration,
    /// Minimum RTO (Linux `TCP_RTO_MIN`, route `rto_min`). Default 200 ms.
    pub rto_min: SimDuration,
    /// Maximum RTO (RFC 6298 (2.5); Linux `TCP_RTO_MAX`). Default 120 s.
    pub rto_max: SimDuration,
    /// `net.ipv4.ip_local_port_range`: ephemeral ports, inclusive. Default
    /// `[32768, 60999]`.
    pub local_port_range: [u16; 2],
    /// `net.ipv4.tcp_max_tw_buckets`: TIME_WAIT (and FIN_WAIT_2 mini) sockets per
    /// host; beyond it a closing connection gets no TIME_WAIT (`TCPTimeWaitOverflow`).
    /// Default 262144 (a 32 GiB+ machine).
    pub max_tw_buckets: u32,
    /// `net.ipv4.tcp_max_orphans`: orphaned full sockets (closed by the application,
    /// still in FIN_WAIT_1/FIN_WAIT_2/CLOSING/LAST_ACK; mini-sockets do not count)
    /// per host; one more is reset at close() ("too many orphaned sockets").
    /// Default 262144 (hash/2 on a 32 GiB+ machine).
    pub max_orphans: u32,
    /// `net.ipv4.tcp_tw_reuse`: 0 off, 1 on, 2 loopback only (default). Outgoing
    /// connect() may take over a TIME_WAIT 4-tuple that used timestamps and saw its
    /// last segment ≥ 1 s ago; never a FIN_WAIT_2 mini-socket.
    pub tw_reuse: u8,
    /// `net.ipv4.tcp_rfc1337`: false (default) lets an RST kill TIME_WAIT
    /// ("assassination"); true ignores it (RFC 1337).
    pub rfc1337: bool,
    /// ISN policy (Linux `secure_tcp_seq`, RFC 6528). Default `linux`.
    pub isn: IsnPolicy,
    /// listen() `backlog` argument the application passes. Default 4096.
    pub backlog: u32,
    /// `net.core.somaxconn`: caps the backlog. Default 4096. SYN and accept queues
    /// are full when their length exceeds `min(backlog, somaxconn)`.
    pub somaxconn: u32,
    /// `net.ipv4.tcp_syncookies`: 0 never, 1 when the SYN queue is full (default),
    /// 2 always.
    pub syncookies: u8,
    /// Our MSS (the SYN's MSS option; route `advmss`). Default 1460 (Ethernet).
    pub mss: u16,
    /// Advertised receive window in bytes, fixed (no window scaling, no
    /// auto-tuning). Default 65535.
    pub rcv_window: u32,
    /// `net.ipv4.tcp_timestamps` (RFC 7323): send TSval/TSecr; enables PAWS, the
    /// TIME_WAIT SYN rule on TSval (RFC 6191) and `tcp_tw_reuse`. Default true.
    pub timestamps: bool,
    /// Congestion window in segments, fixed (RFC 6928 / Linux `TCP_INIT_CWND` 10).
    /// No congestion control beyond it is modelled yet.
    pub initial_window: u32,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            msl: SimDuration::from_secs(30),
            time_wait: None,
            fin_timeout: SimDuration::from_secs(60),
            syn_retries: 6,
            syn_linear_timeouts: 0,
            synack_retries: 5,
            orphan_retries: 0,
            retries2: 15,
            rto_initial: SimDuration::from_secs(1),
            rto_min: SimDuration::from_millis(200),
            rto_max: SimDuration::from_secs(120),
            local_port_range: [32768, 60999],
            max_tw_buckets: 262_144,
            max_orphans: 262_144,
            tw_reuse: 2,
            rfc1337: false,
            isn: IsnPolicy::Linux,
            backlog: 4096,
            somaxconn: 4096,
            syncookies: 1,
            mss: 1460,
            rcv_window: 65535,
            timestamps: true,
            initial_window: 10,
        }
    }
}

/// A configuration value out of range; `Display` gives `tcp.KEY: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The dotted key, e.g. `tcp.local_port_range`.
    pub key: &'static str,
    pub message: String,
}

fn check(ok: bool, key: &'static str, message: impl FnOnce() -> String) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            key,
            message: message(),
        })
    }
}

impl TcpConfig {
    /// The effective TIME_WAIT length: `time_wait`, or 2 × `msl` when unset.
    pub fn time_wait_len(&self) -> SimDuration {
        self.time_wait.unwrap_or(self.msl.saturating_mul(2))
    }

    /// `tcp_orphan_retries` as Linux reads it: 0 means 8 (`tcp_orphan_retries()`).
    pub fn orphan_retries_effective(&self) -> u8 {
        if self.orphan_retries == 0 {
            8
        } else {
            self.orphan_retries
        }
    }

    /// `min(backlog, somaxconn)`: the SYN and accept queue limit.
    pub fn listen_limit(&self) -> u32 {
        self.backlog.min(self.somaxconn)
    }

    /// Checks every value; the error names the key and the valid range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(!self.msl.is_zero(), "tcp.msl", || "must be > 0".into())?;
        check(
            (1..=127).contains(&self.syn_retries),
            "tcp.syn_retries",
            || format!("{} is out of range 1..=127", self.syn_retries),
        )?;
        check(
            self.syn_linear_timeouts <= 127,
            "tcp.syn_linear_timeouts",
            || format!("{} is out of range 0..=127", self.syn_linear_timeouts),
        )?;
        check(!self.rto_min.is_zero(), "tcp.rto_min", || {
            "must be > 0".into()
        })?;
        check(self.rto_min <= self.rto_max, "tcp.rto_max", || {
            format!("{} is below tcp.rto_min {}", self.rto_max, self.rto_min)
        })?;
        check(
            self.rto_initial >= self.rto_min && self.rto_initial <= self.rto_max,
            "tcp.rto_initial",
            || {
                format!(
                    "{} must lie in [tcp.rto_min, tcp.rto_max] = [{}, {}]",
                    self.rto_initial, self.rto_min, self.rto_max
                )
            },
        )?;
        let [lo, hi] = self.local_port_range;
        check(lo >= 1 && lo <= hi, "tcp.local_port_range", || {
            format!("[{lo}, {hi}] must satisfy 1 <= low <= high <= 65535")
        })?;
        check(self.tw_reuse <= 2, "tcp.tw_reuse", || {
            format!(
                "{} is not 0 (off), 1 (on) or 2 (loopback only)",
                self.tw_reuse
            )
        })?;
        check(self.syncookies <= 2, "tcp.syncookies", || {
            format!(
                "{} is not 0 (off), 1 (when SYN queue full) or 2 (always)",
                self.syncookies
            )
        })?;
        check((88..=65495).contains(&self.mss), "tcp.mss", || {
            format!("{} is out of range 88..=65495", self.mss)
        })?;
        check(
            (1..=65535).contains(&self.rcv_window),
            "tcp.rcv_window",
            || {
                format!(
                    "{} is out of range 1..=65535 (no window scaling)",
                    self.rcv_window
                )
            },
        )?;
        check(self.initial_window >= 1, "tcp.initial_window", || {
            "must be >= 1 segment".into()
        })?;
        Ok(())
    }
}

/// Modelled kernel memory per object, in bytes (the `cost.*` keys). Defaults are the
/// Linux 6.18 x86_64 slab object sizes in REFERENCE.md.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostModel {
    /// `tcp_sock` slab object (any full socket, listeners included). Default 2368.
    pub full_socket: u64,
    /// `tcp_timewait_sock` (TIME_WAIT and the orphan FIN_WAIT_2 mini-socket).
    /// Default 256.
    pub time_wait: u64,
    /// `tcp_request_sock` (a passive open in SYN_RCVD). Default 320.
    pub syn_request: u64,
    /// `inet_bind_bucket` per local port held by outgoing connections. Default 88.
    pub bind_bucket: u64,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            full_socket: 2368,
            time_wait: 256,
            syn_request: 320,
            bind_bucket: 88,
        }
    }
}

/// SO_LINGER as the application sets it before close().
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Linger {
    /// `l_onoff = 0`: close() returns at once; FIN sent, the socket lives on as an
    /// orphan.
    #[default]
    Off,
    /// `{l_onoff = 1, l_linger = 0}`: abortive close, RST at SND.NXT, queues purged.
    Abort,
    /// `{1, N > 0}`: close() sends FIN and blocks until it is acknowledged or N
    /// passes; on expiry nothing is sent or discarded.
    Timeout(SimDuration),
}

/// The errors an application sees (Linux errno names).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum Errno {
    /// connect(): no free ephemeral port toward this destination.
    #[error("EADDRNOTAVAIL")]
    EADDRNOTAVAIL,
    /// listen() on a port already listening.
    #[error("EADDRINUSE")]
    EADDRINUSE,
    /// A valid RST in a synchronized state.
    #[error("ECONNRESET")]
    ECONNRESET,
    /// RST in SYN_SENT.
    #[error("ECONNREFUSED")]
    ECONNREFUSED,
    /// Retransmissions exhausted.
    #[error("ETIMEDOUT")]
    ETIMEDOUT,
    /// send() after shutdown(SHUT_WR), or an RST in CLOSE_WAIT.
    #[error("EPIPE")]
    EPIPE,
    /// send() before the connection is established.
    #[error("ENOTCONN")]
    ENOTCONN,
    /// A stale or closed [`crate::SocketId`].
    #[error("EBADF")]
    EBADF,
}

impl Errno {
    pub const fn name(self) -> &'static str {
        match self {
            Errno::EADDRNOTAVAIL => "EADDRNOTAVAIL",
            Errno::EADDRINUSE => "EADDRINUSE",
            Errno::ECONNRESET => "ECONNRESET",
            Errno::ECONNREFUSED => "ECONNREFUSED",
            Errno::ETIMEDOUT => "ETIMEDOUT",
            Errno::EPIPE => "EPIPE",
            Errno::ENOTCONN => "ENOTCONN",
            Errno::EBADF => "EBADF",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_round_trip_through_toml() {
        let c = TcpConfig::default();
        c.validate().unwrap();
        assert_eq!(c.time_wait_len(), SimDuration::from_secs(60));
        let s = toml::to_string(&c).unwrap();
        let back: TcpConfig = toml::from_str(&s).unwrap();
        assert_eq!(back, c);
        let partial: TcpConfig = toml::from_str("fin_timeout = \"30s\"\nmsl = \"10s\"").unwrap();
        assert_eq!(partial.fin_timeout, SimDuration::from_secs(30));
        assert_eq!(partial.time_wait_len(), SimDuration::from_secs(20));
        assert!(toml::from_str::<TcpConfig>("bogus = 1").is_err());
        let cost: CostModel = toml::from_str("time_wait = 168").unwrap();
        assert_eq!(cost.time_wait, 168);
        assert_eq!(cost.full_socket, 2368);
    }

    #[test]
    fn validate_names_the_key() {
        let c = TcpConfig {
            local_port_range: [5000, 4000],
            ..TcpConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "tcp.local_port_range");
        assert!(e.to_string().starts_with("tcp.local_port_range: "), "{e}");
        let c = TcpConfig {
            syn_retries: 0,
            ..TcpConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "tcp.syn_retries");
    }
}
