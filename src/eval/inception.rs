//! Inception-v3 as FID uses it: the TensorFlow "2015-12-05" graph as pytorch-fid ports it
//! (`pytorch_fid/inception.py`: torchvision's Inception-v3 with the `FIDInceptionA/C/E_1/E_2`
//! blocks), up to the 2048-d global average pool.
//!
//! Every layer is a `BasicConv2d` (conv without bias, batch norm with eps 1e-3, ReLU); the batch
//! norm is folded into the conv at load time (`w' = w * s`, `b = beta - mean * s` with
//! `s = gamma / sqrt(var + eps)`), so each layer is one conv and one bias-ReLU. The differences
//! from torchvision's Inception that FID depends on: the average pools of the A, C and E_1 blocks
//! do not count padding, and the last block (E_2) pools with a max instead of an average.
//!
//! Input: images quantized to 8 bits (`Image::to_u8`, as stylegan2-ada does before measuring),
//! grayscale repeated to 3 channels, resized bilinearly to 299x299 (`align_corners = false`) and
//! scaled to [-1, 1], exactly pytorch-fid's `ToTensor`, `F.interpolate` and `2x - 1`.
//!
//! [`Inception::with_dims`] picks pytorch-fid's other feature layers (its `--dims`): the output
//! of its block 0 (the first max pool, 64 channels), block 1 (the second max pool, 192) or
//! block 2 (`Mixed_6e`, before the auxiliary classifier, 768), each averaged over its spatial
//! positions as `fid_score.get_activations` does with `adaptive_avg_pool2d(pred, (1, 1))`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::eval::image_input::{check_images, repeat_to_rgb};
use crate::gpu::{Gpu, Tensor};
use crate::nn::params::{oihw_to_hwio, require_tensor, HostTensor, HostWeights};
use crate::ops;
use crate::ops::conv::{ConvSpec, Precision};
use crate::tape::{no_grad, Var};

/// Side of the square the network sees.
pub const INPUT_SIZE: usize = 299;
/// Width of the pool features FID uses.
pub const FEATURES: usize = 2048;
/// The feature widths pytorch-fid offers (`InceptionV3.BLOCK_INDEX_BY_DIM`): its blocks 0 to 3.
pub const DIMS: [usize; 4] = [64, 192, 768, FEATURES];
/// Batch-norm epsilon of every layer (torchvision's `BasicConv2d`).
const BN_EPS: f64 = 1e-3;

/// One `BasicConv2d`: its name in the checkpoint, channels, kernel, stride and padding.
#[derive(Clone, Copy, Debug)]
struct LayerSpec {
    name: &'static str,
    cin: usize,
    cout: usize,
    k: (usize, usize),
    stride: usize,
    pad: (usize, usize),
}

const fn l(
    name: &'static str,
    cin: usize,
    cout: usize,
    k: (usize, usize),
    stride: usize,
    pad: (usize, usize),
) -> LayerSpec {
    LayerSpec {
        name,
        cin,
        cout,
        k,
        stride,
        pad,
    }
}

/// The stem, in order (torchvision's `Conv2d_*`).
const STEM: [LayerSpec; 5] = [
    l("Conv2d_1a_3x3", 3, 32, (3, 3), 2, (0, 0)),
    l("Conv2d_2a_3x3", 32, 32, (3, 3), 1, (0, 0)),
    l("Conv2d_2b_3x3", 32, 64, (3, 3), 1, (1, 1)),
    l("Conv2d_3b_1x1", 64, 80, (1, 1), 1, (0, 0)),
    l("Conv2d_4a_3x3", 80, 192, (3, 3), 1, (0, 0)),
];

/// How a mixed block pools in its pool branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    /// InceptionA (`Mixed_5*`), pool branch width.
    A(usize),
    /// InceptionB (`Mixed_6a`): stride-2 reduction.
    B,
    /// InceptionC (`Mixed_6b..e`), width of the 7x7 branches.
    C(usize),
    /// InceptionD (`Mixed_7a`): stride-2 reduction.
    D,
    /// InceptionE with an average pool (`Mixed_7b`, pytorch-fid's `FIDInceptionE_1`).
    E1,
    /// InceptionE with a max pool (`Mixed_7c`, `FIDInceptionE_2`).
    E2,
}

