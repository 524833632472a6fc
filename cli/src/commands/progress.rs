//! Progress on the terminal: indicatif bars for the library's [`Progress`] reports, a rate line
//! when a task ends, notes and warnings on stderr.

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

/// A bar of `len` units labelled `what`.
pub fn progress(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Clears `pb` and prints what it measured: `label: N images in S s (R images/s)`.
pub fn finish(pb: &ProgressBar) {
    // Read before finishing: finishing moves the bar to its end, also for a stopped task.
    let done = pb.position();
    pb.finish_and_clear();
    let secs = pb.elapsed().as_secs_f64();
    eprintln!(
        "{}: {done} images in {secs:.1} s ({:.2} images/s)",
        pb.message(),
        done as f64 / secs.max(1e-9)
    );
}

/// The library's progress reports as bars on stderr, one per task.
#[derive(Default)]
pub struct Bars {
    pb: Option<ProgressBar>,
    /// No rate line when a task ends (tasks that print their own summary).
    quiet: bool,
}

impl Bars {
    /// Bars that end without a rate line.
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
        self.pb = Some(progress(total, label));
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
