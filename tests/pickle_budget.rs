//! Memory the pickle and PyTorch-checkpoint readers may take, relative to the input (issue 28).
//!
//! A counting global allocator measures the peak heap each parse reaches above what was live
//! before it. First the hostile inputs that used to take gigabytes (a MARK followed by millions
//! of empty tuples, deep nesting only refused at STOP, zips whose directory declares huge
//! counts or sizes), each refused with an error naming the file; then valid files, which must
//! still load under the bound; then a seeded fuzz of random and mutated pickles and zips whose
//! peak must stay under `PEAK_FLOOR + PEAK_PER_BYTE * input length` whatever the outcome.
//!
//! Every test holds `LOCK` for its whole body: the counters are process-wide and the harness
//! runs tests on parallel threads.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use stylegan_wgpu::error::Error;
use stylegan_wgpu::io::official::parse_official_pickle;
use stylegan_wgpu::io::pickle::{parse_pickle, Value};
use stylegan_wgpu::io::torch_checkpoint::parse_torch_checkpoint;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only the byte counts are recorded.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new) };
        if !q.is_null() {
            // Counted as the new block arriving before the old one leaves: a moving realloc
            // holds both for a moment.
            grew(new);
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The bound every parse must stay under: a constant for the fixed allowance the readers give
/// any input (16 MiB of objects, held at most ~3 times over by vectors growing by doubling),
/// plus a multiple of the input for the allowance that grows with it.
const PEAK_FLOOR: usize = 64 << 20;
const PEAK_PER_BYTE: usize = 16;

fn bound(len: usize) -> usize {
    PEAK_FLOOR + PEAK_PER_BYTE * len
}

/// Runs `f`; returns its result and the peak heap above what was live when it started.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = f();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    (r, peak)
}

fn mib(b: usize) -> String {
    format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
}

