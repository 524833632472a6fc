//! The whole StyleGAN generator in f64, composed of the reference ops and written straight
//! from `docs/network.md`: what `nn::Generator` is tested against (values, and its
//! parameter gradients through finite differences).

use std::collections::BTreeMap;

use super::elementwise::lrelu;
use super::{adain, conv, dense, epilogue, pixel_norm, reduce, resample, Arr};
use crate::nn::config::Config;
use crate::nn::params::{layer_channels, layer_scope, HostWeights};

/// Where the per-layer noise comes from (the GPU `NoiseMode` without the RNG: random maps are
/// passed in explicitly so a test can share them with the GPU run).
#[derive(Clone, Copy, Debug)]
pub enum RefNoise<'a> {
    /// The stored `G_synthesis/noise{i}`.
    Const,
    None,
    /// One map per layer, `[N, 1, s, s]` or `[1, 1, s, s]`.
    Explicit(&'a [Arr]),
}

/// The generator's variables in f64, by official name; tests perturb them in place.
#[derive(Clone, Debug)]
pub struct RefGenerator {
    pub cfg: Config,
    pub weights: BTreeMap<String, Arr>,
}

const SQRT2: f64 = std::f64::consts::SQRT_2;

impl RefGenerator {
    pub fn new(cfg: &Config, w: &HostWeights) -> RefGenerator {
        let weights = w
            .iter()
            .map(|(k, t)| {
                let shape = if t.shape.is_empty() {
                    vec![1]
                } else {
                    t.shape.clone()
                };
                (k.clone(), Arr::from_f32(&shape, &t.data))
            })
            .collect();
        RefGenerator {
            cfg: cfg.clone(),
            weights,
        }
    }

    pub fn get(&self, name: &str) -> &Arr {
        self.weights
            .get(name)
            .unwrap_or_else(|| panic!("reference generator: no variable {name}"))
    }

    fn syn(&self, scope: &str, name: &str) -> &Arr {
        self.get(&format!("G_synthesis/{scope}/{name}"))
    }

    /// `z: [N, latent] -> [N, dlatent]` (unconditional networks).
    pub fn mapping_w(&self, z: &Arr) -> Arr {
        self.mapping_w_labels(z, None)
    }

    /// `z: [N, latent]` and one-hot `labels: [N, label_size]` -> `[N, dlatent]`: the label
    /// embedding `labels @ LabelConcat` (as stored) concatenated to z before the pixel norm.
    pub fn mapping_w_labels(&self, z: &Arr, labels: Option<&Arr>) -> Arr {
        let lrmul = self.cfg.mapping_lrmul as f64;
        let x = match labels {
            Some(l) => {
                let y = dense::matmul(
                    l,
                    self.get("G_mapping/LabelConcat/weight"),
                    false,
                    false,
                    1.0,
                );
                let (n, k) = (z.shape[0], z.shape[1]);
                let mut zy = Arr::zeros(&[n, 2 * k]);
                for i in 0..n {
                    zy.data[i * 2 * k..i * 2 * k + k].copy_from_slice(&z.data[i * k..(i + 1) * k]);
                    zy.data[i * 2 * k + k..(i + 1) * 2 * k]
                        .copy_from_slice(&y.data[i * k..(i + 1) * k]);
                }
                zy
            }
            None => z.clone(),
        };
        let mut x = pixel_norm::pixel_norm(&x);
        for l in 0..self.cfg.mapping_layers {
            let w = self.get(&format!("G_mapping/Dense{l}/weight"));
            let b = self.get(&format!("G_mapping/Dense{l}/bias"));
            x = dense::dense(&x, w, Some(b), SQRT2, lrmul).map(|v| lrelu(v, 0.2));
        }
        x
    }

    /// `z: [N, latent] -> [N, num_layers, dlatent]`.
    pub fn mapping(&self, z: &Arr) -> Arr {
        self.mapping_labels(z, None)
    }

    /// `mapping` with labels (see `mapping_w_labels`).
    pub fn mapping_labels(&self, z: &Arr, labels: Option<&Arr>) -> Arr {
        let w = self.mapping_w_labels(z, labels);
        let (n, d, l) = (w.shape[0], w.shape[1], self.cfg.num_layers());
        reduce::broadcast_to(&w.reshape(&[n, 1, d]), &[n, l, d])
    }

    /// `avg + psi * (w_i - avg)` for layers `i < cutoff`.
    pub fn truncate(&self, w: &Arr, psi: f64, cutoff: usize) -> Arr {
        let avg = self.get("dlatent_avg");
        let (l, d) = (w.shape[1], w.shape[2]);
        let mut y = w.clone();
        for (k, v) in y.data.iter_mut().enumerate() {
            let (i, j) = ((k / d) % l, k % d);
            if i < cutoff {
                *v = avg.data[j] + psi * (*v - avg.data[j]);
            }
        }
        y
    }

    /// Layers `i < k` from `w1`, the rest from `w2`.
    pub fn mix(w1: &Arr, w2: &Arr, k: usize) -> Arr {
        let (l, d) = (w1.shape[1], w1.shape[2]);
        let mut y = w2.clone();
        for (idx, v) in y.data.iter_mut().enumerate() {
            if (idx / d) % l < k {
                *v = w1.data[idx];
            }
        }
        y
    }

