//! The effective scenario (`scenario.toml` in a run directory), read as a generic
//! TOML value so that this crate does not depend on the simulator's scenario types.
//! Every accessor tolerates a missing or mistyped key by returning `None`: the
//! reference that needs it is then reported as "n/a".

use std::path::Path;

use toml::Value;

use crate::error::ReportError;

/// One `[[group]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupInfo {
    pub name: String,
    /// `client`, `server`, `scanner`, ...; empty when the file does not say.
    pub role: String,
    pub count: u64,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    root: Value,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Self, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
        Self::parse(&text).map_err(|e| ReportError::BadInput(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        Ok(Scenario {
            root: toml::from_str(text)?,
        })
    }

    /// A value by dotted path, e.g. `tcp.time_wait`.
    pub fn get(&self, dotted: &str) -> Option<&Value> {
        dotted.split('.').try_fold(&self.root, |v, key| v.get(key))
    }

    /// The groups in file order.
    pub fn groups(&self) -> Vec<GroupInfo> {
        let Some(groups) = self.root.get("group").and_then(Value::as_array) else {
            return Vec::new();
        };
        groups
            .iter()
            .filter_map(|g| {
                Some(GroupInfo {
                    name: g.get("name")?.as_str()?.to_string(),
                    role: g
                        .get("role")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    count: g
                        .get("count")
                        .and_then(Value::as_integer)
                        .map_or(1, |c| c.max(0) as u64),
                })
            })
            .collect()
    }

    /// `section.key` as it applies to `group`: the group's override table
    /// (`[[group]] tcp = { ... }` / `link = { ... }`) if it sets the key, else the
    /// global `[section]`.
    pub fn for_group(&self, group: &str, section: &str, key: &str) -> Option<&Value> {
        let overridden = self
            .root
            .get("group")
            .and_then(Value::as_array)
            .and_then(|gs| {
                gs.iter()
                    .find(|g| g.get("name").and_then(Value::as_str) == Some(group))
            })
            .and_then(|g| g.get(section))
            .and_then(|t| t.get(key));
        overridden.or_else(|| self.root.get(section).and_then(|t| t.get(key)))
    }

    /// A duration in seconds for `group` (humantime string such as `"60s"`, or a bare
    /// number of seconds).
    pub fn duration_s(&self, group: &str, section: &str, key: &str) -> Option<f64> {
        as_seconds(self.for_group(group, section, key)?)
    }

    /// A number (integer or float) for `group`.
    pub fn number(&self, group: &str, section: &str, key: &str) -> Option<f64> {
        as_number(self.for_group(group, section, key)?)
    }

    /// A global duration such as `run.duration`, in seconds.
    pub fn global_duration_s(&self, dotted: &str) -> Option<f64> {
        as_seconds(self.get(dotted)?)
    }
}

/// A TOML integer or float as `f64`.
pub fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// A humantime duration string (`"200ms"`, `"60s"`) or a number of seconds.
pub fn as_seconds(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => parse_duration_s(s),
        other => as_number(other),
    }
}

/// Parses `"200ms"`, `"60s"`, `"2h"` (humantime) into seconds.
pub fn parse_duration_s(s: &str) -> Option<f64> {
    humantime::parse_duration(s.trim())
        .ok()
        .map(|d| d.as_secs_f64())
}
