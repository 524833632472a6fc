//! `stylegan devices` (in progress).
pub fn run(_backend: Option<String>, _json: bool) -> anyhow::Result<()> {
    Ok(())
}
