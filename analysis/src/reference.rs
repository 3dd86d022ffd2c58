//! Analytic reference models, each compared with what a run measured.
//!
//! Every [`Reference`] carries the measured value, the model's value, their relative
//! error `(measured − reference) / reference` and a relative tolerance; outside the
//! tolerance it is flagged. The models (REFERENCE.md "Capacity arithmetic"):
//!
//! - **Little's law** per (group, state): time-weighted mean count = (entries / run
//!   length) × mean residence. With residences still open at the end counted up to
//!   the end (as `states.csv` defines them) this is an identity of the accounting, so
//!   the tolerance is tight (1 %): a flag means the writer's bookkeeping is wrong.
//! - **TIME_WAIT steady state** per group: close rate × `tcp.time_wait`, capped at
//!   `tcp.max_tw_buckets` × hosts (Linux `net.ipv4.tcp_max_tw_buckets` is per host).
//! - **Port-exhaustion ceiling**: `ip_local_port_range` size / `tcp.time_wait`
//!   connections per second per (client host, destination) when the client closes
//!   first (ports are held through TIME_WAIT; RFC 6056 lets a port be reused toward
//!   another destination).
//! - **SYN give-up time**: Linux `tcp_syn_retries` with classic exponential back-off
//!   from `tcp.rto_initial` (RFC 6298 (2.1), (5.5)), or the Linux 6.18
//!   `tcp_syn_linear_timeouts` variant.
//! - **Connect time under Bernoulli loss**: see [`expected_connect_s`].

use serde::Serialize;

use crate::load::{HostId, RunData};
use crate::scenario::{Scenario, as_number};
use crate::stats::{mean, sample_sd};
use crate::text::{fmt_num, fmt_opt};

/// Tolerance of references that are identities of the accounting or pure timer
/// arithmetic.
pub const EXACT_TOLERANCE: f64 = 0.01;
/// Floor of the tolerance of references to a random quantity.
pub const STOCHASTIC_TOLERANCE: f64 = 0.10;

/// Whether a measured value agrees with its reference. Serialized as in the table
/// and the CSV: `ok`, `FLAG`, `n/a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Within tolerance.
    #[serde(rename = "ok")]
    Ok,
    /// Outside tolerance: a mis-configured scenario or a model error.
    #[serde(rename = "FLAG")]
    Flag,
    /// Not applicable: a key or a measurement is missing (see the note).
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Flag => "FLAG",
            Status::NotApplicable => "n/a",
        }
    }
}

/// What a reference is about: the model, the group, the quantity and its unit.
#[derive(Debug, Clone, Copy)]
struct Subject<'a> {
    model: &'a str,
    group: &'a str,
    quantity: &'a str,
    unit: &'static str,
}

/// One measured value beside its analytic reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reference {
    /// Model name, e.g. `little`, `time_wait_steady`, `port_ceiling`.
    pub model: String,
    pub group: String,
    /// What is compared, e.g. the state for `little`.
    pub quantity: String,
    pub unit: &'static str,
    pub measured: Option<f64>,
    pub reference: Option<f64>,
    pub rel_error: Option<f64>,
    /// Relative tolerance: |rel_error| above it flags.
    pub tolerance: f64,
    pub status: Status,
    /// The inputs and assumptions, or why it is not applicable.
    pub note: String,
}

impl Reference {
    fn new(
        subject: Subject<'_>,
        measured: Option<f64>,
        reference: Option<f64>,
        tolerance: f64,
        note: String,
    ) -> Self {
        let rel_error = match (measured, reference) {
            (Some(m), Some(r)) if r != 0.0 => Some((m - r) / r),
            (Some(m), Some(_)) => Some(if m == 0.0 { 0.0 } else { f64::INFINITY }),
            _ => None,
        };
        let status = match rel_error {
            None => Status::NotApplicable,
            Some(e) if e.abs() <= tolerance => Status::Ok,
            Some(_) => Status::Flag,
        };
        Reference {
            model: subject.model.to_string(),
            group: subject.group.to_string(),
            quantity: subject.quantity.to_string(),
            unit: subject.unit,
            measured,
            reference,
            rel_error,
            tolerance,
            status,
            note,
        }
    }