/// The mixed blocks in order: name, input channels, kind.
const BLOCKS: [(&str, usize, BlockKind); 11] = [
    ("Mixed_5b", 192, BlockKind::A(32)),
    ("Mixed_5c", 256, BlockKind::A(64)),
    ("Mixed_5d", 288, BlockKind::A(64)),
    ("Mixed_6a", 288, BlockKind::B),
    ("Mixed_6b", 768, BlockKind::C(128)),
    ("Mixed_6c", 768, BlockKind::C(160)),
    ("Mixed_6d", 768, BlockKind::C(160)),
    ("Mixed_6e", 768, BlockKind::C(192)),
    ("Mixed_7a", 768, BlockKind::D),
    ("Mixed_7b", 1280, BlockKind::E1),
    ("Mixed_7c", 2048, BlockKind::E2),
];

/// One conv of a block: name, input and output channels, kernel (rows, columns), stride,
/// padding (rows, columns).
type BlockConv<N> = (N, usize, usize, (usize, usize), usize, (usize, usize));

/// The convs of one mixed block (names relative to the block), as torchvision defines them.
fn block_layers(cin: usize, kind: BlockKind) -> Vec<BlockConv<String>> {
    let one = (1, 1);
    let z = (0, 0);
    let v: Vec<BlockConv<&str>> = match kind {
        BlockKind::A(pool) => vec![
            ("branch1x1", cin, 64, one, 1, z),
            ("branch5x5_1", cin, 48, one, 1, z),
            ("branch5x5_2", 48, 64, (5, 5), 1, (2, 2)),
            ("branch3x3dbl_1", cin, 64, one, 1, z),
            ("branch3x3dbl_2", 64, 96, (3, 3), 1, one),
            ("branch3x3dbl_3", 96, 96, (3, 3), 1, one),
            ("branch_pool", cin, pool, one, 1, z),
        ],
        BlockKind::B => vec![
            ("branch3x3", cin, 384, (3, 3), 2, z),
            ("branch3x3dbl_1", cin, 64, one, 1, z),
            ("branch3x3dbl_2", 64, 96, (3, 3), 1, one),
            ("branch3x3dbl_3", 96, 96, (3, 3), 2, z),
        ],
        BlockKind::C(c7) => vec![
            ("branch1x1", cin, 192, one, 1, z),
            ("branch7x7_1", cin, c7, one, 1, z),
            ("branch7x7_2", c7, c7, (1, 7), 1, (0, 3)),
            ("branch7x7_3", c7, 192, (7, 1), 1, (3, 0)),
            ("branch7x7dbl_1", cin, c7, one, 1, z),
            ("branch7x7dbl_2", c7, c7, (7, 1), 1, (3, 0)),
            ("branch7x7dbl_3", c7, c7, (1, 7), 1, (0, 3)),
            ("branch7x7dbl_4", c7, c7, (7, 1), 1, (3, 0)),
            ("branch7x7dbl_5", c7, 192, (1, 7), 1, (0, 3)),
            ("branch_pool", cin, 192, one, 1, z),
        ],
        BlockKind::D => vec![
            ("branch3x3_1", cin, 192, one, 1, z),
            ("branch3x3_2", 192, 320, (3, 3), 2, z),
            ("branch7x7x3_1", cin, 192, one, 1, z),
            ("branch7x7x3_2", 192, 192, (1, 7), 1, (0, 3)),
            ("branch7x7x3_3", 192, 192, (7, 1), 1, (3, 0)),
            ("branch7x7x3_4", 192, 192, (3, 3), 2, z),
        ],
        BlockKind::E1 | BlockKind::E2 => vec![
            ("branch1x1", cin, 320, one, 1, z),
            ("branch3x3_1", cin, 384, one, 1, z),
            ("branch3x3_2a", 384, 384, (1, 3), 1, (0, 1)),
            ("branch3x3_2b", 384, 384, (3, 1), 1, (1, 0)),
            ("branch3x3dbl_1", cin, 448, one, 1, z),
            ("branch3x3dbl_2", 448, 384, (3, 3), 1, one),
            ("branch3x3dbl_3a", 384, 384, (1, 3), 1, (0, 1)),
            ("branch3x3dbl_3b", 384, 384, (3, 1), 1, (1, 0)),
            ("branch_pool", cin, 192, one, 1, z),
        ],
    };
    v.into_iter()
        .map(|(n, a, b, k, s, p)| (n.to_string(), a, b, k, s, p))
        .collect()
}

