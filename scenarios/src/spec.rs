//! Scenario files: the schema, `--set` overrides, and validation.
//!
//! A scenario is read in three steps, so that a file and `--set` parse values the same
//! way and every error names the key it is about:
//!
//! 1. the TOML text is parsed into a [`toml::Value`];
//! 2. each `--set KEY=VALUE` is applied to that value by its dotted path
//!    ([`apply_set`]): VALUE is parsed as a TOML value, and if that fails, taken as a
//!    string (so `--set tcp.local_port_range=[40000,40999]` is an array and
//!    `--set workload.client_close=linger:5s` a string);
//! 3. the value is deserialized into [`Scenario`] (unknown keys rejected everywhere,
//!    every missing key filled with its default), each group's `tcp`, `link` and
//!    `workload` overrides are merged over the base tables and deserialized the same
//!    way, and ranges are checked.
//!
//! Every failure is a [`CliError::BadInput`] whose message names the scenario (file
//! or built-in), the dotted key, the offending value and what would be valid.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sim_core::time::SimDuration;

use crate::builtin;
use crate::error::CliError;

pub use sim_core::link::LinkConfig;
use sim_core::link::LinkError;
pub use sim_tcp::{CostModel, TcpConfig};

/// Where a scenario came from, for error messages and the default output name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A built-in scenario, by name (`tcpsim list`).
    Builtin(String),
    /// A scenario file.
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builtin(name) => write!(f, "built-in scenario `{name}`"),
            Origin::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A validated scenario: the typed tables of the file plus each group's effective
/// configuration (its overrides merged over the base tables).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The scenario's name (built-in name or file stem): the `scenario` column of
    /// `summary.csv` and the default output directory. Not a key of the file.
    #[serde(skip)]
    pub name: String,
    #[serde(default)]
    pub run: RunSection,
    /// Base TCP configuration of every host (`[tcp]`, Linux defaults).
    #[serde(default)]
    pub tcp: TcpConfig,
    /// Modelled kernel memory per socket (`[cost]`).
    #[serde(default)]
    pub cost: CostModel,
    /// Base access-link configuration of every host (`[link]`), used in both
    /// directions (host → switch and switch → host).
    #[serde(default)]
    pub link: LinkConfig,
    /// Base workload (`[workload]`); a client group may override it.
    #[serde(default)]
    pub workload: Workload,
    /// Host groups (`[[group]]`). Default: one `clients` host and one `server` host.
    #[serde(rename = "group", default = "default_groups")]
    pub groups: Vec<Group>,
    /// Each group's effective configuration, in `groups` order (filled by
    /// [`Scenario::from_value`]).
    #[serde(skip)]
    pub resolved: Vec<GroupConfig>,
}

/// `[run]`: how long and how the run goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSection {
    /// Master seed of every random stream (`--seed` overrides it).
    pub seed: u64,
    /// How long new connections start (virtual time).
    pub duration: SimDuration,
    /// Interval of the `timeseries.csv` samples.
    pub sample_every: SimDuration,
    /// How long the run may go on after `duration` for open connections to end:
    /// `"auto"` (every TIME_WAIT, FIN_WAIT_2 and SYN timer can expire) or a duration.
    pub drain: Drain,
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection {
            seed: 1,
            duration: SimDuration::from_secs(10),
            sample_every: SimDuration::from_secs(1),
            drain: Drain::Auto,
        }
    }
}

/// `run.drain`: `"auto"` or a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Long enough for every timer of the configuration: see
    /// [`GroupConfig::settle_time`].
    Auto,
    Fixed(SimDuration),
}

impl Serialize for Drain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Drain::Auto => s.serialize_str("auto"),
            Drain::Fixed(d) => d.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Drain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "auto" {
            return Ok(Drain::Auto);
        }
        s.parse::<SimDuration>()
            .map(Drain::Fixed)
            .map_err(|e| serde::de::Error::custom(format!("{e}, or \"auto\"")))
    }
}

