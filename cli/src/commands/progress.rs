//! Progress on the terminal: indicatif bars for the library's [`Progress`] reports, a rate line
//! when a task ends, notes and warnings on stderr.
//!
//! indicatif draws nothing when stderr is not a terminal (a log file, CI, `nohup`, a cluster
//! job), so there a [`Bar`] prints plain lines instead: one every `STYLEGAN_PROGRESS_SECS`
//! seconds (default 10; 0: at every update) and one when the task ends.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use stylegan_wgpu::progress::Progress;

/// "1 image", "2 images": `n` and `noun`, plural by an `s` when `n != 1`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The variable that sets the seconds between plain progress lines.
pub const SECS_VAR: &str = "STYLEGAN_PROGRESS_SECS";

const DEFAULT_SECS: f64 = 10.0;

/// Whether progress is printed as plain lines: stderr is not a terminal, so bars would not show.
pub fn plain() -> bool {
    static PLAIN: OnceLock<bool> = OnceLock::new();
    *PLAIN.get_or_init(|| !std::io::stderr().is_terminal())
}

/// The time between plain progress lines (`STYLEGAN_PROGRESS_SECS`; a bad value is warned
/// about once and the default kept).
pub fn interval() -> Duration {
    static EVERY: OnceLock<Duration> = OnceLock::new();
    *EVERY.get_or_init(|| {
        let v = std::env::var(SECS_VAR).ok();
        parse_secs(v.as_deref()).unwrap_or_else(|bad| {
            eprintln!(
                "warning: {SECS_VAR}={bad:?} is not a number of seconds >= 0; progress lines \
                 every {DEFAULT_SECS} s"
            );
            Duration::from_secs_f64(DEFAULT_SECS)
        })
    })
}

/// `STYLEGAN_PROGRESS_SECS`'s value as a duration (unset or empty: the default); the value
/// itself when it is not a finite number >= 0.
fn parse_secs(v: Option<&str>) -> Result<Duration, String> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Duration::from_secs_f64(DEFAULT_SECS));
    };
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(v.to_string()),
    }
}

/// `42s`, `1m 02s`, `2h 05m`, `3d 04h`, as the official training loop writes times.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// What a task's plain line says: its counts, its rate and, while it runs, the time left.
#[derive(Clone, Debug, PartialEq)]
pub struct Line<'a> {
    pub label: &'a str,
    /// The bar's message; shown after the counts when it says more than the label.
    pub message: &'a str,
    pub unit: &'a str,
    pub pos: u64,
    pub len: u64,
    pub secs: f64,
}

impl Line<'_> {
    /// `features: 1200/5000 images (24%), 310.2 images/s, eta 12s`.
    pub fn running(&self) -> String {
        let rate = self.rate();
        let mut s = format!(
            "{}: {}/{} {} ({:.0}%), {rate:.1} {}/s",
            self.label,
            self.pos,
            self.len,
            self.unit,
            100.0 * self.pos as f64 / self.len.max(1) as f64,
            self.unit,
        );
        if rate > 0.0 {
            let left = self.len.saturating_sub(self.pos) as f64 / rate;
            s += &format!(", eta {}", duration(left));
        }
        s + &self.extra()
    }

    /// `features: 5000/5000 images in 16.1 s (310.2 images/s)`.
    pub fn done(&self) -> String {
        format!(
            "{}: {}/{} {} in {:.1} s ({:.1} {}/s){}",
            self.label,
            self.pos,
            self.len,
            self.unit,
            self.secs,
            self.rate(),
            self.unit,
            self.extra()
        )
    }

    fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.pos as f64 / self.secs
        } else {
            0.0
        }
    }

    /// `; <message>` without the label it may repeat (`projecting: dist ...`).
    fn extra(&self) -> String {
        let m = self
            .message
            .strip_prefix(self.label)
            .unwrap_or(self.message);
        let m = m.trim_start_matches([':', ' ']);
        if m.is_empty() {
            String::new()
        } else {
            format!("; {m}")
        }
    }
}