/// Every layer of the network with its full checkpoint name (`Mixed_6b.branch7x7_2`).
fn all_layers() -> Vec<(String, LayerSpec)> {
    let mut out: Vec<(String, LayerSpec)> = STEM.iter().map(|s| (s.name.to_string(), *s)).collect();
    for (block, cin, kind) in BLOCKS {
        for (n, a, b, k, s, p) in block_layers(cin, kind) {
            let spec = l("", a, b, k, s, p);
            out.push((format!("{block}.{n}"), spec));
        }
    }
    out
}

/// The checkpoint tensors one layer reads: torch names and shapes (conv weight OIHW).
fn layer_tensors(name: &str, s: &LayerSpec) -> [(String, Vec<usize>); 5] {
    let c = vec![s.cout];
    [
        (
            format!("{name}.conv.weight"),
            vec![s.cout, s.cin, s.k.0, s.k.1],
        ),
        (format!("{name}.bn.weight"), c.clone()),
        (format!("{name}.bn.bias"), c.clone()),
        (format!("{name}.bn.running_mean"), c.clone()),
        (format!("{name}.bn.running_var"), c),
    ]
}

/// Every tensor name and shape the network needs from a checkpoint (the pytorch-fid state
/// dict also holds `fc.*` and `num_batches_tracked`, which FID does not use).
pub fn required_tensors() -> Vec<(String, Vec<usize>)> {
    all_layers()
        .iter()
        .flat_map(|(n, s)| layer_tensors(n, s))
        .collect()
}

/// Checkpoint tensors of the right names and shapes, random with activations of order 1
/// (He-uniform convs, batch-norm parameters near neutral): for benchmarks and tests, which have
/// no trained weights. The features they give mean nothing.
pub fn random_tensors(seed: u64) -> HostWeights {
    use rand::Rng;
    let mut rng = crate::rng::seeded(seed);
    required_tensors()
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let (lo, hi) = if name.ends_with("conv.weight") {
                let a = (6.0 / (n / shape[0]) as f32).sqrt();
                (-a, a)
            } else if name.ends_with("bn.weight") || name.ends_with("running_var") {
                (0.5, 1.5)
            } else {
                (-0.1, 0.1)
            };
            let data = (0..n).map(|_| rng.random_range(lo..hi)).collect();
            (name, HostTensor { shape, data })
        })
        .collect()
}

/// A conv with its batch norm folded in.
struct Layer {
    w: Var,
    b: Var,
    stride: usize,
    pad: (usize, usize),
}

/// The FID Inception on one GPU context, weights uploaded once.
pub struct Inception {
    gpu: Gpu,
    layers: BTreeMap<String, Layer>,
    /// Features per image: one of [`DIMS`].
    dims: usize,
}

