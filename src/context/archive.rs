//! The deterministic tar.gz: ustar headers with fixed metadata, then gzip over miniz_oxide's
//! raw deflate (fixed level, fixed 10-byte header, CRC-32 and size in the trailer).
//!
//! Both framings are written here rather than by the tar and flate2 crates, for the wasm's
//! size (measured: flate2's crc32fast brings a 16 KiB table where 1 KiB does; the tar crate
//! brings std::path and io::Error formatting) and because the tar crate takes paths as
//! `std::path::Path`, whose parsing differs between platforms, where these bytes must not.
//! The headers are byte for byte what the tar crate writes for the same fields (the tests
//! read the archives back with it).

use std::collections::{BTreeMap, BTreeSet};

use miniz_oxide::deflate::core::{compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus};

use super::path;

/// miniz_oxide's level 6 (zlib's default): a fixed level, as another level gives other bytes.
const LEVEL: i32 = 6;
/// ID1 ID2, CM deflate, FLG none, MTIME 0, XFL 0, OS 255 ("unknown": the same everywhere).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

pub(crate) struct ArchiveError {
    pub field: String,
    pub path: String,
    pub problem: String,
}

/// `entries`: normalized path -> content. Parent directories are added as entries of their
/// own (mode 0755), each before its contents.
pub(crate) fn write(entries: &BTreeMap<&str, &[u8]>) -> Result<Vec<u8>, ArchiveError> {
    let mut dirs = BTreeSet::new();
    for path in entries.keys() {
        dirs.extend(path::parents(path).map(|d| format!("{d}/")));
    }
    // Files and directories in one bytewise order: `d/` sorts before everything under `d/`.
    let mut all: BTreeMap<&str, Option<&[u8]>> = entries.iter().map(|(p, b)| (*p, Some(*b))).collect();
    all.extend(dirs.iter().map(|d| (d.as_str(), None)));

    let size: usize = entries.values().map(|b| b.len() + 1024).sum();
    let mut gz = Gzip::new(size / 2);
    for (path, content) in all {
        let Some(header) = ustar_header(path, content) else {
            if content.is_none() {
                // A directory entry too long for ustar: its files still imply it on extraction.
                continue;
            }
            return Err(ArchiveError {
                field: "model".into(),
                path: path.into(),
                problem: "cannot be stored in a ustar archive (too long, or larger than 8 GiB)".into(),
            });
        };
        let data = content.unwrap_or_default();
        gz.write(&header);
        gz.write(data);
        gz.write(&[0; 512][..(512 - data.len() % 512) % 512]);
    }
    // End of archive: two zero blocks.
    gz.write(&[0; 1024]);
    Ok(gz.finish())
}

/// The 512-byte ustar header of a regular file (`Some(content)`, mode 0644) or a directory
/// (`None`, path ending in '/', mode 0755): uid/gid 0, mtime 0, no owner names, numbers in
/// zero-padded octal ended by NUL. `None` when the path or the size does not fit.
fn ustar_header(path: &str, content: Option<&[u8]>) -> Option<[u8; 512]> {
    let mut h = [0u8; 512];
    let bytes = path.as_bytes();
    if bytes.len() <= 100 {
        h[..bytes.len()].copy_from_slice(bytes);
    } else {
        // The longest directory prefix that fits in 155 bytes; the rest must fit in 100.
        let split = bytes[..bytes.len() - 1].iter().enumerate().rev().find(|&(i, &b)| b == b'/' && i <= 155).map(|(i, _)| i)?;
        let name = &bytes[split + 1..];
        if name.len() > 100 {
            return None;
        }
        h[..name.len()].copy_from_slice(name);
        h[345..345 + split].copy_from_slice(&bytes[..split]);
    }
    let size = content.map_or(0, |c| c.len() as u64);
    if size >= 1 << 33 {
        return None;
    }
    octal(&mut h[100..108], if content.is_some() { 0o644 } else { 0o755 });
    octal(&mut h[108..116], 0); // uid
    octal(&mut h[116..124], 0); // gid
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0); // mtime
    h[156] = if content.is_some() { b'0' } else { b'5' };
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // The checksum counts its own field as eight spaces.
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum::<u64>() + 8 * u64::from(b' ');
    octal(&mut h[148..156], sum);
    Some(h)
}

/// Zero-padded octal filling the field but its last byte, which stays NUL.
fn octal(field: &mut [u8], mut value: u64) {
    let digits = field.len() - 1;
    for slot in field[..digits].iter_mut().rev() {
        *slot = b'0' + (value & 7) as u8;
        value >>= 3;
    }
}

/// A gzip member written in one go (RFC 1952).
struct Gzip {
    deflate: Box<CompressorOxide>,
    /// What the compressor writes into before it is appended to `out`.
    buf: Vec<u8>,
    out: Vec<u8>,
    crc: u32,
    len: u32,
}

impl Gzip {
    fn new(capacity: usize) -> Gzip {
        let mut out = Vec::with_capacity(capacity.max(64));
        out.extend_from_slice(&GZIP_HEADER);
        // Negative window bits: raw deflate, gzip's framing is written here.
        let flags = create_comp_flags_from_zip_params(LEVEL, -15, 0);
        Gzip { deflate: Box::new(CompressorOxide::new(flags)), buf: vec![0; 64 * 1024], out, crc: !0, len: 0 }
    }

    fn write(&mut self, data: &[u8]) {
        for &b in data {
            self.crc = CRC_TABLE[((self.crc ^ b as u32) & 0xff) as usize] ^ (self.crc >> 8);
        }
        self.len = self.len.wrapping_add(data.len() as u32);
        self.deflate_all(data, TDEFLFlush::None);
    }

    fn finish(mut self) -> Vec<u8> {
        self.deflate_all(&[], TDEFLFlush::Finish);
        let crc = !self.crc;
        self.out.extend_from_slice(&crc.to_le_bytes());
        self.out.extend_from_slice(&self.len.to_le_bytes());
        self.out
    }

    fn deflate_all(&mut self, mut input: &[u8], flush: TDEFLFlush) {
        let finishing = matches!(flush, TDEFLFlush::Finish);
        loop {
            let (status, read, written) = compress(&mut self.deflate, input, &mut self.buf, flush);
            self.out.extend_from_slice(&self.buf[..written]);
            input = &input[read.min(input.len())..];
            match status {
                TDEFLStatus::Done => return,
                // All input taken and no output held back for want of room.
                TDEFLStatus::Okay if !finishing && input.is_empty() && written < self.buf.len() => return,
                TDEFLStatus::Okay => {}
                // BadParam / PutBufFailed do not happen with these arguments; stop rather than loop.
                _ => return,
            }
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected, as gzip uses it), one byte at a time.
static CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}
