//! Delivery accounting (loss, duplicates, reordering), latency histograms, CPU and memory readings.

use std::sync::OnceLock;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds on one monotonic clock shared by senders and receivers (same process).
pub fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// The tag embedded in every benchmark message: `~b<step>.<sender>.<n>.<send-nanos>~`.
pub fn tag(step: u32, sender: u32, n: u64) -> String {
    format!("~b{step}.{sender}.{n}.{}~", now_ns())
}

pub struct Tag {
    pub step: u32,
    pub sender: u32,
    pub n: u64,
    pub t: u64,
}

/// Find and parse a tag in a received frame.
pub fn parse_tag(f: &[u8]) -> Option<Tag> {
    let p = memchr::memmem::find(f, b"~b")? + 2;
    let mut vals = [0u64; 4];
    let mut i = 0;
    let mut any = false;
    for &b in &f[p..] {
        match b {
            b'0'..=b'9' => {
                vals[i] = vals[i] * 10 + (b - b'0') as u64;
                any = true;
            }
            b'.' if i < 3 && any => {
                i += 1;
                any = false;
            }
            b'~' if i == 3 && any => {
                return Some(Tag {
                    step: vals[0] as u32,
                    sender: vals[1] as u32,
                    n: vals[2],
                    t: vals[3],
                });
            }
            _ => return None,
        }
    }
    None
}

/// Per-receiver, per-sender record of which counters arrived.
struct Track {
    sender: u32,
    max: i64,
    bits: Vec<u64>,
}

#[derive(Default)]
pub struct Receiver {
    step: u32,
    tracks: Vec<Track>,
}

pub enum Seen {
    New { reordered: bool },
    Dup,
}

impl Receiver {
    pub fn see(&mut self, step: u32, sender: u32, n: u64) -> Seen {
        if step != self.step {
            self.step = step;
            self.tracks.clear();
        }
        let t = match self.tracks.iter_mut().position(|t| t.sender == sender) {
            Some(i) => &mut self.tracks[i],
            None => {
                self.tracks.push(Track {
                    sender,
                    max: -1,
                    bits: Vec::new(),
                });
                self.tracks.last_mut().unwrap()
            }
        };
        let w = (n / 64) as usize;
        if t.bits.len() <= w {
            t.bits.resize(w + 1, 0);
        }
        let m = 1u64 << (n % 64);
        if t.bits[w] & m != 0 {
            return Seen::Dup;
        }
        t.bits[w] |= m;
        let reordered = (n as i64) < t.max;
        if !reordered {
            t.max = n as i64;
        }
        Seen::New { reordered }
    }
}

pub fn new_hist() -> Histogram<u64> {
    // microseconds, 1 µs .. 10 min, 3 significant figures
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap()
}

#[derive(Serialize, Clone, Default, Debug)]
pub struct Lat {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

pub fn lat(h: &Histogram<u64>) -> Lat {
    let q = |x: f64| h.value_at_quantile(x) as f64 / 1000.0;
    Lat {
        count: h.len(),
        p50_ms: q(0.5),
        p90_ms: q(0.9),
        p99_ms: q(0.99),
        p999_ms: q(0.999),
        max_ms: h.max() as f64 / 1000.0,
    }
}

fn clk_tck() -> f64 {
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// utime+stime of a process (all its threads), seconds.
pub fn proc_cpu(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // fields after the comm: state is index 0 → utime is field 14 overall → index 11 here
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / clk_tck())
}

/// VmRSS in KiB.
pub fn proc_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// The machine's 1-minute load average: on a shared machine it says whether a step that was not
/// held competed with other work (above the core count, it did).
pub fn loadavg_1m() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Share of the last 10 s in which some runnable task waited for a CPU (`/proc/pressure/cpu`,
/// "some avg10", percent): the direct measure of competing for the cores. `None` without PSI.
pub fn cpu_pressure_avg10() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
    let l = s.lines().find(|l| l.starts_with("some "))?;
    l.split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()
}

/// This process's own CPU time (user+system), seconds.
pub fn self_cpu() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[derive(Clone, Copy)]
pub struct CpuMark {
    pub at: Instant,
    pub server: Option<f64>,
    pub gen: f64,
}

impl CpuMark {
    pub fn take(pid: Option<u32>) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            server: pid.and_then(proc_cpu),
            gen: self_cpu(),
        }
    }
}

#[derive(Serialize, Clone, Default, Debug)]
pub struct CpuSpan {
    pub wall_s: f64,
    pub server_cpu_s: Option<f64>,
    pub server_util: Option<f64>,
    pub gen_cpu_s: f64,
    pub gen_util: f64,
}

pub fn span(a: CpuMark, b: CpuMark) -> CpuSpan {
    let wall = (b.at - a.at).as_secs_f64().max(1e-9);
    let srv = match (a.server, b.server) {
        (Some(x), Some(y)) => Some(y - x),
        _ => None,
    };
    let gen = b.gen - a.gen;
    CpuSpan {
        wall_s: wall,
        server_cpu_s: srv,
        server_util: srv.map(|s| s / wall),
        gen_cpu_s: gen,
        gen_util: gen / wall,
    }
}

/// Raise the soft open-files limit to the hard limit.
pub fn raise_nofile() -> u64 {
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
            return r.rlim_cur as u64;
        }
    }
    0
}
