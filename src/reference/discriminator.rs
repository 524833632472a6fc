//! Reference discriminator in f64, the same network as `nn::discriminator` from the reference
//! ops; weights by official name.

use std::collections::BTreeMap;

use super::elementwise::lrelu;
use super::{conv, dense, mbstd, resample, Arr};
use crate::nn::config::Config;

pub type RefWeights = BTreeMap<String, Arr>;

fn he(fan_in: usize) -> f64 {
    (2.0 / fan_in as f64).sqrt()
}

fn bias_act(x: &Arr, b: &Arr) -> Arr {
    let c = x.shape[1];
    let hw: usize = x.shape[2..].iter().product();
    let mut y = x.clone();
    for (i, v) in y.data.iter_mut().enumerate() {
        *v = lrelu(*v + b.data[(i / hw) % c], 0.2);
    }
    y
}

/// Scores `[N, 1]` of images `[N, C, R, R]`.
pub fn discriminator(cfg: &Config, w: &RefWeights, images: &Arr) -> Arr {
    discriminator_lod(cfg, w, images, 0.0)
}

/// Scores at level of detail `lod`, as the official `structure = 'linear'` graph computes them
/// (every block always): `x = FromRGB_lod0(img)`; per side `2^res` from R down to 8 (`l = R - res`):
/// `x = block(x)`, `img = downscale2d(img)`, `x = lerp_clip(x, FromRGB_lod{l+1}(img), lod - l)`.
/// Fixed-structure configs: only `lod = 0`, the plain network.
pub fn discriminator_lod(cfg: &Config, w: &RefWeights, images: &Arr, lod: f64) -> Arr {
    discriminator_labels(cfg, w, images, None, lod)
}

/// Scores of a class-conditional D: `Dense1`'s outputs (one per class) times the one-hot
/// `labels`, summed per image (`LabelSwitch`); `None` is `discriminator_lod`.
pub fn discriminator_labels(
    cfg: &Config,
    w: &RefWeights,
    images: &Arr,
    labels: Option<&Arr>,
    lod: f64,
) -> Arr {
    assert!(
        cfg.progressive || lod == 0.0,
        "reference D: lod {lod} on a fixed-structure config"
    );
    let p = |n: &str| {
        w.get(n)
            .unwrap_or_else(|| panic!("reference D: no variable {n}"))
    };
    let conv_act = |x: &Arr, scope: &str, k: usize| {
        let fan = k * k * x.shape[1];
        bias_act(
            &conv::conv2d(x, p(&format!("{scope}/weight")), he(fan)),
            p(&format!("{scope}/bias")),
        )
    };
    let big_r = cfg.log2_res();
    let mut x = conv_act(images, "FromRGB_lod0", 1);
    let mut img = images.clone();
    for res in (3..=big_r).rev() {
        let s = 1usize << res;
        x = conv_act(&x, &format!("{s}x{s}/Conv0"), 3);
        let scope = format!("{s}x{s}/Conv1_down");
        let alpha = he(9 * x.shape[1]);
        let b = resample::blur(&x);
        let y = if cfg.fused_down(s) {
            conv::conv_down2_fused(&b, p(&format!("{scope}/weight")), alpha)
        } else {
            resample::downsample2(
                &conv::conv2d(&b, p(&format!("{scope}/weight")), alpha),
                0.25,
            )
        };
        x = bias_act(&y, p(&format!("{scope}/bias")));
        if cfg.progressive {
            let l = big_r - res;
            img = resample::downsample2(&img, 0.25);
            let y = conv_act(&img, &format!("FromRGB_lod{}", l + 1), 1);
            x = super::generator::lerp_clip(&x, &y, lod - l as f64);
        }
    }
    if cfg.mbstd_group_size > 1 {
        x = mbstd::minibatch_stddev(&x, cfg.mbstd_group_size)
            .expect("batch must be a multiple of the group");
    }
    x = conv_act(&x, "4x4/Conv", 3);
    let h = dense::dense(
        &x,
        p("4x4/Dense0/weight"),
        Some(p("4x4/Dense0/bias")),
        2f64.sqrt(),
        1.0,
    );
    let h = h.map(|v| lrelu(v, 0.2));
    let out = dense::dense(
        &h,
        p("4x4/Dense1/weight"),
        Some(p("4x4/Dense1/bias")),
        1.0,
        1.0,
    );
    match labels {
        None => out,
        Some(l) => {
            let (n, k) = (out.shape[0], out.shape[1]);
            let score = (0..n)
                .map(|i| {
                    (0..k)
                        .map(|j| out.data[i * k + j] * l.data[i * k + j])
                        .sum()
                })
                .collect();
            Arr::new(&[n, 1], score)
        }
    }
}
