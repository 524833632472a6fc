//! The training loop on the terminal: a bar with kimg, s/kimg and the losses (without a
//! terminal, tick lines as the official training loop prints); snapshot and metric lines;
//! SIGINT/SIGTERM turned into a clean stop.

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stylegan_wgpu::gpu::Gpu;
use stylegan_wgpu::metrics::runner::MetricResult;
use stylegan_wgpu::progress::Progress;
use stylegan_wgpu::train::run::{Observer, Tick};
use stylegan_wgpu::train::Trainer;

use super::super::progress::{self, Bars};
use super::super::stop;

/// Rank 0's terminal (other ranks keep theirs hidden).
pub struct Terminal {
    root: bool,
    kimg: f64,
    bar: ProgressBar,
    /// The metrics' own bars.
    tasks: Bars,
    /// Tick lines, when stderr is not a terminal.
    lines: Option<TickLines>,
}

/// What the tick lines count from.
struct TickLines {
    every: Duration,
    /// The last line (the start before the first).
    last: Instant,
    start: Instant,
    start_nimg: u64,
    total_nimg: u64,
    ticks: u64,
    gpu: Gpu,
}

impl Terminal {
    pub fn new(root: bool, kimg: f64) -> Terminal {
        Terminal {
            root,
            kimg,
            bar: ProgressBar::hidden(),
            tasks: Bars::default(),
            lines: None,
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
        if self.root && progress::plain() {
            let now = Instant::now();
            self.lines = Some(TickLines {
                every: progress::interval(),
                last: now,
                start: now,
                start_nimg: t.state.cur_nimg,
                total_nimg,
                ticks: 0,
                gpu: t.gpu.clone(),
            });
        }
    }

    fn tick(&mut self, t: &Tick) {
        let total = self.bar.length().unwrap_or(0);
        self.bar
            .set_position(((t.kimg * 1000.0).round() as u64).min(total));
        let l = t.losses;
        self.bar.set_message(format!(
            "{:.1}/{} kimg  {:.1} s/kimg  G {:.3}  D {:.3}  R1 {:.3}{}",
            t.kimg,
            self.kimg,
            t.sec_per_kimg,
            l[0],
            l[1],
            l[2],
            if t.progressive {
                format!("  lod {:.3}  minibatch {}", t.lod, t.batch)
            } else {
                String::new()
            }
        ));
        if let Some(lines) = &mut self.lines {
            if let Some(line) = lines.tick(t) {
                self.say(&line);
            }
        }
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

impl TickLines {
    /// The line of tick `t` when one is due: the first tick after `every` since the last line,
    /// and the last tick.
    fn tick(&mut self, t: &Tick) -> Option<String> {
        self.ticks += 1;
        let now = Instant::now();
        let nimg = (t.kimg * 1000.0).round() as u64;
        if now.duration_since(self.last) < self.every && nimg < self.total_nimg {
            return None;
        }
        self.last = now;
        let secs = now.duration_since(self.start).as_secs_f64();
        let done = nimg.saturating_sub(self.start_nimg) as f64;
        let eta = (done > 0.0).then(|| secs / done * self.total_nimg.saturating_sub(nimg) as f64);
        Some(tick_line(
            self.ticks,
            t,
            secs,
            self.gpu.stats().peak_bytes,
            eta,
        ))
    }
}

/// `tick 3  kimg 12.00  time 1m 02s  sec/kimg 20.14  losses G 1.234 D 0.456 R1 0.012  gpumem
/// 120.0 MiB  eta 5m 00s`, as the official training loop prints its ticks (with `lod` and
/// `minibatch` after `kimg` when training progressively; kimg to 0.01, as our ticks are
/// shorter).
fn tick_line(n: u64, t: &Tick, secs: f64, gpumem: u64, eta: Option<f64>) -> String {
    let l = t.losses;
    // Widths as the official loop's, so that the columns line up.
    let mut s = format!("tick {n:<5} kimg {:<8.2}", t.kimg);
    if t.progressive {
        s += &format!(" lod {:<5.2} minibatch {:<4}", t.lod, t.batch);
    }
    s += &format!(
        " time {:<12} sec/kimg {:<7.2} losses G {:.3} D {:.3} R1 {:.3}  gpumem {:.1} MiB",
        progress::duration(secs),
        t.sec_per_kimg,
        l[0],
        l[1],
        l[2],
        gpumem as f64 / (1 << 20) as f64
    );
    if let Some(e) = eta {
        s += &format!("  eta {}", progress::duration(e));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_line_as_the_official_loop() {
        let mut t = Tick {
            step: 60,
            kimg: 12.0,
            losses: [1.2344, 0.456, 0.0123, 0.0, 0.0],
            sec_per_kimg: 20.14,
            lod: 1.25,
            batch: 32,
            progressive: false,
        };
        assert_eq!(
            tick_line(3, &t, 62.0, 120 << 20, Some(300.0)),
            "tick 3     kimg 12.00    time 1m 02s       sec/kimg 20.14   losses G 1.234 D 0.456 \
             R1 0.012  gpumem 120.0 MiB  eta 5m 00s"
        );
        t.progressive = true;
        assert_eq!(
            tick_line(12, &t, 5.0, 0, None),
            "tick 12    kimg 12.00    lod 1.25  minibatch 32   time 5s           sec/kimg 20.14   \
             losses G 1.234 D 0.456 R1 0.012  gpumem 0.0 MiB"
        );
    }
}
