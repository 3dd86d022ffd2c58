//! Sweep plans: the TOML file, its grid of parameter points, its seeds and the
//! runs they make.
//!
//! ```toml
//! scenario = "client-close"          # built-in name, or a file relative to the plan
//! set = ["run.duration=5s"]          # base overrides, as `--set`
//! seeds = { count = 5, master = 42 } # or a list: seeds = [1, 2, 3]
//!
//! [vary]                             # dotted scenario key -> values
//! workload.rate = [100, 200, 400]
//! "tcp.fin_timeout" = { from = "30s", to = "60s", step = "10s" }
//! "link.loss" = { from = 0.0, to = 0.02, step = 0.01, values = [0.05] }
//! ```
//!
//! # Grid order (stable: it names the run directories)
//!
//! Parameters vary in the order they are written in the plan: the first is the
//! outermost loop (changes slowest), the last the innermost. Point `p` is the
//! cartesian product's `p`-th element in that order; within a point, seeds go in
//! the order of the seed list. Run `r = p × seeds + s` is written to
//! `runs/pPPP-sSS` (zero-based, zero-padded to the width of the largest index,
//! at least 3 and 2 digits).
//!
//! # Seeds
//!
//! A list is used as written. `{ count = n, master = m }` gives seed `s` (0-based)
//! the value `MasterSeed(m).sub_seed("sweep:seed:s") >> 1` — SipHash-2-4 of the
//! stream-derivation of `sim_core::rng`, shifted to 63 bits so that it stays a TOML
//! integer (`tcpsim run --seed` and `tcpsim show` accept it). A seed depends only
//! on the plan, never on which runs execute where or when. Every point uses the
//! same seeds (common random numbers: points differ by their parameters alone).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use sim_core::rng::MasterSeed;
use sim_core::time::SimDuration;

use crate::builtin;
use crate::error::CliError;
use crate::spec::{self, Scenario};

/// Runs a plan may hold at most (a guard against a mistyped range step).
pub const MAX_RUNS: usize = 1_000_000;

/// A validated sweep plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The plan file.
    pub path: PathBuf,
    /// Its text, copied verbatim to `<out>/plan.toml`.
    pub text: String,
    /// The base scenario as [`spec::load`] takes it (built-in name or path).
    scenario: String,
    /// Base `--set` overrides.
    sets: Vec<String>,
    /// Varied parameters, outermost first.
    pub params: Vec<Param>,
    /// The seeds of every point, in order.
    pub seeds: Vec<u64>,
}

/// One varied parameter: a dotted scenario key and its values, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub key: String,
    pub values: Vec<toml::Value>,
}

/// One run of the sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// Position in run order (`point × seeds + seed index`).
    pub index: usize,
    /// Index of the parameter point.
    pub point: usize,
    /// The run directory, relative to the sweep directory (`runs/p003-s02`).
    pub dir: String,
    pub seed: u64,
}