/// The bar drawn last: lines printed while it is on screen go above it (`print_line`).
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Prints `line` on stderr above the bar on screen, if one is: a note or warning the library
/// logs mid-task (the tuner's, a cache's) would otherwise be drawn into the bar's line.
pub fn print_line(line: &str) {
    let active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match active {
        Some(pb) if !pb.is_finished() => pb.suspend(|| eprintln!("{line}")),
        _ => eprintln!("{line}"),
    }
}

/// When the next plain line is due.
struct Clock {
    every: Duration,
    last: Instant,
}

/// An indicatif bar that, when stderr is not a terminal, prints plain lines as well (see the
/// module). Its methods are those of `ProgressBar` that the commands use.
pub struct Bar {
    pb: ProgressBar,
    label: String,
    unit: &'static str,
    /// `Some` when plain lines are printed.
    clock: Option<Mutex<Clock>>,
}

impl Bar {
    /// A bar of `len` units called `unit` (`images`, `steps`...), labelled `label`.
    pub fn new(len: usize, label: &str, unit: &'static str) -> Bar {
        let pb = ProgressBar::new(len as u64);
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
                .expect("template")
                .progress_chars("=> "),
        );
        pb.set_message(label.to_string());
        *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(pb.clone());
        let clock = plain().then(|| {
            Mutex::new(Clock {
                every: interval(),
                last: Instant::now(),
            })
        });
        Bar {
            pb,
            label: label.to_string(),
            unit,
            clock,
        }
    }

    /// What the plain lines say of the task now.
    fn describe<R>(&self, f: impl FnOnce(&Line) -> R) -> R {
        let message = self.pb.message();
        f(&Line {
            label: &self.label,
            message: &message,
            unit: self.unit,
            pos: self.pb.position(),
            len: self.pb.length().unwrap_or(0),
            secs: self.pb.elapsed().as_secs_f64(),
        })
    }

    /// A plain line if one is due (the last update of a task is left to its final line).
    fn tick(&self) {
        let Some(clock) = &self.clock else { return };
        if self.pb.position() >= self.pb.length().unwrap_or(0) {
            return;
        }
        let mut c = clock.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if now.duration_since(c.last) >= c.every {
            c.last = now;
            eprintln!("{}", self.describe(|l| l.running()));
        }
    }

    pub fn inc(&self, n: u64) {
        self.pb.inc(n);
        self.tick();
    }

    pub fn set_message(&self, msg: impl Into<Cow<'static, str>>) {
        self.pb.set_message(msg);
    }

    pub fn message(&self) -> String {
        self.pb.message()
    }

    pub fn position(&self) -> u64 {
        self.pb.position()
    }

    pub fn elapsed(&self) -> Duration {
        self.pb.elapsed()
    }

    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.pb.suspend(f)
    }

    /// Clears the bar; without a terminal, prints the task's final line.
    pub fn finish_and_clear(&self) {
        // Read before finishing: finishing moves the bar to its end, also for a stopped task.
        let last = self.clock.is_some().then(|| self.describe(|l| l.done()));
        self.pb.finish_and_clear();
        if let Some(l) = last {
            eprintln!("{l}");
        }
    }
}

/// A bar of `len` images labelled `what`.
pub fn progress(len: usize, what: &str) -> Bar {
    Bar::new(len, what, "images")
}

/// Clears `pb` and prints what it measured: `label: N images in S s (R images/s)` (the task's
/// final line, terminal or not).
pub fn finish(pb: &Bar) {
    // Read before finishing: finishing moves the bar to its end, also for a stopped task.
    let done = pb.position();
    pb.pb.finish_and_clear();
    let secs = pb.elapsed().as_secs_f64();
    eprintln!(
        "{}: {done} {} in {secs:.1} s ({:.2} {}/s)",
        pb.message(),
        pb.unit,
        done as f64 / secs.max(1e-9),
        pb.unit
    );
}

/// The unit of a library task called `label`: the metric runner counts pairs for PPL and
/// images for everything else.
fn unit_of(label: &str) -> &'static str {
    if label.ends_with("pairs") {
        "pairs"
    } else {
        "images"
    }
}

/// The library's progress reports as bars on stderr, one per task.
#[derive(Default)]
pub struct Bars {
    pb: Option<Bar>,
    /// No rate line when a task ends (tasks that print their own summary).
    quiet: bool,
}