/// `[workload]`: the applications on the client and server hosts.
///
/// A connection follows the workload of its client's group: the client connects,
/// sends `request_bytes`; the server reads them all and answers `response_bytes`;
/// then `closer` decides who calls close first, each side in its own close mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    /// New connections per second (open loop, Poisson arrivals) for the whole group.
    /// Exclusive with `concurrency`; the default (100/s) applies when neither is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Connections kept open at once (closed loop): when the client application is
    /// done with one (closed or failed), it opens the next. Exclusive with `rate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// At most this many connection attempts per group (none: no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The port the servers listen on and the clients connect to.
    pub service_port: u16,
    /// Bytes the client sends after the handshake.
    pub request_bytes: u64,
    /// Bytes the server answers once it has read the whole request.
    pub response_bytes: u64,
    /// Who closes first once the response is delivered.
    pub closer: Closer,
    /// How the client application closes its socket.
    pub client_close: CloseMode,
    /// How the server application closes its socket.
    pub server_close: CloseMode,
    /// Probability that a client host drops off the network right after sending its
    /// request: no FIN, no RST, nothing answers (the dropped dial-up line).
    pub client_vanish: Probability,
    /// Addresses with no host behind them, among which a client picks its
    /// destination together with the server hosts (a scanning worm's targets).
    pub silent_destinations: u32,
}

/// The rate used when neither `workload.rate` nor `workload.concurrency` is set.
pub const DEFAULT_RATE: f64 = 100.0;

impl Default for Workload {
    fn default() -> Self {
        Workload {
            rate: None,
            concurrency: None,
            count: None,
            service_port: 80,
            request_bytes: 100,
            response_bytes: 1000,
            closer: Closer::Client,
            client_close: CloseMode::Close,
            server_close: CloseMode::Close,
            client_vanish: Probability(0.0),
            silent_destinations: 0,
        }
    }
}

/// Who calls close first (`workload.closer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Closer {
    /// The client closes once it has the whole response; the server closes when it
    /// reads the client's FIN (the usual HTTP/1.0 client-close pattern).
    Client,
    /// The server closes right after sending the response; the client closes when
    /// it reads the server's FIN.
    Server,
    /// Both close at the same instant, when the client has the whole response: the
    /// FINs cross (simultaneous close, RFC 9293 §3.6 case 2).
    Both,
}

/// How an application closes its socket (`workload.client_close`,
/// `workload.server_close`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseMode {
    /// `close()`: FIN, the socket becomes an orphan.
    Close,
    /// `shutdown(SHUT_WR)`: FIN, but the application keeps the socket (a half-close;
    /// Linux never times out FIN_WAIT_2 for it). It is closed when the peer's FIN is
    /// read.
    Shutdown,
    /// `SO_LINGER {1, 0}` then `close()`: RST, no FIN, no TIME_WAIT.
    Abort,
    /// `SO_LINGER {1, N}` then `close()`: FIN, close() blocks up to N.
    Linger(SimDuration),
    /// The application never closes (a leak): the socket stays in CLOSE_WAIT or
    /// ESTABLISHED until the run ends.
    Never,
}

impl fmt::Display for CloseMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseMode::Close => f.write_str("close"),
            CloseMode::Shutdown => f.write_str("shutdown"),
            CloseMode::Abort => f.write_str("abort"),
            CloseMode::Linger(d) => write!(f, "linger:{d}"),
            CloseMode::Never => f.write_str("never"),
        }
    }
}

impl std::str::FromStr for CloseMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let valid = "expected close, shutdown, abort, linger:DURATION (e.g. linger:5s) or never";
        match s {
            "close" => Ok(CloseMode::Close),
            "shutdown" => Ok(CloseMode::Shutdown),
            "abort" => Ok(CloseMode::Abort),
            "never" => Ok(CloseMode::Never),
            _ => match s.strip_prefix("linger:") {
                Some(d) => match d.parse::<SimDuration>() {
                    Ok(d) if d.is_zero() => Ok(CloseMode::Abort),
                    Ok(d) => Ok(CloseMode::Linger(d)),
                    Err(e) => Err(format!("{e}; {valid}")),
                },
                None => Err(format!("invalid close mode {s:?}: {valid}")),
            },
        }
    }
}

impl Serialize for CloseMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CloseMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A probability in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Probability(pub f64);

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = f64::deserialize(d)?;
        if (0.0..=1.0).contains(&p) {
            Ok(Probability(p))
        } else {
            Err(serde::de::Error::custom(format!(
                "invalid value {p}: expected a probability in [0, 1]"
            )))
        }
    }
}

/// A rate in events per second: finite and > 0.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Rate(pub f64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = f64::deserialize(d)?;
        if r.is_finite() && r > 0.0 {
            Ok(Rate(r))
        } else {
            Err(serde::de::Error::custom(format!(
                "invalid value {r}: expected a rate > 0 (per second, e.g. 100 or 0.5)"
            )))
        }
    }
}

