//! The one framing of Velum's sealed files: the clinic export (`velum
//! export`, [`crate::transfer`]), the offboarding archive
//! ([`crate::offboard`]) and the installation backup ([`crate::backup`]). All are laid out as
//!
//! ```text
//! <marker line>\n
//! <header: plaintext JSON on one line, with a "format" number>\n
//! <sealed body>
//! ```
//!
//! and the body's associated data is
//! `Aad::record("<tag>/v<format>/sha256:<hex of the header's exact bytes>", [clinic id])`,
//! so a body cannot be paired with an edited header or moved under another
//! clinic's header. What differs between the two kinds is only the marker,
//! the tag, the header's fields and the key the body is sealed under; those
//! stay with their module. NEVER CHANGE the marker, the tag or the
//! associated data of a format that has been written: they are bound into
//! every file handed out.

use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use velum_core::ClinicId;
use velum_crypto::Aad;

/// One kind of sealed file: its first line and the tag of its associated
/// data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileKind {
    pub marker: &'static [u8],
    pub aad_tag: &'static str,
}

/// `velum export`'s file.
pub(crate) const CLINIC_EXPORT: FileKind = FileKind {
    marker: b"VELUM CLINIC EXPORT\n",
    aad_tag: "velum.clinic-export",
};

/// The offboarding archive.
pub(crate) const CLINIC_ARCHIVE: FileKind = FileKind {
    marker: b"VELUM CLINIC ARCHIVE\n",
    aad_tag: "velum.clinic-archive",
};

/// An installation backup (`velum backup`, [`crate::backup`]).
pub(crate) const BACKUP: FileKind = FileKind {
    marker: b"VELUM BACKUP\n",
    aad_tag: "velum.backup",
};

/// Why a file's framing did not hold. The module of each kind turns these
/// into its own error, with its own wording for the first two.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The file does not start with the kind's marker.
    NoMarker,
    /// A format this build does not read (the value as written, cut short).
    Unsupported { found: String },
    /// What is wrong with the frame.
    Damaged(&'static str),
}

/// A file split into its parts; the body is still sealed.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    pub format: u32,
    /// The header's exact bytes, as bound into the associated data.
    pub header_bytes: &'a [u8],
    pub sealed: &'a [u8],
    loose: Value,
}

impl Frame<'_> {
    /// The header as `H` (which should deny unknown fields).
    pub fn header<H: DeserializeOwned>(&self) -> Result<H, FrameError> {
        H::deserialize(&self.loose).map_err(|_| FrameError::Damaged("the header is not readable"))
    }
}

impl FileKind {
    /// The associated data of a body under `header_bytes`.
    pub fn aad(&self, format: u32, header_bytes: &[u8], clinic: ClinicId) -> Aad {
        let digest = hex::encode(Sha256::digest(header_bytes));
        Aad::record(
            &format!("{}/v{format}/sha256:{digest}", self.aad_tag),
            &[clinic.as_uuid()],
        )
    }

    /// Split `file` into header and sealed body, reading the format version
    /// first (leniently, so a newer format is named as such rather than
    /// reported as a header this build cannot parse) and accepting only
    /// `formats`.
    pub fn split<'a>(&self, file: &'a [u8], formats: &[u32]) -> Result<Frame<'a>, FrameError> {
        let rest = file.strip_prefix(self.marker).ok_or(FrameError::NoMarker)?;
        let split = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(FrameError::Damaged("the header line is cut off"))?;
        let (header_bytes, sealed) = (&rest[..split], &rest[split + 1..]);
        let loose: Value =
            serde_json::from_slice(header_bytes).map_err(|_| FrameError::Damaged("the header is not readable"))?;
        let format = match loose.get("format") {
            Some(v) => match v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| formats.contains(n))
            {
                Some(n) => n,
                None => {
                    return Err(FrameError::Unsupported {
                        found: v.to_string().chars().take(20).collect(),
                    });
                }
            },
            None => return Err(FrameError::Damaged("the header has no format version")),
        };
        Ok(Frame {
            format,
            header_bytes,
            sealed,
            loose,
        })
    }

    /// The whole file: marker, header line, sealed body.
    pub fn assemble(&self, header_bytes: &[u8], sealed: &[u8]) -> Vec<u8> {
        let mut file = Vec::with_capacity(self.marker.len() + header_bytes.len() + 1 + sealed.len());
        file.extend_from_slice(self.marker);
        file.extend_from_slice(header_bytes);
        file.push(b'\n');
        file.extend_from_slice(sealed);
        file
    }
}

/// A writer that hashes (SHA-256) and counts what passes through it: a
/// sealed file's checksum and size, taken as it is written.
#[derive(Debug)]
pub struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    /// The inner writer, the SHA-256 of what went through (lower-case
    /// hex) and its length in bytes.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hash.finalize()), self.bytes)
    }
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(data)?;
        self.hash.update(&data[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_associated_data_of_both_kinds_is_pinned() {
        // Every export and archive handed out is bound to these bytes.
        let clinic = ClinicId::from_uuid(uuid::Uuid::from_u128(7));
        let header = b"{\"format\":1}";
        let hex = hex::encode(Sha256::digest(header));
        assert_eq!(
            CLINIC_EXPORT.aad(1, header, clinic),
            Aad::record(&format!("velum.clinic-export/v1/sha256:{hex}"), &[clinic.as_uuid()])
        );
        assert_eq!(
            CLINIC_ARCHIVE.aad(2, header, clinic),
            Aad::record(&format!("velum.clinic-archive/v2/sha256:{hex}"), &[clinic.as_uuid()])
        );
        assert_ne!(
            CLINIC_EXPORT.aad(1, header, clinic),
            CLINIC_ARCHIVE.aad(1, header, clinic)
        );
    }

    #[test]
    fn split_reads_what_assemble_writes_and_names_what_is_wrong() {
        let file = CLINIC_ARCHIVE.assemble(b"{\"format\":2,\"x\":1}", b"\x01sealed\nbytes");
        let frame = CLINIC_ARCHIVE.split(&file, &[1, 2]).unwrap();
        assert_eq!(frame.format, 2);
        assert_eq!(frame.header_bytes, b"{\"format\":2,\"x\":1}");
        assert_eq!(frame.sealed, b"\x01sealed\nbytes");
        assert_eq!(CLINIC_EXPORT.split(&file, &[1, 2]).unwrap_err(), FrameError::NoMarker);
        assert_eq!(
            CLINIC_ARCHIVE.split(&file, &[1]).unwrap_err(),
            FrameError::Unsupported { found: "2".into() }
        );
        let cut = [CLINIC_ARCHIVE.marker, b"{\"format\":2"].concat();
        assert_eq!(
            CLINIC_ARCHIVE.split(&cut, &[2]).unwrap_err(),
            FrameError::Damaged("the header line is cut off")
        );
        let none = [CLINIC_ARCHIVE.marker, b"{}\n"].concat();
        assert_eq!(
            CLINIC_ARCHIVE.split(&none, &[2]).unwrap_err(),
            FrameError::Damaged("the header has no format version")
        );
    }
}
