//! Sealing a long byte stream in chunks (the STREAM construction of Hoang,
//! Reyhanitabar, Rogaway and Vizár, "Online Authenticated-Encryption and its
//! Nonce-Reuse Misuse-Resistance", 2015), so a large file is sealed and
//! opened through a writer and a reader without ever being held whole.
//! Generic over [`std::io::Write`] and [`std::io::Read`]; it opens no files.
//!
//! ```text
//! version byte (1) | salt (32) | chunk 0 | chunk 1 | … | last chunk
//! ```
//!
//! Each stream gets its own AES-256-GCM key, HKDF-SHA256 of the caller's
//! key with the stream's random salt, so nonces never repeat across
//! streams under one caller key. Chunk `i` seals [`CHUNK`] bytes of
//! plaintext; the last chunk holds 1 to [`CHUNK`] bytes (none for an empty
//! stream), and there always is one. Chunk `i` is sealed under the nonce
//! `i (u64 big-endian) | 0 0 0 | last flag`, with associated data
//! `caller's aad | i (u64 big-endian) | last flag`.
//! Reordered or dropped chunks fail their tag (the index is bound); a
//! stream cut at a chunk boundary fails because its final chunk was not
//! sealed as the last one; bytes after the last chunk are refused.

use std::io::{self, BufRead, BufReader, Read, Write};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::seal::{Aad, NONCE_LEN, TAG_LEN};
use crate::token::random_bytes;

/// Plaintext bytes per chunk (the last chunk may hold fewer).
pub const CHUNK: usize = 64 * 1024;
/// The stream's first byte.
const VERSION: u8 = 1;
const SALT_LEN: usize = 32;
const INFO: &[u8] = b"velum/stream/v1";

fn stream_cipher(key: &[u8; 32], salt: &[u8; SALT_LEN]) -> Aes256Gcm {
    let mut k = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(salt), key)
        .expand(INFO, k.as_mut())
        .expect("32 bytes is within HKDF-SHA256's limit");
    Aes256Gcm::new((&*k).into())
}

fn nonce(index: u64, last: bool) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[..8].copy_from_slice(&index.to_be_bytes());
    n[NONCE_LEN - 1] = u8::from(last);
    n
}

fn chunk_aad(aad: &[u8], index: u64, last: bool) -> Vec<u8> {
    let mut a = Vec::with_capacity(aad.len() + 9);
    a.extend_from_slice(aad);
    a.extend_from_slice(&index.to_be_bytes());
    a.push(u8::from(last));
    a
}

fn damaged(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Seals what is written to it, chunk by chunk, into `out`. Call
/// [`SealWriter::finish`] at the end: a stream not finished has no last
/// chunk and does not open.
pub struct SealWriter<W: Write> {
    cipher: Aes256Gcm,
    aad: Vec<u8>,
    index: u64,
    buf: Zeroizing<Vec<u8>>,
    out: W,
}

impl<W: Write> std::fmt::Debug for SealWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealWriter(<redacted>)")
    }
}

