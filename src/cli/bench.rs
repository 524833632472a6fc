//! `stylegan bench` (in progress).
pub fn run(_args: &super::super::cli::bench::BenchArgs) -> anyhow::Result<()> {
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {}