/// What the hosts of a group do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Opens connections to the servers, per its workload.
    Client,
    /// Listens on `workload.service_port` and answers requests.
    Server,
    /// Sends SYNs from spoofed, silent source addresses at its workload's `rate`
    /// (a SYN flood): no socket on the attacker, SYN-ACKs go nowhere.
    Attacker,
}

/// `[[group]]`: `count` hosts of one role. `tcp`, `link` and `workload` tables
/// override single keys of the base tables for this group's hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    #[serde(default = "one")]
    pub count: u32,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<toml::Table>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<toml::Table>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<toml::Table>,
}

fn one() -> u32 {
    1
}

fn default_groups() -> Vec<Group> {
    let group = |name: &str, role| Group {
        name: name.to_string(),
        count: 1,
        role,
        tcp: None,
        link: None,
        workload: None,
    };
    vec![
        group("clients", Role::Client),
        group("server", Role::Server),
    ]
}

/// One group's effective configuration: its overrides merged over the base tables.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    pub name: String,
    pub count: u32,
    pub role: Role,
    pub tcp: TcpConfig,
    pub link: LinkConfig,
    pub workload: Workload,
}

impl GroupConfig {
    /// The connection rate of an open-loop client or attacker group (the default
    /// when neither `rate` nor `concurrency` is set).
    pub fn rate(&self) -> Option<f64> {
        match (self.workload.rate, self.workload.concurrency) {
            (Some(r), _) => Some(r.0),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_RATE),
        }
    }

    /// How long this group's sockets may take to end after their last application
    /// call: the longest of the TIME_WAIT length, an orphan's FIN_WAIT_2 time
    /// (up to 2·`fin_timeout` − 60 s on Linux when `fin_timeout` > 60 s), the SYN
    /// and SYN-ACK give-up times, and an orphan's FIN retransmissions
    /// (`tcp_orphan_retries`) followed by TIME_WAIT.
    pub fn settle_time(&self) -> SimDuration {
        let t = &self.tcp;
        // SYN and SYN-ACK: `linear` waits of rto_initial, then doubling from
        // rto_initial, each capped at rto_max; the give-up comes one wait after the
        // last retransmission (6 retries: 1+2+...+64 = 127 s).
        let handshake = |retries: u8, linear: u8| {
            (0..=u32::from(retries)).fold(SimDuration::ZERO, |acc, i| {
                let doublings = i.saturating_sub(linear.into()).min(40);
                acc.saturating_add(t.rto_initial.saturating_mul(1 << doublings).min(t.rto_max))
            })
        };
        [
            t.time_wait_len(),
            t.fin_timeout.saturating_mul(2),
            handshake(t.syn_retries, t.syn_linear_timeouts),
            handshake(t.synack_retries, 0),
            model_timeout(t.orphan_retries_effective(), t.rto_max)
                .saturating_add(t.time_wait_len()),
        ]
        .into_iter()
        .max()
        .unwrap_or(SimDuration::ZERO)
    }
}

/// Linux `tcp_model_timeout()` (net/ipv4/tcp_timer.c): how long `boundary`
/// retransmissions take from the fixed `TCP_RTO_MIN` base of 200 ms, doubling up to
/// `rto_max` (the give-up time of `tcp_retries2` and `tcp_orphan_retries`).
fn model_timeout(boundary: u8, rto_max: SimDuration) -> SimDuration {
    let base = SimDuration::from_millis(200);
    let ratio = rto_max.as_nanos() / base.as_nanos();
    let thresh = ratio.checked_ilog2().unwrap_or(0);
    let b = u32::from(boundary);
    if b <= thresh {
        base.saturating_mul((2u64 << b) - 1)
    } else {
        base.saturating_mul((2u64 << thresh) - 1)
            .saturating_add(rto_max.saturating_mul(u64::from(b - thresh)))
    }
}

impl Scenario {
    /// The number of silent destination addresses: the most any group asks for.
    pub fn silent_destinations(&self) -> u32 {
        self.resolved
            .iter()
            .map(|g| g.workload.silent_destinations)
            .max()
            .unwrap_or(0)
    }

