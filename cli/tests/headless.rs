//! On a headless machine (no `XDG_RUNTIME_DIR`, no `DISPLAY`) GPU commands print no Wayland
//! noise: Mesa's device-select layer used to make libwayland print "XDG_RUNTIME_DIR is invalid"
//! twice per run although nothing failed.

#[test]
fn no_wayland_noise_without_a_session() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stylegan"))
        .env("STYLEGAN_TUNE", "off")
        .arg("devices")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("NODEVICE_SELECT")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!("stdout:\n{stdout}stderr:\n{stderr}");
    assert!(out.status.success(), "stylegan devices failed: {stderr}");
    assert!(stdout.lines().count() >= 2, "no adapter listed: {stdout}");
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
}
