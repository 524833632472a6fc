//! What a user may ask for, checked in one place: every number a front end takes from a person
//! (the CLI's flags, the page's fields) is parsed here, so both refuse the same values with the
//! same message, naming the flag or field (`what`), before anything is allocated.
//!
//! Each parser takes the text as typed: a number that does not parse, is not finite, is not
//! integral where it must be, or is out of range is an `Error::Invalid` that says which.

use crate::error::{Error, Result};

/// The largest `|psi|` accepted for truncation (`Config::truncation_psi`, the CLI's
/// `--trunc`). `psi` scales each style's distance from the average style: 1 leaves it, 0 gives
/// the average image, above 1 exaggerates. Already at a few units the styles leave the range
/// the network was trained on and the images saturate; past 10 nothing new appears, and
/// absurd values such as 1e30 overflow f32 inside the network (black or NaN images).
pub const MAX_ABS_TRUNCATION_PSI: f32 = 10.0;

/// Frames one interpolation may ask for: 10,000 frames is 400 s of animation at 25 fps, and
/// every frame is an image held until the GIF is written.
pub const MAX_FRAMES: u64 = 10_000;

/// Images a grid may hold: a grid is one image in memory, and at 1024² this is already
/// 1024 × 3 MiB.
pub const MAX_GRID_IMAGES: u64 = 1024;

fn invalid(what: &str, s: &str, why: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{what} {s:?}: {why}"))
}

/// A finite number in `[min, max]`.
pub fn parse_f64(what: &str, s: &str, min: f64, max: f64) -> Result<f64> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| invalid(what, s, "not a number"))?;
    if !v.is_finite() {
        return Err(invalid(what, s, "not a finite number"));
    }
    if v < min || v > max {
        return Err(invalid(what, s, format!("outside [{min}, {max}]")));
    }
    Ok(v)
}

/// A finite number greater than 0 and at most `max`.
pub fn parse_positive(what: &str, s: &str, max: f64) -> Result<f64> {
    let v = parse_f64(what, s, 0.0, max)?;
    if v == 0.0 {
        return Err(invalid(what, s, "must be greater than 0"));
    }
    Ok(v)
}

/// A whole number in `[min, max]`; "2.5", "-1" and "1e3" are refused as what they are.
pub fn parse_count(what: &str, s: &str, min: u64, max: u64) -> Result<u64> {
    let t = s.trim();
    let v: u64 = match t.parse() {
        Ok(v) => v,
        Err(_) => {
            return Err(match t.parse::<f64>() {
                Ok(f) if f.is_finite() && f < 0.0 => invalid(what, s, "must not be negative"),
                Ok(f) if f.is_finite() && f.fract() != 0.0 => {
                    invalid(what, s, "must be a whole number")
                }
                Ok(f) if f.is_finite() && f <= u64::MAX as f64 => {
                    invalid(what, s, "write it as a whole number without an exponent")
                }
                Ok(_) => invalid(what, s, format!("outside [{min}, {max}]")),
                Err(_) => invalid(what, s, "not a whole number"),
            })
        }
    };
    if v < min || v > max {
        return Err(invalid(what, s, format!("outside [{min}, {max}]")));
    }
    Ok(v)
}

/// A seed: a whole number in `[0, 2^32 - 1]`, the range of the official
/// `numpy.random.RandomState(seed)`. Values outside it are refused, never wrapped.
pub fn parse_seed(what: &str, s: &str) -> Result<u32> {
    parse_count(what, s, 0, u32::MAX as u64).map(|v| v as u32)
}

/// A truncation psi: finite, `|psi| <= MAX_ABS_TRUNCATION_PSI` (0 is the average image,
/// values above 1 exaggerate; a few units already saturate the images and 1e30 overflows
/// inside the network).
pub fn parse_psi(what: &str, s: &str) -> Result<f32> {
    let m = MAX_ABS_TRUNCATION_PSI as f64;
    parse_f64(what, s, -m, m).map(|v| v as f32)
}

/// Interpolation frames: at least 2 (the two ends), at most [`MAX_FRAMES`].
pub fn parse_frames(what: &str, s: &str) -> Result<usize> {
    parse_count(what, s, 2, MAX_FRAMES).map(|v| v as usize)
}

/// A count of images in one request, at least 1 and at most `max` (the caller's budget, e.g.
/// what one GPU pass holds: `Generator::images_per_pass`).
pub fn parse_images(what: &str, s: &str, max: usize) -> Result<usize> {
    parse_count(what, s, 1, max as u64).map(|v| v as usize)
}

/// Bytes of memory the host can still give this process: `MemAvailable` of `/proc/meminfo` on
/// Linux; `None` where it is not known (other systems), and then nothing is refused on it.
pub fn host_memory_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Refuses, before anything is allocated, a request whose estimated `bytes` of host memory
/// exceed half of what the host has available (the other half is left to the process's own
/// buffers and the rest of the machine). `what` names the flag or field and what it holds.
pub fn check_host_bytes(what: &str, bytes: u64) -> Result<()> {
    match host_memory_available() {
        Some(avail) if bytes > avail / 2 => Err(Error::Invalid(format!(
            "{what}: about {:.1} MiB, more than half of the {:.1} MiB of memory this machine \
             has available; ask for less",
            bytes as f64 / (1 << 20) as f64,
            avail as f64 / (1 << 20) as f64
        ))),
        _ => Ok(()),
    }
}

/// Bytes of `n` images of `c x r x r` f32 values, saturating (for budgets).
pub fn image_bytes(n: usize, c: usize, r: usize) -> u64 {
    (n as u64)
        .saturating_mul(c as u64)
        .saturating_mul((r as u64).saturating_mul(r as u64))
        .saturating_mul(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn numbers_are_refused_by_name_and_reason() {
        assert_eq!(parse_seed("seed", "4294967295").unwrap(), u32::MAX);
        assert!(msg(parse_seed("seed", "4294967296")).contains("outside [0, 4294967295]"));
        assert!(msg(parse_seed("seed", "-1")).contains("must not be negative"));
        assert!(msg(parse_count("images", "2.5", 1, 8)).contains("whole number"));
        assert!(msg(parse_count("images", "", 1, 8)).contains("not a whole number"));
        assert!(msg(parse_psi("psi", "NaN")).contains("not a finite number"));
        assert!(msg(parse_psi("psi", "")).contains("not a number"));
        assert!(msg(parse_psi("psi", "1e30")).contains("outside [-10, 10]"));
        assert_eq!(parse_psi("psi", " 0.7 ").unwrap(), 0.7);
        assert!(msg(parse_frames("frames", "0")).contains("outside [2, 10000]"));
        assert!(msg(parse_frames("frames", "4294967295")).contains("outside"));
        assert!(msg(parse_positive("--lr", "0", 1.0)).contains("--lr \"0\": must be greater"));
        assert!(msg(parse_positive("--lr", "-1", 1.0)).contains("outside"));
        assert!(msg(parse_f64("--gamma", "inf", 0.0, 1e6)).contains("not a finite"));
        if host_memory_available().is_some() {
            let e = msg(check_host_bytes("--out-npy (2^20 images)", u64::MAX));
            assert!(e.starts_with("--out-npy (2^20 images): about"), "{e}");
        }
        assert!(check_host_bytes("a byte", 1).is_ok());
    }
}