    fn epilogue(&self, i: usize, x: &Arr, noise: Option<&Arr>, w: &Arr) -> Arr {
        let scope = layer_scope(i);
        let x = epilogue::epilogue(
            x,
            noise,
            self.syn(&scope, "Noise/weight"),
            self.syn(&scope, "bias"),
            1.0,
            0.2,
        );
        let (n, l, d) = (w.shape[0], w.shape[1], w.shape[2]);
        let wi = Arr::new(
            &[n, d],
            (0..n)
                .flat_map(|b| w.data[(b * l + i) * d..(b * l + i + 1) * d].to_vec())
                .collect(),
        );
        let style = dense::dense(
            &wi,
            self.syn(&scope, "StyleMod/weight"),
            Some(self.syn(&scope, "StyleMod/bias")),
            1.0,
            1.0,
        );
        adain::adain(&x, &style)
    }

    /// `w: [N, L, D]` -> `[N, num_channels, R, R]`.
    pub fn synthesis(&self, w: &Arr, noise: RefNoise) -> Arr {
        self.synthesis_lod(w, noise, 0.0)
    }

    /// `ToRGB_lod{l}`: conv1x1 with gain 1, + bias, no activation.
    fn to_rgb(&self, x: &Arr, l: usize) -> Arr {
        let cin = x.shape[1];
        let mut y = conv::conv2d(
            x,
            self.get(&format!("G_synthesis/ToRGB_lod{l}/weight")),
            1.0 / (cin as f64).sqrt(),
        );
        let b = self.get(&format!("G_synthesis/ToRGB_lod{l}/bias"));
        let (c, hw) = (y.shape[1], y.shape[2] * y.shape[3]);
        for (k, v) in y.data.iter_mut().enumerate() {
            *v += b.data[(k / hw) % c];
        }
        y
    }

    /// The synthesis network at level of detail `lod`, as the official `structure = 'linear'`
    /// graph computes it: every block always, `out = ToRGB_lod{R-2}` after 4x4, then per side
    /// `2^res` (`l = R - res`) `out = lerp_clip(ToRGB_lod{l}(x), upscale2d(out), lod - l)`.
    /// Fixed-structure configs: only `lod = 0`, the plain network.
    pub fn synthesis_lod(&self, w: &Arr, noise: RefNoise, lod: f64) -> Arr {
        let cfg = &self.cfg;
        assert!(
            cfg.progressive || lod == 0.0,
            "reference synthesis: lod {lod} on a fixed-structure config"
        );
        let big_r = cfg.log2_res();
        let n = w.shape[0];
        let stored: Vec<Arr>;
        let maps: Vec<Option<&Arr>> = match noise {
            RefNoise::None => vec![None; cfg.num_layers()],
            RefNoise::Const => {
                stored = (0..cfg.num_layers())
                    .map(|i| self.get(&format!("G_synthesis/noise{i}")).clone())
                    .collect();
                stored.iter().map(Some).collect()
            }
            RefNoise::Explicit(m) => m.iter().map(Some).collect(),
        };
        let c0 = layer_channels(cfg, 0);
        let x = reduce::broadcast_to(self.syn("4x4/Const", "const"), &[n, c0, 4, 4]);
        let x = self.epilogue(0, &x, maps[0], w);
        let x = conv::conv2d(
            &x,
            self.syn("4x4/Conv", "weight"),
            SQRT2 / (9.0 * c0 as f64).sqrt(),
        );
        let mut x = self.epilogue(1, &x, maps[1], w);
        let mut out = if cfg.progressive {
            Some(self.to_rgb(&x, big_r - 2))
        } else {
            None
        };
        for r in 3..=big_r {
            let (i0, i1) = (2 * r - 4, 2 * r - 3);
            let cin = x.shape[1];
            let w0 = self.syn(&layer_scope(i0), "weight");
            let alpha = SQRT2 / (9.0 * cin as f64).sqrt();
            let y = if cfg.fused_up(1 << r) {
                conv::conv_up2_fused(&x, w0, alpha)
            } else {
                conv::conv2d(&resample::upsample2(&x, 1.0), w0, alpha)
            };
            let y = self.epilogue(i0, &resample::blur(&y), maps[i0], w);
            let c = y.shape[1];
            let y = conv::conv2d(
                &y,
                self.syn(&layer_scope(i1), "weight"),
                SQRT2 / (9.0 * c as f64).sqrt(),
            );
            x = self.epilogue(i1, &y, maps[i1], w);
            if let Some(o) = out {
                let l = big_r - r;
                let img = self.to_rgb(&x, l);
                let up = resample::upsample2(&o, 1.0);
                out = Some(lerp_clip(&img, &up, lod - l as f64));
            }
        }
        match out {
            Some(o) => o,
            None => self.to_rgb(&x, 0),
        }
    }

    /// `z -> mapping -> truncation (when psi != 1) -> synthesis`.
    pub fn generate(&self, z: &Arr, psi: f64, cutoff: usize, noise: RefNoise) -> Arr {
        self.generate_labels(z, None, psi, cutoff, noise)
    }

    /// `generate` with labels (class-conditional networks).
    pub fn generate_labels(
        &self,
        z: &Arr,
        labels: Option<&Arr>,
        psi: f64,
        cutoff: usize,
        noise: RefNoise,
    ) -> Arr {
        let mut w = self.mapping_labels(z, labels);
        if psi != 1.0 && cutoff > 0 {
            w = self.truncate(&w, psi, cutoff);
        }
        self.synthesis(&w, noise)
    }
}

/// `a + (b - a) * clamp(t, 0, 1)` (the official `lerp_clip`).
pub fn lerp_clip(a: &Arr, b: &Arr, t: f64) -> Arr {
    let t = t.clamp(0.0, 1.0);
    a.zip(b, |x, y| x + (y - x) * t)
}