/// The text of a value as it appears in `sweep.csv` (and in error messages):
/// a string as is, anything else in TOML syntax.
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Plan {
    /// Reads and validates a plan file (syntax, keys, ranges, seeds). Scenario
    /// validity of each point is checked by [`Plan::scenarios`].
    pub fn load(path: &Path) -> Result<Plan, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::bad_input(format!("sweep plan {}: cannot read: {e}", path.display()))
        })?;
        Plan::parse(path, text)
    }

    /// Parses plan `text` (read from `path`, against which a scenario file is
    /// resolved).
    pub fn parse(path: &Path, text: String) -> Result<Plan, CliError> {
        let bad =
            |what: String| CliError::bad_input(format!("sweep plan {}: {what}", path.display()));
        let raw: RawPlan =
            toml::from_str(&text).map_err(|e| bad(e.to_string().trim_end().to_string()))?;
        let scenario = resolve_scenario(path, &raw.scenario).map_err(bad)?;
        for s in &raw.set {
            let key = s.split_once('=').map_or(s.as_str(), |(k, _)| k).trim();
            if key == "run.seed" {
                return Err(bad(format!(
                    "set: `{s}`: run.seed is given by `seeds`, not by `set`"
                )));
            }
        }
        let mut leaves = Vec::new();
        if let Some(vary) = raw.vary {
            flatten("", vary, &mut leaves).map_err(|e| bad(format!("[vary] {e}")))?;
        }
        leaves.sort_by_key(|(_, start, _)| *start);
        let mut params = Vec::with_capacity(leaves.len());
        for (key, _, spec) in leaves {
            let in_vary = |what: String| bad(format!("[vary] `{key}`: {what}"));
            if key == "run.seed" {
                return Err(in_vary("run.seed is given by `seeds`, not varied".into()));
            }
            if let Some(s) = raw
                .set
                .iter()
                .find(|s| s.split_once('=').is_some_and(|(k, _)| k.trim() == key))
            {
                return Err(in_vary(format!(
                    "also fixed by set `{s}`: give it in one place"
                )));
            }
            let values = spec.values().map_err(in_vary)?;
            if values.is_empty() {
                return Err(in_vary("no values: the grid would be empty".into()));
            }
            if let Some(d) = values
                .iter()
                .enumerate()
                .find_map(|(i, v)| values[..i].contains(v).then_some(v))
            {
                return Err(in_vary(format!("value {} appears twice", value_text(d))));
            }
            params.push(Param { key, values });
        }
        let seeds = raw
            .seeds
            .resolve()
            .map_err(|e| bad(format!("seeds: {e}")))?;
        let plan = Plan {
            path: path.to_path_buf(),
            text,
            scenario,
            sets: raw.set,
            params,
            seeds,
        };
        let runs = plan
            .params
            .iter()
            .try_fold(plan.seeds.len(), |n, p| n.checked_mul(p.values.len()))
            .filter(|&n| n <= MAX_RUNS);
        if runs.is_none() {
            return Err(bad(format!(
                "the grid times the seeds makes more than {MAX_RUNS} runs"
            )));
        }
        Ok(plan)
    }

    /// The number of parameter points (1 without `[vary]`).
    pub fn points(&self) -> usize {
        self.params.iter().map(|p| p.values.len()).product()
    }

    /// The values of point `p`, one per parameter.
    pub fn point_values(&self, mut p: usize) -> Vec<&toml::Value> {
        let mut out: Vec<&toml::Value> = self
            .params
            .iter()
            .rev()
            .map(|param| {
                let n = param.values.len();
                let v = &param.values[p % n];
                p /= n;
                v
            })
            .collect();
        out.reverse();
        out
    }

    /// Every run, in run order.
    pub fn runs(&self) -> Vec<RunSpec> {
        let pw = digits(self.points() - 1).max(3);
        let sw = digits(self.seeds.len() - 1).max(2);
        (0..self.points())
            .flat_map(|p| {
                self.seeds
                    .iter()
                    .enumerate()
                    .map(move |(s, &seed)| RunSpec {
                        index: p * self.seeds.len() + s,
                        point: p,
                        dir: format!("runs/p{p:0pw$}-s{s:0sw$}"),
                        seed,
                    })
            })
            .collect()
    }

    /// The scenario of every point, validated, in point order (the seed is set per
    /// run). The first invalid point is a [`CliError::BadInput`] naming it.
    pub fn scenarios(&self) -> Result<Vec<Scenario>, CliError> {
        (0..self.points())
            .map(|p| {
                let point: Vec<String> = self
                    .params
                    .iter()
                    .zip(self.point_values(p))
                    .map(|(param, v)| format!("{}={v}", param.key))
                    .collect();
                let mut sets = self.sets.clone();
                sets.extend(point.iter().cloned());
                spec::load(&self.scenario, &sets).map_err(|e| {
                    CliError::bad_input(format!(
                        "sweep plan {}: point {p} ({}): {e}",
                        self.path.display(),
                        if point.is_empty() {
                            "no varied keys".to_string()
                        } else {
                            point.join(", ")
                        }
                    ))
                })
            })
            .collect()
    }
}