fn format_msg(e: Error) -> String {
    match e {
        Error::Format { path, msg } => format!("{path}: {msg}"),
        e => panic!("expected a format error, got {e}"),
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `(` then `n` times `)` then `l`: one MARK, millions of empty tuples, a LIST of them.
fn mark_tuples(n: usize) -> Vec<u8> {
    let mut p = b"\x80\x02(".to_vec();
    p.resize(p.len() + n, b')');
    p.extend_from_slice(b"l.");
    p
}

/// A stored zip holding `archive/data.pkl` = `pkl` (what `torch.save` writes, minus storages).
fn zip_with_pkl(pkl: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opt =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("archive/data.pkl", opt).unwrap();
    w.write_all(pkl).unwrap();
    w.finish().unwrap().into_inner()
}

/// Asserts a refusal that names the file and says why, and a peak under the bound.
fn check_refused(what: &str, name: &str, len: usize, r: Result<(), Error>, peak: usize) -> String {
    println!(
        "{what}: {len} bytes in, peak {} ({:.1} x input)",
        mib(peak),
        peak as f64 / len as f64
    );
    let e = format_msg(r.expect_err(what));
    println!("  refused: {e}");
    assert!(e.contains(name), "{what}: error should name {name}: {e}");
    assert!(
        peak <= bound(len),
        "{what}: peak {} over the bound {} for {len} bytes",
        mib(peak),
        mib(bound(len))
    );
    e
}

fn assert_memory_refusal(what: &str, e: &str) {
    assert!(
        e.contains("memory") && e.contains("not a valid"),
        "{what}: should say the memory limit was exceeded and the file is not valid: {e}"
    );
}

#[test]
fn mark_and_millions_of_empty_tuples_are_refused_early() {
    let _g = lock();
    let p = mark_tuples(16 << 20);
    let (r, peak) = measure(|| parse_pickle(&p, "mark.pkl").map(|_| ()));
    let e = check_refused("(+16M x )+l as .pkl", "mark.pkl", p.len(), r, peak);
    assert_memory_refusal(".pkl", &e);

    let (r, peak) = measure(|| parse_official_pickle(&p, "mark-official.pkl").map(|_| ()));
    let e = check_refused(
        "as an official model",
        "mark-official.pkl",
        p.len(),
        r,
        peak,
    );
    assert_memory_refusal("official", &e);

    // As `--model` reads it.
    let (r, peak) = measure(|| stylegan_wgpu::Model::from_bytes(&p, "model.pkl").map(|_| ()));
    check_refused("as --model", "model.pkl", p.len(), r, peak);

    // As a PyTorch checkpoint's data.pkl, read the way `--inception` and `--vgg` read
    // theirs (from a file, whose name the error carries).
    let z = zip_with_pkl(&p);
    drop(p);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inception.pth");
    std::fs::write(&path, &z).unwrap();
    let (r, peak) = measure(|| parse_torch_checkpoint(&z, "mark.pth").map(|_| ()));
    let e = check_refused("as data.pkl of a .pth", "mark.pth", z.len(), r, peak);
    assert_memory_refusal(".pth", &e);
    let (r, peak) = measure(|| stylegan_wgpu::io::tensors::read_tensors(&path).map(|_| ()));
    check_refused("through read_tensors", "inception.pth", z.len(), r, peak);
}

#[test]
fn deep_nesting_is_refused_as_it_is_built() {
    let _g = lock();
    // NONE, then TUPLE1 a million times: a million nested 1-tuples. The old reader built them
    // all and refused the depth only at STOP (after ~100 MB); it must stop at the 101st.
    let mut p = b"\x80\x02N".to_vec();
    p.resize(p.len() + (1 << 20), 0x85);
    p.push(b'.');
    let (r, peak) = measure(|| parse_pickle(&p, "deep.pkl").map(|_| ()));
    let e = check_refused("N + 1M x TUPLE1", "deep.pkl", p.len(), r, peak);
    assert!(e.contains("nested deeper than 100"), "{e}");
    let at: usize = e
        .split("pickle byte ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no byte offset in {e}"));
    assert!(
        at < 200,
        "refused at byte {at}, not as the nesting was built"
    );
    assert!(
        peak < 1 << 20,
        "peak {} for a refusal at byte {at}",
        mib(peak)
    );

    // EMPTY_LIST 300 times, then APPEND 299 times: each list goes into the one below it,
    // refused at the 101st APPEND rather than at STOP.
    let n = 300;
    let mut p = b"\x80\x02".to_vec();
    p.resize(p.len() + n, b']');
    p.resize(p.len() + n - 1, b'a');
    p.push(b'.');
    let e = format_msg(parse_pickle(&p, "lists.pkl").unwrap_err());
    assert!(
        e.contains("nested deeper than 100") && e.contains("APPEND") && e.contains("byte 402:"),
        "{e}"
    );

    // Nesting made by filling lists after they were put inside one another (memoized, then
    // appended to in order) is only visible at STOP, whose check stays.
    let mut p = b"\x80\x02".to_vec();
    for i in 0..200u8 {
        p.extend_from_slice(&[b']', b'q', i, b'0']);
    }
    for i in 0..199u8 {
        p.extend_from_slice(&[b'h', i, b'h', i + 1, b'a', b'0']);
    }
    p.extend_from_slice(b"h\x00.");
    let e = format_msg(parse_pickle(&p, "filled.pkl").unwrap_err());
    assert!(e.contains("nested deeper than 100"), "{e}");
}

/// One entry of a hand-built zip: name, compression method (0 stored, 8 deflated), the bytes
/// as stored, and the uncompressed size the headers declare.
struct Entry<'a> {
    name: &'a str,
    method: u16,
    data: &'a [u8],
    size: u32,
    crc: u32,
}

