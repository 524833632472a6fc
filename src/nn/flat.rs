//! Where a network's variables live on the GPU: a few flat buffers ("chunks"), each variable a
//! view of one of them, so that a whole network is updated by one dispatch per chunk (Adam,
//! the Gs moving average) instead of one per variable. Within a chunk the trainable variables
//! come first: an update that treats them differently from the rest (Gs copies the
//! non-trainables) splits the chunk at one index.
//!
//! Each variable starts at a multiple of the adapter's storage-binding alignment (a kernel
//! binds a view from its start), and the padding between them holds zeros, which Adam leaves
//! at zero (its update of a zero gradient with zero moments is zero).

use crate::nn::params::ParamSpec;

/// One variable's place in its chunk, in f32 values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Index of the variable in the network's specs.
    pub spec: usize,
    pub offset: usize,
    pub numel: usize,
}

/// The layout of one flat buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chunk {
    /// Values in the buffer: the last segment's end, rounded up to the alignment.
    pub len: usize,
    /// Trainable segments lie below this index, the others at or above it.
    pub trainable_end: usize,
    /// In offset order.
    pub segs: Vec<Segment>,
}

/// The layout of `specs` in chunks of at most `max_len` values (a multiple of `align`), every
/// segment starting at a multiple of `align`: the trainable variables in spec order, then the others, a new chunk
/// whenever the next one would not fit. A variable larger than `max_len` gets a chunk of its
/// own (allocating it then fails with the adapter's own limit in the message).
pub fn layout(specs: &[ParamSpec], align: usize, max_len: usize) -> Vec<Chunk> {
    let align = align.max(1);
    let order = (0..specs.len())
        .filter(|&i| specs[i].trainable)
        .chain((0..specs.len()).filter(|&i| !specs[i].trainable));
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut cur = Chunk::default();
    for i in order {
        // Scalars are stored as [1].
        let numel = specs[i].shape.iter().product::<usize>().max(1);
        let offset = cur.len.div_ceil(align) * align;
        if !cur.segs.is_empty() && offset + numel > max_len {
            chunks.push(std::mem::take(&mut cur));
        }
        let offset = cur.len.div_ceil(align) * align;
        cur.segs.push(Segment {
            spec: i,
            offset,
            numel,
        });
        cur.len = offset + numel;
        if specs[i].trainable {
            cur.trainable_end = cur.len;
        }
    }
    if !cur.segs.is_empty() {
        chunks.push(cur);
    }
    // Whole multiples of the alignment, so that buffers of several chunks' worth of values
    // (Adam's gradient parts) have every copy of every segment aligned too.
    for c in chunks.iter_mut() {
        c.len = c.len.div_ceil(align) * align;
    }
    chunks
}

/// Runs of consecutive segments of `chunk` for which `present` holds, as value ranges
/// `[start, end)`: what an update touches when some variables have no gradient this step.
pub fn runs(chunk: &Chunk, present: impl Fn(&Segment) -> bool) -> Vec<(usize, usize)> {
    runs_by(chunk, |s| present(s).then_some(()))
        .into_iter()
        .map(|(r, _)| r)
        .collect()
}

/// Runs of consecutive segments of `chunk` with the same key, as value ranges with their key;
/// segments whose key is `None` are left out (and end a run).
pub fn runs_by<K: PartialEq>(
    chunk: &Chunk,
    key: impl Fn(&Segment) -> Option<K>,
) -> Vec<((usize, usize), K)> {
    let mut out: Vec<((usize, usize), K)> = Vec::new();
    let mut open = false;
    for s in &chunk.segs {
        let Some(k) = key(s) else {
            open = false;
            continue;
        };
        let end = s.offset + s.numel;
        match out.last_mut() {
            Some((r, last)) if open && *last == k => r.1 = end,
            _ => out.push(((s.offset, end), k)),
        }
        open = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::params::Init;

    fn spec(name: &str, shape: &[usize], trainable: bool) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            shape: shape.to_vec(),
            init: Init::Zeros,
            trainable,
        }
    }

    #[test]
    fn trainables_first_aligned_and_split_at_the_limit() {
        let specs = [
            spec("lod", &[], false),
            spec("w", &[3, 5], true),
            spec("noise", &[1, 1, 4, 4], false),
            spec("b", &[5], true),
        ];
        let c = layout(&specs, 8, 1 << 20);
        assert_eq!(c.len(), 1);
        let offs: Vec<(usize, usize, usize)> = c[0]
            .segs
            .iter()
            .map(|s| (s.spec, s.offset, s.numel))
            .collect();
        assert_eq!(offs, [(1, 0, 15), (3, 16, 5), (0, 24, 1), (2, 32, 16)]);
        assert_eq!((c[0].trainable_end, c[0].len), (21, 48));
        // The length rounds up to the alignment.
        assert_eq!(layout(&specs[..2], 8, 1 << 20)[0].len, 24);
        // At most 24 values per chunk: w and b, then lod and noise.
        let c = layout(&specs, 8, 24);
        let lens: Vec<(usize, usize)> = c.iter().map(|c| (c.len, c.trainable_end)).collect();
        assert_eq!(lens, [(24, 21), (24, 0)]);
        let second: Vec<(usize, usize)> = c[1].segs.iter().map(|s| (s.spec, s.offset)).collect();
        assert_eq!(second, [(0, 0), (2, 8)]);
    }

    #[test]
    fn runs_skip_absent_segments() {
        let specs = [
            spec("a", &[4], true),
            spec("b", &[4], true),
            spec("c", &[4], true),
            spec("d", &[4], true),
        ];
        let c = &layout(&specs, 8, 1 << 20)[0];
        assert_eq!(runs(c, |_| true), [(0, 28)]);
        assert_eq!(runs(c, |s| s.spec != 1), [(0, 4), (16, 28)]);
        assert_eq!(runs(c, |s| s.spec == 3), [(24, 28)]);
        assert!(runs(c, |_| false).is_empty());
    }
}
