//! The training loop on the terminal: a bar with kimg, s/kimg and the losses; snapshot and
//! metric lines; SIGINT/SIGTERM turned into a clean stop.

use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stylegan_wgpu::metrics::runner::MetricResult;
use stylegan_wgpu::progress::Progress;
use stylegan_wgpu::train::run::{Observer, Tick};
use stylegan_wgpu::train::Trainer;

use super::super::progress::Bars;
use super::super::stop;

/// Rank 0's terminal (other ranks keep theirs hidden).
pub struct Terminal {
    root: bool,
    kimg: f64,
    bar: ProgressBar,
    /// The metrics' own bars.
    tasks: Bars,
}

impl Terminal {
    pub fn new(root: bool, kimg: f64) -> Terminal {
        Terminal {
            root,
            kimg,
            bar: ProgressBar::hidden(),
            tasks: Bars::default(),
        }
    }

    fn say(&self, line: &str) {
        // Not bar.println: it prints nothing when stderr is not a terminal (logs, CI).
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

impl Progress for Terminal {
    fn start(&mut self, label: &str, total: usize) {
        self.tasks.start(label, total)
    }
    fn advance(&mut self, n: usize) {
        self.tasks.advance(n)
    }
    fn finish(&mut self) {
        self.tasks.finish()
    }
    fn note(&mut self, msg: &str) {
        self.say(msg)
    }
    fn warn(&mut self, msg: &str) {
        self.say(&format!("warning: {msg}"))
    }
}

impl Observer for Terminal {
    fn started(&mut self, t: &Trainer, total_nimg: u64) {
        if let Err(e) = stop::install() {
            eprintln!(
                "warning: cannot catch SIGINT/SIGTERM ({e}): a stop will not write a snapshot"
            );
        }
        if self.root {
            self.bar = ProgressBar::new(total_nimg);
        }
        self.bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
                .expect("template")
                .progress_chars("=> "),
        );
        self.bar.set_position(t.state.cur_nimg.min(total_nimg));
    }

    fn tick(&mut self, t: &Tick) {
        let total = self.bar.length().unwrap_or(0);
        self.bar
            .set_position(((t.kimg * 1000.0).round() as u64).min(total));
        let l = t.losses;
        self.bar.set_message(format!(
            "{:.1}/{:.0} kimg  {:.1} s/kimg  G {:.3}  D {:.3}  R1 {:.3}{}",
            t.kimg,
            self.kimg,
            t.sec_per_kimg,
            l[0],
            l[1],
            l[2],
            if t.progressive {
                format!("  lod {:.3}", t.lod)
            } else {
                String::new()
            }
        ));
    }

    fn snapshot(&mut self, path: &Path) {
        self.say(&format!("snapshot {}", path.display()));
    }

    fn metrics_begin(&mut self) {
        // The metrics draw their own bars.
        self.bar.set_draw_target(ProgressDrawTarget::hidden());
    }

    fn metric(&mut self, r: &MetricResult) {
        println!("{}", r.line());
    }

    fn metrics_end(&mut self) {
        if self.root {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn should_stop(&mut self) -> bool {
        stop::received().is_some()
    }

    fn interrupted(&mut self) {
        let sig = stop::received().unwrap_or(stop::SIGTERM);
        self.say(&format!(
            "interrupted by {}: writing a snapshot",
            stop::name(sig)
        ));
    }

    fn finished(&mut self) {
        self.bar.finish_and_clear();
    }
}
