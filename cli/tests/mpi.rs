//! `stylegan train` over real MPI processes (`mpirun -np 2`, a build with `--features mpi`):
//! two ranks of four images train what one process of eight trains, snapshots move between
//! the two, and a rank killed with SIGKILL ends the job with an error while the last snapshot
//! still loads. `.ci/run` installs Open MPI and runs this with `--features mpi`; without an
//! `mpirun` the tests fail (they are the proof that the MPI path works).
#![cfg(feature = "mpi")]

mod common;
use common::gpu;
use common::snapshots::{assert_states_close, structured_constant};
use common::tempdir::TempDir;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use stylegan_wgpu::io::safetensors::{load, save, Checkpoint};
use stylegan_wgpu::nn::Config;
use stylegan_wgpu::train::{TrainConfig, Trainer};

/// 16 distinct 8x8 grayscale PNGs.
fn dataset(dir: &TempDir) -> PathBuf {
    let data = dir.path("data");
    std::fs::create_dir_all(&data).unwrap();
    for i in 0..16u32 {
        let img = image::GrayImage::from_fn(8, 8, |x, y| {
            image::Luma([((x * (i % 4) + y * (i / 4) + i) * 13 % 256) as u8])
        });
        img.save(data.join(format!("img{i:02}.png"))).unwrap();
    }
    data
}

/// A fresh run (global batch 8) whose 4x4 constant has structure (`structured_constant`).
fn start(dir: &TempDir) -> PathBuf {
    let cfg = Config {
        resolution: 8,
        num_channels: 1,
        latent_size: 8,
        dlatent_size: 8,
        mapping_layers: 2,
        mapping_fmaps: 8,
        fmap_base: 16,
        fmap_max: 8,
        ..Config::default()
    };
    let tc = TrainConfig {
        batch: 8,
        seed: 3,
        g_ema_kimg: 0.01,
        ..TrainConfig::default()
    };
    let mut m = Trainer::new(&gpu(), &cfg, &tc).unwrap().snapshot().unwrap();
    structured_constant(&mut m);
    let p = dir.path("start.safetensors");
    save(&p, &m).unwrap();
    p
}

fn mpirun(np: usize) -> Command {
    let mut c = common::process::command("mpirun");
    c.args(["--allow-run-as-root", "--oversubscribe", "-np"])
        .arg(np.to_string())
        .arg(env!("CARGO_BIN_EXE_stylegan"));
    c
}

/// `stylegan train` on `np` ranks (1: without mpirun) from `resume` to `kimg`.
fn train(np: usize, data: &Path, outdir: &Path, resume: &Path, kimg: &str) -> Output {
    let mut c = if np == 1 {
        common::process::stylegan_command()
    } else {
        mpirun(np)
    };
    c.arg("train")
        .arg("--data")
        .arg(data)
        .arg("--outdir")
        .arg(outdir)
        .arg("--resume")
        .arg(resume)
        .args(["--kimg", kimg, "--snapshot-kimg", "0.008"]);
    let o = c
        .output()
        .expect("cannot start mpirun (install openmpi-bin)");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "train on {np} rank(s) failed ({}):\n{err}",
        o.status
    );
    assert!(!err.contains("panicked"), "{err}");
    eprintln!("--- {np} rank(s):\n{err}");
    o
}

fn snap(dir: &Path, images: u64) -> Checkpoint {
    load(&dir.join(format!("network-snapshot-000000_{images:03}.safetensors"))).unwrap()
}

#[test]
fn two_mpi_ranks_train_as_one_process_and_snapshots_move_between_them() {
    let dir = TempDir::new("mpi-equal");
    let data = dataset(&dir);
    let start = start(&dir);
    let (one, two) = (dir.path("one"), dir.path("two"));
    train(1, &data, &one, &start, "0.024");
    let o = train(2, &data, &two, &start, "0.024");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2 ranks, 4 images each of the global minibatch of 8"),
        "{err}"
    );
    assert!(
        err.contains("rank 1 of 2"),
        "every rank names its adapter:\n{err}"
    );
    // 3 steps of 8 images.
    assert_states_close(
        &snap(&one, 24),
        &snap(&two, 24),
        "3 steps, 1 process vs 2 ranks",
    );
    // Only rank 0 writes: one log line per logged step, not two.
    let log = std::fs::read_to_string(two.join("log.jsonl")).unwrap();
    let steps: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, [3], "{log}");
    assert!(
        log.contains("\"ranks\":2") && log.contains("grad_bytes_per_step"),
        "{log}"
    );

    // 2 steps on 2 ranks, the third in 1 process; and the other way round.
    let (a, b) = (dir.path("two-then-one"), dir.path("one-then-two"));
    let mid = |d: &Path| d.join("network-snapshot-000000_016.safetensors");
    train(1, &data, &a, &mid(&two), "0.024");
    train(2, &data, &b, &mid(&one), "0.024");
    assert_states_close(
        &snap(&one, 24),
        &snap(&a, 24),
        "2 steps on 2 ranks, then 1 on 1",
    );
    assert_states_close(
        &snap(&one, 24),
        &snap(&b, 24),
        "2 steps on 1 rank, then 1 on 2",
    );
}

