//! Scheduler benchmarks under the classic hold model: with `n` items pending, one
//! iteration pops the earliest and pushes one at a random later time, so the queue
//! size stays `n`. One iteration = one event processed (criterion reports
//! elements/s = events/s).
//!
//! * `hold/quad_heap` — [`EventQueue`] (4-ary heap, lazy cancellation), the
//!   hot-path queue of [`Sim`].
//! * `hold/std_binary_heap` — the same events in `std::collections::BinaryHeap`
//!   (what lazy cancellation would sit on without our own heap).
//! * `hold/priority_queue` — the `priority-queue` crate's indexed heap holding the
//!   same events (item = sequence number, priority = reversed key).
//! * `hold/sim` — the whole [`Sim`] (`schedule` + `step`), as the harness sees it.
//! * `hold/sim_lane` — the whole [`Sim`] with every event in one FIFO lane
//!   (`schedule_in_lane` + `step`), as segment hops over fixed-delay links go.
//! * `deadline_hold/{lazy,indexed,in_place}` — `n` per-host deadlines: pop the
//!   earliest and re-arm that host ([`LazyDeadlines`], [`IndexedDeadlines`],
//!   [`InPlaceDeadlines`]).
//! * `deadline_rearm/{lazy,indexed,in_place}` — the same plus re-arming one other random
//!   host per event (a segment arrival re-arms the receiving host's timer), the
//!   case where lazy cancellation leaves stale entries behind.
//!
//! Run: `cargo bench -p sim-core --bench scheduler -- --noplot`
//!
//! On a shared machine wall time counts the time other processes hold the CPU.
//! With `BENCH_CLOCK=cpu` the benchmark measures this thread's own CPU time instead
//! (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`, Linux x86-64/aarch64), i.e. events per
//! second *on one core*.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasherDefault;
use std::hint::black_box;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkId, Criterion, Throughput};
use priority_queue::PriorityQueue;
use sim_core::deadline::IdHasher;
use sim_core::rng::below;
use sim_core::{
    DeadlineSet, EventQueue, Fired, InPlaceDeadlines, IndexedDeadlines, Key, LazyDeadlines,
    MasterSeed, Sim, SimDuration, SimTime,
};

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
/// Random increments, precomputed so the benchmark measures the queue, not the RNG.
const TABLE: usize = 1 << 16;
/// Increments are uniform in [0, 1 ms).
const SPAN: u64 = 1_000_000;

fn increments(name: &str) -> Vec<u64> {
    let mut rng = MasterSeed(1).stream(name);
    (0..TABLE).map(|_| below(&mut rng, SPAN)).collect()
}

/// A cycling cursor over the increment table.
struct Incs {
    table: Vec<u64>,
    i: usize,
}

impl Incs {
    fn new(name: &str) -> Self {
        Incs {
            table: increments(name),
            i: 0,
        }
    }
    fn next(&mut self) -> u64 {
        self.i = (self.i + 1) & (TABLE - 1);
        self.table[self.i]
    }
}

fn key(t: u64, seq: u64) -> Key {
    Key {
        time: SimTime::from_nanos(t),
        seq,
    }
}

fn hold<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = c.benchmark_group("hold");
    g.throughput(Throughput::Elements(1));
    for n in SIZES {
        g.bench_function(BenchmarkId::new("std_binary_heap", n), |b| {
            let mut inc = Incs::new("hold");
            let mut q = BinaryHeap::with_capacity(n);
            let mut seq = 0u64;
            for _ in 0..n {
                q.push(Reverse((key(inc.next(), seq), seq)));
                seq += 1;
            }
            b.iter(|| {
                let Reverse((k, e)) = q.pop().expect("n pending");
                q.push(Reverse((
                    key(k.time.as_nanos() + inc.next(), seq),
                    black_box(e),
                )));
                seq += 1;
            });
        });
        g.bench_function(BenchmarkId::new("quad_heap", n), |b| {
            let mut inc = Incs::new("hold");
            let mut q = EventQueue::with_capacity(n);
            let mut seq = 0u64;
            for _ in 0..n {
                q.push(key(inc.next(), seq), seq);
                seq += 1;
            }
            b.iter(|| {
                let (k, e) = q.pop().expect("n pending");
                q.push(key(k.time.as_nanos() + inc.next(), seq), black_box(e));
                seq += 1;
            });
        });
        g.bench_function(BenchmarkId::new("priority_queue", n), |b| {
            let mut inc = Incs::new("hold");
            let mut q: PriorityQueue<u64, Reverse<Key>, BuildHasherDefault<IdHasher>> =
                PriorityQueue::with_capacity_and_default_hasher(n);
            let mut seq = 0u64;
            for _ in 0..n {
                q.push(seq, Reverse(key(inc.next(), seq)));
                seq += 1;
            }
            b.iter(|| {
                let (e, Reverse(k)) = q.pop().expect("n pending");
                black_box(e);
                q.push(seq, Reverse(key(k.time.as_nanos() + inc.next(), seq)));
                seq += 1;
            });
        });
        g.bench_function(BenchmarkId::new("sim", n), |b| {
            let mut inc = Incs::new("hold");
            let mut sim: Sim<u64> = Sim::new();
            for i in 0..n as u64 {
                sim.schedule(SimTime::from_nanos(inc.next()), i).unwrap();
            }
            b.iter(|| {
                let Some(Fired::Event(e)) = sim.step() else {
                    unreachable!("only events are scheduled")
                };
                sim.schedule_in(SimDuration::from_nanos(inc.next()), black_box(e));
            });
        });
        g.bench_function(BenchmarkId::new("sim_lane", n), |b| {
            // n events a fixed 1 ms apart in one lane: a segment hop's case.
            let mut sim: Sim<u64> = Sim::new();
            let lane = sim.add_lane(SimDuration::from_millis(1));
            for i in 0..n as u64 {
                sim.step_until(SimTime::from_nanos(i * 1_000_000 / n as u64));
                sim.schedule_in_lane(lane, i);
            }
            b.iter(|| {
                let Some(Fired::Event(e)) = sim.step() else {
                    unreachable!("only events are scheduled")
                };
                sim.schedule_in_lane(lane, black_box(e));
            });
        });
    }
    g.finish();
}

