//! Features of image sets for FID and KID: a dataset (folder, zip, IDX) in its order, or
//! images from a generator as the official metrics make them (random `z`, no truncation, random
//! noise, quantized to 8 bits). The network is any [`FeatureNet`]: Inception's pool features
//! (the standard for FID/KID), VGG16's fc7 (precision/recall's), or the own-domain
//! classifier's (`eval::classifier`).

use crate::data::Dataset;
use crate::dist::{Collective, Solo};
use crate::error::{Error, Result};
use crate::eval::classifier::Classifier;
use crate::eval::inception::Inception;
use crate::eval::vgg16::Vgg16Fc7;
use crate::io::images::to_u8;
use crate::nn::generator::{Generator, NoiseMode, Truncation};

/// A network whose features FID and KID compare.
pub trait FeatureNet {
    /// Features per image.
    fn dim(&self) -> usize;
    /// Features `[n, dim]` (row-major) of 8-bit images `[n, c, h, w]`.
    fn features(&self, images: &[u8], n: usize, c: usize, h: usize, w: usize) -> Result<Vec<f32>>;
    /// Features of unquantized images in [-1, 1] (the perceptual path length compares images
    /// 1e-4 apart, below 8-bit steps); `None` where the network has no such path.
    fn features_f32(
        &self,
        _images: &[f32],
        _n: usize,
        _c: usize,
        _h: usize,
        _w: usize,
    ) -> Result<Option<Vec<f32>>> {
        Ok(None)
    }
    /// Class probabilities `[n, classes]` of images in [-1, 1] (linear separability labels
    /// images by them); `None` where the network does not classify.
    fn class_probabilities(
        &self,
        _images: &[f32],
        _n: usize,
        _c: usize,
        _h: usize,
        _w: usize,
    ) -> Result<Option<Vec<f32>>> {
        Ok(None)
    }
}

impl FeatureNet for Inception {
    fn dim(&self) -> usize {
        self.dims()
    }
    fn features(&self, images: &[u8], n: usize, c: usize, h: usize, w: usize) -> Result<Vec<f32>> {
        Inception::features(self, images, n, c, h, w)
    }
}

impl FeatureNet for Vgg16Fc7 {
    fn dim(&self) -> usize {
        crate::eval::vgg16::FC7_FEATURES
    }
    fn features(&self, images: &[u8], n: usize, c: usize, h: usize, w: usize) -> Result<Vec<f32>> {
        Vgg16Fc7::features(self, images, n, c, h, w)
    }
}

