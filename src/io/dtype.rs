//! numpy element types, shared by the `.npy` reader and the pickle reader.
//!
//! Both formats name an array's element type with numpy's dtype string (`'<f4'`, `'|u1'`,
//! `'>f8'`) and both hand their data on as f32, because that is what the GPU computes in. One
//! parser and one conversion keep the two readers from disagreeing about a type, e.g. about
//! half floats. What each reader does with the byte order differs (the pickle reader swaps
//! big-endian data, `.npy` refuses it), so [`DType::parse`] reports the order and leaves the
//! policy to the reader.

/// The numpy element types the readers understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    Bool,
    I1,
    I2,
    I4,
    I8,
    U1,
    U2,
    U4,
    U8,
    F2,
    F4,
    F8,
}

/// The byte-order prefix of a dtype string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// `<`
    Little,
    /// `>`
    Big,
    /// `=`: the order of the machine that wrote the data.
    Native,
    /// `|`: numpy's mark for types where order does not apply (one-byte types).
    NotApplicable,
    /// No prefix at all, as in the type strings pickled numpy dtypes carry (`f4`).
    Unmarked,
}

impl DType {
    /// Parses a numpy dtype string (`f4`, `<f8`, `|u1`, `b1`, `?`, ...) into the type and
    /// its byte-order prefix. An unsupported type gives the reason, for the caller's error
    /// message (which names the file).
    pub fn parse(descr: &str) -> Result<(DType, ByteOrder), &'static str> {
        let (order, code) = match descr.as_bytes().first() {
            Some(b'<') => (ByteOrder::Little, &descr[1..]),
            Some(b'>') => (ByteOrder::Big, &descr[1..]),
            Some(b'=') => (ByteOrder::Native, &descr[1..]),
            Some(b'|') => (ByteOrder::NotApplicable, &descr[1..]),
            _ => (ByteOrder::Unmarked, descr),
        };
        let dtype = match code {
            "b1" | "?" => DType::Bool,
            "i1" => DType::I1,
            "i2" => DType::I2,
            "i4" => DType::I4,
            "i8" => DType::I8,
            "u1" => DType::U1,
            "u2" => DType::U2,
            "u4" => DType::U4,
            "u8" => DType::U8,
            "f2" => DType::F2,
            "f4" => DType::F4,
            "f8" => DType::F8,
            _ if code.starts_with('c') => return Err("complex numbers"),
            _ if code.starts_with('O') => return Err("Python objects"),
            _ => return Err("expected a numeric type such as '<f4', '<f8', '|u1', '<i4'"),
        };
        Ok((dtype, order))
    }

    /// Bytes per element.
    pub fn itemsize(self) -> usize {
        match self {
            DType::Bool | DType::I1 | DType::U1 => 1,
            DType::I2 | DType::U2 | DType::F2 => 2,
            DType::I4 | DType::U4 | DType::F4 => 4,
            DType::I8 | DType::U8 | DType::F8 => 8,
        }
    }

    /// numpy's name for the type (`f4`, `u1`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "b1",
            DType::I1 => "i1",
            DType::I2 => "i2",
            DType::I4 => "i4",
            DType::I8 => "i8",
            DType::U1 => "u1",
            DType::U2 => "u2",
            DType::U4 => "u4",
            DType::U8 => "u8",
            DType::F2 => "f2",
            DType::F4 => "f4",
            DType::F8 => "f8",
        }
    }

    /// Converts little-endian elements of this type to f32 (f8, i4, i8, u4 and u8 round).
    /// A trailing partial element is ignored; both readers check the length first.
    pub fn le_to_f32(self, data: &[u8]) -> Vec<f32> {
        // One loop per type, so the type is not matched again for every element of a
        // multi-million-element weight.
        fn each<const N: usize>(data: &[u8], f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
            data.chunks_exact(N)
                .map(|c| f(c.try_into().expect("chunks_exact yields N bytes")))
                .collect()
        }
        match self {
            DType::Bool => each::<1>(data, |[b]| (b != 0) as u8 as f32),
            DType::I1 => each::<1>(data, |[b]| b as i8 as f32),
            DType::U1 => each::<1>(data, |[b]| b as f32),
            DType::I2 => each(data, |c| i16::from_le_bytes(c) as f32),
            DType::U2 => each(data, |c| u16::from_le_bytes(c) as f32),
            DType::F2 => each(data, |c| f16_to_f32(u16::from_le_bytes(c))),
            DType::I4 => each(data, |c| i32::from_le_bytes(c) as f32),
            DType::U4 => each(data, |c| u32::from_le_bytes(c) as f32),
            DType::F4 => each(data, f32::from_le_bytes),
            DType::I8 => each(data, |c| i64::from_le_bytes(c) as f32),
            DType::U8 => each(data, |c| u64::from_le_bytes(c) as f32),
            DType::F8 => each(data, |c| f64::from_le_bytes(c) as f32),
        }
    }
}