/// Pops the earliest deadline, re-arms its host, and optionally re-arms one other.
fn deadline_bench<D: DeadlineSet, M: Measurement>(
    c: &mut Criterion<M>,
    group: &str,
    name: &str,
    also_other: bool,
) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    for n in SIZES {
        g.bench_function(BenchmarkId::new(name, n), |b| {
            let mut inc = Incs::new("deadline");
            let mut hosts = Incs::new("hosts");
            let mut d = D::default();
            let mut seq = 0u64;
            for id in 0..n {
                d.set(id, key(inc.next(), seq));
                seq += 1;
            }
            b.iter(|| {
                let (k, id) = d.pop().expect("n armed");
                let now = k.time.as_nanos();
                d.set(id, key(now + inc.next(), seq));
                seq += 1;
                if also_other {
                    let other = (hosts.next() as usize * n) / SPAN as usize;
                    d.set(other, key(now + inc.next(), seq));
                    seq += 1;
                }
            });
        });
    }
    g.finish();
}

fn deadlines<M: Measurement>(c: &mut Criterion<M>) {
    deadline_bench::<LazyDeadlines, M>(c, "deadline_hold", "lazy", false);
    deadline_bench::<IndexedDeadlines, M>(c, "deadline_hold", "indexed", false);
    deadline_bench::<InPlaceDeadlines, M>(c, "deadline_hold", "in_place", false);
    deadline_bench::<LazyDeadlines, M>(c, "deadline_rearm", "lazy", true);
    deadline_bench::<IndexedDeadlines, M>(c, "deadline_rearm", "indexed", true);
    deadline_bench::<InPlaceDeadlines, M>(c, "deadline_rearm", "in_place", true);
}

/// `struct timespec` on 64-bit Linux.
#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

unsafe extern "C" {
    /// POSIX `clock_gettime(2)`, from the C library every Rust binary links.
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// `CLOCK_THREAD_CPUTIME_ID` on Linux.
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

/// This thread's CPU time in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable `struct timespec` for the call's duration.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.sec as u64 * 1_000_000_000 + ts.nsec as u64
}

/// A criterion measurement of thread CPU time, in nanoseconds.
struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuNanos
    }
}

/// Formats CPU nanoseconds as times and element rates.
struct CpuNanos;

impl ValueFormatter for CpuNanos {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = match ns {
            x if x < 1e3 => (1.0, "ns (cpu)"),
            x if x < 1e6 => (1e3, "us (cpu)"),
            _ => (1e6, "ms (cpu)"),
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(&self, ns: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let per_iter = match *t {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                n as f64
            }
            _ => 1.0,
        };
        let (div, unit) = if per_iter * 1e9 / ns >= 1e6 {
            (1e6, "Melem/s (cpu)")
        } else {
            (1e3, "Kelem/s (cpu)")
        };
        values
            .iter_mut()
            .for_each(|v| *v = per_iter * 1e9 / *v / div);
        unit
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn run<M: Measurement>(mut c: Criterion<M>) {
    hold(&mut c);
    deadlines(&mut c);
    c.final_summary();
}

fn main() {
    match std::env::var("BENCH_CLOCK").as_deref() {
        Ok("cpu") => run(Criterion::default()
            .with_measurement(ThreadCpuTime)
            .configure_from_args()),
        _ => run(Criterion::default().configure_from_args()),
    }
}