impl Inception {
    /// Builds the network from checkpoint tensors (pytorch-fid names); `source` names the file
    /// in errors. A missing or misshapen tensor is an error naming it.
    pub fn from_tensors(gpu: &Gpu, t: &HostWeights, source: &str) -> Result<Inception> {
        let get = |name: &str, shape: &[usize]| {
            require_tensor(
                t,
                name,
                shape,
                source,
                "pytorch-fid's Inception checkpoint, pt_inception-2015-12-05-*.pth",
            )
        };
        let mut layers = BTreeMap::new();
        for (name, s) in all_layers() {
            let [(wn, ws), (gn, cs), (bn, _), (mn, _), (vn, _)] = layer_tensors(&name, &s);
            let w = get(&wn, &ws)?;
            let (gamma, beta) = (get(&gn, &cs)?, get(&bn, &cs)?);
            let (mean, var) = (get(&mn, &cs)?, get(&vn, &cs)?);
            if let Some(o) = var.data.iter().position(|&v| (v as f64) + BN_EPS <= 0.0) {
                return Err(Error::Invalid(format!(
                    "{source}: tensor '{vn}' has a negative variance at channel {o}"
                )));
            }
            let (kh, kw, c, o) = (s.k.0, s.k.1, s.cin, s.cout);
            let scale: Vec<f64> = (0..o)
                .map(|i| gamma.data[i] as f64 / (var.data[i] as f64 + BN_EPS).sqrt())
                .collect();
            let bias: Vec<f32> = (0..o)
                .map(|i| (beta.data[i] as f64 - mean.data[i] as f64 * scale[i]) as f32)
                .collect();
            let hwio = oihw_to_hwio(&w.data, [o, c, kh, kw], |oi| scale[oi]);
            layers.insert(
                name,
                Layer {
                    w: Var::constant(Tensor::from_slice(gpu, &[kh, kw, c, o], &hwio)?),
                    b: Var::constant(Tensor::from_slice(gpu, &[o], &bias)?),
                    stride: s.stride,
                    pad: s.pad,
                },
            );
        }
        Ok(Inception {
            gpu: gpu.clone(),
            layers,
            dims: FEATURES,
        })
    }

    /// The same network giving pytorch-fid's `dims` features (module docs): 64, 192, 768 or
    /// 2048 (the default, the pool features of FID).
    pub fn with_dims(mut self, dims: usize) -> Result<Inception> {
        if !DIMS.contains(&dims) {
            return Err(Error::Invalid(format!(
                "Inception features of {dims} dimensions: pytorch-fid's are 64, 192, 768 or 2048"
            )));
        }
        self.dims = dims;
        Ok(self)
    }

    /// Features per image.
    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    fn conv(&self, name: &str, x: &Var) -> Result<Var> {
        let l = self
            .layers
            .get(name)
            .ok_or_else(|| Error::Invalid(format!("inception has no layer '{name}'")))?;
        let y = ops::conv(
            x,
            &l.w,
            ConvSpec::forward(l.stride, l.pad),
            1.0,
            Precision::F32,
        )?;
        ops::bias_act(&y, &l.b, 1.0, 0.0)
    }

    fn chain(&self, block: &str, names: &[&str], x: &Var) -> Result<Var> {
        let mut y = x.clone();
        for n in names {
            y = self.conv(&format!("{block}.{n}"), &y)?;
        }
        Ok(y)
    }

    fn mixed(&self, block: &str, kind: BlockKind, x: &Var) -> Result<Var> {
        let avg = |x: &Var| ops::avg_pool2d(x, 3, 1, 1, false);
        let parts = match kind {
            BlockKind::A(_) => vec![
                self.chain(block, &["branch1x1"], x)?,
                self.chain(block, &["branch5x5_1", "branch5x5_2"], x)?,
                self.chain(
                    block,
                    &["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"],
                    x,
                )?,
                self.chain(block, &["branch_pool"], &avg(x)?)?,
            ],
            BlockKind::B => vec![
                self.chain(block, &["branch3x3"], x)?,
                self.chain(
                    block,
                    &["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"],
                    x,
                )?,
                ops::max_pool2d(x, 3, 2, 0)?,
            ],
            BlockKind::C(_) => vec![
                self.chain(block, &["branch1x1"], x)?,
                self.chain(block, &["branch7x7_1", "branch7x7_2", "branch7x7_3"], x)?,
                self.chain(
                    block,
                    &[
                        "branch7x7dbl_1",
                        "branch7x7dbl_2",
                        "branch7x7dbl_3",
                        "branch7x7dbl_4",
                        "branch7x7dbl_5",
                    ],
                    x,
                )?,
                self.chain(block, &["branch_pool"], &avg(x)?)?,
            ],
            BlockKind::D => vec![
                self.chain(block, &["branch3x3_1", "branch3x3_2"], x)?,
                self.chain(
                    block,
                    &[
                        "branch7x7x3_1",
                        "branch7x7x3_2",
                        "branch7x7x3_3",
                        "branch7x7x3_4",
                    ],
                    x,
                )?,
                ops::max_pool2d(x, 3, 2, 0)?,
            ],
            BlockKind::E1 | BlockKind::E2 => {
                let b3 = self.chain(block, &["branch3x3_1"], x)?;
                let d3 = self.chain(block, &["branch3x3dbl_1", "branch3x3dbl_2"], x)?;
                let pooled = if kind == BlockKind::E1 {
                    avg(x)?
                } else {
                    ops::max_pool2d(x, 3, 1, 1)?
                };
                vec![
                    self.chain(block, &["branch1x1"], x)?,
                    self.chain(block, &["branch3x3_2a"], &b3)?,
                    self.chain(block, &["branch3x3_2b"], &b3)?,
                    self.chain(block, &["branch3x3dbl_3a"], &d3)?,
                    self.chain(block, &["branch3x3dbl_3b"], &d3)?,
                    self.chain(block, &["branch_pool"], &pooled)?,
                ]
            }
        };
        let mut y = parts[0].clone();
        for p in &parts[1..] {
            y = ops::concat_channels(&y, p)?;
        }
        Ok(y)
    }