    /// The drain limit in effect: `run.drain`, or with `auto` the longest
    /// [`GroupConfig::settle_time`] plus a 10 s margin.
    pub fn drain(&self) -> SimDuration {
        match self.run.drain {
            Drain::Fixed(d) => d,
            Drain::Auto => self
                .resolved
                .iter()
                .map(GroupConfig::settle_time)
                .max()
                .unwrap_or(SimDuration::ZERO)
                .saturating_add(SimDuration::from_secs(10)),
        }
    }

    /// The scenario as TOML with every default filled in (`tcpsim show`); reading it
    /// back gives the same scenario.
    pub fn to_toml(&self) -> String {
        let mut out = format!(
            "# Effective scenario `{}`: every key with its value, defaults filled in.\n\
             # Feed it back with `tcpsim run FILE`.\n\n",
            self.name
        );
        out.push_str(&toml::to_string(self).expect("a scenario serializes to TOML"));
        out
    }

    /// Writes the defaults that depend on other keys into the scenario, so that
    /// `tcpsim show` names them and its output keeps its meaning when read back:
    /// the TIME_WAIT length (`tcp.time_wait`, which defaults to 2 × `tcp.msl`) in the
    /// base table and in every group that overrides `msl` alone, and the default
    /// `workload.rate` unless some group switches to a closed loop.
    fn fill_defaults(&mut self) {
        let w = &mut self.workload;
        let closed_loop_group = self.groups.iter().any(|g| {
            g.workload
                .as_ref()
                .is_some_and(|t| t.contains_key("concurrency"))
        });
        if w.rate.is_none() && w.concurrency.is_none() && !closed_loop_group {
            w.rate = Some(Rate(DEFAULT_RATE));
        }
        self.tcp.time_wait = Some(self.tcp.time_wait_len());
        for (g, gc) in self.groups.iter_mut().zip(&mut self.resolved) {
            gc.tcp.time_wait = Some(gc.tcp.time_wait_len());
            if let Some(t) = g.tcp.as_mut().filter(|t| t.contains_key("msl")) {
                t.entry("time_wait")
                    .or_insert_with(|| toml::Value::String(gc.tcp.time_wait_len().to_string()));
            }
        }
    }

    /// Deserializes and validates a scenario from its TOML value (after `--set`).
    /// `sets` are the keys overridden on the command line, named in messages.
    pub fn from_value(
        value: toml::Value,
        origin: &Origin,
        name: &str,
        sets: &[String],
    ) -> Result<Scenario, CliError> {
        let ctx = Ctx { origin, sets };
        let base_value = value.clone();
        let mut sc: Scenario = ctx.typed(value, "")?;
        sc.name = name.to_string();
        sc.resolved = sc
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| ctx.resolve_group(&base_value, i, g))
            .collect::<Result<_, _>>()?;
        ctx.validate(&sc)?;
        sc.fill_defaults();
        Ok(sc)
    }
}

/// Error context: where the scenario came from and which keys `--set` changed.
struct Ctx<'a> {
    origin: &'a Origin,
    sets: &'a [String],
}

