//! `tcpsim sweep` end to end, through the built binary: determinism across `--jobs`,
//! shards in separate processes merged, resuming after an interruption (simulated
//! and real), and plan errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

/// A small but seed-dependent sweep: 2 × 2 points × 3 seeds = 12 runs of ~2 s of
/// virtual time.
const PLAN: &str = r#"
scenario = "client-close"
set = ["run.duration=2s"]
seeds = { count = 3, master = 7 }

[vary]
workload.rate = [20, 50]
"link.loss" = [0.0, 0.05]
"#;

fn tcpsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .output()
        .expect("tcpsim runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// Runs `tcpsim sweep` and expects success; returns stdout.
fn sweep(args: &[&str]) -> String {
    let mut all = vec!["sweep"];
    all.extend_from_slice(args);
    let out = tcpsim(&all);
    assert!(
        out.status.success(),
        "tcpsim {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn write_plan(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("plan.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// The run directories (`p000-s00`, ...) present under `<dir>/runs`, sorted.
fn run_dirs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn sweep_csv_is_identical_for_jobs_1_and_2_and_names_every_run() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = write_plan(tmp.path(), PLAN);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let out = sweep(&[s(&plan), "--jobs", "1", "--out", s(&a), "--quiet"]);
    assert!(out.contains("12 runs (4 points x 3 seeds)"), "{out}");
    assert!(out.contains("ran 12, 0 already complete"), "{out}");
    sweep(&[s(&plan), "--jobs", "2", "--out", s(&b), "--quiet"]);

    let csv = read(a.join("sweep.csv"));
    assert_eq!(
        csv,
        read(b.join("sweep.csv")),
        "sweep.csv differs by --jobs"
    );
    // Every deterministic file of every run agrees too.
    for run in run_dirs(&a) {
        for f in [
            "summary.csv",
            "states.csv",
            "connections.csv",
            "timeseries.csv",
        ] {
            let (x, y) = (
                a.join("runs").join(&run).join(f),
                b.join("runs").join(&run).join(f),
            );
            assert_eq!(read(&x), read(&y), "{} differs by --jobs", x.display());
        }
    }
    assert_eq!(read(a.join("plan.toml")), PLAN.as_bytes());

    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("run,workload.rate,link.loss,scenario,seed,sim_time_s,"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 13);
    assert!(
        lines[1].starts_with("runs/p000-s00,20,0.0,client-close,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[12].starts_with("runs/p003-s02,50,0.05,client-close,"),
        "{}",
        lines[12]
    );
    // Seeds differ within a point, and are shared across points.
    let seed = |l: &str| l.split(',').nth(4).unwrap().to_string();
    assert_ne!(seed(lines[1]), seed(lines[2]));
    assert_eq!(seed(lines[1]), seed(lines[4]));
    // The seed is the run's: `tcpsim run --seed` reproduces the row's summary.
    let single = tmp.path().join("single");
    let s0 = seed(lines[6]); // p001-s02: rate 20, loss 0.05
    let out = tcpsim(&[
        "run",
        "client-close",
        "--seed",
        &s0,
        "--set",
        "run.duration=2s",
        "--set",
        "workload.rate=20",
        "--set",
        "link.loss=0.05",
        "--out",
        s(&single),
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        read(single.join("summary.csv")),
        read(a.join("runs/p001-s02/summary.csv"))
    );
}

#[test]
fn three_shards_in_separate_processes_merge_to_the_unsharded_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = write_plan(tmp.path(), PLAN);
    let (whole, sharded) = (tmp.path().join("whole"), tmp.path().join("sharded"));
    sweep(&[s(&plan), "--out", s(&whole), "--quiet"]);

    // Shards 0 and 1 at the same time, into one directory, as a job array does.
    let spawn = |i: usize| {
        Command::new(env!("CARGO_BIN_EXE_tcpsim"))
            .args([
                "sweep",
                s(&plan),
                "--shard",
                &format!("{i}/3"),
                "--out",
                s(&sharded),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (c0, c1) = (spawn(0), spawn(1));
    for c in [c0, c1] {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            stdout.contains("4 in this shard: ran 4, 0 already complete"),
            "{stdout}"
        );
    }
    assert!(
        !sharded.join("sweep.csv").exists(),
        "a shard writes no sweep.csv"
    );

    // Merging before shard 2 ran fails, names the missing runs, writes nothing.
    let out = tcpsim(&["sweep", s(&plan), "--merge", s(&sharded)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("4 of 12 runs are missing"), "{err}");
    assert!(
        err.contains("runs/p000-s02, runs/p001-s02, runs/p002-s02, runs/p003-s02"),
        "{err}"
    );
    assert!(!sharded.join("sweep.csv").exists());

    let out = sweep(&[s(&plan), "--shard", "2/3", "--out", s(&sharded), "-q"]);
    assert!(out.contains("--merge"), "{out}");
    let out = sweep(&[s(&plan), "--merge", s(&sharded)]);
    assert!(out.contains("merged 12 runs"), "{out}");
    assert_eq!(
        read(sharded.join("sweep.csv")),
        read(whole.join("sweep.csv"))
    );
}

#[test]
fn an_interrupted_sweep_reruns_only_the_missing_runs_and_gives_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = write_plan(tmp.path(), PLAN);
    let (reference, dir) = (tmp.path().join("reference"), tmp.path().join("dir"));
    sweep(&[s(&plan), "--out", s(&reference), "-q"]);
    sweep(&[s(&plan), "--out", s(&dir), "-q"]);

    // What a kill leaves: some runs never finished (no final directory), one was
    // being written (a hidden staging directory with a partial file), and no
    // sweep.csv was written yet.
    let runs = dir.join("runs");
    let before: Vec<(String, SystemTime)> = run_dirs(&dir)
        .into_iter()
        .map(|r| {
            let t = mtime(&runs.join(&r).join("summary.csv"));
            (r, t)
        })
        .collect();
    for gone in ["p001-s01", "p003-s00"] {
        std::fs::remove_dir_all(runs.join(gone)).unwrap();
    }
    let staging = runs.join(".p001-s01.tmp-999999");
    std::fs::create_dir(&staging).unwrap();
    std::fs::write(staging.join("connections.csv"), b"id,cli").unwrap();
    std::fs::remove_file(dir.join("sweep.csv")).unwrap();
    // Make any rewrite of a kept run visible in its mtime.
    std::thread::sleep(Duration::from_millis(20));

    let out = sweep(&[s(&plan), "--out", s(&dir), "--jobs", "2", "-q"]);
    assert!(out.contains("ran 2, 10 already complete"), "{out}");
    assert_eq!(
        read(dir.join("sweep.csv")),
        read(reference.join("sweep.csv"))
    );
    assert!(
        !staging.exists(),
        "the killed attempt's staging directory is removed"
    );
    for (run, t) in &before {
        let now = mtime(&runs.join(run).join("summary.csv"));
        if run == "p001-s01" || run == "p003-s00" {
            assert_ne!(now, *t, "{run} was re-run");
        } else {
            assert_eq!(now, *t, "{run} was complete and must not be touched");
        }
    }
    // A complete sweep re-runs nothing.
    let out = sweep(&[s(&plan), "--out", s(&dir), "-q"]);
    assert!(out.contains("ran 0, 12 already complete"), "{out}");
    assert_eq!(
        read(dir.join("sweep.csv")),
        read(reference.join("sweep.csv"))
    );
}

#[test]
fn a_sweep_killed_mid_run_resumes_to_the_same_bytes() {
    // Runs of ~50-100 ms each (debug build), so the kill lands mid-sweep.
    let plan_text = r#"
scenario = "client-close"
set = ["run.duration=5s", "workload.rate=200"]
seeds = { count = 10, master = 3 }
[vary]
"link.loss" = [0.0, 0.01]
"#;
    let tmp = tempfile::tempdir().unwrap();
    let plan = write_plan(tmp.path(), plan_text);
    let (reference, dir) = (tmp.path().join("reference"), tmp.path().join("dir"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(["sweep", s(&plan), "--jobs", "1", "--out", s(&dir), "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let complete = |d: &Path| run_dirs(d).iter().filter(|r| !r.starts_with('.')).count();
    while !dir.join("runs").exists() || complete(&dir) < 3 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let kept = complete(&dir);
    assert!(
        (3..20).contains(&kept),
        "the kill should land mid-sweep: {kept} of 20 runs complete"
    );
    // Every directory under a final name is a complete run.
    for r in run_dirs(&dir).iter().filter(|r| !r.starts_with('.')) {
        assert!(
            dir.join("runs").join(r).join("summary.csv").is_file(),
            "{r}"
        );
    }
    let out = sweep(&[s(&plan), "--out", s(&dir), "-q"]);
    assert!(
        out.contains(&format!("ran {}, {kept} already complete", 20 - kept)),
        "{out}"
    );
    sweep(&[s(&plan), "--out", s(&reference), "-q"]);
    assert_eq!(
        read(dir.join("sweep.csv")),
        read(reference.join("sweep.csv"))
    );
    assert!(
        run_dirs(&dir).iter().all(|r| !r.starts_with('.')),
        "no staging directory is left: {:?}",
        run_dirs(&dir)
    );
}

#[test]
fn plan_errors_exit_2_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let base = "scenario = \"handshake\"\nseeds = [1, 2]\n";
    let cases: &[(&str, &[&str], &str)] = &[
        (
            &format!("{base}colour = \"red\"\n"),
            &[],
            "unknown field `colour`",
        ),
        (
            &format!("{base}[vary]\n\"workload.rate\" = []\n"),
            &[],
            "no values",
        ),
        (
            &format!("{base}[vary]\n\"workload.rate\" = {{ from = 10, to = 1, step = 1 }}\n"),
            &[],
            "to >= from",
        ),
        (
            &format!("{base}[vary]\n\"tcp.no_such_key\" = [1, 2]\n"),
            &[],
            "no_such_key",
        ),
        (
            // Only the second point is invalid: nothing may run before it is found.
            &format!("{base}[vary]\n\"workload.request_bytes\" = [10, -5]\n"),
            &[],
            "point 1 (workload.request_bytes=-5)",
        ),
        (
            "scenario = \"no-such-scenario\"\nseeds = [1]\n",
            &[],
            "unknown scenario",
        ),
        (
            "scenario = \"missing.toml\"\nseeds = [1]\n",
            &[],
            "no such file",
        ),
        (base, &["--shard", "3/3"], "out of range"),
        (base, &["--shard", "1-3"], "expected I/N"),
        (base, &["--jobs", "0"], "--jobs 0"),
    ];
    for (text, extra, message) in cases {
        let plan = write_plan(tmp.path(), text);
        let mut args = vec!["sweep", s(&plan), "--out", s(&out_dir)];
        args.extend_from_slice(extra);
        let out = tcpsim(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text} {extra:?}: {err}");
        assert!(
            err.contains(message),
            "{text} {extra:?}: expected {message:?} in {err}"
        );
        assert!(
            !out_dir.exists(),
            "{text} {extra:?}: wrote {}",
            out_dir.display()
        );
    }
    let out = tcpsim(&[
        "sweep",
        s(&tmp.path().join("nope.toml")),
        "--out",
        s(&out_dir),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out_dir.exists());
}

#[test]
fn a_scenario_file_is_found_next_to_the_plan_and_a_foreign_sweep_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let sub = tmp.path().join("plans");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(
        sub.join("tiny.toml"),
        "[run]\nduration = \"1s\"\n[workload]\nrate = 5.0\n",
    )
    .unwrap();
    let plan = write_plan(&sub, "scenario = \"tiny.toml\"\nseeds = [1]\n");
    let dir = tmp.path().join("out");
    let out = sweep(&[s(&plan), "--out", s(&dir), "-q"]);
    assert!(out.contains("1 runs (1 points x 1 seeds)"), "{out}");
    let csv = String::from_utf8(read(dir.join("sweep.csv"))).unwrap();
    assert!(csv.starts_with("run,scenario,seed,"), "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("runs/p000-s00,tiny,1,"),
        "{csv}"
    );

    // The same directory with a different plan: refused, exit 2, nothing changed.
    let other = write_plan(tmp.path(), "scenario = \"handshake\"\nseeds = [2]\n");
    let out = tcpsim(&["sweep", s(&other), "--out", s(&dir)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another sweep"));
    assert_eq!(run_dirs(&dir), ["p000-s00"]);
}

#[test]
fn the_slurm_example_plan_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/slurm/plan.toml");
    let plan = scenarios::sweep::Plan::load(&path).unwrap();
    assert_eq!(plan.runs().len(), 24);
    let scenarios = plan.scenarios().unwrap();
    assert_eq!(scenarios.len(), 6);
    assert_eq!(plan.point_values(5).len(), 2);
}