impl Bars {
    /// Bars that end without a rate line (without a terminal, with the bar's final line).
    pub fn without_rates() -> Bars {
        Bars {
            pb: None,
            quiet: true,
        }
    }

    fn say(&self, line: &str) {
        match &self.pb {
            Some(pb) => pb.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

impl Progress for Bars {
    fn start(&mut self, label: &str, total: usize) {
        self.pb = Some(Bar::new(total, label, unit_of(label)));
    }

    fn advance(&mut self, n: usize) {
        if let Some(pb) = &self.pb {
            pb.inc(n as u64);
        }
    }

    fn status(&mut self, msg: &str) {
        if let Some(pb) = &self.pb {
            pb.set_message(msg.to_string());
        }
    }

    fn finish(&mut self) {
        match self.pb.take() {
            Some(pb) if self.quiet => pb.finish_and_clear(),
            Some(pb) => finish(&pb),
            None => {}
        }
    }

    fn note(&mut self, msg: &str) {
        self.say(msg);
    }

    fn warn(&mut self, msg: &str) {
        self.say(&format!("warning: {msg}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(message: &'a str, pos: u64, secs: f64) -> Line<'a> {
        Line {
            label: "features of folder x",
            message,
            unit: "images",
            pos,
            len: 5000,
            secs,
        }
    }

    #[test]
    fn running_line_has_counts_rate_and_eta() {
        let l = line("features of folder x", 1200, 4.0);
        assert_eq!(
            l.running(),
            "features of folder x: 1200/5000 images (24%), 300.0 images/s, eta 13s"
        );
        // Nothing done yet: no rate to take an eta from.
        assert_eq!(
            line("", 0, 0.0).running(),
            "features of folder x: 0/5000 images (0%), 0.0 images/s"
        );
    }

    #[test]
    fn final_line_has_counts_time_and_rate() {
        assert_eq!(
            line("features of folder x", 5000, 16.0).done(),
            "features of folder x: 5000/5000 images in 16.0 s (312.5 images/s)"
        );
        // A stopped task says where it stopped.
        assert_eq!(
            line("", 1000, 2.0).done(),
            "features of folder x: 1000/5000 images in 2.0 s (500.0 images/s)"
        );
    }

    #[test]
    fn message_follows_without_the_label() {
        let with = |m| line(m, 10, 1.0).running();
        assert!(with("features of folder x: dist 0.5").ends_with("eta 8m 19s; dist 0.5"));
        assert!(with("16 files written").ends_with("; 16 files written"));
        assert!(with("features of folder x").ends_with("eta 8m 19s"));
    }

    #[test]
    fn durations_as_the_official_loop_writes_them() {
        assert_eq!(duration(0.4), "0s");
        assert_eq!(duration(59.4), "59s");
        assert_eq!(duration(62.0), "1m 02s");
        assert_eq!(duration(3599.0), "59m 59s");
        assert_eq!(duration(7500.0), "2h 05m");
        assert_eq!(duration(3.0 * 86400.0 + 4.0 * 3600.0), "3d 04h");
        assert_eq!(duration(-1.0), "0s");
    }

    #[test]
    fn interval_from_the_variable() {
        let secs = |v| parse_secs(v).map(|d| d.as_secs_f64());
        assert_eq!(secs(None), Ok(10.0));
        assert_eq!(secs(Some(" ")), Ok(10.0));
        assert_eq!(secs(Some("0")), Ok(0.0));
        assert_eq!(secs(Some("2.5")), Ok(2.5));
        assert_eq!(secs(Some("-1")), Err("-1".to_string()));
        assert_eq!(secs(Some("soon")), Err("soon".to_string()));
        assert_eq!(secs(Some("inf")), Err("inf".to_string()));
    }

    #[test]
    fn units_of_library_tasks() {
        assert_eq!(unit_of("ppl_wend: pairs"), "pairs");
        assert_eq!(
            unit_of("fid50k: generated images (inception features)"),
            "images"
        );
        assert_eq!(unit_of("epoch 1/5"), "images");
    }
}