impl Ctx<'_> {
    /// One bad-input error naming the scenario, the key and what is wrong.
    fn error(&self, key: &str, what: impl fmt::Display) -> CliError {
        let by_set = self.sets.iter().find(|s| {
            s.split('=')
                .next()
                .is_some_and(|k| key.starts_with(k.trim()))
        });
        let from = match by_set {
            Some(s) => format!(" (from --set {s})"),
            None => String::new(),
        };
        CliError::bad_input(format!("{}: key `{key}`{from}: {what}", self.origin))
    }

    /// Deserializes `value` into `T`, reporting the dotted path of the failing key
    /// under `prefix`.
    fn typed<T: DeserializeOwned>(&self, value: toml::Value, prefix: &str) -> Result<T, CliError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let inner = e.path().to_string();
            let key = match (prefix.is_empty(), inner.as_str()) {
                (true, _) => inner.clone(),
                (false, ".") => prefix.to_string(),
                (false, _) => format!("{prefix}.{inner}"),
            };
            self.error(&key, e.into_inner().message().trim_end())
        })
    }

    /// Merges group `i`'s override tables over the base tables and types them.
    fn resolve_group(
        &self,
        root: &toml::Value,
        i: usize,
        g: &Group,
    ) -> Result<GroupConfig, CliError> {
        let merged = |section: &str, over: &Option<toml::Table>| -> toml::Value {
            let mut base = root
                .get(section)
                .and_then(toml::Value::as_table)
                .cloned()
                .unwrap_or_default();
            for (k, v) in over.iter().flatten() {
                base.insert(k.clone(), v.clone());
            }
            toml::Value::Table(base)
        };
        let prefix = |section: &str| format!("group[{i}] ({}).{section}", g.name);
        Ok(GroupConfig {
            name: g.name.clone(),
            count: g.count,
            role: g.role,
            tcp: self.typed(merged("tcp", &g.tcp), &prefix("tcp"))?,
            link: self.typed(merged("link", &g.link), &prefix("link"))?,
            workload: self.typed(merged("workload", &g.workload), &prefix("workload"))?,
        })
    }

    /// Range checks that serde types cannot express.
    fn validate(&self, sc: &Scenario) -> Result<(), CliError> {
        let run = &sc.run;
        if run.duration.is_zero() {
            return Err(self.error(
                "run.duration",
                "invalid value 0s: expected a duration > 0 (e.g. \"10s\")",
            ));
        }
        if run.sample_every.is_zero() {
            return Err(self.error(
                "run.sample_every",
                "invalid value 0s: expected a duration > 0 (e.g. \"1s\")",
            ));
        }
        if sc.groups.is_empty() {
            return Err(self.error("group", "no host groups: expected at least one [[group]] of role client and one of role server"));
        }
        for (i, g) in sc.groups.iter().enumerate() {
            let key = |k: &str| format!("group[{i}] ({}).{k}", g.name);
            if g.name.is_empty()
                || !g
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(self.error(&key("name"), format!("invalid value {:?}: expected a non-empty name of letters, digits, '-' and '_'", g.name)));
            }
            if sc.groups[..i].iter().any(|o| o.name == g.name) {
                return Err(self.error(
                    &key("name"),
                    format!(
                        "duplicate group name {:?}: group names must be unique",
                        g.name
                    ),
                ));
            }
            if g.count == 0 {
                return Err(
                    self.error(&key("count"), "invalid value 0: expected a host count >= 1")
                );
            }
        }
        if let Err(e) = sc.tcp.validate() {
            return Err(self.error(e.key, &e.message));
        }
        if let Err(e) = sc.link.validate() {
            return Err(self.error(&link_key(&e), e));
        }
        for (i, (gc, g)) in sc.resolved.iter().zip(&sc.groups).enumerate() {
            let key = |k: &str| format!("group[{i}] ({}).{k}", gc.name);
            if g.tcp.is_some() {
                if let Err(e) = gc.tcp.validate() {
                    return Err(self.error(&key(e.key), &e.message));
                }
            }
            if g.link.is_some() {
                if let Err(e) = gc.link.validate() {
                    return Err(self.error(&key(&link_key(&e)), e));
                }
            }
            let w = &gc.workload;
            if w.rate.is_some() && w.concurrency.is_some() {
                return Err(self.error(&key("workload.rate"), "both workload.rate and workload.concurrency are set: use one (rate = open loop, concurrency = closed loop); to turn a built-in scenario into a closed loop, save `tcpsim show NAME` to a file and replace its `rate` line with `concurrency = N`"));
            }
            if w.concurrency == Some(0) {
                return Err(self.error(
                    &key("workload.concurrency"),
                    "invalid value 0: expected a number of connections >= 1",
                ));
            }
            if gc.role == Role::Attacker && w.concurrency.is_some() {
                return Err(self.error(
                    &key("workload.concurrency"),
                    "an attacker group sends SYNs at a rate: set workload.rate instead",
                ));
            }
        }
        let total_hosts: u64 = sc.groups.iter().map(|g| u64::from(g.count)).sum::<u64>()
            + u64::from(sc.silent_destinations());
        if total_hosts > (1 << 24) - 2 {
            return Err(self.error("group", format!("{total_hosts} hosts and silent destinations: at most 16777214 fit in 10.0.0.0/8")));
        }
        let initiators = sc.groups.iter().any(|g| g.role != Role::Server);
        if !initiators {
            return Err(self.error(
                "group",
                "no group of role client or attacker: nothing would open a connection",
            ));
        }
        let servers = sc.groups.iter().any(|g| g.role == Role::Server);
        let silent = sc.silent_destinations() > 0;
        if !servers && !silent {
            return Err(self.error("group", "no group of role server and workload.silent_destinations = 0: connections would have no destination"));
        }
        Ok(())
    }
}