impl<W: Write> SealWriter<W> {
    /// Start a stream under `key`, bound to `aad`; writes the version byte
    /// and the salt.
    ///
    /// # Errors
    /// `out`'s errors.
    pub(crate) fn new(key: &[u8; 32], aad: &Aad, mut out: W) -> io::Result<Self> {
        let salt: [u8; SALT_LEN] = random_bytes();
        out.write_all(&[VERSION])?;
        out.write_all(&salt)?;
        Ok(SealWriter {
            cipher: stream_cipher(key, &salt),
            aad: aad.as_bytes().to_vec(),
            index: 0,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK + 1)),
            out,
        })
    }

    fn seal_chunk(&mut self, len: usize, last: bool) -> io::Result<()> {
        let sealed = self
            .cipher
            .encrypt(
                (&nonce(self.index, last)).into(),
                Payload {
                    msg: &self.buf[..len],
                    aad: &chunk_aad(&self.aad, self.index, last),
                },
            )
            .map_err(|_| io::Error::other("chunk sealing failed"))?;
        self.out.write_all(&sealed)?;
        self.buf.drain(..len);
        self.index = self
            .index
            .checked_add(1)
            .ok_or_else(|| io::Error::other("stream too long"))?;
        Ok(())
    }

    /// Seal what is left as the last chunk, flush, and hand back the
    /// writer.
    ///
    /// # Errors
    /// `out`'s errors.
    pub fn finish(mut self) -> io::Result<W> {
        let len = self.buf.len();
        self.seal_chunk(len, true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        // A full chunk is sealed only once a byte follows it: until then it
        // may be the last.
        while self.buf.len() > CHUNK {
            self.seal_chunk(CHUNK, false)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Opens a stream sealed by [`SealWriter`], chunk by chunk. Every byte it
/// yields has been authenticated; a damaged, reordered, truncated or
/// extended stream yields an [`io::ErrorKind::InvalidData`] error (after
/// the chunks before the damage, so a caller must not act on what it read
/// until the reader reached its end without error).
pub struct OpenReader<R: Read> {
    cipher: Aes256Gcm,
    aad: Vec<u8>,
    index: u64,
    plain: Zeroizing<Vec<u8>>,
    at: usize,
    done: bool,
    input: BufReader<R>,
}

impl<R: Read> std::fmt::Debug for OpenReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenReader(<redacted>)")
    }
}

impl<R: Read> OpenReader<R> {
    /// Start opening a stream under `key` and `aad`: reads the version byte
    /// and the salt.
    ///
    /// # Errors
    /// `InvalidData` for another version or a stream cut before its salt;
    /// `input`'s errors.
    pub(crate) fn new(key: &[u8; 32], aad: &Aad, input: R) -> io::Result<Self> {
        let mut input = BufReader::with_capacity(CHUNK + TAG_LEN, input);
        let mut head = [0u8; 1 + SALT_LEN];
        input.read_exact(&mut head).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => damaged("the sealed stream is cut off"),
            _ => e,
        })?;
        if head[0] != VERSION {
            return Err(damaged("the sealed stream has an unknown version"));
        }
        let salt: [u8; SALT_LEN] = head[1..].try_into().expect("32 bytes");
        Ok(OpenReader {
            cipher: stream_cipher(key, &salt),
            aad: aad.as_bytes().to_vec(),
            index: 0,
            plain: Zeroizing::new(Vec::new()),
            at: 0,
            done: false,
            input,
        })
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        let mut sealed = Vec::with_capacity(CHUNK + TAG_LEN);
        (&mut self.input)
            .take((CHUNK + TAG_LEN) as u64)
            .read_to_end(&mut sealed)?;
        if sealed.len() < TAG_LEN {
            return Err(damaged("the sealed stream is cut off"));
        }
        // The last chunk is the one nothing follows.
        let last = self.input.fill_buf()?.is_empty();
        let plain = self
            .cipher
            .decrypt(
                (&nonce(self.index, last)).into(),
                Payload {
                    msg: &sealed,
                    aad: &chunk_aad(&self.aad, self.index, last),
                },
            )
            .map_err(|_| damaged("a chunk of the sealed stream does not open (altered, reordered or cut off)"))?;
        if !last && plain.len() != CHUNK {
            return Err(damaged("a chunk of the sealed stream is short"));
        }
        self.plain = Zeroizing::new(plain);
        self.at = 0;
        self.done = last;
        self.index += 1;
        Ok(())
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [9; 32];

    fn seal(data: &[u8], aad: &Aad) -> Vec<u8> {
        let mut w = SealWriter::new(&KEY, aad, Vec::new()).unwrap();
        // Written in uneven pieces, as rows are.
        for piece in data.chunks(7_777) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    fn open(sealed: &[u8], aad: &Aad) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        OpenReader::new(&KEY, aad, sealed)?.read_to_end(&mut out)?;
        Ok(out)
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect()
    }

    const SEALED_CHUNK: usize = CHUNK + TAG_LEN;
    const HEAD: usize = 1 + SALT_LEN;

    #[test]
    fn round_trip_at_every_boundary() {
        let aad = Aad::record("test.stream", &[]);
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5] {
            let plain = data(len);
            let sealed = seal(&plain, &aad);
            let chunks = len.div_ceil(CHUNK).max(1);
            assert_eq!(sealed.len(), HEAD + len + chunks * TAG_LEN, "{len}");
            assert_eq!(open(&sealed, &aad).unwrap(), plain, "{len}");
            assert!(open(&sealed, &Aad::record("test.other", &[])).is_err(), "{len}");
        }
    }

    #[test]
    fn truncation_is_detected_at_and_between_chunk_boundaries() {
        let aad = Aad::record("test.stream", &[]);
        for len in [2 * CHUNK, 2 * CHUNK + 10] {
            let sealed = seal(&data(len), &aad);
            for cut in [
                HEAD + SEALED_CHUNK,
                HEAD + SEALED_CHUNK + 100,
                sealed.len() - 1,
                HEAD,
                HEAD - 1,
                0,
            ] {
                let err = open(&sealed[..cut], &aad).unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{len} cut at {cut}");
            }
            let mut longer = sealed.clone();
            longer.extend_from_slice(&sealed[HEAD..HEAD + TAG_LEN]);
            assert!(open(&longer, &aad).is_err(), "bytes after the last chunk");
        }
    }

    #[test]
    fn reordered_dropped_or_altered_chunks_are_detected() {
        let aad = Aad::record("test.stream", &[]);
        let sealed = seal(&data(3 * CHUNK + 10), &aad);
        let chunk = |i: usize| &sealed[HEAD + i * SEALED_CHUNK..HEAD + (i + 1) * SEALED_CHUNK];
        let tail = &sealed[HEAD + 3 * SEALED_CHUNK..];
        let swapped = [&sealed[..HEAD], chunk(1), chunk(0), chunk(2), tail].concat();
        assert_eq!(swapped.len(), sealed.len());
        assert!(open(&swapped, &aad).is_err());
        let dropped = [&sealed[..HEAD], chunk(0), chunk(2), tail].concat();
        assert!(open(&dropped, &aad).is_err());
        let mut flipped = sealed.clone();
        flipped[HEAD + SEALED_CHUNK + 5] ^= 1;
        assert!(open(&flipped, &aad).is_err());
        let mut version = sealed.clone();
        version[0] = 2;
        assert!(open(&version, &aad).is_err());
        // A stream under another salt does not take another's chunks.
        let other = seal(&data(3 * CHUNK + 10), &aad);
        let spliced = [&other[..HEAD], &sealed[HEAD..]].concat();
        assert!(open(&spliced, &aad).is_err());
    }
}