impl DType {
    /// Converts little-endian elements of this type to f64: exact for every type but i8 and
    /// u8 beyond 2^53 (statistics such as pytorch-fid's `mu` and `sigma` are f8 and must not
    /// lose digits on the way).
    pub fn le_to_f64(self, data: &[u8]) -> Vec<f64> {
        match self {
            DType::F8 => data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunks_exact yields 8 bytes")))
                .collect(),
            DType::I4 => data
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
                .collect(),
            DType::U4 => data
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
                .collect(),
            DType::I8 => data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64)
                .collect(),
            DType::U8 => data
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")) as f64)
                .collect(),
            // Every value of the narrower types is an f32 exactly.
            _ => self.le_to_f32(data).into_iter().map(f64::from).collect(),
        }
    }
}

/// IEEE half -> single, exact for every half: subnormals, infinities, and NaNs with their
/// sign and payload kept (done on the bits, since every half is representable as an f32).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match exp {
        0 => {
            // Subnormal halves are normal f32s; computing the value is simpler than
            // renormalizing the bits, and exact.
            let v = man as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        31 => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_matches_the_arithmetic_definition_for_every_half() {
        for h in 0..=u16::MAX {
            let sign = if h & 0x8000 != 0 { -1.0f64 } else { 1.0 };
            let exp = ((h >> 10) & 0x1f) as i32;
            let frac = (h & 0x3ff) as f64;
            let want = match exp {
                0 => sign * frac * 2f64.powi(-24),
                31 if frac == 0.0 => sign * f64::INFINITY,
                31 => f64::NAN,
                _ => sign * (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
            };
            let got = f16_to_f32(h);
            if want.is_nan() {
                assert!(got.is_nan(), "{h:#06x}");
                assert_eq!(got.is_sign_negative(), h & 0x8000 != 0, "{h:#06x}");
            } else {
                assert_eq!(got.to_bits(), (want as f32).to_bits(), "{h:#06x}");
            }
        }
    }

    #[test]
    fn parse_reports_type_and_order() {
        assert_eq!(DType::parse("<f4"), Ok((DType::F4, ByteOrder::Little)));
        assert_eq!(DType::parse(">f8"), Ok((DType::F8, ByteOrder::Big)));
        assert_eq!(
            DType::parse("|u1"),
            Ok((DType::U1, ByteOrder::NotApplicable))
        );
        assert_eq!(DType::parse("=i2"), Ok((DType::I2, ByteOrder::Native)));
        assert_eq!(DType::parse("f2"), Ok((DType::F2, ByteOrder::Unmarked)));
        assert_eq!(DType::parse("?"), Ok((DType::Bool, ByteOrder::Unmarked)));
        assert!(DType::parse("<c8").unwrap_err().contains("complex"));
        assert!(DType::parse("|O").unwrap_err().contains("objects"));
        assert!(DType::parse("<U3").is_err());
        assert!(DType::parse("").is_err());
    }

    #[test]
    fn le_to_f32_converts_every_type() {
        let cases: [(DType, Vec<u8>, Vec<f32>); 12] = [
            (DType::Bool, vec![0, 1, 7], vec![0.0, 1.0, 1.0]),
            (DType::I1, vec![0xff, 5], vec![-1.0, 5.0]),
            (DType::U1, vec![0xff, 5], vec![255.0, 5.0]),
            (DType::I2, (-3i16).to_le_bytes().to_vec(), vec![-3.0]),
            (DType::U2, 65535u16.to_le_bytes().to_vec(), vec![65535.0]),
            (DType::F2, vec![0x00, 0x3c, 0x00, 0xc0], vec![1.0, -2.0]),
            (DType::I4, (-7i32).to_le_bytes().to_vec(), vec![-7.0]),
            (DType::U4, 9u32.to_le_bytes().to_vec(), vec![9.0]),
            (DType::F4, 1.5f32.to_le_bytes().to_vec(), vec![1.5]),
            (
                DType::I8,
                (-(1i64 << 40)).to_le_bytes().to_vec(),
                vec![-(2f32.powi(40))],
            ),
            (
                DType::U8,
                (1u64 << 63).to_le_bytes().to_vec(),
                vec![2f32.powi(63)],
            ),
            (DType::F8, 0.1f64.to_le_bytes().to_vec(), vec![0.1]),
        ];
        for (dt, bytes, want) in cases {
            assert_eq!(bytes.len(), want.len() * dt.itemsize(), "{dt:?}");
            assert_eq!(dt.le_to_f32(&bytes), want, "{dt:?}");
        }
    }

    #[test]
    fn le_to_f64_keeps_every_digit() {
        let x = 0.1f64 + 1e-12;
        assert_eq!(DType::F8.le_to_f64(&x.to_le_bytes()), vec![x]);
        let big = (1i64 << 40) + 1;
        assert_eq!(DType::I8.le_to_f64(&big.to_le_bytes()), vec![big as f64]);
        assert_eq!(
            DType::U4.le_to_f64(&u32::MAX.to_le_bytes()),
            vec![4294967295.0]
        );
        assert_eq!(DType::I4.le_to_f64(&(-7i32).to_le_bytes()), vec![-7.0]);
        assert_eq!(DType::F4.le_to_f64(&1.5f32.to_le_bytes()), vec![1.5]);
    }
}