    fn not_applicable(subject: Subject<'_>, why: &str) -> Self {
        Self::new(subject, None, None, 0.0, why.to_string())
    }
}

// ---------------------------------------------------------------------------------
// The models, as pure functions.

/// Little's law: mean number in a state = (residences / observed time) × mean
/// residence, over a window in which every residence ended.
pub fn little_mean(residences: u64, mean_residence_s: f64, observed_s: f64) -> f64 {
    residences as f64 / observed_s * mean_residence_s
}

/// Steady-state TIME_WAIT count: close rate × TIME_WAIT length (Little's law),
/// capped by the `tcp_max_tw_buckets` of all hosts together.
pub fn time_wait_steady(close_rate: f64, time_wait_s: f64, cap: Option<f64>) -> f64 {
    let uncapped = close_rate * time_wait_s;
    cap.map_or(uncapped, |c| uncapped.min(c))
}

/// Most new connections per second one client host can open toward one destination
/// when each port stays bound through TIME_WAIT: (hi − lo + 1) / time_wait.
/// Linux defaults: 28232 / 60 s = 470.5 conn/s.
pub fn port_ceiling(lo: u64, hi: u64, time_wait_s: f64) -> f64 {
    (hi.saturating_sub(lo) + 1) as f64 / time_wait_s
}

/// Times (from connect()) at which the client sends each SYN, followed by the time
/// it gives up (ETIMEDOUT): `retries + linear + 1` SYNs, then the give-up.
///
/// Linux `tcp_retransmit_timer`: the k-th wait is `rto × 2^(k − linear)` for
/// k > `linear` and `rto` for k ≤ `linear` (`tcp_syn_linear_timeouts`, Linux
/// 6.18), each capped at `rto_max`; a connection in SYN_SENT retransmits
/// `tcp_syn_retries + tcp_syn_linear_timeouts` times. Classic (linear = 0, rto
/// 1 s): SYNs at 0, 1, 3, 7, 15, 31, 63 s, give-up at 127 s for 6 retries;
/// linear = 4: retransmissions at 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s, give-up at
/// 131 s (REFERENCE.md, `tcp_syn_retries`).
pub fn syn_schedule(retries: u64, linear: u64, rto_s: f64, rto_max_s: f64) -> Vec<f64> {
    let waits = retries + linear + 1;
    let mut times = Vec::with_capacity(waits as usize + 1);
    let mut t = 0.0;
    times.push(t);
    for k in 0..waits {
        let factor = if k <= linear {
            1.0
        } else {
            2f64.powi((k - linear) as i32)
        };
        t += (rto_s * factor).min(rto_max_s);
        times.push(t);
    }
    times
}

/// Time from connect() to ETIMEDOUT: the last element of [`syn_schedule`].
pub fn syn_give_up_s(retries: u64, linear: u64, rto_s: f64, rto_max_s: f64) -> f64 {
    *syn_schedule(retries, linear, rto_s, rto_max_s)
        .last()
        .expect("a schedule has at least the first SYN")
}

