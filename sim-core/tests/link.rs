//! Link behaviour through the public API: arithmetic, queueing, outages, jitter, loss
//! rates against their formulas, configuration parsing and validation.

use sim_core::link::{FaultModel, GilbertElliott};
use sim_core::{
    Bandwidth, DropReason, Fault, Link, LinkConfig, LinkError, Loss, MasterSeed, Outage,
    SimDuration, SimTime, StreamRng, Verdict,
};

fn us(n: u64) -> SimDuration {
    SimDuration::from_micros(n)
}
fn at(d: SimDuration) -> SimTime {
    SimTime::ZERO + d
}
fn rng(name: &str) -> StreamRng {
    MasterSeed(2024).stream(name)
}
fn link(cfg: LinkConfig) -> Link {
    Link::new(&cfg).expect("valid config")
}

// ---- bandwidth and serialization -------------------------------------------------

#[test]
fn bandwidth_parses_and_prints() {
    let b = |s: &str| s.parse::<Bandwidth>().unwrap().bits_per_sec();
    assert_eq!(b("1Gbps"), 1_000_000_000);
    assert_eq!(b("100Mbps"), 100_000_000);
    assert_eq!(b("1.5 Mbps"), 1_500_000);
    assert_eq!(b("64kbps"), 64_000);
    assert_eq!(b("10gbps"), 10_000_000_000);
    assert_eq!(b("9600bps"), 9600);
    assert_eq!(b(".5Gbps"), 500_000_000);
    for s in ["1Gbps", "1500Mbps", "64kbps", "9601bps", "2Tbps"] {
        assert_eq!(s.parse::<Bandwidth>().unwrap().to_string(), s);
    }
    for bad in [
        "",
        "fast",
        "100",
        "Mbps",
        "1.2.3Mbps",
        "1.5bps",
        "-1Mbps",
        "100 MB/s",
    ] {
        assert!(
            matches!(bad.parse::<Bandwidth>(), Err(LinkError::Bandwidth { .. })),
            "{bad:?} should not parse"
        );
    }
}

#[test]
fn zero_bandwidth_is_a_typed_error() {
    let e = "0Mbps".parse::<Bandwidth>().unwrap_err();
    assert_eq!(
        e,
        LinkError::ZeroBandwidth {
            input: "0Mbps".into()
        }
    );
    assert!(e.to_string().contains("zero"), "{e}");
    assert!(Bandwidth::from_bps(0).is_err());
}

#[test]
fn serialization_delay_arithmetic() {
    let bw: Bandwidth = "100Mbps".parse().unwrap();
    // 1500 B = 12_000 bit at 10^8 bit/s = 120 µs exactly.
    assert_eq!(bw.serialization_delay(1500), us(120));
    // 1 B at 3 bit/s = 8/3 s, rounded up to the nanosecond.
    let slow = Bandwidth::from_bps(3).unwrap();
    assert_eq!(
        slow.serialization_delay(1),
        SimDuration::from_nanos(2_666_666_667)
    );
    // A burst of three back-to-back segments leaves 120 µs apart, then propagates.
    let mut l = link(LinkConfig {
        delay: SimDuration::from_millis(10),
        bandwidth: Some(bw),
        ..LinkConfig::default()
    });
    let mut r = rng("ser");
    let got: Vec<_> = (0..3)
        .map(|_| l.transmit(SimTime::ZERO, 1500, &mut r))
        .collect();
    let ms10 = SimDuration::from_millis(10);
    assert_eq!(
        got,
        [
            Verdict::Deliver(at(ms10 + us(120))),
            Verdict::Deliver(at(ms10 + us(240))),
            Verdict::Deliver(at(ms10 + us(360))),
        ]
    );
    assert_eq!(l.busy_until(), at(us(360)));
    // An idle transmitter starts at once: no leftover queueing delay.
    assert_eq!(
        l.transmit(at(us(1000)), 1500, &mut r),
        Verdict::Deliver(at(ms10 + us(1120)))
    );
}

#[test]
fn unlimited_bandwidth_has_no_queue_and_no_serialization() {
    let mut l = link(LinkConfig {
        queue: 0,
        ..LinkConfig::default()
    });
    let mut r = rng("inf");
    for _ in 0..100 {
        assert_eq!(
            l.transmit(SimTime::ZERO, 65_535, &mut r),
            Verdict::Deliver(at(SimDuration::from_millis(1)))
        );
    }
}

// ---- queue ------------------------------------------------------------------------