/// The `link.*` key a link validation error is about.
fn link_key(e: &LinkError) -> String {
    match e {
        LinkError::Probability { field, .. } => format!("link.{field}"),
        LinkError::ZeroBandwidth { .. } | LinkError::Bandwidth { .. } => "link.bandwidth".into(),
        LinkError::InvertedOutage { .. } => "link.outages".into(),
    }
}

/// Applies one `--set KEY=VALUE` to a scenario's TOML value.
///
/// KEY is a dotted path (`tcp.fin_timeout`, `workload.rate`); inside `group` a path
/// element is a group's name or index (`group.clients.count`, `group.0.tcp.mss`).
/// VALUE is parsed as a TOML value (`0.01`, `true`, `[40000, 40999]`, `"x"`), and if
/// that fails, taken as a string (`60s`, `linger:5s`). Missing tables are created;
/// whether the key exists is checked when the result is deserialized.
pub fn apply_set(root: &mut toml::Value, assignment: &str) -> Result<(), CliError> {
    let bad = |what: String| CliError::bad_input(format!("--set {assignment}: {what}"));
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| bad("expected KEY=VALUE (e.g. --set tcp.fin_timeout=30s)".into()))?;
    let key = key.trim();
    let raw = raw.trim();
    let path: Vec<&str> = key.split('.').collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(bad(format!(
            "invalid key {key:?}: expected a dotted path like workload.rate"
        )));
    }
    let value = parse_value(raw);
    let mut cur = root;
    for (depth, seg) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        cur = match cur {
            toml::Value::Table(t) => {
                if last {
                    t.insert(seg.to_string(), value);
                    return Ok(());
                }
                t.entry(seg.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(items) => {
                let idx = match seg.parse::<usize>() {
                    Ok(i) if i < items.len() => i,
                    _ => items
                        .iter()
                        .position(|v| v.get("name").and_then(toml::Value::as_str) == Some(seg))
                        .ok_or_else(|| {
                            bad(format!("no element `{seg}` in `{}`: expected an index below {} or a group name", path[..depth].join("."), items.len()))
                        })?,
                };
                if last {
                    items[idx] = value;
                    return Ok(());
                }
                &mut items[idx]
            }
            other => {
                return Err(bad(format!(
                    "`{}` is a {}, not a table: it has no key `{seg}`",
                    path[..depth].join("."),
                    other.type_str()
                )));
            }
        };
    }
    Ok(())
}

/// A `--set` value: TOML if it parses as one, else the raw text as a string.
fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Loads a scenario: `source` is a built-in name (`tcpsim list`) or a path to a
/// `.toml` file; each of `sets` is a `KEY=VALUE` override ([`apply_set`]).
pub fn load(source: &str, sets: &[String]) -> Result<Scenario, CliError> {
    let (origin, name, text) = read_source(source)?;
    let mut value: toml::Value = toml::from_str::<toml::Table>(&text)
        .map(toml::Value::Table)
        .map_err(|e| {
            CliError::bad_input(format!(
                "{origin}: TOML syntax error: {}",
                e.to_string().trim_end()
            ))
        })?;
    for s in sets {
        apply_set(&mut value, s)?;
    }
    Scenario::from_value(value, &origin, &name, sets)
}