/// Expected connect time (connect() to ESTABLISHED at the client) of the
/// connections that do establish, under Bernoulli loss.
///
/// Model and assumptions, precisely:
/// - **Loss.** `p_oneway` is the probability that one segment is lost between
///   client and server, the same both ways: each access link drops each segment
///   crossing it independently, so `p_oneway = 1 − (1 − p_client_link)(1 −
///   p_server_link)`. Every segment's fate is independent of every other's.
/// - **Client.** It sends SYNs at `syn_times` (from connect(); the last element is
///   the give-up time, [`syn_schedule`]) until it is established.
/// - **Server.** The first SYN to get through, SYN j (probability
///   `p^j (1 − p)`), creates the request: the server answers at once and
///   retransmits its SYN-ACK on its own timer at `synack_offsets` after that
///   (`tcp_synack_retries`; Linux `inet_csk_reqsk_queue` timer: 0, 1, 3, 7, 15,
///   31 s). Each later SYN k > j that gets through makes it resend the SYN-ACK at
///   once (Linux `tcp_check_req()`). So given j, the SYN-ACK chances are: the timer
///   ones at `s_j + o_m` (each arrives with probability `1 − p`) and the
///   SYN-triggered ones at `s_k` (probability `(1 − p)²`), all independent. In the
///   simplest reading, one attempt (a SYN and its SYN-ACK) succeeds with
///   `q = (1 − p)²`; the timer SYN-ACKs add chances that need one traversal only.
/// - **Time.** The first SYN-ACK to arrive establishes the connection at its
///   emission time + `rtt` (from connect(): SYN one way, SYN-ACK back); `rtt` is
///   the sum of the four link delays (jitter, serialization and queueing ignored).
///   Only arrivals before the give-up count; a request dropped after its last
///   SYN-ACK retransmission and re-created by a later SYN is ignored (it needs
///   more than `synack_retries` consecutive losses).
///
/// E[T | established] = Σ_j P(j) Σ_i π_i Π_{l<i}(1 − π_l) t_i / P(established),
/// over the chances i in time order. `None` when nothing can get through.
pub fn expected_connect_s(
    p_oneway: f64,
    rtt_s: f64,
    syn_times: &[f64],
    synack_offsets: &[f64],
) -> Option<f64> {
    let (give_up, syns) = syn_times.split_last()?;
    let pass = 1.0 - p_oneway;
    let mut weight = 0.0;
    let mut total = 0.0;
    for (j, &s_j) in syns.iter().enumerate() {
        let p_first = p_oneway.powi(j as i32) * pass;
        // (arrival time at the client, probability that this SYN-ACK arrives)
        let mut chances: Vec<(f64, f64)> = synack_offsets
            .iter()
            .map(|o| (s_j + o + rtt_s, pass))
            .chain(syns[j + 1..].iter().map(|s_k| (s_k + rtt_s, pass * pass)))
            .filter(|(t, _)| t < give_up)
            .collect();
        chances.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut miss = 1.0;
        for (t, pi) in chances {
            let w = p_first * miss * pi;
            weight += w;
            total += w * t;
            miss *= 1.0 - pi;
        }
    }
    (weight > 0.0).then(|| total / weight)
}

/// Tolerance for a reference to a count of random events with expected value
/// `expected`: the larger of 10 % and three Poisson standard deviations.
pub fn poisson_tolerance(expected: f64) -> f64 {
    if expected > 0.0 {
        STOCHASTIC_TOLERANCE.max(3.0 / expected.sqrt())
    } else {
        STOCHASTIC_TOLERANCE
    }
}

// ---------------------------------------------------------------------------------
// Applying the models to a run.

/// All references of one run, in a stable order: Little per (group, state), then
/// per group TIME_WAIT steady state, then per client group the port ceiling, SYN
/// give-up and connect time.
pub fn references(run: &RunData) -> Vec<Reference> {
    let mut out = little_references(run);
    let groups = run.groups();
    for g in &groups {
        if let Some(r) = time_wait_reference(run, g) {
            out.push(r);
        }
    }
    for g in groups.iter().filter(|g| is_client(run, g)) {
        out.push(port_reference(run, g));
        out.push(syn_give_up_reference(run, g));
        out.push(connect_time_reference(run, g));
    }
    out
}

fn little_references(run: &RunData) -> Vec<Reference> {
    let observed = run.summary.sim_time_s;
    run.states
        .iter()
        .filter(|s| s.entered > 0)
        .map(|s| {
            let subject = Subject {
                model: "little",
                group: &s.group,
                quantity: &s.state,
                unit: "sockets",
            };
            let open = s.entered - s.exited.min(s.entered);
            if open > 0 {
                // L = λW holds over a window in which every residence ended.
                return Reference::not_applicable(
                    subject,
                    &format!("{open} socket(s) still in the state when the run ended"),
                );
            }
            let reference = s
                .mean_residence_s
                .filter(|_| observed > 0.0)
                .map(|w| little_mean(s.exited, w, observed));
            let note = format!(
                "{} exits / {} s x {} s",
                s.exited,
                fmt_num(observed),
                fmt_opt(s.mean_residence_s)
            );
            Reference::new(subject, Some(s.mean), reference, EXACT_TOLERANCE, note)
        })
        .collect()
}