#[test]
fn full_queue_drops_the_tail() {
    let mut l = link(LinkConfig {
        delay: SimDuration::ZERO,
        bandwidth: Some("100Mbps".parse().unwrap()),
        queue: 2,
        ..LinkConfig::default()
    });
    let mut r = rng("queue");
    let burst: Vec<_> = (0..5)
        .map(|_| l.transmit(SimTime::ZERO, 1500, &mut r))
        .collect();
    // One on the wire, two waiting, the rest dropped.
    assert_eq!(
        burst,
        [
            Verdict::Deliver(at(us(120))),
            Verdict::Deliver(at(us(240))),
            Verdict::Deliver(at(us(360))),
            Verdict::Drop(DropReason::QueueFull),
            Verdict::Drop(DropReason::QueueFull),
        ]
    );
    assert_eq!(l.queued(SimTime::ZERO), 2);
    // At 120 µs the second segment is on the wire: one waits, so there is room.
    assert_eq!(l.queued(at(us(120))), 1);
    assert_eq!(
        l.transmit(at(us(120)), 1500, &mut r),
        Verdict::Deliver(at(us(480)))
    );
    assert_eq!(
        l.transmit(at(us(120)), 1500, &mut r),
        Verdict::Drop(DropReason::QueueFull)
    );
    let s = l.stats();
    assert_eq!((s.offered, s.delivered, s.queue_drops), (7, 4, 3));
}

// ---- outages ----------------------------------------------------------------------

#[test]
fn an_outage_drops_exactly_the_segments_inside_its_window() {
    let secs = SimDuration::from_secs;
    let mut l = link(LinkConfig {
        outages: vec![
            Outage {
                from: secs(10),
                until: secs(20),
            },
            // Overlapping windows merge: down over [25s, 28s).
            Outage {
                from: secs(25),
                until: secs(27),
            },
            Outage {
                from: secs(26),
                until: secs(28),
            },
        ],
        ..LinkConfig::default()
    });
    let mut r = rng("outage");
    let ns = SimDuration::from_nanos;
    let down = |t: SimTime| {
        (secs(10)..secs(20)).contains(&(t - SimTime::ZERO))
            || (secs(25)..secs(28)).contains(&(t - SimTime::ZERO))
    };
    // The edges, to the nanosecond.
    for t in [
        secs(10) - ns(1),
        secs(10),
        secs(20) - ns(1),
        secs(20),
        secs(28) - ns(1),
        secs(28),
    ] {
        let v = l.transmit(at(t), 100, &mut r);
        assert_eq!(v == Verdict::Drop(DropReason::Outage), down(at(t)), "{t}");
    }
    // One segment every millisecond for 30 s: 10_000 + 3_000 inside the windows.
    let mut l = link(LinkConfig {
        outages: vec![
            Outage {
                from: secs(10),
                until: secs(20),
            },
            Outage {
                from: secs(25),
                until: secs(28),
            },
        ],
        ..LinkConfig::default()
    });
    let mut dropped = 0;
    for i in 0..30_000 {
        let t = at(SimDuration::from_millis(i));
        match l.transmit(t, 100, &mut r) {
            Verdict::Drop(DropReason::Outage) => {
                assert!(down(t), "dropped outside the window at {t}");
                dropped += 1;
            }
            Verdict::Deliver(_) => assert!(!down(t), "delivered inside the window at {t}"),
            v => panic!("unexpected {v:?}"),
        }
    }
    assert_eq!(dropped, 13_000);
    assert_eq!(l.stats().outage_drops, 13_000);
}

// ---- jitter -----------------------------------------------------------------------

fn jittered_arrivals(reorder: bool) -> Vec<(SimTime, SimTime)> {
    let mut l = link(LinkConfig {
        delay: SimDuration::from_millis(10),
        jitter: SimDuration::from_millis(5),
        reorder,
        ..LinkConfig::default()
    });
    let mut r = rng("jitter");
    (0..10_000)
        .map(|i| {
            let sent = at(us(100 * i));
            match l.transmit(sent, 100, &mut r) {
                Verdict::Deliver(t) => (sent, t),
                v => panic!("unexpected {v:?}"),
            }
        })
        .collect()
}

#[test]
fn jitter_without_reorder_never_reorders() {
    let a = jittered_arrivals(false);
    assert!(
        a.windows(2).all(|w| w[0].1 <= w[1].1),
        "arrivals out of order"
    );
    assert!(
        a.iter()
            .all(|&(s, t)| t >= s + SimDuration::from_millis(10))
    );
}