impl FeatureNet for Classifier {
    fn dim(&self) -> usize {
        self.config().features
    }
    fn features(&self, images: &[u8], n: usize, c: usize, h: usize, w: usize) -> Result<Vec<f32>> {
        self.image_features(images, n, c, h, w)
    }
    fn features_f32(
        &self,
        images: &[f32],
        n: usize,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Option<Vec<f32>>> {
        self.float_features(images, n, c, h, w).map(Some)
    }
    fn class_probabilities(
        &self,
        images: &[f32],
        n: usize,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Option<Vec<f32>>> {
        self.probabilities(images, n, c, h, w).map(Some)
    }
}

/// The distance of two images by their features, as LPIPS does per layer: each feature vector
/// scaled to unit length (plus 1e-10), then the squared difference summed. `[n]`.
pub fn unit_feature_distance(fa: &[f32], fb: &[f32], dim: usize) -> Vec<f64> {
    fn unit(v: &[f32]) -> Vec<f64> {
        let n = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt() + 1e-10;
        v.iter().map(|x| *x as f64 / n).collect()
    }
    fa.chunks(dim)
        .zip(fb.chunks(dim))
        .map(|(a, b)| {
            unit(a)
                .iter()
                .zip(unit(b))
                .map(|(x, y)| (x - y).powi(2))
                .sum()
        })
        .collect()
}

/// The real images of the metrics: a dataset, and with `mirror` its x-flips after it, as
/// stylegan2-ada's dataset with `xflip=True` (`--mirror=1`): `2N` images, image `N + i` the
/// mirror image of image `i`.
#[derive(Clone, Copy)]
pub struct Reals<'a> {
    pub ds: &'a Dataset,
    pub mirror: bool,
}

impl<'a> Reals<'a> {
    /// The dataset as it is.
    pub fn plain(ds: &'a Dataset) -> Reals<'a> {
        Reals { ds, mirror: false }
    }

    pub fn len(&self) -> usize {
        self.ds.len() * if self.mirror { 2 } else { 1 }
    }

    pub fn is_empty(&self) -> bool {
        self.ds.is_empty()
    }

    /// Image `i` as 8-bit CHW: the dataset's, or past its end the x-flip of image `i - N`.
    pub fn image(&self, i: usize) -> Result<Vec<u8>> {
        let n = self.ds.len();
        if i < n {
            return Ok(self.ds.image(i)?.to_vec());
        }
        if !self.mirror || i >= 2 * n {
            return Err(Error::Invalid(format!(
                "{}: image {i} of {}",
                self.ds.info().source,
                self.len()
            )));
        }
        let r = self.ds.info().resolution;
        let mut img = self.ds.image(i - n)?.to_vec();
        for row in img.chunks_mut(r) {
            row.reverse();
        }
        Ok(img)
    }

    /// The dataset's name, marked when mirrored.
    pub fn source(&self) -> String {
        let s = &self.ds.info().source;
        if self.mirror {
            format!("{s} (with x-flips)")
        } else {
            s.clone()
        }
    }
}

/// Features `[n, net.dim()]` (row-major) of the first `n` images of `ds` (all when `None`), in
/// batches of `batch`; `progress` is told how many images each batch held.
pub fn dataset_features(
    net: &dyn FeatureNet,
    ds: &Dataset,
    max: Option<usize>,
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<f32>> {
    reals_features(net, Reals::plain(ds), max, batch, progress)
}

/// [`dataset_features`] of the reals (a dataset, mirrored or not).
pub fn reals_features(
    net: &dyn FeatureNet,
    reals: Reals,
    max: Option<usize>,
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<f32>> {
    let n = max.map_or(reals.len(), |m| m.min(reals.len()));
    let mut out = Vec::new();
    let done = reals_features_each(net, reals, max, batch, &mut |f, b| {
        out.extend_from_slice(f);
        progress(b);
        Ok(())
    })?;
    if done < n {
        return Err(Error::Stopped(format!(
            "after the features of {done} of {n} images of {}",
            reals.source()
        )));
    }
    Ok(out)
}

/// `dataset_features` handing each batch's features (`[b, net.dim()]`, and `b`) to `each` as
/// they are made. A stop request (`progress::request_stop`) ends it after the batch in flight;
/// returns how many images' features were handed on.
pub fn dataset_features_each(
    net: &dyn FeatureNet,
    ds: &Dataset,
    max: Option<usize>,
    batch: usize,
    each: &mut dyn FnMut(&[f32], usize) -> Result<()>,
) -> Result<usize> {
    reals_features_each(net, Reals::plain(ds), max, batch, each)
}

/// [`dataset_features_each`] of the reals (a dataset, mirrored or not).
pub fn reals_features_each(
    net: &dyn FeatureNet,
    reals: Reals,
    max: Option<usize>,
    batch: usize,
    each: &mut dyn FnMut(&[f32], usize) -> Result<()>,
) -> Result<usize> {
    let ds = reals.ds;
    let n = max.map_or(reals.len(), |m| m.min(reals.len()));
    if n == 0 {
        return Err(Error::Invalid(format!("{}: no images", ds.info().source)));
    }
    let (c, r) = (ds.info().channels, ds.info().resolution);
    let mut start = 0;
    while start < n {
        let b = batch.max(1).min(n - start);
        let mut bytes = Vec::with_capacity(b * ds.image_bytes());
        for i in start..start + b {
            if i < ds.len() {
                bytes.extend_from_slice(&ds.image(i)?);
            } else {
                bytes.extend_from_slice(&reals.image(i)?);
            }
        }
        each(&net.features(&bytes, b, c, r, r)?, b)?;
        start += b;
        if crate::progress::stop_requested() {
            break;
        }
    }
    Ok(start)
}

/// Features `[n, net.dim()]` of `n` images from `g` as the official metrics draw them: `z ~ N(0, I)`
/// from `seed`, truncation ψ = 1, random noise, images quantized to 8 bits.
pub fn generator_features(
    net: &dyn FeatureNet,
    g: &Generator,
    n: usize,
    batch: usize,
    seed: u64,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<f32>> {
    generator_features_sharded(net, g, n, batch, seed, &Solo, progress)
}

/// [`generator_features`] split over the ranks of `comm` (data-parallel training measures its
/// snapshots this way): batch `j` is computed by rank `j % size`, and the features come back in
/// stream order on every rank. Every rank draws the whole latent and noise streams (host work,
/// small next to the networks'), so each batch has exactly the latents and noise it has in one
/// process: the result does not depend on the number of ranks. Every rank must call it.
pub fn generator_features_sharded(
    net: &dyn FeatureNet,
    g: &Generator,
    n: usize,
    batch: usize,
    seed: u64,
    comm: &dyn Collective,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<f32>> {
    let k = g.cfg.latent_size;
    let (c, r) = (g.cfg.num_channels, g.cfg.resolution);
    let (rank, size, d) = (comm.rank(), comm.size(), net.dim());
    let batch = batch.max(1);
    let mut rng = crate::rng::seeded(seed);
    g.seed_noise(seed ^ 0x9e37_79b9_7f4a_7c15);
    let sizes: Vec<usize> = (0..n.div_ceil(batch))
        .map(|j| batch.min(n - j * batch))
        .collect();
    let mut mine = Vec::new();
    for (j, &b) in sizes.iter().enumerate() {
        let z = crate::rng::std_normal(&mut rng, b * k);
        if j % size == rank {
            let classes = crate::nn::labels::balanced_classes(&g.cfg, j * batch, b);
            let images = g.generate_latents_classes(
                &z,
                classes.as_deref(),
                &Truncation::NONE,
                NoiseMode::Random,
            )?;
            let bytes: Vec<u8> = images
                .iter()
                .flat_map(|im| im.data.iter().map(|&v| to_u8(v)))
                .collect();
            mine.extend(net.features(&bytes, b, c, r, r)?);
        } else {
            g.skip_noise(b);
        }
        progress(b);
        // Ranks stop together only between training steps (the loop's own stop), so only a
        // single process stops here.
        if size == 1 {
            crate::progress::check_stop(|| {
                format!(
                    "after the features of {} of {n} generated images",
                    mine.len() / d
                )
            })?;
        }
    }
    if size == 1 {
        return Ok(mine);
    }
    // Rank q's part of the gather holds its batches q, q + size, ... in order.
    let all = comm.all_gather(&mine)?;
    let mut start = vec![0usize; size + 1];
    for (j, &b) in sizes.iter().enumerate() {
        start[j % size + 1] += b * d;
    }
    for q in 0..size {
        start[q + 1] += start[q];
    }
    if all.len() != n * d {
        return Err(Error::Invalid(format!(
            "sharded features: gathered {} values, expected {}",
            all.len(),
            n * d
        )));
    }
    let mut out = Vec::with_capacity(n * d);
    for (j, &b) in sizes.iter().enumerate() {
        let q = j % size;
        out.extend_from_slice(&all[start[q]..start[q] + b * d]);
        start[q] += b * d;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataOptions;

    #[test]
    fn mirrored_reals_append_the_x_flips() {
        let dir = std::env::temp_dir().join(format!("sgw-reals-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..2u8 {
            let img: Vec<u8> = (0..16u8).map(|p| p * 10 + i).collect();
            image::save_buffer(
                dir.join(format!("{i}.png")),
                &img,
                4,
                4,
                image::ColorType::L8,
            )
            .unwrap();
        }
        let ds = Dataset::open(&dir, &DataOptions::default()).unwrap();
        let plain = Reals::plain(&ds);
        assert_eq!(plain.len(), 2);
        assert!(plain.image(2).is_err());
        let m = Reals {
            ds: &ds,
            mirror: true,
        };
        assert_eq!(m.len(), 4);
        assert_eq!(m.image(1).unwrap(), ds.image(1).unwrap().to_vec());
        let flipped = m.image(3).unwrap();
        // Row 0 of image 1 is 1, 11, 21, 31: mirrored, 31, 21, 11, 1.
        assert_eq!(&flipped[..4], &[31, 21, 11, 1]);
        assert_eq!(&flipped[12..], &[151, 141, 131, 121]);
        assert!(m.image(4).is_err());
        assert!(m.source().contains("x-flips"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
