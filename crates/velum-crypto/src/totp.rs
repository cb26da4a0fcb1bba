//! Time-based one-time passwords (RFC 6238) for staff second factor, and the
//! QR code that enrols them.
//!
//! Fixed to what authenticator apps expect: HMAC-SHA1, 6 digits, 30-second
//! steps (RFC 6238 §4, and the otpauth Key URI format's defaults; several
//! apps ignore other settings silently). The crate takes the time as an
//! argument and never reads the clock.
//!
//! Replay protection is the caller's: [`TotpSecret::check`] returns the
//! matched time step, and the caller must refuse any step less than or equal
//! to the last one accepted for that account (RFC 6238 §5.2).

use std::fmt;

use qrcode::QrCode;
use qrcode::render::svg;
use subtle::ConstantTimeEq as _;
use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::CryptoError;
use crate::token::random_bytes;

/// RFC 4226 §4: the shared secret MUST be at least 128 bits.
pub const MIN_SECRET_LEN: usize = 16;
/// Longer than any real secret (HMAC-SHA1 hashes keys over 64 bytes down
/// anyway); refusing more keeps nonsense out of storage.
pub const MAX_SECRET_LEN: usize = 64;
/// RFC 4226 §4 recommends 160 bits; that is what we generate.
const GENERATED_SECRET_LEN: usize = 20;
/// RFC 6238 §5.2: the recommended step.
const STEP_SECONDS: u64 = 30;
const DIGITS: u8 = 6;
/// Steps accepted either side of the current one, for clock drift and typing
/// time (RFC 6238 §5.2 recommends at most one).
const SKEW_STEPS: u64 = 1;

/// A staff member's TOTP shared secret. Zeroized on drop; `Debug` prints
/// `TotpSecret(<redacted>)`. Stored sealed under the clinic key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new random 160-bit secret.
    #[must_use]
    pub fn generate() -> TotpSecret {
        let mut bytes: [u8; GENERATED_SECRET_LEN] = random_bytes();
        let secret = TotpSecret(bytes.to_vec());
        bytes.zeroize();
        secret
    }

    /// A secret from its raw bytes (as unsealed from storage).
    ///
    /// # Errors
    /// [`CryptoError::TotpSecretLength`] unless it is 16 to 64 bytes long.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<TotpSecret, CryptoError> {
        // Wrap first so the bytes are zeroized on the error path too.
        let secret = TotpSecret(bytes);
        if (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.0.len()) {
            Ok(secret)
        } else {
            Err(CryptoError::TotpSecretLength(secret.0.len()))
        }
    }

    /// The raw bytes, to seal for storage.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding, as otpauth URIs carry it and as users
    /// type it when they cannot scan the QR code.
    #[must_use]
    pub fn to_base32(&self) -> String {
        Secret::new(self.0.clone().into_boxed_slice()).to_base32()
    }

    /// Parse a base32 secret. Tolerates what people paste: lower case,
    /// spaces, hyphens and `=` padding.
    ///
    /// # Errors
    /// [`CryptoError::Base32`] if it is not base32, and
    /// [`CryptoError::TotpSecretLength`] if it decodes to the wrong length.
    pub fn from_base32(text: &str) -> Result<TotpSecret, CryptoError> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        if !cleaned
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        {
            return Err(CryptoError::Base32);
        }
        let secret = Secret::try_from_base32(cleaned.as_str()).map_err(|_| CryptoError::Base32)?;
        TotpSecret::from_bytes(secret.as_bytes().to_vec())
    }

    /// The `otpauth://` URI authenticator apps scan
    /// (<https://github.com/google/google-authenticator/wiki/Key-Uri-Format>):
    /// `otpauth://totp/Issuer:account?secret=...&issuer=...`.
    ///
    /// Issuer and account are percent-encoded. The format uses a colon to
    /// separate them and forbids colons inside either (even encoded), so any
    /// colon in them is dropped. An empty issuer is left out.
    #[must_use]
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = percent_encode(&issuer.replace(':', ""));
        let account = percent_encode(&account.replace(':', ""));
        let secret = self.to_base32();
        if issuer.is_empty() {
            format!("otpauth://totp/{account}?secret={secret}")
        } else {
            format!("otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}")
        }
    }

    /// Check `code` at `unix_seconds`, accepting the current 30-second step or
    /// one step either side. Spaces in the code are ignored (apps show
    /// "123 456"). Returns the matched time step (`unix_seconds / 30`, ± 1).
    ///
    /// The caller must refuse a step less than or equal to the last step it
    /// accepted for this account, or a code could be replayed within its
    /// window (RFC 6238 §5.2); this function does not remember anything.
    #[must_use]
    pub fn check(&self, code: &str, unix_seconds: u64) -> Option<u64> {
        let code: Zeroizing<String> = Zeroizing::new(code.chars().filter(|c| !c.is_whitespace()).collect());
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp();
        let now = unix_seconds / STEP_SECONDS;
        // Oldest first: if codes of two steps happen to coincide, report the
        // earlier step, so the replay check errs towards refusing.
        (now.saturating_sub(SKEW_STEPS)..=now.saturating_add(SKEW_STEPS)).find(|&step| {
            step.checked_mul(STEP_SECONDS).is_some_and(|time| {
                let expected = Zeroizing::new(totp.generate(time).to_string());
                bool::from(expected.as_bytes().ct_eq(code.as_bytes()))
            })
        })
    }

    /// The code for the step containing `unix_seconds` (for tests and the
    /// test kit; a server never needs to show a code).
    #[must_use]
    pub fn code_at(&self, unix_seconds: u64) -> String {
        self.totp().generate(unix_seconds).to_string()
    }

    fn totp(&self) -> Totp {
        // totp-rs holds its own copy, zeroized on drop (its `zeroize`
        // feature). The length was checked when `self` was made.
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_step_duration(STEP_SECONDS)
            .with_secret(self.0.clone())
            .build()
            .expect("SHA1, 6 digits, 30 s and a 16-64 byte secret are valid TOTP settings")
    }
}

