//! The command line: every subcommand, and every class of bad input (exit status 2,
//! a message naming the file, the key, the value and what is valid, nothing written).

use std::path::Path;

use assert_cmd::Command;

fn tcpsim() -> Command {
    Command::cargo_bin("tcpsim").unwrap()
}

/// Runs `tcpsim run ARGS --out <tmp>/out` and asserts: exit status 2, stderr contains
/// every one of `expect`, stdout is empty, and no output directory was created.
fn rejects(args: &[&str], expect: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let assert = tcpsim()
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .current_dir(tmp.path())
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    for e in expect {
        assert!(stderr.contains(e), "stderr lacks {e:?}:\n{stderr}");
    }
    assert!(assert.get_output().stdout.is_empty(), "stdout not empty");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "something was written for {args:?}"
    );
    assert!(!out.exists());
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn list_names_every_builtin_scenario() {
    let out = tcpsim()
        .arg("list")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for name in [
        "handshake",
        "client-close",
        "server-close",
        "linger-abort",
        "fin-wait-2",
        "close-wait-leak",
        "simultaneous-close",
        "syn-flood",
        "port-exhaustion",
        "worm-scan",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{text}"
        );
    }
    assert_eq!(text.lines().count(), 10);
}

#[test]
fn show_fills_defaults_and_round_trips() {
    let first = tcpsim()
        .args([
            "show",
            "client-close",
            "--set",
            "tcp.fin_timeout=30s",
            "--seed",
            "7",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(first.clone()).unwrap();
    for key in [
        "seed = 7",
        "fin_timeout = \"30s\"",
        "time_wait = \"1m\"",
        "syn_retries = 6",
        "local_port_range = [32768, 60999]",
        "full_socket = 2368",
        "delay = ",
        "closer = \"client\"",
        "client_vanish = 0.0",
        "[[group]]",
    ] {
        assert!(text.contains(key), "show lacks {key:?}:\n{text}");
    }
    // Fed back, the effective scenario is the same scenario.
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "client-close.toml", &text);
    let second = tcpsim()
        .args(["show", &file])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(second).unwrap(), text);
}

#[test]
fn set_parses_like_the_file() {
    let out = tcpsim()
        .args([
            "show",
            "client-close",
            "--set",
            "tcp.local_port_range=[40000,40999]",
            "--set",
            "workload.client_close=linger:5s",
            "--set",
            "link.loss=0.01",
            "--set",
            "group.clients.count=3",
            "--set",
            "group.1.tcp.fin_timeout=10s",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("local_port_range = [40000, 40999]"), "{text}");
    assert!(text.contains("client_close = \"linger:5s\""), "{text}");
    assert!(text.contains("loss = 0.01"), "{text}");
    assert!(text.contains("count = 3"), "{text}");
    assert!(text.contains("fin_timeout = \"10s\""), "{text}");
}

#[test]
fn help_documents_the_default_output_directory() {
    let out = tcpsim()
        .args(["run", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("out/<scenario>-seed<N>"), "{text}");
    for flag in ["--seed", "--set", "--out", "--trace", "--pcap", "--quiet"] {
        assert!(text.contains(flag), "{flag} missing:\n{text}");
    }
}

#[test]
fn unknown_key_is_rejected() {
    rejects(
        &["client-close", "--set", "workload.colser=client"],
        &[
            "built-in scenario `client-close`",
            "workload.colser",
            "unknown field",
            "closer",
        ],
    );
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "s.toml", "[tcp]\nfin_timeuot = \"30s\"\n");
    rejects(
        &[&f],
        &["s.toml", "tcp.fin_timeuot", "unknown field", "fin_timeout"],
    );
}

#[test]
fn wrong_type_is_rejected() {
    rejects(
        &["client-close", "--set", "workload.request_bytes=lots"],
        &["workload.request_bytes", "\"lots\"", "expected u64"],
    );
}

#[test]
fn probability_outside_unit_interval_is_rejected() {
    rejects(
        &["client-close", "--set", "workload.client_vanish=1.5"],
        &["workload.client_vanish", "1.5", "[0, 1]"],
    );
    rejects(
        &["client-close", "--set", "link.loss=-0.1"],
        &["link", "-0.1", "[0, 1]"],
    );
}

#[test]
fn negative_or_zero_rate_is_rejected() {
    rejects(
        &["client-close", "--set", "workload.rate=-5"],
        &["workload.rate", "-5", "rate > 0"],
    );
    rejects(
        &["client-close", "--set", "workload.rate=0"],
        &["workload.rate", "0", "rate > 0"],
    );
}

#[test]
fn inverted_port_range_is_rejected() {
    rejects(
        &["client-close", "--set", "tcp.local_port_range=[5000,4000]"],
        &["tcp.local_port_range", "[5000, 4000]", "low <= high"],
    );
}

#[test]
fn bad_duration_is_rejected() {
    rejects(
        &["client-close", "--set", "tcp.fin_timeout=soon"],
        &["tcp.fin_timeout", "\"soon\"", "60s"],
    );
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "d.toml", "[run]\nduration = \"10 parsecs\"\n");
    rejects(&[&f], &["d.toml", "run.duration", "10 parsecs"]);
}