/// A zip built field by field, so that its directory can lie: `count` overrides the entry
/// count of the end record, `cd_offset` its directory offset; `pad` bytes of zeros come before
/// the directory.
fn raw_zip(entries: &[Entry], count: Option<u16>, cd_offset: Option<u32>, pad: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push(out.len() as u32);
        out.extend_from_slice(&0x04034b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0; 4]); // time, date
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.size.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(e.data);
    }
    out.resize(out.len() + pad, 0);
    let cd_start = out.len() as u32;
    for (e, &off) in entries.iter().zip(&offsets) {
        out.extend_from_slice(&0x02014b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.size.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(e.name.as_bytes());
    }
    let cd_size = out.len() as u32 - cd_start;
    let n = count.unwrap_or(entries.len() as u16);
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.unwrap_or(cd_start).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// `z` (from [`raw_zip`]) with a zip64 end record and its locator, declaring `count` entries,
/// before an end record that defers to them.
fn with_zip64(mut z: Vec<u8>, count: u64) -> Vec<u8> {
    let eocd = z.split_off(z.len() - 22);
    let field = |at: usize| u32::from_le_bytes(eocd[at..at + 4].try_into().unwrap()) as u64;
    let (cd_size, cd_offset) = (field(12), field(16));
    let rec = z.len() as u64;
    z.extend_from_slice(&0x06064b50u32.to_le_bytes());
    z.extend_from_slice(&44u64.to_le_bytes());
    z.extend_from_slice(&[45, 0, 45, 0]);
    z.extend_from_slice(&[0; 8]); // disk numbers
    for v in [count, count, cd_size, cd_offset] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&0x07064b50u32.to_le_bytes());
    z.extend_from_slice(&0u32.to_le_bytes());
    z.extend_from_slice(&rec.to_le_bytes());
    z.extend_from_slice(&1u32.to_le_bytes());
    z.extend_from_slice(&0x06054b50u32.to_le_bytes());
    z.extend_from_slice(&[0; 4]);
    z.extend_from_slice(&[0xff; 4]);
    z.extend_from_slice(&[0xff; 8]);
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

fn crc32(b: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(b);
    c.sum()
}

fn deflate(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn zip_directories_cannot_ask_for_more_than_the_file() {
    let _g = lock();
    let pkl = b"\x80\x02}.";
    let ok = raw_zip(
        &[Entry {
            name: "archive/data.pkl",
            method: 0,
            data: pkl,
            size: pkl.len() as u32,
            crc: crc32(pkl),
        }],
        None,
        None,
        0,
    );
    let sd = parse_torch_checkpoint(&ok, "ok.pth").expect("the honest hand-built zip reads");
    assert!(sd.is_empty());
    let sd = parse_torch_checkpoint(&with_zip64(ok.clone(), 1), "ok64.pth")
        .expect("the honest zip64 one reads");
    assert!(sd.is_empty());

    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // The end record declares 65535 entries, and 64 KiB of padding before the directory
    // makes that look plausible to a reader that only compares with the directory's offset.
    cases.push((
        "65535 entries declared",
        raw_zip(
            &[Entry {
                name: "archive/data.pkl",
                method: 0,
                data: pkl,
                size: pkl.len() as u32,
                crc: crc32(pkl),
            }],
            Some(u16::MAX),
            None,
            70_000,
        ),
    ));
    // data.pkl declares 4 GiB uncompressed.
    cases.push((
        "4 GiB declared size",
        raw_zip(
            &[Entry {
                name: "archive/data.pkl",
                method: 0,
                data: pkl,
                size: u32::MAX,
                crc: crc32(pkl),
            }],
            None,
            None,
            0,
        ),
    ));
    // A deflated data.pkl that declares 4 bytes but inflates to 64 MiB of zeros.
    let zeros = vec![0u8; 64 << 20];
    let bomb = deflate(&zeros);
    cases.push((
        "deflate bomb",
        raw_zip(
            &[Entry {
                name: "archive/data.pkl",
                method: 8,
                data: &bomb,
                size: 4,
                crc: crc32(&zeros),
            }],
            None,
            None,
            0,
        ),
    ));
    drop(zeros);
    // The same bomb declaring its true size, 64 MiB, from a file of ~64 KiB.
    let zeros_len = 64u32 << 20;
    cases.push((
        "deflate bomb, honest size",
        raw_zip(
            &[Entry {
                name: "archive/data.pkl",
                method: 8,
                data: &bomb,
                size: zeros_len,
                crc: 0,
            }],
            None,
            None,
            0,
        ),
    ));
    // A zip64 end record declaring 2^40 entries.
    cases.push((
        "zip64: 2^40 entries declared",
        with_zip64(ok.clone(), 1 << 40),
    ));
    // The directory offset points past the end of the file.
    cases.push((
        "directory past the end",
        raw_zip(
            &[Entry {
                name: "archive/data.pkl",
                method: 0,
                data: pkl,
                size: pkl.len() as u32,
                crc: crc32(pkl),
            }],
            None,
            Some(u32::MAX - 100),
            0,
        ),
    ));
    for (what, z) in cases {
        let (r, peak) = measure(|| parse_torch_checkpoint(&z, "lying.pth").map(|_| ()));
        check_refused(what, "lying.pth", z.len(), r, peak);
        // Proportional to the file, not only under the floor.
        assert!(
            peak <= 64 * z.len() + (1 << 20),
            "{what}: peak {} for a {}-byte zip",
            mib(peak),
            z.len()
        );
    }
}

/// A numpy float32 array of `n` elements, each with all four bytes `byte`, pickled the way
/// numpy does (`_reconstruct` + `BUILD`), its data as protocol 4's BINBYTES or as protocol 2's
/// `_codecs.encode(text, 'latin1')`.
fn array_pickle(n: usize, byte: u8, latin1_text: bool) -> Vec<u8> {
    let mut p =
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R\
                  (K\x01J"
            .to_vec();
    p.extend_from_slice(&(n as i32).to_le_bytes());
    p.extend_from_slice(
        b"\x85cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNN\
          J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89",
    );
    if latin1_text {
        let text: String = std::iter::repeat_n(byte as char, 4 * n).collect();
        p.extend_from_slice(b"c_codecs\nencode\nX");
        p.extend_from_slice(&(text.len() as u32).to_le_bytes());
        p.extend_from_slice(text.as_bytes());
        p.extend_from_slice(b"X\x06\x00\x00\x00latin1\x86R");
    } else {
        p.push(b'B');
        p.extend_from_slice(&(4 * n as u32).to_le_bytes());
        p.resize(p.len() + 4 * n, byte);
    }
    p.extend_from_slice(b"tb.");
    p
}

#[test]
fn valid_files_still_load_under_the_bound() {
    let _g = lock();
    for f in ["tiny_p2.pkl", "tiny_p4.pkl", "progressive_p3.pkl"] {
        let b = fixture(f);
        let (r, peak) = measure(|| parse_official_pickle(&b, f).map(|_| ()));
        r.unwrap_or_else(|e| panic!("{f}: {e}"));
        println!("{f}: {} bytes, peak {}", b.len(), mib(peak));
        assert!(peak <= bound(b.len()), "{f}: peak {}", mib(peak));
    }
    let b = fixture("dtypes_p5.pkl");
    let (r, peak) = measure(|| parse_pickle(&b, "dtypes_p5.pkl").map(|_| ()));
    r.unwrap();
    assert!(peak <= bound(b.len()));
    for f in ["torch_zip.pth", "torch_legacy.pth"] {
        let b = fixture(f);
        let (r, peak) = measure(|| parse_torch_checkpoint(&b, f).map(|sd| sd.len()));
        assert_eq!(r.unwrap_or_else(|e| panic!("{f}: {e}")), 8, "{f}");
        println!("{f}: {} bytes, peak {}", b.len(), mib(peak));
        assert!(peak <= bound(b.len()), "{f}: peak {}", mib(peak));
    }

    // Arrays larger than the fixed allowance load on the per-byte one: 24 MiB of float32 as
    // BINBYTES, and 12 MiB as protocol 2's latin-1 text (two UTF-8 bytes per data byte, held
    // as text and as bytes).
    for (n, latin1) in [(6 << 20, false), (3 << 20, true)] {
        let byte = 0xc0;
        let p = array_pickle(n, byte, latin1);
        let (r, peak) = measure(|| parse_pickle(&p, "big.pkl"));
        let v = r.unwrap_or_else(|e| panic!("{n} floats, latin1 {latin1}: {e}"));
        println!(
            "{n} floats (latin1 text: {latin1}): {} bytes, peak {} ({:.1} x input)",
            p.len(),
            mib(peak),
            peak as f64 / p.len() as f64
        );
        let Value::NdArray(a) = v else {
            panic!("{v:?}")
        };
        assert_eq!(a.shape, [n]);
        assert!(a.data.iter().all(|&b| b == byte));
        assert!(peak <= bound(p.len()), "peak {}", mib(peak));
    }
}

/// SplitMix64, seeded: the fuzz cases are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Opcodes with their arguments, the pieces random pickles are made of: containers, marks,
/// memo, stack shuffles, small payloads, calls.
const ATOMS: &[&[u8]] = &[
    b"(",
    b")",
    b"]",
    b"}",
    b"N",
    b"K\x01",
    b"t",
    b"l",
    b"d",
    b"a",
    b"e",
    b"s",
    b"u",
    b"\x85",
    b"\x86",
    b"\x87",
    b"2",
    b"0",
    b"1",
    b"\x94",
    b"h\x00",
    b"q\x00",
    b"q\x07",
    b"r\x05\x00\x01\x00",
    b"j\x05\x00\x01\x00",
    b"\x8c\x03abc",
    b"C\x04abcd",
    b"\x8f",
    b"\x90",
    b"\x91",
    b"\x88",
    b"G\x00\x00\x00\x00\x00\x00\x00\x00",
    b"b",
    b"R",
    b"ccollections\nOrderedDict\n",
];

/// `reps` copies of a random atom, `reps` sometimes in the hundreds of thousands.
fn run_of_atoms(rng: &mut Rng, room: usize) -> Vec<u8> {
    let atom = ATOMS[rng.below(ATOMS.len())];
    let reps = if rng.below(3) == 0 {
        1 + rng.below(room / atom.len())
    } else {
        1 + rng.below(8)
    };
    atom.repeat(reps)
}

fn random_pickle(rng: &mut Rng) -> Vec<u8> {
    let size = [64, 4096, 1 << 16, 1 << 20, 3 << 20][rng.below(5)];
    let mut p = vec![0x80, 2 + rng.below(4) as u8];
    while p.len() < size {
        let r = run_of_atoms(rng, size - p.len() + 1);
        p.extend_from_slice(&r);
    }
    p.push(b'.');
    p
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let i = rng.below(b.len());
        match rng.below(6) {
            0 => b[i] ^= 1 << rng.below(8),
            1 => b[i] = [0x00, 0xff, 0x7f, 0x80][rng.below(4)],
            2 => {
                // A run of opcodes spliced in.
                let r = run_of_atoms(rng, 1 << 20);
                b.splice(i..i, r);
            }
            3 => {
                // A region repeated.
                let len = 1 + rng.below((b.len() - i).min(256));
                let copies = 1 + rng.below(2000);
                let chunk = b[i..i + len].repeat(copies);
                b.splice(i..i, chunk);
            }
            4 => {
                // A 4-byte field (a length, count or offset) at its extremes.
                let v: u32 = [u32::MAX, 0x7fff_ffff, 0x0100_0000, 0][rng.below(4)];
                for (k, x) in v.to_le_bytes().into_iter().enumerate() {
                    if let Some(y) = b.get_mut(i + k) {
                        *y = x;
                    }
                }
            }
            _ => b.truncate(i.max(1)),
        }
        if b.is_empty() {
            b.push(0x80);
        }
    }
    b
}

#[test]
fn fuzzed_pickles_and_zips_stay_within_the_bound() {
    let _g = lock();
    let mut rng = Rng(0x28_b0_0d);
    let pickles: Vec<(&str, Vec<u8>)> = ["tiny_p2.pkl", "tiny_p4.pkl", "progressive_p3.pkl"]
        .into_iter()
        .map(|f| (f, fixture(f)))
        .chain([("dtypes_p5.pkl", fixture("dtypes_p5.pkl"))])
        .collect();
    let zips = [fixture("torch_zip.pth"), fixture("torch_legacy.pth")];
    let (mut ok, mut err, mut worst) = (0, 0, (0.0f64, 0usize, 0usize, String::new()));
    let t = std::time::Instant::now();
    for case in 0..400 {
        let (kind, input) = match case % 8 {
            0 | 1 => ("random pickle", random_pickle(&mut rng)),
            2..=4 => {
                let (_, seed) = &pickles[rng.below(pickles.len())];
                ("mutated pickle", mutate(&mut rng, seed))
            }
            5 => (
                "random pickle in a zip",
                zip_with_pkl(&random_pickle(&mut rng)),
            ),
            _ => {
                let seed = &zips[rng.below(zips.len())];
                ("mutated checkpoint", mutate(&mut rng, seed))
            }
        };
        let (r, peak) = measure(|| {
            if kind.contains("pickle") && !kind.contains("zip") {
                if case % 2 == 0 {
                    parse_official_pickle(&input, "fuzz.pkl").map(|_| ())
                } else {
                    parse_pickle(&input, "fuzz.pkl").map(|_| ())
                }
            } else {
                parse_torch_checkpoint(&input, "fuzz.pth").map(|_| ())
            }
        });
        match &r {
            Ok(()) => ok += 1,
            Err(_) => err += 1,
        }
        let ratio = peak as f64 / input.len() as f64;
        if peak > worst.1 {
            worst = (ratio, peak, input.len(), kind.to_string());
        }
        assert!(
            peak <= bound(input.len()),
            "case {case} ({kind}, {} bytes): peak {} over the bound {}; {:?}",
            input.len(),
            mib(peak),
            mib(bound(input.len())),
            r.err().map(|e| e.to_string())
        );
    }
    println!(
        "400 cases in {:.1} s: {ok} parsed, {err} refused; largest peak {} ({:.1} x a {}-byte {})",
        t.elapsed().as_secs_f64(),
        mib(worst.1),
        worst.0,
        worst.2,
        worst.3
    );
}