/// Percent-encode everything except RFC 3986 unreserved characters. Spaces
/// become `%20`, never `+`, which some authenticator apps show literally.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&hex::encode_upper([b]));
        }
    }
    out
}

/// An inline SVG QR code of `data`, rendered on the server: no JavaScript,
/// no external assets, nothing from `data` copied into the markup. Returns a
/// complete `<svg ...>...</svg>` element (no XML declaration), ready to be
/// inserted into HTML.
///
/// # Panics
/// If `data` is too long for any QR code (over about 2,300 bytes at the
/// medium error-correction level). An otpauth URI is a few hundred bytes.
#[must_use]
pub fn qr_svg(data: &str) -> String {
    let code = QrCode::new(data.as_bytes()).expect("data too long for a QR code");
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .dark_color(svg::Color("#000"))
        .light_color(svg::Color("#fff"))
        .build();
    // qrcode emits `<?xml ...?>` first, which is invalid inside HTML.
    let start = image.find("<svg").unwrap_or(0);
    let mut svg = image[start..].to_owned();
    svg.insert_str(
        "<svg".len(),
        r#" role="img" aria-label="QR code for your authenticator app""#,
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// RFC 6238 Appendix B's SHA-1 secret.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
    }

    #[rstest]
    // RFC 6238 Appendix B, SHA-1 rows: the 8-digit codes' last six digits.
    #[case(59, "287082")]
    #[case(1_111_111_109, "081804")]
    #[case(1_111_111_111, "050471")]
    #[case(1_234_567_890, "005924")]
    #[case(2_000_000_000, "279037")]
    #[case(20_000_000_000, "353130")]
    fn codes_match_rfc_6238_test_vectors(#[case] time: u64, #[case] code: &str) {
        assert_eq!(rfc_secret().code_at(time), code);
        assert_eq!(rfc_secret().check(code, time), Some(time / 30));
    }

    #[rstest]
    #[case(-1, Some(0))]
    #[case(0, Some(0))]
    #[case(1, Some(0))]
    #[case(-2, None)]
    #[case(2, None)]
    fn one_step_of_skew_is_accepted_and_two_are_not(#[case] offset_steps: i64, #[case] expected: Option<i64>) {
        let secret = rfc_secret();
        let issued_step: u64 = 1_234_567_890 / 30;
        let code = secret.code_at(issued_step * 30);
        let now = issued_step.checked_add_signed(offset_steps).unwrap() * 30 + 7;
        let expected = expected.map(|d| issued_step.checked_add_signed(d).unwrap());
        assert_eq!(secret.check(&code, now), expected);
    }

    #[test]
    fn codes_are_checked_strictly_but_spaces_are_ignored() {
        let secret = rfc_secret();
        assert_eq!(secret.check("287 082", 59), Some(1));
        assert_eq!(secret.check(" 287082\n", 59), Some(1));
        for bad in ["", "28708", "2870820", "+87082", "28708a", "94287082", "２８７０８２"] {
            assert_eq!(secret.check(bad, 59), None, "{bad:?}");
        }
    }

    #[test]
    fn check_does_not_overflow_at_the_ends_of_time() {
        let secret = rfc_secret();
        assert_eq!(secret.check(&secret.code_at(0), 0), Some(0));
        let last = u64::MAX;
        let _ = secret.check("000000", last);
        let _ = secret.code_at(last);
    }

    #[test]
    fn generated_secrets_are_160_bits_and_differ() {
        let a = TotpSecret::generate();
        assert_eq!(a.as_bytes().len(), 20);
        assert_ne!(a.as_bytes(), TotpSecret::generate().as_bytes());
    }

    #[test]
    fn secret_length_is_checked() {
        assert_eq!(
            TotpSecret::from_bytes(vec![0; 15]).unwrap_err(),
            CryptoError::TotpSecretLength(15)
        );
        assert!(TotpSecret::from_bytes(vec![0; 16]).is_ok());
        assert!(TotpSecret::from_bytes(vec![0; 64]).is_ok());
        assert!(TotpSecret::from_bytes(vec![0; 65]).is_err());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        assert_eq!(format!("{:?}", rfc_secret()), "TotpSecret(<redacted>)");
    }

    #[test]
    fn base32_is_rfc_4648_without_padding() {
        // RFC 4648 §10 gives "foobar" = "MZXW6YTBOI======"; ours drops '='.
        let secret = rfc_secret();
        assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let padded = TotpSecret::from_bytes(b"0123456789abcdefg".to_vec()).unwrap();
        assert!(!padded.to_base32().contains('='));
    }

    #[test]
    fn base32_parsing_tolerates_what_people_paste_and_refuses_junk() {
        let expected = rfc_secret();
        for text in [
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
            "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ",
        ] {
            assert_eq!(
                TotpSecret::from_base32(text).unwrap().as_bytes(),
                expected.as_bytes(),
                "{text:?}"
            );
        }
        assert_eq!(
            TotpSecret::from_base32("GEZDGNBVGY3TQOJ1").unwrap_err(),
            CryptoError::Base32
        );
        assert_eq!(
            TotpSecret::from_base32("GEZDGNBV").unwrap_err(),
            CryptoError::TotpSecretLength(5)
        );
    }

    #[test]
    fn otpauth_uri_carries_secret_and_encoded_issuer_and_account() {
        let secret = rfc_secret();
        let uri = secret.otpauth_uri("Glow & Co: Clinic", "jo.bloggs+1@example.co.uk");
        assert_eq!(
            uri,
            "otpauth://totp/Glow%20%26%20Co%20Clinic:jo.bloggs%2B1%40example.co.uk\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Glow%20%26%20Co%20Clinic"
        );
        // What an authenticator app reads back is what we meant.
        let parsed = Totp::from_url(&uri).unwrap();
        assert_eq!(parsed.issuer(), Some("Glow & Co Clinic"));
        assert_eq!(parsed.account_name(), "jo.bloggs+1@example.co.uk");
        assert_eq!(parsed.secret().as_bytes(), secret.as_bytes());
        assert_eq!(parsed.generate(59).to_string(), "287082");
    }

    #[test]
    fn otpauth_uri_without_issuer() {
        let uri = rfc_secret().otpauth_uri("", "jo@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/jo%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn qr_svg_is_an_inline_svg_element_with_nothing_from_the_data() {
        let svg = qr_svg("otpauth://totp/X:y?secret=ABC&x=<script>alert(1)</script>");
        assert!(svg.starts_with("<svg "), "{}", &svg[..40]);
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
        assert!(!svg.to_ascii_lowercase().contains("<script"));
        assert!(!svg.contains("alert"));
        assert!(svg.contains(r#"role="img""#));
    }
}