#[test]
fn jitter_with_reorder_stays_in_range_and_does_reorder() {
    let a = jittered_arrivals(true);
    let lo = SimDuration::from_millis(10);
    let hi = SimDuration::from_millis(15);
    assert!(a.iter().all(|&(s, t)| t >= s + lo && t <= s + hi));
    // Sends 100 µs apart with 5 ms of jitter: overtaking is near certain.
    let inversions = a.windows(2).filter(|w| w[1].1 < w[0].1).count();
    assert!(inversions > 1000, "only {inversions} inversions");
}

// ---- loss models against their formulas ---------------------------------------------

/// Fraction of `n` segments the link drops, and the fraction duplicated.
fn rates(cfg: LinkConfig, n: u32, stream: &str) -> (f64, f64) {
    let mut l = link(cfg);
    let mut r = rng(stream);
    let (mut lost, mut dup) = (0u32, 0u32);
    for _ in 0..n {
        match l.transmit(SimTime::ZERO, 100, &mut r) {
            Verdict::Drop(DropReason::Loss) => lost += 1,
            Verdict::Duplicate(..) => dup += 1,
            Verdict::Deliver(_) => {}
            v => panic!("unexpected {v:?}"),
        }
    }
    (
        f64::from(lost) / f64::from(n),
        f64::from(dup) / f64::from(n),
    )
}

/// Five standard deviations of the mean of `n` draws with per-draw (asymptotic)
/// variance `var`: a correct model fails this with probability below 10^-6.
fn five_sigma(var: f64, n: u32) -> f64 {
    5.0 * (var / f64::from(n)).sqrt()
}

#[test]
fn bernoulli_loss_rate_matches_p() {
    let n = 200_000;
    for p in [0.01, 0.1, 0.5] {
        let cfg = LinkConfig {
            loss: Loss::Bernoulli { p },
            ..LinkConfig::default()
        };
        let (loss, _) = rates(cfg, n, "bernoulli");
        let bound = five_sigma(p * (1.0 - p), n);
        assert!((loss - p).abs() < bound, "p={p}: {loss} not within {bound}");
    }
}

#[test]
fn duplication_rate_matches_p() {
    let (n, p) = (200_000, 0.05);
    let cfg = LinkConfig {
        duplicate: p,
        ..LinkConfig::default()
    };
    let (_, dup) = rates(cfg, n, "dup");
    let bound = five_sigma(p * (1.0 - p), n);
    assert!((dup - p).abs() < bound, "{dup} not within {bound} of {p}");
}

/// Asymptotic variance per segment of the Gilbert–Elliott loss indicator. The loss
/// of segment n is a coin with mean f(S_n), where S is the two-state chain with
/// second eigenvalue λ = 1 - p - r; coins are independent given the states, so
/// Cov(X_0, X_j) = Var f(S) · λ^j for j ≥ 1 and
/// σ² = μ(1 - μ) + 2 Var f(S) · λ / (1 - λ).
fn gilbert_elliott_variance(p: f64, r: f64, h: f64, k: f64) -> f64 {
    let bad = p / (p + r);
    let (f_good, f_bad) = (1.0 - k, 1.0 - h);
    let mu = (1.0 - bad) * f_good + bad * f_bad;
    let var_f = bad * (1.0 - bad) * (f_bad - f_good).powi(2);
    let lambda = 1.0 - p - r;
    mu * (1.0 - mu) + 2.0 * var_f * lambda / (1.0 - lambda)
}

#[test]
fn gilbert_elliott_loss_rate_matches_the_stationary_formula() {
    let n = 1_000_000;
    // netem: gemodel 5% 30% 80% 1%  ->  p, r, h = 1 - 0.8, k = 1 - 0.01.
    for (p, r, h, k) in [
        (0.05, 0.3, 0.2, 0.99),
        (0.01, 0.1, 0.0, 1.0),
        (0.2, 0.2, 0.5, 0.9),
    ] {
        let model = Loss::GilbertElliott { p, r, h, k };
        let want = model.stationary_loss();
        let cfg = LinkConfig {
            loss: model,
            ..LinkConfig::default()
        };
        let (loss, _) = rates(cfg, n, "ge");
        let bound = five_sigma(gilbert_elliott_variance(p, r, h, k), n);
        assert!(
            (loss - want).abs() < bound,
            "{model:?}: {loss} not within {bound} of {want}"
        );
    }
    // The first case worked by hand: π_bad = 0.05/0.35, loss = 6/7·0.01 + 1/7·0.8.
    let hand = 6.0 / 7.0 * 0.01 + 1.0 / 7.0 * 0.8;
    let first = Loss::GilbertElliott {
        p: 0.05,
        r: 0.3,
        h: 0.2,
        k: 0.99,
    };
    assert!((first.stationary_loss() - hand).abs() < 1e-12);
}

