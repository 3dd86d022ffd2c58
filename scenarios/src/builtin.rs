//! The built-in scenarios (`tcpsim list`): one TOML file per experiment of the seed,
//! embedded in the binary. Each file says in comments what it shows and where.

/// A built-in scenario.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub name: &'static str,
    /// One line for `tcpsim list`.
    pub summary: &'static str,
    /// The scenario file's text.
    pub toml: &'static str,
}

macro_rules! builtin {
    ($name:literal, $summary:literal) => {
        Builtin {
            name: $name,
            summary: $summary,
            toml: include_str!(concat!("../scenarios/", $name, ".toml")),
        }
    };
}

/// Every built-in scenario, in the order of the seed's experiments.
pub const ALL: [Builtin; 10] = [
    builtin!(
        "handshake",
        "one connection, traced: the client's and the server's state paths"
    ),
    builtin!(
        "client-close",
        "clients close first: TIME_WAIT on the clients ≈ rate × 60 s"
    ),
    builtin!(
        "server-close",
        "the server closes first: the TIME_WAIT load moves to the server"
    ),
    builtin!(
        "linger-abort",
        "SO_LINGER 0: no TIME_WAIT, one RST per connection, peers reset"
    ),
    builtin!(
        "fin-wait-2",
        "clients never close: the server's orphans leave FIN_WAIT_2 after tcp.fin_timeout"
    ),
    builtin!(
        "close-wait-leak",
        "the server never closes: CLOSE_WAIT grows linearly"
    ),
    builtin!(
        "simultaneous-close",
        "both ends close at once: FIN_WAIT_1 > CLOSING > TIME_WAIT on both"
    ),
    builtin!(
        "syn-flood",
        "spoofed SYNs: SYN_RCVD bounded by the backlog, cookies keep clients served"
    ),
    builtin!(
        "port-exhaustion",
        "one client, one server port: completed ≈ ports / TIME_WAIT, EADDRNOTAVAIL beyond"
    ),
    builtin!(
        "worm-scan",
        "one host scanning silent addresses: SYN_SENT piles up, give-up after 127 s"
    ),
];

/// The built-in scenario of that name.
pub fn find(name: &str) -> Option<&'static Builtin> {
    ALL.iter().find(|b| b.name == name)
}