/// A group that opens connections: role `client`, or any group named as a
/// connection's client in `connections.csv`.
fn is_client(run: &RunData, group: &str) -> bool {
    run.group_role(group) == "client"
        || run
            .connections
            .iter()
            .any(|c| run.hosts.group(c.client) == group)
}

fn state_row<'a>(
    run: &'a RunData,
    group: &str,
    state: &str,
) -> Option<&'a crate::schema::StatesRow> {
    run.states
        .iter()
        .find(|s| s.group == group && s.state.eq_ignore_ascii_case(state))
}

/// The steady-state window of a group: from `tcp.time_wait` after its first
/// TIME_WAIT socket is seen in `timeseries.csv` (the first ones then start to
/// expire) to `run.duration` (arrivals stop). `Err` says why there is none.
pub fn steady_window(run: &RunData, group: &str) -> Result<(f64, f64), String> {
    let sc = run.scenario.as_ref().ok_or("no scenario.toml")?;
    let time_wait = sc
        .duration_s(group, "tcp", "time_wait")
        .ok_or("tcp.time_wait missing")?;
    let duration = sc
        .global_duration_s("run.duration")
        .ok_or("run.duration missing")?;
    let first = run
        .timeseries
        .iter()
        .find(|t| t.group == group && t.time_wait > 0)
        .map(|t| t.time_s)
        .ok_or("no TIME_WAIT socket sampled")?;
    let start = first + time_wait;
    if start >= duration {
        return Err(format!(
            "run.duration {duration} s ends before the steady state at {start} s"
        ));
    }
    Ok((start, duration))
}

fn time_wait_reference(run: &RunData, group: &str) -> Option<Reference> {
    const MODEL: &str = "time_wait_steady";
    let entered = state_row(run, group, "TIME_WAIT")?.entered;
    if entered == 0 {
        return None;
    }
    let na = |why: &str| {
        Reference::not_applicable(
            Subject {
                model: MODEL,
                group,
                quantity: "TIME_WAIT",
                unit: "sockets",
            },
            why,
        )
    };
    let (start, end) = match steady_window(run, group) {
        Ok(w) => w,
        Err(why) => return Some(na(&why)),
    };
    // steady_window found both in the scenario.
    let sc = run.scenario.as_ref()?;
    let time_wait = sc.duration_s(group, "tcp", "time_wait")?;
    let samples: Vec<f64> = run
        .timeseries
        .iter()
        .filter(|t| t.group == group && t.time_s >= start && t.time_s <= end)
        .map(|t| t.time_wait as f64)
        .collect();
    let Some(measured) = mean(&samples) else {
        return Some(na("no sample in the steady window"));
    };
    let hosts = sc
        .groups()
        .into_iter()
        .find(|g| g.name == group)
        .map_or(1, |g| g.count);
    let cap = sc
        .number(group, "tcp", "max_tw_buckets")
        .map(|b| b * hosts as f64);
    let duration = end;
    let rate = entered as f64 / duration;
    let reference = time_wait_steady(rate, time_wait, cap);
    let note = format!(
        "R = {entered} entries / {duration} s = {} /s, T = {time_wait} s, cap {}; mean of {} samples in [{start}, {end}] s",
        fmt_num(rate),
        cap.map_or("none".to_string(), fmt_num),
        samples.len()
    );
    Some(Reference::new(
        Subject {
            model: MODEL,
            group,
            quantity: "TIME_WAIT",
            unit: "sockets",
        },
        Some(measured),
        Some(reference),
        poisson_tolerance(reference),
        note,
    ))
}

