//! The `stylegan` command line: generate, convert, train, report and benchmark. Its modules
//! are the binary's own (`cli`: commands and flags; `bench`: the benchmark suites), so the
//! library's public surface holds only what a Rust user of the crate needs.

mod bench;
mod commands;
mod logger;

use clap::{Parser, Subcommand};

/// StyleGAN on any GPU: Vulkan, Metal, DX12 through wgpu.
#[derive(Parser, Debug)]
#[command(
    name = "stylegan",
    version,
    about,
    long_about = None,
    after_help = "Examples:\n  stylegan generate --classes 0-9 --seeds 0-7 --grid grid.png   (embedded Fashion-MNIST model: a row per class)\n  stylegan generate --class sneaker --seeds 0-7 --grid sneakers.png\n  stylegan convert karras2019stylegan-ffhq-1024x1024.pkl ffhq.safetensors\n  stylegan generate --model ffhq.safetensors --seeds 0-7 --trunc 0.7 --outdir out\n  stylegan train --data /usr/share/datasets/fashion-mnist --class-names fmnist --outdir runs/fmnist --preset fmnist --lr 0.002 --seed 1 --kimg 241 --snapshot-kimg 5 --metrics fid10k\n  stylegan train --init-from runs/fmnist/network-snapshot-000241_008.safetensors --data /usr/share/datasets/fashion-mnist --class-names fmnist --outdir runs/fmnist-decay --lr 0.002 --seed 2 --kimg 40 --snapshot-kimg 5 --noise-decay 1 --metrics fid10k\n  stylegan train --init-from runs/fmnist-decay/network-snapshot-000040.safetensors --data /usr/share/datasets/fashion-mnist --class-names fmnist --outdir runs/fmnist-lr --lr 0.0005 --seed 3 --kimg 25 --snapshot-kimg 5 --noise-decay 4 --metrics fid10k\n    (the embedded model's recipe, three stages: see `stylegan train --help`)\n  stylegan devices\n\nAdapter: STYLEGAN_BACKEND=vulkan|metal|dx12|gl, STYLEGAN_ADAPTER=<index or name>.\nProgress: bars on a terminal; otherwise (logs, CI) plain lines every STYLEGAN_PROGRESS_SECS seconds (default 10, 0: every update)."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List GPU adapters with backend, type and driver.
    ///
    /// Example: stylegan devices --backend vulkan
    Devices {
        /// Only this backend: vulkan, metal, dx12 or gl (default: all primary backends).
        #[arg(long)]
        backend: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    // No doc comments on the variants: they would replace each Args struct's own, whose
    // examples `--help` shows.
    Bench(commands::bench::BenchArgs),
    Init(commands::init::InitArgs),
    Info(commands::info::InfoArgs),
    Generate(commands::generate::GenerateArgs),
    Convert(commands::convert::ConvertArgs),
    Dataset(commands::dataset::DatasetArgs),
    Mix(commands::mix::MixArgs),
    Interpolate(commands::interpolate::InterpolateArgs),
    Project(commands::project::ProjectArgs),
    Train(commands::train::TrainArgs),
    Discriminate(commands::discriminate::DiscriminateArgs),
    Losses(commands::losses::LossesArgs),
    Features(commands::features::FeaturesArgs),
    Fid(commands::features::FidArgs),
    Metrics(commands::metrics::MetricsArgs),
    TrainClassifier(commands::classifier::TrainClassifierArgs),
    Lpips(commands::lpips::LpipsCmdArgs),
}

/// On a headless machine (no `XDG_RUNTIME_DIR`, no `DISPLAY`) Mesa's implicit Vulkan
/// device-select layer still tries to reach a Wayland display to rank GPUs, and libwayland
/// prints "error: XDG_RUNTIME_DIR is invalid or not set" on every adapter probe although
/// nothing failed. Without a display the layer has nothing to rank by, so it is switched off
/// (`NODEVICE_SELECT=1`, the layer's own off switch); adapter choice is ours anyway
/// (`STYLEGAN_ADAPTER`, else discrete before integrated before CPU).
fn quiet_headless_vulkan() {
    let unset = |k: &str| std::env::var_os(k).is_none_or(|v| v.is_empty());
    if unset("XDG_RUNTIME_DIR") && unset("DISPLAY") && unset("NODEVICE_SELECT") {
        // Single-threaded here: nothing else reads the environment yet.
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

fn main() {
    quiet_headless_vulkan();
    logger::install();
    let cli = Cli::parse();
    if let Err(e) = stylegan_wgpu::gpu::Policy::check_env() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let res = match cli.cmd {
        Cmd::Devices { backend, json } => commands::devices::run(backend, json),
        Cmd::Bench(args) => commands::bench::run(&args),
        Cmd::Init(args) => commands::init::run(&args),
        Cmd::Info(args) => commands::info::run(&args),
        Cmd::Generate(args) => commands::generate::run(&args),
        Cmd::Convert(args) => commands::convert::run(&args),
        Cmd::Dataset(args) => commands::dataset::run(&args),
        Cmd::Mix(args) => commands::mix::run(&args),
        Cmd::Interpolate(args) => commands::interpolate::run(&args),
        Cmd::Project(args) => commands::project::run(&args),
        Cmd::Train(args) => commands::train::run(&args),
        Cmd::Discriminate(args) => commands::discriminate::run(&args),
        Cmd::Losses(args) => commands::losses::run(&args),
        Cmd::Features(args) => commands::features::features(&args),
        Cmd::Fid(args) => commands::features::fid(&args),
        Cmd::Metrics(args) => commands::metrics::metrics(&args),
        Cmd::TrainClassifier(args) => commands::classifier::run(&args),
        Cmd::Lpips(args) => commands::lpips::run(&args),
    };
    if let Err(e) = res {
        // Long work that a SIGINT/SIGTERM stopped after its batch in flight: not a failure,
        // and the status says which signal (130, 143), as for a stopped `train`.
        let stopped = e.chain().any(|c| {
            matches!(
                c.downcast_ref::<stylegan_wgpu::Error>(),
                Some(stylegan_wgpu::Error::Stopped(_))
            )
        });
        if let (true, Some(sig)) = (stopped, commands::stop::received()) {
            eprintln!("interrupted by {}: {e:#}", commands::stop::name(sig));
            std::process::exit(128 + sig);
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