/// The `scenario` of a plan as [`spec::load`] takes it: a built-in name as is, else
/// a file path relative to the plan's directory, which must exist.
fn resolve_scenario(plan: &Path, scenario: &str) -> Result<String, String> {
    if builtin::find(scenario).is_some() {
        return Ok(scenario.to_string());
    }
    let file = plan.parent().unwrap_or(Path::new("")).join(scenario);
    if file.is_file() {
        return Ok(file.to_string_lossy().into_owned());
    }
    if scenario.contains('/') || scenario.ends_with(".toml") {
        Err(format!("scenario file {}: no such file", file.display()))
    } else {
        let names: Vec<&str> = builtin::ALL.iter().map(|b| b.name).collect();
        Err(format!(
            "unknown scenario `{scenario}`: not a built-in scenario ({}) and no file {}",
            names.join(", "),
            file.display()
        ))
    }
}

/// Decimal digits of `n`.
fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// The plan file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    scenario: String,
    #[serde(default)]
    set: Vec<String>,
    vary: Option<Node>,
    seeds: Seeds,
}

/// `seeds`: a list, or a count derived from a master seed.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "expected a list of seeds like [1, 2, 3] (integers >= 0) or a table { count = 10, master = 42 }"
)]
enum Seeds {
    List(Vec<u64>),
    Derived(Derived),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Derived {
    count: usize,
    master: u64,
}

impl Seeds {
    fn resolve(self) -> Result<Vec<u64>, String> {
        let seeds = match self {
            Seeds::List(list) => list,
            Seeds::Derived(Derived { count, master }) => {
                if count > MAX_RUNS {
                    return Err(format!("count = {count}: at most {MAX_RUNS}"));
                }
                (0..count).map(|i| derived_seed(master, i)).collect()
            }
        };
        if seeds.is_empty() {
            return Err("no seeds: the sweep would be empty".into());
        }
        if let Some(s) = seeds
            .iter()
            .enumerate()
            .find_map(|(i, s)| seeds[..i].contains(s).then_some(s))
        {
            return Err(format!("seed {s} appears twice"));
        }
        if let Some(s) = seeds.iter().find(|&&s| s > i64::MAX as u64) {
            return Err(format!(
                "seed {s} is above {} (TOML integers are 64-bit signed)",
                i64::MAX
            ));
        }
        Ok(seeds)
    }
}

/// Seed `index` of `seeds = { count, master }`: see the module docs.
pub fn derived_seed(master: u64, index: usize) -> u64 {
    MasterSeed(master).sub_seed(&format!("sweep:seed:{index}")) >> 1
}

/// A `[vary]` entry, before interpretation: a table of further keys, a list of
/// values, or a range table (whose keys are those of [`RANGE_KEYS`]).
#[derive(Debug)]
enum Node {
    Table(Vec<(String, toml::Spanned<Node>)>),
    List(Vec<toml::Value>),
    /// A value inside a range table (`from`, `to`, `step`, `values`).
    Raw(toml::Value),
}

/// The keys of a range table.
const RANGE_KEYS: [&str; 4] = ["from", "to", "step", "values"];

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of values, a range table { from, to, step } / { values = [...] }, or a table of those")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut values = Vec::new();
                while let Some(v) = seq.next_element::<toml::Value>()? {
                    values.push(v);
                }
                Ok(Node::List(values))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = if RANGE_KEYS.contains(&key.as_str()) {
                        let v: toml::Spanned<toml::Value> = map.next_value()?;
                        let span = v.span();
                        toml::Spanned::new(span, Node::Raw(v.into_inner()))
                    } else {
                        map.next_value()?
                    };
                    entries.push((key, value));
                }
                Ok(Node::Table(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// Collects the parameters under `node` as (dotted key, position in the file, spec).
fn flatten(prefix: &str, node: Node, out: &mut Vec<(String, usize, Spec)>) -> Result<(), String> {
    let Node::Table(entries) = node else {
        return Err("expected a table of dotted keys".into());
    };
    for (key, value) in entries {
        let dotted = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        let start = value.span().start;
        match value.into_inner() {
            Node::List(values) => out.push((dotted, start, Spec::List(values))),
            Node::Table(inner)
                if inner.iter().any(|(k, v)| {
                    RANGE_KEYS.contains(&k.as_str()) && matches!(v.get_ref(), Node::Raw(_))
                }) =>
            {
                let mut range = Range::default();
                for (k, v) in inner {
                    let Node::Raw(v) = v.into_inner() else {
                        return Err(format!(
                            "`{dotted}`: a range table takes only the keys from, to, step and values; `{k}` is not one"
                        ));
                    };
                    match k.as_str() {
                        "from" => range.from = Some(v),
                        "to" => range.to = Some(v),
                        "step" => range.step = Some(v),
                        _ => range.values = Some(v),
                    }
                }
                out.push((dotted, start, Spec::Range(range)));
            }
            table @ Node::Table(_) => flatten(&dotted, table, out)?,
            Node::Raw(_) => unreachable!("raw values appear only in range tables"),
        }
    }
    Ok(())
}

/// How one parameter's values are given.
#[derive(Debug)]
enum Spec {
    List(Vec<toml::Value>),
    Range(Range),
}

/// `{ from, to, step }` (inclusive of `to` when a step lands on it) and/or
/// `{ values = [...] }` (appended after the range).
#[derive(Debug, Default)]
struct Range {
    from: Option<toml::Value>,
    to: Option<toml::Value>,
    step: Option<toml::Value>,
    values: Option<toml::Value>,
}

impl Spec {
    fn values(self) -> Result<Vec<toml::Value>, String> {
        match self {
            Spec::List(v) => Ok(v),
            Spec::Range(r) => r.expand(),
        }
    }
}

impl Range {
    fn expand(self) -> Result<Vec<toml::Value>, String> {
        let mut out = match (self.from, self.to, self.step) {
            (None, None, None) => Vec::new(),
            (Some(from), Some(to), Some(step)) => arithmetic(&from, &to, &step)?,
            _ => {
                return Err(
                    "a range needs all of from, to and step (or only values = [...])".into(),
                );
            }
        };
        match self.values {
            None => {}
            Some(toml::Value::Array(extra)) => out.extend(extra),
            Some(other) => {
                return Err(format!("values = {other}: expected a list like [1, 2, 3]"));
            }
        }
        Ok(out)
    }
}

/// The values `from, from + step, ...` up to `to` inclusive: integers if all three
/// are integers, durations if all three are duration strings (`"10s"`), else
/// decimals rounded to the most decimal places among the three (so that 0.1 steps
/// give 0.3, not 0.30000000000000004).
fn arithmetic(
    from: &toml::Value,
    to: &toml::Value,
    step: &toml::Value,
) -> Result<Vec<toml::Value>, String> {
    use toml::Value::{Float, Integer, String as Str};
    let shown = format!("from = {from}, to = {to}, step = {step}");
    let count = |n: Option<u64>| -> Result<usize, String> {
        n.and_then(|n| usize::try_from(n).ok())
            .and_then(|n| n.checked_add(1))
            .filter(|&n| n <= MAX_RUNS)
            .ok_or_else(|| format!("{shown}: more than {MAX_RUNS} values"))
    };
    match (from, to, step) {
        (Integer(a), Integer(b), Integer(s)) => {
            if *s <= 0 || b < a {
                return Err(format!("{shown}: expected step > 0 and to >= from"));
            }
            let n = count(b.abs_diff(*a).checked_div(s.unsigned_abs()))?;
            Ok((0..n as i64).map(|i| Integer(a + i * s)).collect())
        }
        (Str(a), Str(b), Str(s)) => {
            let parse = |x: &str| {
                x.parse::<SimDuration>()
                    .map_err(|e| format!("{shown}: {e}"))
            };
            let (a, b, s) = (parse(a)?, parse(b)?, parse(s)?);
            if s.is_zero() || b < a {
                return Err(format!("{shown}: expected step > 0 and to >= from"));
            }
            let n = count(Some((b.as_nanos() - a.as_nanos()) / s.as_nanos()))?;
            Ok((0..n as u64)
                .map(|i| Str(SimDuration::from_nanos(a.as_nanos() + i * s.as_nanos()).to_string()))
                .collect())
        }
        _ => {
            let num = |v: &toml::Value| match v {
                Integer(i) => Some(*i as f64),
                Float(f) if f.is_finite() => Some(*f),
                _ => None,
            };
            let (Some(a), Some(b), Some(s)) = (num(from), num(to), num(step)) else {
                return Err(format!(
                    "{shown}: expected three numbers or three durations (\"10s\")"
                ));
            };
            if s <= 0.0 || b < a {
                return Err(format!("{shown}: expected step > 0 and to >= from"));
            }
            let places = [a, b, s]
                .iter()
                .map(|x| x.to_string().split_once('.').map_or(0, |(_, f)| f.len()))
                .max()
                .unwrap_or(0);
            // A relative tolerance lets `to` count when rounding puts it a hair past.
            let steps = ((b - a) / s * (1.0 + 1e-9)).floor();
            let n = count((steps < MAX_RUNS as f64).then_some(steps as u64))?;
            Ok((0..n)
                .map(|i| {
                    let x = a + i as f64 * s;
                    Float(format!("{x:.places$}").parse().unwrap_or(x))
                })
                .collect())
        }
    }
}

/// `--shard I/N`: this process runs the runs whose index is `I` modulo `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` (0 <= I < N).
    pub fn parse(s: &str) -> Result<Shard, CliError> {
        let bad = |what: &str| {
            CliError::bad_input(format!(
                "--shard {s}: {what} (e.g. --shard 0/4 for the first of 4 shards)"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(|| bad("expected I/N"))?;
        let (Ok(index), Ok(count)) = (i.trim().parse::<usize>(), n.trim().parse::<usize>()) else {
            return Err(bad("expected two non-negative integers I/N"));
        };
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad(&format!(
                "index {index} out of range: shards are numbered 0 to {}",
                count - 1
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether run `index` (in run order) belongs to this shard.
    pub fn owns(&self, index: usize) -> bool {
        index % self.count == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Plan, CliError> {
        Plan::parse(Path::new("dir/plan.toml"), text.to_string())
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(p) => panic!("accepted: {p:?}"),
            Err(e) => {
                assert_eq!(e.exit_code(), 2, "{e}");
                e.to_string()
            }
        }
    }

    fn texts(p: &Param) -> Vec<String> {
        p.values.iter().map(value_text).collect()
    }

    #[test]
    fn parameters_keep_file_order_and_nested_tables_flatten() {
        let p = parse(
            r#"
            scenario = "handshake"
            seeds = [3, 1]
            [vary]
            "workload.rate" = [1, 2]
            tcp.fin_timeout = ["30s", "60s"]
            alpha = { values = [true] }
            [vary.link]
            delay = ["1ms", "2ms", "3ms"]
            "#,
        )
        .unwrap();
        let keys: Vec<&str> = p.params.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["workload.rate", "tcp.fin_timeout", "alpha", "link.delay"]
        );
        assert_eq!(p.points(), 12);
        assert_eq!(p.seeds, [3, 1]);
        // The last parameter changes fastest.
        let vals = |i| {
            p.point_values(i)
                .into_iter()
                .map(value_text)
                .collect::<Vec<_>>()
        };
        assert_eq!(vals(0), ["1", "30s", "true", "1ms"]);
        assert_eq!(vals(1), ["1", "30s", "true", "2ms"]);
        assert_eq!(vals(3), ["1", "60s", "true", "1ms"]);
        assert_eq!(vals(11), ["2", "60s", "true", "3ms"]);
        let runs = p.runs();
        assert_eq!(runs.len(), 24);
        assert_eq!(runs[0].dir, "runs/p000-s00");
        assert_eq!(runs[0].seed, 3);
        assert_eq!(runs[5].dir, "runs/p002-s01");
        assert_eq!((runs[5].point, runs[5].seed, runs[5].index), (2, 1, 5));
    }

    #[test]
    fn ranges_of_integers_decimals_and_durations() {
        let p = parse(
            r#"
            scenario = "handshake"
            seeds = [1]
            [vary]
            a = { from = 10, to = 40, step = 10 }
            b = { from = 0.0, to = 0.3, step = 0.1 }
            c = { from = "30s", to = "2m", step = "30s", values = ["5s"] }
            d = { from = 1, to = 2, step = 5 }
            e = { from = 0, to = 1, step = 0.25 }
            "#,
        )
        .unwrap();
        assert_eq!(texts(&p.params[0]), ["10", "20", "30", "40"]);
        assert_eq!(texts(&p.params[1]), ["0.0", "0.1", "0.2", "0.3"]);
        assert_eq!(texts(&p.params[2]), ["30s", "1m", "1m 30s", "2m", "5s"]);
        assert_eq!(texts(&p.params[3]), ["1"]);
        assert_eq!(texts(&p.params[4]), ["0.0", "0.25", "0.5", "0.75", "1.0"]);
    }

    #[test]
    fn derived_seeds_are_pinned_and_independent_of_count() {
        let p = parse("scenario = \"handshake\"\nseeds = { count = 3, master = 42 }\n").unwrap();
        let q = parse("scenario = \"handshake\"\nseeds = { count = 5, master = 42 }\n").unwrap();
        assert_eq!(p.seeds, q.seeds[..3]);
        assert_eq!(p.seeds[1], MasterSeed(42).sub_seed("sweep:seed:1") >> 1);
        assert!(p.seeds.iter().all(|&s| s <= i64::MAX as u64));
        assert_eq!(p.points(), 1);
        assert_eq!(p.runs()[2].dir, "runs/p000-s02");
    }

    #[test]
    fn run_directory_names_widen_with_the_grid() {
        let p = parse(
            "scenario = \"handshake\"\nseeds = { count = 120, master = 1 }\n[vary]\nx = { from = 1, to = 1500, step = 1 }\n",
        )
        .unwrap();
        let runs = p.runs();
        assert_eq!(runs.last().unwrap().dir, "runs/p1499-s119");
        assert_eq!(runs[0].dir, "runs/p0000-s000");
    }

    #[test]
    fn scenario_files_resolve_against_the_plan_directory() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("my.toml"), "").unwrap();
        let plan = tmp.path().join("plan.toml");
        let p = Plan::parse(&plan, "scenario = \"my.toml\"\nseeds = [1]\n".into()).unwrap();
        assert_eq!(Path::new(&p.scenario), tmp.path().join("my.toml"));
        let p = parse("scenario = \"client-close\"\nseeds = [1]\n").unwrap();
        assert_eq!(p.scenario, "client-close");
        assert!(err("scenario = \"my.toml\"\nseeds = [1]\n").contains("dir/my.toml: no such file"));
        assert!(err("scenario = \"mine\"\nseeds = [1]\n").contains("unknown scenario `mine`"));
    }

    #[test]
    fn plan_errors_name_what_is_wrong() {
        let base = "scenario = \"handshake\"\nseeds = [1]\n";
        assert!(err(&format!("{base}colour = 1\n")).contains("unknown field `colour`"));
        assert!(err("seeds = [1]\n").contains("missing field `scenario`"));
        assert!(err(&format!("{base}[vary]\nx = []\n")).contains("`x`: no values"));
        assert!(err(&format!("{base}[vary]\nx = 5\n")).contains("expected a list of values"));
        assert!(err(&format!("{base}[vary]\nx = [1, 2, 1]\n")).contains("value 1 appears twice"));
        assert!(
            err(&format!(
                "{base}[vary]\nx = {{ from = 5, to = 1, step = 1 }}\n"
            ))
            .contains("to >= from")
        );
        assert!(
            err(&format!(
                "{base}[vary]\nx = {{ from = 1, to = 5, step = 0 }}\n"
            ))
            .contains("step > 0")
        );
        assert!(
            err(&format!("{base}[vary]\nx = {{ from = 1, to = 5 }}\n")).contains("needs all of")
        );
        assert!(
            err(&format!(
                "{base}[vary]\nx = {{ from = 1, to = 5, step = 1, by = 2 }}\n"
            ))
            .contains("invalid type: integer `2`, expected a list of values")
        );
        assert!(
            err(&format!(
                "{base}[vary]\nx = {{ from = \"1s\", to = 5, step = 1 }}\n"
            ))
            .contains("three numbers")
        );
        assert!(
            err(&format!(
                "{base}[vary]\nx = {{ from = 0, to = 1e9, step = 1e-3 }}\n"
            ))
            .contains("more than")
        );
        assert!(
            err(&format!("{base}[vary]\n\"run.seed\" = [1, 2]\n")).contains("given by `seeds`")
        );
        assert!(
            err("scenario = \"handshake\"\nseeds = [1]\nset = [\"run.seed=4\"]\n")
                .contains("given by `seeds`")
        );
        assert!(
            err("scenario = \"handshake\"\nseeds = [1]\nset = [\"x=4\"]\n[vary]\nx = [1]\n")
                .contains("also fixed by set")
        );
        assert!(err("scenario = \"handshake\"\nseeds = []\n").contains("no seeds"));
        assert!(err("scenario = \"handshake\"\nseeds = [2, 2]\n").contains("seed 2 appears twice"));
        assert!(
            err("scenario = \"handshake\"\nseeds = { count = 0, master = 1 }\n")
                .contains("no seeds")
        );
        assert!(
            err("scenario = \"handshake\"\nseeds = { count = 2 }\n")
                .contains("expected a list of seeds")
        );
        assert!(err("scenario = \"handshake\"\nseeds = [-1]\n").contains("seeds"));
        assert!(err("scenario = \"handshake\"\nseeds = { count = 2000, master = 1 }\n[vary]\nx = { from = 1, to = 1000, step = 1 }\n").contains("more than 1000000 runs"));
        assert!(err("scenario = \"handshake\"\nseeds = [1\n").contains("plan.toml"));
    }

    #[test]
    fn each_point_is_validated_as_a_scenario() {
        let p = parse(
            "scenario = \"handshake\"\nseeds = [1]\n[vary]\n\"workload.request_bytes\" = [10, \"lots\"]\n",
        )
        .unwrap();
        let e = p.scenarios().unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(
            msg.contains("point 1 (workload.request_bytes=\"lots\")"),
            "{msg}"
        );
        let p =
            parse("scenario = \"handshake\"\nseeds = [1]\n[vary]\n\"tcp.colour\" = [1]\n").unwrap();
        assert!(p.scenarios().unwrap_err().to_string().contains("colour"));
        let p = parse("scenario = \"handshake\"\nseeds = [1]\n[vary]\n\"workload.request_bytes\" = [10, 20]\n").unwrap();
        let sc = p.scenarios().unwrap();
        assert_eq!(sc[1].workload.request_bytes, 20);
    }

    #[test]
    fn shard_specs() {
        let s = Shard::parse("1/3").unwrap();
        assert_eq!((s.index, s.count), (1, 3));
        assert!(s.owns(4) && !s.owns(3));
        for bad in ["3/3", "0/0", "1", "a/2", "-1/2", "1/2/3"] {
            let e = Shard::parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
        assert!(
            Shard::parse("3/3")
                .unwrap_err()
                .to_string()
                .contains("0 to 2")
        );
    }
}