#[test]
fn gilbert_elliott_losses_come_in_bursts() {
    // Simple Gilbert (h = 0, k = 1): every segment that finds the bad state is lost,
    // so P(loss | previous lost) = 1 - r, far above the loss rate p/(p+r).
    let (p, r) = (0.01, 0.25);
    let mut ge = GilbertElliott::new(p, r, 0.0, 1.0);
    let mut rn = rng("burst");
    let (mut prev, mut after_loss, mut loss_after_loss) = (false, 0u32, 0u32);
    for _ in 0..500_000 {
        let lost = ge.judge(SimTime::ZERO, &mut rn) == Fault::Drop(DropReason::Loss);
        if prev {
            after_loss += 1;
            loss_after_loss += u32::from(lost);
        }
        prev = lost;
    }
    let cond = f64::from(loss_after_loss) / f64::from(after_loss);
    // ~19_000 conditioning events: sd = sqrt(0.75·0.25/19_000) ≈ 0.003.
    assert!((cond - (1.0 - r)).abs() < 0.02, "P(loss|loss) = {cond}");
}

#[test]
fn gilbert_elliott_with_netem_defaults_is_bernoulli() {
    let ge: LinkConfig = toml::from_str("loss = { model = \"gilbert-elliott\", p = 0.1 }").unwrap();
    assert_eq!(
        ge.loss,
        Loss::GilbertElliott {
            p: 0.1,
            r: 0.9,
            h: 0.0,
            k: 1.0
        }
    );
    assert!((ge.loss.stationary_loss() - 0.1).abs() < 1e-12);
}