fn port_reference(run: &RunData, group: &str) -> Reference {
    const MODEL: &str = "port_ceiling";
    let na = |why: &str| {
        Reference::not_applicable(
            Subject {
                model: MODEL,
                group,
                quantity: "bound conn/s",
                unit: "conn/s",
            },
            why,
        )
    };
    let Some(sc) = run.scenario.as_ref() else {
        return na("no scenario.toml");
    };
    let range = sc
        .for_group(group, "tcp", "local_port_range")
        .and_then(|v| v.as_array())
        .and_then(|a| Some((as_number(a.first()?)?, as_number(a.get(1)?)?)));
    let (Some((lo, hi)), Some(time_wait)) = (range, sc.duration_s(group, "tcp", "time_wait"))
    else {
        return na("tcp.local_port_range or tcp.time_wait missing");
    };
    let ceiling = port_ceiling(lo as u64, hi as u64, time_wait);
    let client_tw = state_row(run, group, "TIME_WAIT").is_some_and(|s| s.entered > 0);
    let (start, end) = match steady_window(run, group) {
        Ok(w) => w,
        Err(_) if !client_tw => {
            return na(&format!(
                "ceiling {} conn/s per destination; not reached: the client never holds TIME_WAIT",
                fmt_num(ceiling)
            ));
        }
        Err(why) => return na(&format!("ceiling {} conn/s; {why}", fmt_num(ceiling))),
    };
    // Per (client host, destination): attempts and bound connections in the window.
    // Host ids order as host names do, so the sum below adds in name order.
    let mut pairs: std::collections::BTreeMap<(HostId, HostId, u16), (u64, u64)> =
        Default::default();
    for c in run
        .connections
        .iter()
        .filter(|c| run.hosts.group(c.client) == group && c.opened_s >= start && c.opened_s < end)
    {
        let e = pairs
            .entry((c.client, c.server, c.server_port))
            .or_default();
        e.0 += 1;
        e.1 += u64::from(c.client_port.is_some());
    }
    let span = end - start;
    let bound: u64 = pairs.values().map(|p| p.1).sum();
    let reference: f64 = pairs
        .values()
        .map(|&(attempts, _)| (attempts as f64 / span).min(ceiling))
        .sum();
    let note = format!(
        "ceiling {} conn/s per destination ({}..={} / {time_wait} s); sum over {} (host, destination) pairs of min(offered, ceiling) in [{start}, {end}] s",
        fmt_num(ceiling),
        lo,
        hi,
        pairs.len()
    );
    Reference::new(
        Subject {
            model: MODEL,
            group,
            quantity: "bound conn/s",
            unit: "conn/s",
        },
        Some(bound as f64 / span),
        Some(reference),
        poisson_tolerance(reference * span),
        note,
    )
}

/// `(retries, linear, rto_initial, rto_max)` of a group, `retries` read from
/// `tcp.<retries_key>` (`syn_retries` or `synack_retries`), `rto_max` defaulting
/// to Linux's 120 s (`TCP_RTO_MAX`).
fn syn_params(sc: &Scenario, group: &str, retries_key: &str) -> Option<(u64, u64, f64, f64)> {
    let retries = sc.number(group, "tcp", retries_key)? as u64;
    let linear = sc
        .number(group, "tcp", "syn_linear_timeouts")
        .unwrap_or(0.0) as u64;
    let rto = sc.duration_s(group, "tcp", "rto_initial")?;
    let rto_max = sc.duration_s(group, "tcp", "rto_max").unwrap_or(120.0);
    Some((retries, linear, rto, rto_max))
}

fn syn_give_up_reference(run: &RunData, group: &str) -> Reference {
    const MODEL: &str = "syn_give_up";
    let na = |why: &str| {
        Reference::not_applicable(
            Subject {
                model: MODEL,
                group,
                quantity: "connect_timeout after",
                unit: "s",
            },
            why,
        )
    };
    let Some((retries, linear, rto, rto_max)) = run
        .scenario
        .as_ref()
        .and_then(|sc| syn_params(sc, group, "syn_retries"))
    else {
        return na("tcp.syn_retries or tcp.rto_initial missing");
    };
    let reference = syn_give_up_s(retries, linear, rto, rto_max);
    let times: Vec<f64> = run
        .connections
        .iter()
        .filter(|c| {
            run.hosts.group(c.client) == group
                && c.outcome == crate::schema::Outcome::ConnectTimeout
        })
        .filter_map(|c| Some(c.finished_s? - c.opened_s))
        .collect();
    let note = format!(
        "syn_retries {retries}, linear {linear}, rto_initial {rto} s; {} timed-out connections",
        times.len()
    );
    Reference::new(
        Subject {
            model: MODEL,
            group,
            quantity: "connect_timeout after",
            unit: "s",
        },
        mean(&times),
        Some(reference),
        EXACT_TOLERANCE,
        note,
    )
}