/// Finds a scenario's text: a built-in by name, else a file.
fn read_source(source: &str) -> Result<(Origin, String, String), CliError> {
    if let Some(b) = builtin::find(source) {
        return Ok((
            Origin::Builtin(b.name.to_string()),
            b.name.to_string(),
            b.toml.to_string(),
        ));
    }
    let path = Path::new(source);
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into());
            Ok((Origin::File(path.to_path_buf()), name, text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let names: Vec<&str> = builtin::ALL.iter().map(|b| b.name).collect();
            let looks_like_path = source.contains('/') || source.ends_with(".toml");
            Err(CliError::bad_input(if looks_like_path {
                format!("scenario file {source}: no such file")
            } else {
                format!(
                    "unknown scenario `{source}`: not a built-in scenario ({}) and no file of that name",
                    names.join(", ")
                )
            }))
        }
        Err(e) => Err(CliError::bad_input(format!(
            "scenario file {source}: cannot read: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> toml::Value {
        toml::Value::Table(toml::from_str(text).unwrap())
    }

    #[test]
    fn set_parses_toml_values_and_falls_back_to_strings() {
        let mut v = value("[[group]]\nname = \"clients\"\nrole = \"client\"\n");
        apply_set(&mut v, "tcp.local_port_range=[40000, 40999]").unwrap();
        apply_set(&mut v, "workload.client_close=linger:5s").unwrap();
        apply_set(&mut v, "link.loss=0.01").unwrap();
        apply_set(&mut v, "tcp.rfc1337=true").unwrap();
        apply_set(&mut v, "group.clients.count=4").unwrap();
        apply_set(&mut v, "group.0.tcp.fin_timeout=10s").unwrap();
        assert_eq!(
            v["tcp"]["local_port_range"],
            toml::Value::Array(vec![40000.into(), 40999.into()])
        );
        assert_eq!(v["workload"]["client_close"].as_str(), Some("linger:5s"));
        assert_eq!(v["link"]["loss"].as_float(), Some(0.01));
        assert_eq!(v["tcp"]["rfc1337"].as_bool(), Some(true));
        assert_eq!(v["group"][0]["count"].as_integer(), Some(4));
        assert_eq!(v["group"][0]["tcp"]["fin_timeout"].as_str(), Some("10s"));
    }

    #[test]
    fn set_errors_name_the_assignment() {
        let mut v = value("[run]\nseed = 1\n");
        let e = apply_set(&mut v, "run.seed").unwrap_err().to_string();
        assert!(
            e.contains("--set run.seed") && e.contains("KEY=VALUE"),
            "{e}"
        );
        let e = apply_set(&mut v, "run.seed.x=1").unwrap_err().to_string();
        assert!(e.contains("`run.seed` is a integer"), "{e}");
        let e = apply_set(&mut v, "a..b=1").unwrap_err().to_string();
        assert!(e.contains("dotted path"), "{e}");
    }

    #[test]
    fn defaults_fill_every_section_and_the_auto_drain_covers_every_timer() {
        let sc = Scenario::from_value(value(""), &Origin::Builtin("t".into()), "t", &[]).unwrap();
        assert_eq!(sc.groups.len(), 2);
        assert_eq!(sc.resolved[0].rate(), Some(DEFAULT_RATE));
        assert_eq!(sc.tcp.time_wait, Some(SimDuration::from_secs(60)));
        // Linux defaults: the longest timer is an orphan retransmitting its FIN 8
        // times (tcp_model_timeout: 511 × 200 ms = 102.2 s) and then sitting in
        // TIME_WAIT (60 s); plus the 10 s margin.
        assert_eq!(
            sc.drain(),
            SimDuration::from_millis(102_200 + 60_000 + 10_000)
        );
        // tcp_retries2 = 15 gives Linux's 924.6 s.
        assert_eq!(
            model_timeout(15, SimDuration::from_secs(120)),
            SimDuration::from_millis(924_600)
        );
        let text = sc.to_toml();
        let back =
            Scenario::from_value(value(&text), &Origin::Builtin("t".into()), "t", &[]).unwrap();
        assert_eq!(back.to_toml(), text);
    }

    #[test]
    fn a_group_overriding_msl_keeps_its_own_time_wait() {
        let v = value(
            "[[group]]\nname = \"c\"\nrole = \"client\"\ntcp = { msl = \"5s\" }\n\
             [[group]]\nname = \"s\"\nrole = \"server\"\n",
        );
        let sc = Scenario::from_value(v, &Origin::Builtin("t".into()), "t", &[]).unwrap();
        assert_eq!(
            sc.resolved[0].tcp.time_wait_len(),
            SimDuration::from_secs(10)
        );
        assert_eq!(
            sc.resolved[1].tcp.time_wait_len(),
            SimDuration::from_secs(60)
        );
        let text = sc.to_toml();
        assert!(
            text.contains("[group.tcp]\nmsl = \"5s\"\ntime_wait = \"10s\"\n"),
            "{text}"
        );
    }

    #[test]
    fn close_modes_parse_and_print() {
        for (s, m) in [
            ("close", CloseMode::Close),
            ("shutdown", CloseMode::Shutdown),
            ("abort", CloseMode::Abort),
            ("never", CloseMode::Never),
            ("linger:5s", CloseMode::Linger(SimDuration::from_secs(5))),
            ("linger:0s", CloseMode::Abort),
        ] {
            assert_eq!(s.parse::<CloseMode>().unwrap(), m, "{s}");
        }
        assert_eq!(
            CloseMode::Linger(SimDuration::from_millis(1500)).to_string(),
            "linger:1s 500ms"
        );
        assert!("linger:soon".parse::<CloseMode>().is_err());
        assert!("slam".parse::<CloseMode>().is_err());
    }
}