#[test]
fn links_draw_only_from_their_own_stream() {
    // Same config and stream name: identical verdicts, however other links are used.
    let cfg = LinkConfig {
        jitter: us(500),
        loss: Loss::Bernoulli { p: 0.2 },
        duplicate: 0.1,
        ..LinkConfig::default()
    };
    let run = |interleave: bool| {
        let (mut a, mut b) = (link(cfg.clone()), link(cfg.clone()));
        let (mut ra, mut rb) = (rng("link:a"), rng("link:b"));
        (0..1000)
            .map(|i| {
                if interleave {
                    b.transmit(at(us(i)), 100, &mut rb);
                }
                a.transmit(at(us(i)), 100, &mut ra)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(false), run(true));
}

/// Bernoulli loss, segment by segment, as the definition says: one draw per segment
/// that no outage dropped (none for `p = 0`), in order, lost when `chance(p)`, then a jitter draw for
/// one that passes (arrivals kept in order). Segments of 100 bytes enter every 10
/// µs: a bandwidth limit, if any, is fast enough never to queue them.
fn bernoulli_by_definition(cfg: &LinkConfig, p: f64, n: u64, stream: &str) -> Vec<Verdict> {
    let mut r = rng(stream);
    let mut last = SimTime::ZERO;
    (0..n)
        .map(|i| {
            let now = at(us(10 * i));
            let down = cfg
                .outages
                .iter()
                .any(|o| at(o.from) <= now && now < at(o.until));
            if down {
                Verdict::Drop(DropReason::Outage)
            } else if p > 0.0 && sim_core::rng::chance(&mut r, p) {
                Verdict::Drop(DropReason::Loss)
            } else {
                let serialization = cfg
                    .bandwidth
                    .map_or(SimDuration::ZERO, |b| b.serialization_delay(100));
                let jitter = match cfg.jitter.as_nanos() {
                    0 => 0,
                    j => sim_core::rng::below(&mut r, j + 1),
                };
                last = last.max(now + serialization + cfg.delay + SimDuration::from_nanos(jitter));
                Verdict::Deliver(last)
            }
        })
        .collect()
}

#[test]
fn bernoulli_verdicts_drawn_ahead_are_the_per_segment_draws() {
    // A link whose only draw is the loss draw takes its verdicts from the stream
    // dozens at a time, and hands the passes out on a short path: each segment
    // must still get the verdict of its own draw and its arrival time, and the
    // counters must add up, across losses in a row, long runs of passes, no loss
    // model at all (p = 0), a bandwidth limit (drawn ahead, on the longer path),
    // jitter (a second draw for each segment that passes: one by one), and an
    // outage in the middle (where the link draws one by one, and no dropped
    // segment draws).
    let outage = Outage {
        from: us(20_000),
        until: us(30_000),
    };
    let gbps: Bandwidth = "10Gbps".parse().unwrap();
    for p in [0.0, 1e-4, 0.01, 0.3, 0.99, 1.0] {
        for (outages, bandwidth, jitter) in [
            (vec![], None, us(0)),
            (vec![], Some(gbps), us(0)),
            (vec![], None, us(30)),
            (vec![outage], None, us(0)),
        ] {
            let cfg = LinkConfig {
                delay: us(7),
                jitter,
                loss: Loss::Bernoulli { p },
                outages,
                bandwidth,
                ..LinkConfig::default()
            };
            let n = 20_000;
            let mut l = link(cfg.clone());
            let mut r = rng("ahead");
            let got: Vec<_> = (0..n)
                .map(|i| l.transmit(at(us(10 * i)), 100, &mut r))
                .collect();
            assert_eq!(got, bernoulli_by_definition(&cfg, p, n, "ahead"), "p={p}");
            let count = |want: fn(&Verdict) -> bool| got.iter().filter(|v| want(v)).count() as u64;
            let stats = l.stats();
            assert_eq!(stats.lost, count(|v| *v == Verdict::Drop(DropReason::Loss)));
            assert_eq!(stats.delivered, count(|v| matches!(v, Verdict::Deliver(_))));
            assert_eq!(stats.offered, n);
        }
    }
}

// ---- configuration ------------------------------------------------------------------

#[test]
fn toml_form_round_trips_with_every_key() {
    let text = r#"
        delay = "20ms"
        jitter = "2ms"
        reorder = true
        bandwidth = "100Mbps"
        queue = 64
        loss = { model = "gilbert-elliott", p = 0.01, r = 0.25, h = 0.3, k = 0.999 }
        duplicate = 0.001
        outages = [["10s", "20s"], ["1m", "1m 30s"]]
    "#;
    let cfg: LinkConfig = toml::from_str(text).unwrap();
    assert_eq!(cfg.delay, SimDuration::from_millis(20));
    assert_eq!(cfg.bandwidth, Some("100Mbps".parse().unwrap()));
    assert_eq!(
        cfg.outages[1],
        Outage {
            from: SimDuration::from_secs(60),
            until: SimDuration::from_secs(90)
        }
    );
    cfg.validate().unwrap();
    let back: LinkConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);

    // Defaults, and the bare-number loss form.
    let d: LinkConfig = toml::from_str("loss = 0.02").unwrap();
    assert_eq!(d.loss, Loss::Bernoulli { p: 0.02 });
    assert_eq!(d.delay, SimDuration::from_millis(1));
    assert_eq!((d.bandwidth, d.queue, d.reorder), (None, 1000, false));
    let shown = toml::to_string(&LinkConfig::default()).unwrap();
    assert!(shown.contains("bandwidth = \"unlimited\""), "{shown}");
    assert!(shown.contains("loss = 0.0"), "{shown}");
    let back: LinkConfig = toml::from_str(&shown).unwrap();
    assert_eq!(back, LinkConfig::default());
    let b: LinkConfig = toml::from_str("loss = { model = \"bernoulli\", p = 0.5 }").unwrap();
    assert_eq!(b.loss, Loss::Bernoulli { p: 0.5 });
    let i: LinkConfig = toml::from_str("loss = 0").unwrap();
    assert_eq!(i.loss, Loss::Bernoulli { p: 0.0 });
}

#[test]
fn toml_mistakes_name_the_key() {
    let err = |text: &str| toml::from_str::<LinkConfig>(text).unwrap_err().to_string();
    let e = err("delay = \"-5ms\"");
    assert!(e.contains("delay") && e.contains("-5ms"), "{e}");
    let e = err("bandwith = \"1Gbps\"");
    assert!(e.contains("bandwith"), "{e}");
    let e = err("bandwidth = \"0Gbps\"");
    assert!(e.contains("bandwidth") && e.contains("zero"), "{e}");
    let e = err("loss = { model = \"gilbert-elliott\", p = 0.1, q = 0.2 }");
    assert!(e.contains('q'), "{e}");
    let e = err("loss = { model = \"markov\", p = 0.1 }");
    assert!(e.contains("markov"), "{e}");
    let e = err("loss = \"lots\"");
    assert!(e.contains("loss probability"), "{e}");
    let e = err("outages = [[\"10s\"]]");
    assert!(e.contains("outages"), "{e}");
}

#[test]
fn bad_values_are_typed_errors_naming_the_value() {
    let with = |f: &dyn Fn(&mut LinkConfig)| {
        let mut c = LinkConfig::default();
        f(&mut c);
        Link::new(&c).unwrap_err()
    };
    assert_eq!(
        with(&|c| c.loss = Loss::Bernoulli { p: 1.5 }),
        LinkError::Probability {
            field: "loss.p",
            value: 1.5
        }
    );
    assert_eq!(
        with(&|c| c.loss = Loss::GilbertElliott {
            p: 0.1,
            r: 0.5,
            h: -0.1,
            k: 1.0
        }),
        LinkError::Probability {
            field: "loss.h",
            value: -0.1
        }
    );
    assert!(matches!(
        with(&|c| c.duplicate = f64::NAN),
        LinkError::Probability {
            field: "duplicate",
            ..
        }
    ));
    let e = with(&|c| {
        c.outages = vec![
            Outage {
                from: SimDuration::from_secs(1),
                until: SimDuration::from_secs(2),
            },
            Outage {
                from: SimDuration::from_secs(20),
                until: SimDuration::from_secs(10),
            },
        ]
    });
    assert_eq!(
        e,
        LinkError::InvertedOutage {
            index: 1,
            from: SimDuration::from_secs(20),
            until: SimDuration::from_secs(10)
        }
    );
    assert!(e.to_string().starts_with("outages[1] = [20s, 10s]"), "{e}");
    let e = with(&|c| c.loss = Loss::Bernoulli { p: 2.0 }).to_string();
    assert_eq!(
        e,
        "loss.p = 2 is not a probability: expected a number in [0, 1]"
    );
}

#[derive(Debug)]
struct EveryOther(bool);

impl FaultModel for EveryOther {
    fn judge(&mut self, _now: SimTime, _rng: &mut StreamRng) -> Fault {
        self.0 = !self.0;
        if self.0 {
            Fault::Delay(SimDuration::from_millis(7))
        } else {
            Fault::Drop(DropReason::Loss)
        }
    }
}

#[test]
fn custom_fault_models_plug_in() {
    let mut l = link(LinkConfig::default()).with_fault(Box::new(EveryOther(false)));
    let mut r = rng("custom");
    assert_eq!(
        l.transmit(SimTime::ZERO, 1, &mut r),
        Verdict::Deliver(at(SimDuration::from_millis(8)))
    );
    assert_eq!(
        l.transmit(SimTime::ZERO, 1, &mut r),
        Verdict::Drop(DropReason::Loss)
    );
}

/// `delays_exactly` holds for links that only delay, lose and go down, and then
/// every segment not dropped arrives exactly one delay after it entered (what lets
/// tcpsim's harness cross both links of a segment when it is sent); jitter, a
/// bandwidth limit, duplication or a custom model each break it.
#[test]
fn links_that_only_delay_lose_and_go_down_delay_exactly() {
    let exact = LinkConfig {
        delay: us(700),
        loss: Loss::Bernoulli { p: 0.3 },
        outages: vec![Outage {
            from: us(2_000),
            until: us(5_000),
        }],
        ..LinkConfig::default()
    };
    let mut l = link(exact.clone());
    assert!(l.delays_exactly());
    let mut r = rng("exact");
    let (mut delivered, mut dropped) = (0, 0);
    for i in 0..2_000 {
        let now = at(us(i * 7 / 3));
        match l.transmit(now, 100, &mut r) {
            Verdict::Deliver(t) => {
                assert_eq!(t, now + us(700));
                delivered += 1;
            }
            Verdict::Drop(_) => dropped += 1,
            Verdict::Duplicate(..) => panic!("no duplication configured"),
        }
    }
    assert!(
        delivered > 500 && dropped > 500,
        "{delivered} delivered, {dropped} dropped"
    );
    for inexact in [
        LinkConfig {
            jitter: us(1),
            ..exact.clone()
        },
        LinkConfig {
            bandwidth: Some("1Gbps".parse().unwrap()),
            ..exact.clone()
        },
        LinkConfig {
            duplicate: 0.01,
            ..exact.clone()
        },
    ] {
        assert!(!link(inexact).delays_exactly());
    }
    assert!(
        !link(exact)
            .with_fault(Box::new(EveryOther(false)))
            .delays_exactly()
    );
}