/// The server group a client group talks to: the only group with role `server`,
/// else the only server named in its connections.
fn server_group(run: &RunData, client: &str) -> Option<String> {
    let mut servers: Vec<&str> = run
        .connections
        .iter()
        .filter(|c| run.hosts.group(c.client) == client)
        .map(|c| run.hosts.group(c.server))
        .collect();
    servers.sort_unstable();
    servers.dedup();
    match servers.as_slice() {
        [one] => Some(one.to_string()),
        _ => {
            let sc = run.scenario.as_ref()?;
            let roles: Vec<_> = sc
                .groups()
                .into_iter()
                .filter(|g| g.role == "server")
                .collect();
            (roles.len() == 1).then(|| roles[0].name.clone())
        }
    }
}

fn connect_time_reference(run: &RunData, group: &str) -> Reference {
    const MODEL: &str = "connect_time";
    let na = |why: &str| {
        Reference::not_applicable(
            Subject {
                model: MODEL,
                group,
                quantity: "mean connect",
                unit: "s",
            },
            why,
        )
    };
    let Some(sc) = run.scenario.as_ref() else {
        return na("no scenario.toml");
    };
    let Some(server) = server_group(run, group) else {
        return na("no single server group");
    };
    let link = |g: &str| -> Result<(f64, f64), String> {
        let loss = match sc.for_group(g, "link", "loss") {
            None => 0.0,
            Some(v) => as_number(v)
                .ok_or_else(|| format!("link.loss of `{g}` is not a Bernoulli probability"))?,
        };
        let delay = sc.duration_s(g, "link", "delay").unwrap_or(0.0);
        Ok((loss, delay))
    };
    let ((p_c, d_c), (p_s, d_s)) = match (link(group), link(&server)) {
        (Ok(c), Ok(s)) => (c, s),
        (Err(why), _) | (_, Err(why)) => return na(&why),
    };
    let Some((retries, linear, rto, rto_max)) = syn_params(sc, group, "syn_retries") else {
        return na("tcp.syn_retries or tcp.rto_initial missing");
    };
    let p_oneway = 1.0 - (1.0 - p_c) * (1.0 - p_s);
    let rtt = 2.0 * (d_c + d_s);
    let Some((synack_retries, _, server_rto, server_rto_max)) =
        syn_params(sc, &server, "synack_retries")
    else {
        return na("tcp.synack_retries or tcp.rto_initial of the server missing");
    };
    // The server's SYN-ACK send times: the schedule without its final drop time.
    let mut synack_offsets = syn_schedule(synack_retries, 0, server_rto, server_rto_max);
    synack_offsets.pop();
    let reference = expected_connect_s(
        p_oneway,
        rtt,
        &syn_schedule(retries, linear, rto, rto_max),
        &synack_offsets,
    );
    let samples: Vec<f64> = run
        .connections
        .iter()
        .filter(|c| run.hosts.group(c.client) == group)
        .filter_map(|c| Some(c.established_s? - c.opened_s))
        .collect();
    let measured = mean(&samples);
    let jitter = [group, server.as_str()]
        .iter()
        .any(|g| sc.duration_s(g, "link", "jitter").is_some_and(|j| j > 0.0));
    // Three standard errors of the measured mean, relative to the reference.
    let se_tol = match (sample_sd(&samples), reference) {
        (Some(sd), Some(r)) if r > 0.0 => 3.0 * sd / (samples.len() as f64).sqrt() / r,
        _ => 0.0,
    };
    let note = format!(
        "p_oneway {} (links {} and {}), q = (1-p)^2 = {}, rtt {} s{}, synack_retries {synack_retries}, {} established; tolerance max(10 %, 3 SE)",
        fmt_num(p_oneway),
        fmt_num(p_c),
        fmt_num(p_s),
        fmt_num((1.0 - p_oneway).powi(2)),
        fmt_num(rtt),
        if jitter { " (link jitter ignored)" } else { "" },
        samples.len()
    );
    Reference::new(
        Subject {
            model: MODEL,
            group,
            quantity: "mean connect",
            unit: "s",
        },
        measured,
        reference,
        STOCHASTIC_TOLERANCE.max(se_tol),
        note,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    /// REFERENCE.md: 127 s with 6 retries, 15 s with 3; Linux 6.18 linear
    /// timeouts 4: retransmissions at 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s, give-up
    /// at 131 s.
    #[test]
    fn syn_give_up_times() {
        assert_eq!(syn_give_up_s(6, 0, 1.0, 120.0), 127.0);
        assert_eq!(syn_give_up_s(3, 0, 1.0, 120.0), 15.0);
        assert_eq!(
            syn_schedule(6, 4, 1.0, 120.0),
            [
                0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0, 131.0
            ]
        );
        // Waits 1, 2, 4, ..., 64, then 128 and 256 capped at rto_max = 120 s.
        assert_eq!(syn_give_up_s(8, 0, 1.0, 120.0), 127.0 + 120.0 + 120.0);
    }

    /// 28232 ports / 60 s = 470.53 conn/s (REFERENCE.md: 470 conn/s).
    #[test]
    fn port_ceiling_linux_defaults() {
        assert!(close(
            port_ceiling(32768, 60999, 60.0),
            28232.0 / 60.0,
            1e-9
        ));
        assert_eq!(port_ceiling(40000, 40009, 60.0), 10.0 / 60.0);
    }

    /// 10k conn/s × 60 s = 600k, capped at 262144 buckets (REFERENCE.md).
    #[test]
    fn time_wait_steady_state() {
        assert_eq!(time_wait_steady(10_000.0, 60.0, None), 600_000.0);
        assert_eq!(time_wait_steady(10_000.0, 60.0, Some(262_144.0)), 262_144.0);
        assert_eq!(time_wait_steady(100.0, 60.0, Some(262_144.0)), 6_000.0);
    }

    #[test]
    fn littles_law() {
        assert_eq!(little_mean(100, 60.0, 160.0), 37.5);
    }

    /// p = 0.5, rtt 10 ms; client SYNs at 0 and 1 s, give-up at 3 s (1 retry);
    /// server SYN-ACKs at 0 and 1 s after the first SYN it gets (1 retry).
    /// j = 0 (P 0.5): chances at 0.01 (0.5), 1.01 timer (0.5), 1.01 SYN-triggered
    /// (0.25): weights 0.5·0.5 = 0.25 at 0.01; 0.5·0.5·(0.5 + 0.5·0.25) = 0.15625
    /// at 1.01. j = 1 (P 0.25): timer chances at 1.01 and 2.01 (0.5 each):
    /// weights 0.125 at 1.01, 0.0625 at 2.01. Total weight 0.59375; Σ w·t =
    /// 0.0025 + 0.1578125 + 0.12625 + 0.125625 = 0.4121875.
    #[test]
    fn connect_time_under_loss() {
        let syns = syn_schedule(1, 0, 1.0, 120.0);
        assert_eq!(syns, [0.0, 1.0, 3.0]);
        let offsets = [0.0, 1.0];
        let e = expected_connect_s(0.5, 0.01, &syns, &offsets).unwrap();
        assert!(close(e, 0.4121875 / 0.59375, 1e-12), "{e}");
        assert_eq!(expected_connect_s(0.0, 0.01, &syns, &offsets), Some(0.01));
        assert_eq!(expected_connect_s(1.0, 0.01, &syns, &offsets), None);
    }

    #[test]
    fn tolerances_and_status() {
        assert_eq!(poisson_tolerance(100.0), 0.3);
        assert_eq!(poisson_tolerance(10_000.0), 0.1);
        let r = Reference::new(
            Subject {
                model: "m",
                group: "g",
                quantity: "q",
                unit: "s",
            },
            Some(1.2),
            Some(1.0),
            0.1,
            String::new(),
        );
        assert_eq!(r.status, Status::Flag);
        assert!(close(r.rel_error.unwrap(), 0.2, 1e-12));
        let r = Reference::new(
            Subject {
                model: "m",
                group: "g",
                quantity: "q",
                unit: "s",
            },
            Some(1.05),
            Some(1.0),
            0.1,
            String::new(),
        );
        assert_eq!(r.status, Status::Ok);
        let r = Reference::new(
            Subject {
                model: "m",
                group: "g",
                quantity: "q",
                unit: "s",
            },
            None,
            Some(1.0),
            0.1,
            String::new(),
        );
        assert_eq!(r.status, Status::NotApplicable);
    }
}