/// The pid of the process with `OMPI_COMM_WORLD_RANK=rank` in its environment whose command
/// line names `marker`.
fn rank_pid(rank: usize, marker: &str) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
        let has = |hay: &[u8], needle: &str| {
            hay.split(|&b| b == 0)
                .any(|s| String::from_utf8_lossy(s).contains(needle))
        };
        if has(&cmd, marker)
            && env
                .split(|&b| b == 0)
                .any(|s| s == format!("OMPI_COMM_WORLD_RANK={rank}").as_bytes())
        {
            return Some(pid);
        }
    }
    None
}

/// Snapshots in `d`, sorted (training order).
fn snapshots(d: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        n.starts_with("network-snapshot-") && n.ends_with(".safetensors")
    });
    v.sort();
    v
}

/// A long 2-rank run into `dir/run`, returned once it has written two snapshots, with the run
/// folder.
fn long_run(dir: &TempDir) -> (std::process::Child, PathBuf) {
    let data = dataset(dir);
    let start = start(dir);
    let out = dir.path("run");
    let mut child = mpirun(2)
        .arg("train")
        .arg("--data")
        .arg(&data)
        .arg("--outdir")
        .arg(&out)
        .arg("--resume")
        .arg(&start)
        .args(["--kimg", "100", "--snapshot-kimg", "0.008"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start mpirun");
    let t0 = Instant::now();
    while snapshots(&out).len() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "no snapshots after 300 s"
        );
        assert!(child.try_wait().unwrap().is_none(), "the job ended early");
        std::thread::sleep(Duration::from_millis(200));
    }
    (child, out)
}

/// Sends `signal` to rank `rank` of the run writing into `out`; waits (at most 120 s) for the
/// job to end and returns its status and stderr.
fn signal_rank(
    child: std::process::Child,
    out: &Path,
    rank: usize,
    signal: &str,
) -> (std::process::ExitStatus, String, String) {
    let marker = out.to_string_lossy().into_owned();
    let pid = rank_pid(rank, &marker).expect("the rank's process");
    eprintln!("kill -{signal} rank {rank} (pid {pid})");
    assert!(Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let mut child = child;
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the job did not end within 120 s of the signal"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    eprintln!("exit {status}:\n{err}\n{stdout}");
    assert!(rank_pid(0, &marker).is_none(), "rank 0 outlived the job");
    (status, err, stdout)
}

#[test]
fn a_killed_rank_ends_the_job_with_an_error_and_the_last_snapshot_loads() {
    let dir = TempDir::new("mpi-kill");
    let (child, out) = long_run(&dir);
    let (status, err, _) = signal_rank(child, &out, 1, "9");
    assert!(!status.success(), "a job with a killed rank must fail");
    assert!(
        err.contains("signal 9") || err.contains("Killed"),
        "mpirun should name the killed rank:\n{err}"
    );
    let last = snapshots(&out).pop().unwrap();
    let m = load(&last).unwrap_or_else(|e| panic!("{}: {e}", last.display()));
    Trainer::resume(&gpu(), &m).unwrap();
    eprintln!("{} loads and resumes", last.display());
}

/// SIGTERM to one rank (not rank 0, which writes): every rank stops after the same step and
/// rank 0 writes its snapshot before any rank exits, so the launcher's teardown loses nothing.
#[test]
fn sigterm_to_one_rank_stops_all_with_a_final_snapshot() {
    let dir = TempDir::new("mpi-term");
    let (child, out) = long_run(&dir);
    let (_, err, stdout) = signal_rank(child, &out, 1, "TERM");
    assert!(
        err.contains("interrupted by SIGTERM: writing a snapshot"),
        "{err}"
    );
    // Rank 0 finished writing (it prints this last) before the job was torn down.
    let last = snapshots(&out).pop().unwrap();
    assert!(
        stdout.contains(&format!("wrote {}", last.display())),
        "rank 0 did not finish its snapshot:\n{stdout}\n{err}"
    );
    let temps: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(temps.is_empty(), "half-written files left: {temps:?}");
    let m = load(&last).unwrap_or_else(|e| panic!("{}: {e}", last.display()));
    Trainer::resume(&gpu(), &m).unwrap();
}

/// `stylegan bench allreduce --smoke` under mpirun: rank 0 reports one case with the
/// all-reduce figures and the bytes of the tiny networks' gradients.
#[test]
fn the_allreduce_bench_reports_from_rank_0() {
    let dir = TempDir::new("mpi-bench");
    let json = dir.path("allreduce.json");
    let o = mpirun(2)
        .args(["bench", "allreduce", "--smoke", "--json"])
        .arg(&json)
        .output()
        .expect("cannot start mpirun");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        out.matches("wrote ").count(),
        1,
        "only rank 0 reports:\n{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let r = &v["results"][0];
    eprintln!("{r}");
    assert_eq!(r["ranks"], 2, "{r}");
    for k in ["allreduce_ms", "wait_ms", "transfer_ms", "ms"] {
        assert!(r[k].as_f64().is_some_and(|x| x >= 0.0), "{k}: {r}");
    }
    // The tiny preset's trainable G and D in f32, plus a few loss sums and w: a few hundred KB.
    let bytes = r["grad_bytes"].as_u64().unwrap();
    assert!(
        (100_000..2_000_000).contains(&bytes),
        "{bytes} gradient bytes: {r}"
    );
}