#[test]
fn bad_close_mode_is_rejected() {
    rejects(
        &["client-close", "--set", "workload.server_close=slam"],
        &["workload.server_close", "slam", "linger:DURATION"],
    );
}

#[test]
fn missing_file_is_rejected() {
    rejects(
        &["no/such/scenario.toml"],
        &["no/such/scenario.toml", "no such file"],
    );
}

#[test]
fn unknown_scenario_is_rejected() {
    rejects(
        &["client-clsoe"],
        &["unknown scenario `client-clsoe`", "client-close"],
    );
}

#[test]
fn toml_syntax_error_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "broken.toml", "[run\nseed = 1\n");
    rejects(&[&f], &["broken.toml", "TOML syntax error", "line 1"]);
}

#[test]
fn malformed_set_is_rejected() {
    rejects(
        &["client-close", "--set", "workload.rate"],
        &["--set workload.rate", "KEY=VALUE"],
    );
    rejects(
        &["client-close", "--set", "group.nosuch.count=2"],
        &["--set group.nosuch.count=2", "nosuch"],
    );
}

#[test]
fn rate_and_concurrency_together_are_rejected() {
    rejects(
        &["client-close", "--set", "workload.concurrency=4"],
        &["workload.rate", "workload.concurrency", "use one"],
    );
}

#[test]
fn pcap_into_a_missing_directory_is_rejected() {
    rejects(
        &["handshake", "--pcap", "no/such/dir/h.pcap"],
        &["--pcap no/such/dir/h.pcap", "does not exist"],
    );
}

#[test]
fn unknown_flag_is_a_usage_error() {
    tcpsim()
        .args(["run", "client-close", "--frobnicate"])
        .assert()
        .code(2);
}

#[test]
fn report_of_a_missing_directory_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nothing-here");
    tcpsim()
        .args(["report", missing.to_str().unwrap()])
        .assert()
        .code(2);
}

#[test]
fn run_writes_the_contract_files_to_the_default_directory_and_report_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tcpsim()
        .args([
            "run",
            "handshake",
            "--seed",
            "3",
            "--trace",
            "--pcap",
            "h.pcap",
        ])
        .current_dir(tmp.path())
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let dir = tmp.path().join("out/handshake-seed3");
    assert!(
        stdout.contains("handshake (seed 3): 1 connections"),
        "{stdout}"
    );
    assert!(stdout.contains("completed 1"), "{stdout}");
    assert!(stdout.contains("out/handshake-seed3"), "{stdout}");
    assert!(
        a.get_output().stderr.is_empty(),
        "no progress bar when stderr is not a terminal"
    );
    for f in [
        "summary.csv",
        "states.csv",
        "timeseries.csv",
        "connections.csv",
        "transitions.csv",
        "run.json",
        "scenario.toml",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    assert!(tmp.path().join("h.pcap").is_file());
    // Only the final names: no staging directory or temporary file is left.
    let names: Vec<_> = std::fs::read_dir(tmp.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["handshake-seed3"]);
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    assert!(info["peak_rss_bytes"].as_u64().unwrap() > 0);
    assert_eq!(info["connections"], 1);

    let report = tcpsim()
        .args(["report", dir.to_str().unwrap()])
        .assert()
        .success();
    assert!(!report.get_output().stdout.is_empty());
    tcpsim()
        .args(["report", dir.to_str().unwrap(), "--format", "json"])
        .assert()
        .success();
}

#[test]
fn run_refuses_to_replace_a_directory_that_is_not_a_result() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "precious.txt", "keep");
    let a = tcpsim()
        .args(["run", "handshake", "--quiet", "--out"])
        .arg(tmp.path())
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("not a tcpsim result"));
    assert!(tmp.path().join("precious.txt").exists());
}