    /// Features `[N, dims]` (pool features `[N, 2048]` by default) of images already at the
    /// network's input: `x` is `[N, 3, H, W]` in [-1, 1] (299x299 for FID; the network is fully
    /// convolutional down to the global pool, so other sizes of at least 75x75 run too).
    /// Differentiable.
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let s = x.shape();
        if s.len() != 4 || s[1] != 3 || s[2] < 75 || s[3] < 75 {
            return Err(Error::Shape {
                op: "inception",
                msg: format!("input must be [N, 3, H, W] with H, W >= 75, got {s:?}"),
            });
        }
        // pytorch-fid's adaptive average pool to 1x1, as [N, C].
        let pooled = |y: &Var| {
            let (n, c) = (y.shape()[0], y.shape()[1]);
            ops::reshape(&ops::global_avg_pool2d(y)?, &[n, c])
        };
        let mut y = x.clone();
        for (i, st) in STEM.iter().enumerate() {
            y = self.conv(st.name, &y)?;
            // The two stride-2 max pools after Conv2d_2b and Conv2d_4a, which end pytorch-fid's
            // blocks 0 (64 channels) and 1 (192).
            if i == 2 || i == 4 {
                y = ops::max_pool2d(&y, 3, 2, 0)?;
                if (i, self.dims) == (2, 64) || (i, self.dims) == (4, 192) {
                    return pooled(&y);
                }
            }
        }
        for (block, _, kind) in BLOCKS {
            y = self.mixed(block, kind, &y)?;
            // Block 2 ends at Mixed_6e, where the auxiliary classifier branches off.
            if block == "Mixed_6e" && self.dims == 768 {
                return pooled(&y);
            }
        }
        pooled(&y)
    }

    /// `[N, 3, 299, 299]` network input from 8-bit images `[N, C, H, W]` (`C` 1 or 3):
    /// grayscale repeated to RGB, bilinear resize, `x / 127.5 - 1`.
    pub fn preprocess(&self, images: &[u8], n: usize, c: usize, h: usize, w: usize) -> Result<Var> {
        check_images("inception", images.len(), n, c, h, w)?;
        let pixels: Vec<f32> = images.iter().map(|&v| v as f32).collect();
        let rgb = repeat_to_rgb(&pixels, c, h * w);
        let x = Var::constant(Tensor::from_slice(&self.gpu, &[n, 3, h, w], &rgb)?);
        let x = if (h, w) == (INPUT_SIZE, INPUT_SIZE) {
            x
        } else {
            ops::resize_bilinear(&x, INPUT_SIZE, INPUT_SIZE)?
        };
        ops::affine(&x, 1.0 / 127.5, -1.0)
    }

    /// Features `[n, dims]` (row-major) of 8-bit images `[n, C, H, W]`.
    pub fn features(
        &self,
        images: &[u8],
        n: usize,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>> {
        no_grad(|| {
            self.forward(&self.preprocess(images, n, c, h, w)?)?
                .to_vec()
        })
    }
}
