//! Validated personal-data values (G2, G4).
//!
//! Every field a receptionist types about a client (a name, an email, a
//! mobile, a postcode, a date of birth, an address, a medical-summary entry)
//! and every new staff password becomes one of these types through its
//! `parse` constructor at the edge; past the handler nothing deals in raw
//! `String`s. Parsing also normalises (trims, collapses spaces, upper-cases
//! postcodes, writes mobiles in E.164), so equal values compare equal.
//!
//! What every type here guarantees:
//!
//! - **Private field, one way in.** `parse` checks every rule; serde
//!   `Deserialize` goes through `parse` too, so a JSON body cannot smuggle in
//!   an unchecked value. `from_stored` exists only for values Velum itself
//!   stored after parsing them (re-validating on every read would make a
//!   tightened rule lock old records out).
//! - **Errors name the rule, never the value.** Each type has its own
//!   `thiserror` enum whose variants say which rule failed. Messages are plain
//!   English written to follow a field label ("Postcode must be a UK
//!   postcode, like SW1A 1AA"); the web layer adds the label (G2, G12). No
//!   variant carries the input, so an error can be logged or shown safely.
//! - **No personal data in logs.** `Debug` prints `TypeName(<redacted>)`
//!   (G4, G19; ASVS 16.2.5). There is deliberately no `Display`: a template
//!   or `format!` that wants the value must call `as_str`, where a reviewer
//!   can see it.
//! - **Serialised as the plain normalised string** (or an ISO date), for the
//!   API and the sealed store.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// `Debug` as `TypeName(<redacted>)`, so `{:?}` of a struct holding personal
/// data, in a log line or a panic message, shows no value (G4, G19).
macro_rules! redacted_debug {
    ($t:ident) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "(<redacted>)"))
            }
        }
    };
}

/// What every validated string type shares: redacted `Debug`, `as_str`,
/// `from_stored`, `Serialize` as the plain string, and `TryFrom<String>` and
/// `Deserialize` that both go through `parse`, so deserialising cannot
/// bypass validation.
macro_rules! validated_string {
    ($t:ident, $err:ty) => {
        redacted_debug!($t);

        impl $t {
            /// The value, as normalised by `parse`.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Only for values read back from Velum's own store, which were
            /// parsed on the way in (no re-validation). Input from a form,
            /// the API, an import or a file goes through `parse`.
            #[must_use]
            pub fn from_stored(s: String) -> Self {
                Self(s)
            }
        }

        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl TryFrom<String> for $t {
            type Error = $err;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                // The error's message is the rule, never the value.
                Self::try_from(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

// ---------------------------------------------------------------------------
// PersonName
// ---------------------------------------------------------------------------

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Blank, or only punctuation: "-" or "." typed to get past a required
    /// field is not a name.
    #[error("is required")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    /// A digit, a control character or a symbol such as `<` or `@`.
    #[error("may only contain letters, spaces, apostrophes, hyphens and full stops")]
    InvalidCharacter,
}

/// A person's given or family name, in any script: "Siân", "O'Neill",
/// "Smith-Jones", "de la Cruz", "St. John", "Σοφία", "Иванова", "محمد", "李",
/// "प्रिया".
///
/// Stored trimmed, with every run of whitespace (tabs and line breaks pasted
/// from elsewhere included) collapsed to one space. Letters of any script are
/// allowed, with the combining marks that spell them (accents typed as
/// separate characters, Indic viramas and nuktas, Thai tone marks, Hebrew
/// points), and the punctuation names use: spaces, apostrophes (`'` and `’`),
/// hyphens and full stops. The zero-width non-joiner and joiner (U+200C,
/// U+200D), which Persian and Indic spellings need, are allowed between two
/// letters.
///
/// Not done: Unicode normalisation (NFC). "Zoë" typed with a precomposed `ë`
/// and with `e` plus a combining diaeresis are stored as typed, and compare
/// unequal.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);
validated_string!(PersonName, NameError);

impl PersonName {
    /// At most this many characters (not bytes), after trimming.
    pub const MAX: usize = 100;

    /// # Errors
    /// Blank or only punctuation ([`NameError::Empty`]), over
    /// [`PersonName::MAX`] characters, or a character names do not contain.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            return Err(NameError::Empty);
        }
        let chars: Vec<char> = collapsed.chars().collect();
        if chars.len() > Self::MAX {
            return Err(NameError::TooLong { max: Self::MAX });
        }
        let mut has_letter = false;
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let ok = if is_name_letter(c) {
                has_letter = true;
                true
            } else if is_combining_mark(c) {
                // A mark decorates the character before it; at the start, or
                // after a space or an apostrophe, it would sit on nothing (or
                // on the punctuation), which no name needs.
                prev.is_some_and(is_letter_or_mark)
            } else if matches!(c, '\u{200C}' | '\u{200D}') {
                prev.is_some_and(is_letter_or_mark) && next.is_some_and(is_letter_or_mark)
            } else {
                matches!(c, ' ' | '\'' | '’' | '-' | '.')
            };
            if !ok {
                return Err(NameError::InvalidCharacter);
            }
        }
        if !has_letter {
            return Err(NameError::Empty);
        }
        Ok(Self(collapsed))
    }

    /// The name as stored for prefix search: lower case, with apostrophes,
    /// hyphens and full stops removed and spaces kept, so "o'neill" finds
    /// "O’Neill" and "smithjones" finds "Smith-Jones".
    #[must_use]
    pub fn search_key(&self) -> String {
        Self::search_key_of(&self.0)
    }

    /// The same key for what was typed in a search box, so stored keys and
    /// queries are normalised by one function and cannot drift apart.
    #[must_use]
    pub fn search_key_of(text: &str) -> String {
        let lowered: String = text
            .to_lowercase()
            .chars()
            .filter(|c| !matches!(c, '\'' | '’' | '-' | '.'))
            .collect();
        // Removing a lone hyphen ("Smith - Jones") leaves two spaces.
        lowered.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// A letter of any script. `is_alphabetic` also covers letter-like numbers
/// (Roman numerals), which `is_numeric` takes back out.
fn is_name_letter(c: char) -> bool {
    c.is_alphabetic() && !c.is_numeric()
}

fn is_letter_or_mark(c: char) -> bool {
    is_name_letter(c) || is_combining_mark(c)
}

/// Unicode General_Category M (Mn, Mc, Me): combining marks.
fn is_combining_mark(c: char) -> bool {
    let c = u32::from(c);
    COMBINING_MARKS
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Every combining mark (General_Category Mn, Mc or Me) as inclusive ranges,
/// sorted. The standard library has no general-category lookup and
/// `velum-core` takes no dependency for one table (G1). Generated from
/// Unicode 14.0 by:
///
/// ```text
/// python3 -c 'import unicodedata as u; import itertools as i
/// cs = [c for c in range(0x110000) if u.category(chr(c))[0] == "M"]
/// for _, g in i.groupby(enumerate(cs), lambda p: p[1] - p[0]):
///     g = list(g); print(f"(0x{g[0][1]:04X}, 0x{g[-1][1]:04X}),")'
/// ```
///
/// Marks added after Unicode 14.0 (2021) are refused unless
/// `char::is_alphabetic` already accepts them; regenerate the table if a name
/// ever needs one.
#[rustfmt::skip]
const COMBINING_MARKS: &[(u32, u32)] = &[
    (0x0300, 0x036F), (0x0483, 0x0489), (0x0591, 0x05BD), (0x05BF, 0x05BF), (0x05C1, 0x05C2), (0x05C4, 0x05C5),
    (0x05C7, 0x05C7), (0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06DC), (0x06DF, 0x06E4),
    (0x06E7, 0x06E8), (0x06EA, 0x06ED), (0x0711, 0x0711), (0x0730, 0x074A), (0x07A6, 0x07B0), (0x07EB, 0x07F3),
    (0x07FD, 0x07FD), (0x0816, 0x0819), (0x081B, 0x0823), (0x0825, 0x0827), (0x0829, 0x082D), (0x0859, 0x085B),
    (0x0898, 0x089F), (0x08CA, 0x08E1), (0x08E3, 0x0903), (0x093A, 0x093C), (0x093E, 0x094F), (0x0951, 0x0957),
    (0x0962, 0x0963), (0x0981, 0x0983), (0x09BC, 0x09BC), (0x09BE, 0x09C4), (0x09C7, 0x09C8), (0x09CB, 0x09CD),
    (0x09D7, 0x09D7), (0x09E2, 0x09E3), (0x09FE, 0x09FE), (0x0A01, 0x0A03), (0x0A3C, 0x0A3C), (0x0A3E, 0x0A42),
    (0x0A47, 0x0A48), (0x0A4B, 0x0A4D), (0x0A51, 0x0A51), (0x0A70, 0x0A71), (0x0A75, 0x0A75), (0x0A81, 0x0A83),
    (0x0ABC, 0x0ABC), (0x0ABE, 0x0AC5), (0x0AC7, 0x0AC9), (0x0ACB, 0x0ACD), (0x0AE2, 0x0AE3), (0x0AFA, 0x0AFF),
    (0x0B01, 0x0B03), (0x0B3C, 0x0B3C), (0x0B3E, 0x0B44), (0x0B47, 0x0B48), (0x0B4B, 0x0B4D), (0x0B55, 0x0B57),
    (0x0B62, 0x0B63), (0x0B82, 0x0B82), (0x0BBE, 0x0BC2), (0x0BC6, 0x0BC8), (0x0BCA, 0x0BCD), (0x0BD7, 0x0BD7),
    (0x0C00, 0x0C04), (0x0C3C, 0x0C3C), (0x0C3E, 0x0C44), (0x0C46, 0x0C48), (0x0C4A, 0x0C4D), (0x0C55, 0x0C56),
    (0x0C62, 0x0C63), (0x0C81, 0x0C83), (0x0CBC, 0x0CBC), (0x0CBE, 0x0CC4), (0x0CC6, 0x0CC8), (0x0CCA, 0x0CCD),
    (0x0CD5, 0x0CD6), (0x0CE2, 0x0CE3), (0x0D00, 0x0D03), (0x0D3B, 0x0D3C), (0x0D3E, 0x0D44), (0x0D46, 0x0D48),
    (0x0D4A, 0x0D4D), (0x0D57, 0x0D57), (0x0D62, 0x0D63), (0x0D81, 0x0D83), (0x0DCA, 0x0DCA), (0x0DCF, 0x0DD4),
    (0x0DD6, 0x0DD6), (0x0DD8, 0x0DDF), (0x0DF2, 0x0DF3), (0x0E31, 0x0E31), (0x0E34, 0x0E3A), (0x0E47, 0x0E4E),
    (0x0EB1, 0x0EB1), (0x0EB4, 0x0EBC), (0x0EC8, 0x0ECD), (0x0F18, 0x0F19), (0x0F35, 0x0F35), (0x0F37, 0x0F37),
    (0x0F39, 0x0F39), (0x0F3E, 0x0F3F), (0x0F71, 0x0F84), (0x0F86, 0x0F87), (0x0F8D, 0x0F97), (0x0F99, 0x0FBC),
    (0x0FC6, 0x0FC6), (0x102B, 0x103E), (0x1056, 0x1059), (0x105E, 0x1060), (0x1062, 0x1064), (0x1067, 0x106D),
    (0x1071, 0x1074), (0x1082, 0x108D), (0x108F, 0x108F), (0x109A, 0x109D), (0x135D, 0x135F), (0x1712, 0x1715),
    (0x1732, 0x1734), (0x1752, 0x1753), (0x1772, 0x1773), (0x17B4, 0x17D3), (0x17DD, 0x17DD), (0x180B, 0x180D),
    (0x180F, 0x180F), (0x1885, 0x1886), (0x18A9, 0x18A9), (0x1920, 0x192B), (0x1930, 0x193B), (0x1A17, 0x1A1B),
    (0x1A55, 0x1A5E), (0x1A60, 0x1A7C), (0x1A7F, 0x1A7F), (0x1AB0, 0x1ACE), (0x1B00, 0x1B04), (0x1B34, 0x1B44),
    (0x1B6B, 0x1B73), (0x1B80, 0x1B82), (0x1BA1, 0x1BAD), (0x1BE6, 0x1BF3), (0x1C24, 0x1C37), (0x1CD0, 0x1CD2),
    (0x1CD4, 0x1CE8), (0x1CED, 0x1CED), (0x1CF4, 0x1CF4), (0x1CF7, 0x1CF9), (0x1DC0, 0x1DFF), (0x20D0, 0x20F0),
    (0x2CEF, 0x2CF1), (0x2D7F, 0x2D7F), (0x2DE0, 0x2DFF), (0x302A, 0x302F), (0x3099, 0x309A), (0xA66F, 0xA672),
    (0xA674, 0xA67D), (0xA69E, 0xA69F), (0xA6F0, 0xA6F1), (0xA802, 0xA802), (0xA806, 0xA806), (0xA80B, 0xA80B),
    (0xA823, 0xA827), (0xA82C, 0xA82C), (0xA880, 0xA881), (0xA8B4, 0xA8C5), (0xA8E0, 0xA8F1), (0xA8FF, 0xA8FF),
    (0xA926, 0xA92D), (0xA947, 0xA953), (0xA980, 0xA983), (0xA9B3, 0xA9C0), (0xA9E5, 0xA9E5), (0xAA29, 0xAA36),
    (0xAA43, 0xAA43), (0xAA4C, 0xAA4D), (0xAA7B, 0xAA7D), (0xAAB0, 0xAAB0), (0xAAB2, 0xAAB4), (0xAAB7, 0xAAB8),
    (0xAABE, 0xAABF), (0xAAC1, 0xAAC1), (0xAAEB, 0xAAEF), (0xAAF5, 0xAAF6), (0xABE3, 0xABEA), (0xABEC, 0xABED),
    (0xFB1E, 0xFB1E), (0xFE00, 0xFE0F), (0xFE20, 0xFE2F), (0x101FD, 0x101FD), (0x102E0, 0x102E0),
    (0x10376, 0x1037A), (0x10A01, 0x10A03), (0x10A05, 0x10A06), (0x10A0C, 0x10A0F), (0x10A38, 0x10A3A),
    (0x10A3F, 0x10A3F), (0x10AE5, 0x10AE6), (0x10D24, 0x10D27), (0x10EAB, 0x10EAC), (0x10F46, 0x10F50),
    (0x10F82, 0x10F85), (0x11000, 0x11002), (0x11038, 0x11046), (0x11070, 0x11070), (0x11073, 0x11074),
    (0x1107F, 0x11082), (0x110B0, 0x110BA), (0x110C2, 0x110C2), (0x11100, 0x11102), (0x11127, 0x11134),
    (0x11145, 0x11146), (0x11173, 0x11173), (0x11180, 0x11182), (0x111B3, 0x111C0), (0x111C9, 0x111CC),
    (0x111CE, 0x111CF), (0x1122C, 0x11237), (0x1123E, 0x1123E), (0x112DF, 0x112EA), (0x11300, 0x11303),
    (0x1133B, 0x1133C), (0x1133E, 0x11344), (0x11347, 0x11348), (0x1134B, 0x1134D), (0x11357, 0x11357),
    (0x11362, 0x11363), (0x11366, 0x1136C), (0x11370, 0x11374), (0x11435, 0x11446), (0x1145E, 0x1145E),
    (0x114B0, 0x114C3), (0x115AF, 0x115B5), (0x115B8, 0x115C0), (0x115DC, 0x115DD), (0x11630, 0x11640),
    (0x116AB, 0x116B7), (0x1171D, 0x1172B), (0x1182C, 0x1183A), (0x11930, 0x11935), (0x11937, 0x11938),
    (0x1193B, 0x1193E), (0x11940, 0x11940), (0x11942, 0x11943), (0x119D1, 0x119D7), (0x119DA, 0x119E0),
    (0x119E4, 0x119E4), (0x11A01, 0x11A0A), (0x11A33, 0x11A39), (0x11A3B, 0x11A3E), (0x11A47, 0x11A47),
    (0x11A51, 0x11A5B), (0x11A8A, 0x11A99), (0x11C2F, 0x11C36), (0x11C38, 0x11C3F), (0x11C92, 0x11CA7),
    (0x11CA9, 0x11CB6), (0x11D31, 0x11D36), (0x11D3A, 0x11D3A), (0x11D3C, 0x11D3D), (0x11D3F, 0x11D45),
    (0x11D47, 0x11D47), (0x11D8A, 0x11D8E), (0x11D90, 0x11D91), (0x11D93, 0x11D97), (0x11EF3, 0x11EF6),
    (0x16AF0, 0x16AF4), (0x16B30, 0x16B36), (0x16F4F, 0x16F4F), (0x16F51, 0x16F87), (0x16F8F, 0x16F92),
    (0x16FE4, 0x16FE4), (0x16FF0, 0x16FF1), (0x1BC9D, 0x1BC9E), (0x1CF00, 0x1CF2D), (0x1CF30, 0x1CF46),
    (0x1D165, 0x1D169), (0x1D16D, 0x1D172), (0x1D17B, 0x1D182), (0x1D185, 0x1D18B), (0x1D1AA, 0x1D1AD),
    (0x1D242, 0x1D244), (0x1DA00, 0x1DA36), (0x1DA3B, 0x1DA6C), (0x1DA75, 0x1DA75), (0x1DA84, 0x1DA84),
    (0x1DA9B, 0x1DA9F), (0x1DAA1, 0x1DAAF), (0x1E000, 0x1E006), (0x1E008, 0x1E018), (0x1E01B, 0x1E021),
    (0x1E023, 0x1E024), (0x1E026, 0x1E02A), (0x1E130, 0x1E136), (0x1E2AE, 0x1E2AE), (0x1E2EC, 0x1E2EF),
    (0x1E8D0, 0x1E8D6), (0x1E944, 0x1E94A), (0xE0100, 0xE01EF),
];

// ---------------------------------------------------------------------------
// EmailAddress
// ---------------------------------------------------------------------------

/// Why an email address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("is required")]
    Empty,
    #[error("must be at most 254 characters")]
    TooLong,
    #[error("must be an email address, like name@example.com")]
    Invalid,
}

/// An email address, stored in lower case.
///
/// The whole address is lower-cased, local part included: RFC 5321 lets a
/// server treat `Jo@` and `jo@` as different mailboxes, but mainstream
/// providers do not, and one address must not make two client cards or two
/// staff accounts.
///
/// The rules are those of an address one can actually send to: exactly one
/// `@`; a local part of 1 to 64 characters in dot-atom form (letters,
/// digits, ``!#$%&'*+-/=?^_`{|}~`` and non-ASCII letters, dots only between
/// other characters); a domain of at least two dot-separated labels of
/// letters (internationalised ones too), digits and hyphens, no label empty,
/// longer than 63 characters, or starting or ending with a hyphen; and a
/// top-level domain that is not all digits (`name@192.168.0.1` is not an
/// address). Quoted local parts and `[IP]` domains are refused: nobody gives
/// a clinic one.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);
validated_string!(EmailAddress, EmailError);

impl EmailAddress {
    /// At most this many characters: RFC 5321's limit on a forward path,
    /// less the angle brackets.
    pub const MAX: usize = 254;
    const MAX_LOCAL: usize = 64;
    const MAX_LABEL: usize = 63;

    /// # Errors
    /// Blank, over 254 characters, or not a deliverable address.
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let s = s.trim().to_lowercase();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.chars().count() > Self::MAX {
            return Err(EmailError::TooLong);
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(EmailError::Invalid);
        };
        if Self::local_ok(local) && Self::domain_ok(domain) {
            Ok(Self(s))
        } else {
            Err(EmailError::Invalid)
        }
    }

    fn local_ok(local: &str) -> bool {
        let atext = |c: char| {
            if c.is_ascii() {
                c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
            } else {
                // RFC 6531 allows UTF-8 mailbox names; letters and the
                // marks that spell them, not symbols or invisible characters.
                c.is_alphanumeric() || is_combining_mark(c)
            }
        };
        !local.is_empty()
            && local.chars().count() <= Self::MAX_LOCAL
            && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext))
    }

    fn domain_ok(domain: &str) -> bool {
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.chars().count() <= Self::MAX_LABEL
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || c == '-'
                        || (!c.is_ascii() && (c.is_alphanumeric() || is_combining_mark(c)))
                })
        };
        let labels: Vec<&str> = domain.split('.').collect();
        labels.len() >= 2
            && labels.iter().all(|l| label_ok(l))
            && labels
                .last()
                .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
    }
}

// ---------------------------------------------------------------------------
// UkMobile
// ---------------------------------------------------------------------------

/// Why a mobile number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MobileError {
    #[error("is required")]
    Empty,
    /// Letters or other characters a phone number does not contain, no
    /// digits at all, or far more characters than any phone number.
    #[error("must be a phone number, like 07911 123456")]
    NotANumber,
    /// A number, but not a valid mobile number in the +44 plan (a landline,
    /// a pager, another country's number, or a number no operator has).
    #[error("must be a UK mobile number, like 07911 123456")]
    NotUkMobile,
}

/// A UK mobile number, stored in E.164 form: `+447911123456`.
///
/// Accepts the ways people write one: "07911 123456", "07911-123-456",
/// "(07911) 123456", "+44 7911 123456", "+44 (0)7911 123456",
/// "0044 7911 123456". Validity and the number's type come from the
/// `phonenumber` crate (Google's libphonenumber metadata), so ranges Ofcom has
/// not allocated, and the drama range 07700 900xxx, are refused. Mobiles in
/// the Crown Dependencies (Jersey, Guernsey, Isle of Man) share +44 and are
/// accepted: texts reach them like any other UK mobile.
#[derive(Clone, PartialEq, Eq)]
pub struct UkMobile(String);
validated_string!(UkMobile, MobileError);

impl UkMobile {
    /// Longer input is not a phone number however it is spaced; the cap also
    /// bounds the work `phonenumber` does on hostile input.
    const MAX_INPUT: usize = 40;

    /// # Errors
    /// Blank, not a phone number, or not a valid UK mobile.
    pub fn parse(s: &str) -> Result<Self, MobileError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(MobileError::Empty);
        }
        if t.chars().count() > Self::MAX_INPUT {
            return Err(MobileError::NotANumber);
        }
        // Digits and the separators people type, with one '+' in front
        // ("+44 …", "(+44) …"). Letters are refused rather than read as a
        // keypad ("0800 FLOWERS") or an extension ("ext 12"), which
        // `phonenumber` would accept.
        let (plus, rest) = match t.find(|c: char| c != '(' && !c.is_whitespace()) {
            Some(i) if t[i..].starts_with('+') => (true, format!("{}{}", &t[..i], &t[i + 1..])),
            _ => (false, t.to_owned()),
        };
        if !rest
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')'))
        {
            return Err(MobileError::NotANumber);
        }
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(MobileError::NotANumber);
        }
        // "0044 …" is the international prefix dialled from the UK; pass it
        // on as "+44 …". A "(0)" after +44 is left for `phonenumber`, which
        // drops the trunk prefix.
        let normalised = if plus {
            format!("+{digits}")
        } else if let Some(international) = digits.strip_prefix("00") {
            format!("+{international}")
        } else {
            digits
        };
        let number =
            phonenumber::parse(Some(phonenumber::country::Id::GB), &normalised).map_err(|_| MobileError::NotANumber)?;
        let database = &*phonenumber::metadata::DATABASE;
        if number.code().value() != 44
            || !number.is_valid()
            || number.number_type(database) != phonenumber::Type::Mobile
        {
            return Err(MobileError::NotUkMobile);
        }
        Ok(Self(number.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// The number as people in the UK read it: "07911 123456". Every UK
    /// mobile is 07 and nine more digits, grouped 5 + 6. A stored value not
    /// of that shape is shown as stored.
    #[must_use]
    pub fn national(&self) -> String {
        match self.0.strip_prefix("+44") {
            Some(rest) if rest.len() == 10 && rest.bytes().all(|b| b.is_ascii_digit()) => {
                format!("0{} {}", &rest[..4], &rest[4..])
            }
            _ => self.0.clone(),
        }
    }
}

// ---------------------------------------------------------------------------
// Postcode
// ---------------------------------------------------------------------------

/// Why a postcode was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostcodeError {
    #[error("is required")]
    Empty,
    #[error("must be a UK postcode, like SW1A 1AA")]
    Invalid,
}

/// A UK postcode, stored upper case with one space before the three-character
/// inward code: "sw1a1aa" becomes "SW1A 1AA".
///
/// The outward code is one of A9, A99, A9A, AA9, AA99 or AA9A, and the inward
/// code is 9AA; "GIR 0AA" (Girobank) is the one historic exception. The
/// Royal Mail's letter-position rules are applied too, so typos that produce
/// an impossible postcode are caught:
///
/// - first position: any letter but Q, V, X;
/// - second position (AA9, AA99, AA9A): any letter but I, J, Z;
/// - third position (A9A): only A B C D E F G H J K P S T U W;
/// - fourth position (AA9A): only A B E H M N P R V W X Y;
/// - inward letters: any but C I K M O V.
///
/// This checks the format, not that the postcode exists (that needs the
/// Royal Mail's address file). Overseas-territory and BFPO codes are refused.
#[derive(Clone, PartialEq, Eq)]
pub struct Postcode(String);
validated_string!(Postcode, PostcodeError);

impl Postcode {
    /// # Errors
    /// Blank, or not in a UK postcode format.
    pub fn parse(s: &str) -> Result<Self, PostcodeError> {
        // Spaces are optional and may be anywhere; everything else must be
        // an ASCII letter or digit. Upper-casing only ASCII means no other
        // character can case-map into a valid postcode ('ß' -> "SS").
        let mut compact = String::with_capacity(8);
        for c in s.chars().filter(|c| !c.is_whitespace()) {
            if !c.is_ascii_alphanumeric() || compact.len() == 7 {
                return Err(PostcodeError::Invalid);
            }
            compact.push(c.to_ascii_uppercase());
        }
        if compact.is_empty() {
            return Err(PostcodeError::Empty);
        }
        if compact.len() < 5 {
            return Err(PostcodeError::Invalid);
        }
        let (outward, inward) = compact.split_at(compact.len() - 3);
        if compact == "GIR0AA" || (valid_outward(outward.as_bytes()) && valid_inward(inward.as_bytes())) {
            Ok(Self(format!("{outward} {inward}")))
        } else {
            Err(PostcodeError::Invalid)
        }
    }
}

/// A9, A99, A9A, AA9, AA99 or AA9A, with the letter-position rules.
fn valid_outward(o: &[u8]) -> bool {
    let first = |x: u8| x.is_ascii_uppercase() && !b"QVX".contains(&x);
    let second = |x: u8| x.is_ascii_uppercase() && !b"IJZ".contains(&x);
    let third = |x: u8| b"ABCDEFGHJKPSTUW".contains(&x);
    let fourth = |x: u8| b"ABEHMNPRVWXY".contains(&x);
    let digit = |x: u8| x.is_ascii_digit();
    match *o {
        [a, b] => first(a) && digit(b),
        [a, b, c] if digit(b) => first(a) && (digit(c) || third(c)),
        [a, b, c] => first(a) && second(b) && digit(c),
        [a, b, c, d] => first(a) && second(b) && digit(c) && (digit(d) || fourth(d)),
        _ => false,
    }
}

/// 9AA, the letters never C, I, K, M, O or V.
fn valid_inward(i: &[u8]) -> bool {
    let letter = |x: u8| x.is_ascii_uppercase() && !b"CIKMOV".contains(&x);
    matches!(*i, [d, a, b] if d.is_ascii_digit() && letter(a) && letter(b))
}

// ---------------------------------------------------------------------------
// DateOfBirth
// ---------------------------------------------------------------------------

/// Why a date of birth was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateOfBirthError {
    #[error("is required")]
    Empty,
    /// Not in an accepted format, or not a real date (31/02/2000).
    #[error("must be a date, like 1985-04-23")]
    Invalid,
    #[error("cannot be in the future")]
    InFuture,
    /// Before 1 January 1900: a typo for a recent year, not a living client.
    #[error("cannot be before 1900")]
    TooEarly,
}

/// A date of birth: a real calendar date, not after "today", not before
/// 1 January 1900.
///
/// "Today" is an argument, never read from a clock here (G1), so this type
/// has no `Deserialize`: deserialising would have no "today" to check
/// against. Serialised as `YYYY-MM-DD`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DateOfBirth(Date);
redacted_debug!(DateOfBirth);

impl DateOfBirth {
    const EARLIEST: Date = jiff::civil::date(1900, 1, 1);

    /// Accepts `YYYY-MM-DD` (what `<input type="date">` sends) and the UK's
    /// `DD/MM/YYYY`, also written `D/M/YYYY`. Two-digit years are refused:
    /// "01/02/03" has no safe reading.
    ///
    /// # Errors
    /// Blank, not a real date in an accepted format, after `today`, or
    /// before 1900.
    pub fn parse(s: &str, today: Date) -> Result<Self, DateOfBirthError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(DateOfBirthError::Empty);
        }
        let date = parse_date(s).ok_or(DateOfBirthError::Invalid)?;
        if date > today {
            return Err(DateOfBirthError::InFuture);
        }
        if date < Self::EARLIEST {
            return Err(DateOfBirthError::TooEarly);
        }
        Ok(Self(date))
    }

    #[must_use]
    pub fn as_date(&self) -> Date {
        self.0
    }

    /// Only for dates read back from Velum's own store, which were parsed on
    /// the way in (no re-validation: "today" has moved on since).
    #[must_use]
    pub fn from_date_stored(date: Date) -> Self {
        Self(date)
    }

    /// Age in whole years on `on`: the number of birthdays had by then.
    ///
    /// Someone born on 29 February has their birthday on 1 March in other
    /// years, the usual reading in UK law (a person attains an age at the
    /// start of the anniversary of their birth, and a non-leap year has no
    /// 29 February). For the under-18 rules this is the cautious reading: it
    /// never makes anyone 18 a day early. Negative if `on` is before the
    /// birth.
    #[must_use]
    pub fn age_on(&self, on: Date) -> i16 {
        let years = on.year() - self.0.year();
        // (month, day) order is calendar order, and (2, 29) sorts after
        // (2, 28), so a leap-day birthday is "not yet" until 1 March.
        if (on.month(), on.day()) < (self.0.month(), self.0.day()) {
            years - 1
        } else {
            years
        }
    }

    /// `YYYY-MM-DD`.
    #[must_use]
    pub fn to_iso(&self) -> String {
        self.0.strftime("%Y-%m-%d").to_string()
    }
}

impl Serialize for DateOfBirth {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_iso())
    }
}

/// `YYYY-MM-DD` (two-digit month and day, as ISO 8601 requires), or
/// `DD/MM/YYYY` with one- or two-digit day and month. `None` for anything
/// else, including impossible dates.
fn parse_date(s: &str) -> Option<Date> {
    let (year, month, day) = if let Some((y, rest)) = s.split_once('-') {
        let (m, d) = rest.split_once('-')?;
        (number(y, 4, 4)?, number(m, 2, 2)?, number(d, 2, 2)?)
    } else {
        let (d, rest) = s.split_once('/')?;
        let (m, y) = rest.split_once('/')?;
        (number(y, 4, 4)?, number(m, 1, 2)?, number(d, 1, 2)?)
    };
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// `min..=max` ASCII digits as a number. `str::parse` is not used because it
/// accepts a leading '+'.
fn number(s: &str, min: usize, max: usize) -> Option<i16> {
    if !(min..=max).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0, |n, b| n * 10 + i16::from(b - b'0')))
}

// ---------------------------------------------------------------------------
// Address lines, towns, short and free text
// ---------------------------------------------------------------------------

/// Why a piece of text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("is required")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    /// A control character, or an invisible character that changes how
    /// text is displayed.
    #[error("contains a hidden control character; try retyping it")]
    ControlCharacter,
}

/// Characters no text field stores: the C0 and C1 controls
/// (`char::is_control`: NUL, escape, DEL and the like, which corrupt exports,
/// terminals and logs), the Unicode line and paragraph separators (invisible
/// line breaks), and the bidirectional embedding, override and isolate
/// controls, which make text display in a different order from how it is
/// stored ("Trojan Source", CVE-2021-42574). The left-to-right and
/// right-to-left marks (U+200E, U+200F), which mixed Arabic or Hebrew and
/// English text legitimately uses, are allowed.
fn is_hidden_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Trimmed, `min..=max` characters (not bytes), no hidden controls.
fn single_line(s: &str, min: usize, max: usize) -> Result<String, TextError> {
    let t = s.trim();
    let n = t.chars().count();
    if n < min {
        return Err(TextError::Empty);
    }
    if n > max {
        return Err(TextError::TooLong { max });
    }
    if t.chars().any(is_hidden_control) {
        return Err(TextError::ControlCharacter);
    }
    Ok(t.to_owned())
}

/// A line of a postal address: trimmed, 1 to 200 characters, no control
/// characters.
#[derive(Clone, PartialEq, Eq)]
pub struct AddressLine(String);
validated_string!(AddressLine, TextError);

impl AddressLine {
    pub const MAX: usize = 200;

    /// # Errors
    /// Blank, over 200 characters, or a control character.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        single_line(s, 1, Self::MAX).map(Self)
    }
}

/// A town or city: trimmed, 1 to 100 characters, no control characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Town(String);
validated_string!(Town, TextError);

impl Town {
    pub const MAX: usize = 100;

    /// # Errors
    /// Blank, over 100 characters, or a control character.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        single_line(s, 1, Self::MAX).map(Self)
    }
}

/// One short entry: an allergy, a medication, a condition (and elsewhere, a
/// clinic's name). Trimmed, 1 to 200 characters, one line.
#[derive(Clone, PartialEq, Eq)]
pub struct ShortText(String);
validated_string!(ShortText, TextError);

impl ShortText {
    pub const MAX: usize = 200;

    /// # Errors
    /// Blank, over 200 characters, or a control character (a line break
    /// included: one entry is one line).
    pub fn parse(s: &str) -> Result<Self, TextError> {
        single_line(s, 1, Self::MAX).map(Self)
    }
}

/// Free text such as medical-summary notes: possibly empty, up to 10,000
/// characters, line breaks and tabs allowed.
///
/// Line breaks are stored as `\n`: browsers submit a text area's line breaks
/// as `\r\n`, and counting those as two characters would refuse text that fit
/// the text area's own limit.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct FreeText(String);
validated_string!(FreeText, TextError);

impl FreeText {
    pub const MAX: usize = 10_000;

    /// # Errors
    /// Over 10,000 characters, or a control character other than a line
    /// break or a tab.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        let unified = s.replace("\r\n", "\n").replace('\r', "\n");
        let t = unified.trim();
        if t.chars().count() > Self::MAX {
            return Err(TextError::TooLong { max: Self::MAX });
        }
        if t.chars().any(|c| is_hidden_control(c) && !matches!(c, '\n' | '\t')) {
            return Err(TextError::ControlCharacter);
        }
        Ok(Self(t.to_owned()))
    }
}

// ---------------------------------------------------------------------------
// NewPassword
// ---------------------------------------------------------------------------

/// Why a new password was refused (DOMAIN F37).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("must be at least {min} characters")]
    TooShort { min: usize },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("is too common or easy to guess; try a few unrelated words")]
    TooCommon,
    /// Found in the list of breached passwords shipped with Velum (checked
    /// by `velum_crypto::password::check_new_password`, ASVS 6.2.12).
    #[error("appears in lists of passwords leaked in data breaches; choose another")]
    Breached,
}

/// A new staff password, checked against DOMAIN F37: at least 12 characters,
/// no composition rules, common and guessable passwords refused.
///
/// - At least 12 characters: above ASVS 5.0 6.2.1's minimum of 8, below its
///   recommended 15 (the project's choice, DOMAIN F37). Counted in
///   characters, not bytes, so a passphrase in any script counts fairly.
/// - At most 256: ASVS 6.2.9 requires at least 64 be allowed; 256 leaves
///   room for any password manager while bounding the hashing work.
/// - No composition rules (ASVS 6.2.5): no "one upper case, one digit, one
///   symbol". They push people to `Password1!`.
/// - Common and guessable passwords refused (ASVS 6.2.4, 6.2.11) with
///   `zxcvbn`, which knows the common-password lists, dictionary words,
///   names, keyboard walks, dates, repeats and l33t substitutions, and is
///   given the words a guesser would try first: the caller's `user_inputs`
///   (the person's email, their name), the parts of those, and
///   [`CONTEXT_WORDS`]. It scores only the first 100 characters; a
///   password weak in those is refused whatever follows.
/// - Never trimmed or case-folded (ASVS 6.2.8): the password is what was typed.
///
/// Not done here: the check against breached passwords (ASVS 6.2.12), which
/// needs the breach corpus shipped in `velum-crypto` (a data file is no
/// business of this pure crate); `velum_crypto::password::check_new_password`
/// runs this parse and then that check, and is what the use cases call.
///
/// No `Serialize` or `Deserialize`: a password is never written anywhere but
/// into the password hasher, and `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);
redacted_debug!(NewPassword);

/// Words specific to Velum and its clinics, tried first by anyone guessing a
/// Velum password (the documented context-specific word list of ASVS 6.1.2,
/// used as ASVS 6.2.11 requires).
pub const CONTEXT_WORDS: &[&str] = &["velum", "clinic", "aesthetic", "aesthetics"];

impl NewPassword {
    pub const MIN: usize = 12;
    pub const MAX: usize = 256;

    /// `user_inputs` are words tied to the person or the place: their email,
    /// their name. Each is also split at anything that is not a letter or
    /// digit, so "jo.bloggs@example.org" contributes "bloggs" and "example".
    ///
    /// # Errors
    /// Under 12 or over 256 characters, or too easy to guess.
    pub fn parse(s: &str, user_inputs: &[&str]) -> Result<Self, PasswordError> {
        let n = s.chars().count();
        if n < Self::MIN {
            return Err(PasswordError::TooShort { min: Self::MIN });
        }
        if n > Self::MAX {
            return Err(PasswordError::TooLong { max: Self::MAX });
        }
        let words = guessable_words(user_inputs);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        // Score Three means zxcvbn estimates more than 10^8 guesses: beyond
        // an online attack under rate limiting, and enough to slow an
        // offline one against Argon2. Below that the password is in, or
        // built from, what attackers try first.
        if zxcvbn::zxcvbn(s, &words).score() < zxcvbn::Score::Three {
            return Err(PasswordError::TooCommon);
        }
        Ok(Self(s.to_owned()))
    }

    /// The password, for the hasher and nothing else.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The caller's inputs, their alphanumeric parts of three or more
/// characters, and [`CONTEXT_WORDS`], lower-cased.
fn guessable_words(user_inputs: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = CONTEXT_WORDS.iter().map(|w| (*w).to_owned()).collect();
    for input in user_inputs {
        let input = input.to_lowercase();
        words.extend(
            input
                .split(|c: char| !c.is_alphanumeric())
                .filter(|part| part.chars().count() >= 3 && *part != input)
                .map(str::to_owned),
        );
        words.push(input);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;
    use rstest::rstest;

    /// A fixed "today": nothing here reads a clock (G1).
    fn today() -> Date {
        date(2025, 6, 15)
    }

    // ---- PersonName -------------------------------------------------------

    #[rstest]
    #[case("  Zoë ", "Zoë")]
    #[case("Zoe\u{308}", "Zoe\u{308}")] // e + combining diaeresis
    #[case("Siân", "Siân")]
    #[case("Ó Súilleabháin", "Ó Súilleabháin")]
    #[case("O'Neill", "O'Neill")]
    #[case("O’Neill", "O’Neill")]
    #[case("'t Hooft", "'t Hooft")]
    #[case("Smith-Jones", "Smith-Jones")]
    #[case("de  la   Cruz", "de la Cruz")]
    #[case("St. John", "St. John")]
    #[case("Mary\tJane", "Mary Jane")]
    #[case("Anne\u{A0}Marie\r\n", "Anne Marie")]
    #[case("Nguyễn", "Nguyễn")]
    #[case("Þórunn", "Þórunn")]
    #[case("Σοφία", "Σοφία")]
    #[case("Иванова", "Иванова")]
    #[case("Шевченко", "Шевченко")]
    #[case("محمد", "محمد")]
    #[case("محمدی\u{200C}نژاد", "محمدی\u{200C}نژاد")] // Persian, with a zero-width non-joiner
    #[case("李", "李")]
    #[case("一郎", "一郎")]
    #[case("さくら", "さくら")]
    #[case("지은", "지은")]
    #[case("נועה", "נועה")]
    #[case("प्रिया", "प्रिया")] // Devanagari, with a virama
    #[case("สมศักดิ์", "สมศักดิ์")] // Thai, with a tone mark
    fn names_in_any_script_are_accepted(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(PersonName::parse(input).unwrap().as_str(), stored);
    }

    #[test]
    fn names_may_be_exactly_one_hundred_characters() {
        let hundred = "é".repeat(100); // 200 bytes: the limit is in characters
        assert_eq!(PersonName::parse(&hundred).unwrap().as_str(), hundred);
        assert_eq!(
            PersonName::parse(&format!("{hundred}e")),
            Err(NameError::TooLong { max: 100 })
        );
    }

    #[rstest]
    #[case("", NameError::Empty)]
    #[case("   ", NameError::Empty)]
    #[case("\t\n", NameError::Empty)]
    #[case("-", NameError::Empty)]
    #[case(". ' -", NameError::Empty)]
    #[case("R2D2", NameError::InvalidCharacter)]
    #[case("John 3rd", NameError::InvalidCharacter)]
    #[case("Henry Ⅷ", NameError::InvalidCharacter)] // a Roman numeral is a number
    #[case("<script>", NameError::InvalidCharacter)]
    #[case("a@b", NameError::InvalidCharacter)]
    #[case("Smith, Jo", NameError::InvalidCharacter)]
    #[case("Smith_Jones", NameError::InvalidCharacter)]
    #[case("Jo😀", NameError::InvalidCharacter)]
    #[case("Jo\u{0}", NameError::InvalidCharacter)]
    #[case("Jo\u{1b}[31m", NameError::InvalidCharacter)]
    #[case("Jo\u{202E}", NameError::InvalidCharacter)] // right-to-left override
    #[case("Jo\u{200B}nes", NameError::InvalidCharacter)] // zero-width space
    #[case("\u{301}Zoe", NameError::InvalidCharacter)] // a mark on nothing
    #[case("Zoe \u{301}", NameError::InvalidCharacter)] // a mark on a space
    #[case("\u{200D}Ali", NameError::InvalidCharacter)]
    #[case("Ali\u{200C}", NameError::InvalidCharacter)]
    fn bad_names_are_refused(#[case] input: &str, #[case] err: NameError) {
        assert_eq!(PersonName::parse(input), Err(err));
    }

    #[rstest]
    #[case("O'Neill-Smith", "oneillsmith")]
    #[case("O’Neill", "oneill")]
    #[case("St. John", "st john")]
    #[case("de la Cruz", "de la cruz")]
    #[case("Smith - Jones", "smith jones")]
    #[case("ΣΟΦΊΑ", "σοφία")]
    #[case("Zoë", "zoë")]
    fn search_keys_are_lower_case_without_punctuation(#[case] name: &str, #[case] key: &str) {
        assert_eq!(PersonName::parse(name).unwrap().search_key(), key);
    }

    #[test]
    fn a_query_gets_the_same_key_as_the_stored_name() {
        let stored = PersonName::parse("O’Neill-Smith").unwrap().search_key();
        assert_eq!(PersonName::search_key_of("  o'NEILL-smith "), stored);
        assert!(stored.starts_with(&PersonName::search_key_of("O'Ne")));
    }

    // ---- EmailAddress -----------------------------------------------------

    #[rstest]
    #[case(" Jo.Bloggs@Example.ORG ", "jo.bloggs@example.org")]
    #[case("o'neill+clinic@example.co.uk", "o'neill+clinic@example.co.uk")]
    #[case("a@b.co", "a@b.co")]
    #[case("x_y-z@sub-domain.example.org", "x_y-z@sub-domain.example.org")]
    #[case("user@xn--bcher-kva.example", "user@xn--bcher-kva.example")]
    #[case("JOSÉ@MÜNCHEN.DE", "josé@münchen.de")]
    #[case("zoë@exämple.com", "zoë@exämple.com")]
    #[case("x@1and1.com", "x@1and1.com")]
    fn emails_are_accepted_in_lower_case(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(EmailAddress::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", EmailError::Empty)]
    #[case("   ", EmailError::Empty)]
    #[case("a@b", EmailError::Invalid)]
    #[case("ab.com", EmailError::Invalid)]
    #[case("@example.com", EmailError::Invalid)]
    #[case("jo@", EmailError::Invalid)]
    #[case("a@@b.com", EmailError::Invalid)]
    #[case("a@b@c.com", EmailError::Invalid)]
    #[case("a b@c.com", EmailError::Invalid)]
    #[case("a@exa mple.com", EmailError::Invalid)]
    #[case("a\u{7}@b.com", EmailError::Invalid)]
    #[case(".a@b.com", EmailError::Invalid)]
    #[case("a.@b.com", EmailError::Invalid)]
    #[case("a..b@c.com", EmailError::Invalid)]
    #[case("\"a\"@b.com", EmailError::Invalid)]
    #[case("<a@b.com>", EmailError::Invalid)]
    #[case("a@-b.com", EmailError::Invalid)]
    #[case("a@b-.com", EmailError::Invalid)]
    #[case("a@b..com", EmailError::Invalid)]
    #[case("a@.b.com", EmailError::Invalid)]
    #[case("a@b.com.", EmailError::Invalid)]
    #[case("a@b_c.com", EmailError::Invalid)]
    #[case("a@192.168.0.1", EmailError::Invalid)]
    #[case("a@[192.168.0.1]", EmailError::Invalid)]
    #[case("a@b.c\u{202E}om", EmailError::Invalid)]
    fn bad_emails_are_refused(#[case] input: &str, #[case] err: EmailError) {
        assert_eq!(EmailAddress::parse(input), Err(err));
    }

    #[test]
    fn email_length_limits() {
        let local64 = "a".repeat(64);
        assert!(EmailAddress::parse(&format!("{local64}@example.com")).is_ok());
        assert_eq!(
            EmailAddress::parse(&format!("{local64}a@example.com")),
            Err(EmailError::Invalid)
        );
        let label63 = "b".repeat(63);
        assert!(EmailAddress::parse(&format!("a@{label63}.com")).is_ok());
        assert_eq!(
            EmailAddress::parse(&format!("a@{label63}b.com")),
            Err(EmailError::Invalid)
        );
        // 254 characters in all is the most allowed.
        let domain = format!("{label63}.{label63}.{label63}.{}.com", "c".repeat(55));
        let at_limit = format!("ab@{domain}");
        assert_eq!(at_limit.chars().count(), 254);
        assert!(EmailAddress::parse(&at_limit).is_ok());
        assert_eq!(EmailAddress::parse(&format!("a{at_limit}")), Err(EmailError::TooLong));
    }

    // ---- UkMobile ---------------------------------------------------------

    #[rstest]
    #[case("07911 123456")]
    #[case("07911-123-456")]
    #[case("+44 7911 123456")]
    #[case("0044 7911 123456")]
    #[case("(07911) 123456")]
    #[case("+44 (0)7911 123456")]
    #[case("+44 07911 123456")]
    #[case("(+44) 7911 123456")]
    #[case("447911123456")]
    #[case("07911123456")]
    #[case(" 07911 123 456 ")]
    #[case("07911.123.456")]
    #[case("07911\u{A0}123456")]
    fn uk_mobiles_are_stored_in_e164(#[case] input: &str) {
        let m = UkMobile::parse(input).unwrap();
        assert_eq!(m.as_str(), "+447911123456");
        assert_eq!(m.national(), "07911 123456");
    }

    #[rstest]
    #[case("07400 123456", "+447400123456", "07400 123456")]
    #[case("07123 456789", "+447123456789", "07123 456789")]
    #[case("07500123456", "+447500123456", "07500 123456")]
    #[case("07797 123456", "+447797123456", "07797 123456")] // Jersey
    #[case("07624 123456", "+447624123456", "07624 123456")] // Isle of Man
    fn other_uk_mobile_ranges(#[case] input: &str, #[case] e164: &str, #[case] national: &str) {
        let m = UkMobile::parse(input).unwrap();
        assert_eq!((m.as_str(), m.national().as_str()), (e164, national));
    }

    #[rstest]
    #[case("", MobileError::Empty)]
    #[case("  ", MobileError::Empty)]
    #[case("020 7946 0000", MobileError::NotUkMobile)] // a London landline
    #[case("+1 202 555 0143", MobileError::NotUkMobile)]
    #[case("+33 6 12 34 56 78", MobileError::NotUkMobile)] // a French mobile
    #[case("0033 6 12 34 56 78", MobileError::NotUkMobile)]
    #[case("07700 900123", MobileError::NotUkMobile)] // Ofcom's drama range
    #[case("07000 123456", MobileError::NotUkMobile)] // a personal number
    #[case("07640 123456", MobileError::NotUkMobile)] // a pager
    #[case("12345", MobileError::NotUkMobile)]
    #[case("079111234567", MobileError::NotUkMobile)] // a digit too many
    #[case("0791112345", MobileError::NotUkMobile)] // a digit too few
    #[case("call me", MobileError::NotANumber)]
    #[case("0800 FLOWERS", MobileError::NotANumber)]
    #[case("07911 123456 ext 12", MobileError::NotANumber)]
    #[case("07911+123456", MobileError::NotANumber)]
    #[case("++447911123456", MobileError::NotANumber)]
    #[case("+", MobileError::NotANumber)]
    #[case("()", MobileError::NotANumber)]
    #[case("０７９１１ １２３４５６", MobileError::NotANumber)] // full-width digits
    #[case("0 7 9 1 1 1 2 3 4 5 6 0 0 0 0 0 0 0 0 0 0", MobileError::NotANumber)] // over 40 characters
    fn other_numbers_are_refused(#[case] input: &str, #[case] err: MobileError) {
        assert_eq!(UkMobile::parse(input), Err(err));
    }

    #[test]
    fn national_shows_an_unexpected_stored_value_as_stored() {
        assert_eq!(UkMobile::from_stored("+33612345678".into()).national(), "+33612345678");
    }

    // ---- Postcode ---------------------------------------------------------

    #[rstest]
    #[case("sw1a1aa", "SW1A 1AA")] // AA9A
    #[case("SW1A   1AA", "SW1A 1AA")]
    #[case("s w 1 a 1 a a", "SW1A 1AA")]
    #[case("\u{A0}SW1A\u{A0}1AA\u{A0}", "SW1A 1AA")]
    #[case("  ls6 2ab ", "LS6 2AB")] // AA9
    #[case("M1 1AE", "M1 1AE")] // A9
    #[case("B33 8TH", "B33 8TH")] // A99
    #[case("W1A 0AX", "W1A 0AX")] // A9A
    #[case("N1C 4AG", "N1C 4AG")]
    #[case("DN55 1PT", "DN55 1PT")] // AA99
    #[case("CR2 6XH", "CR2 6XH")]
    #[case("EC1A 1BB", "EC1A 1BB")]
    #[case("NW1W 9AZ", "NW1W 9AZ")]
    #[case("BT9 6AD", "BT9 6AD")]
    #[case("gir0aa", "GIR 0AA")]
    #[case("GIR 0AA", "GIR 0AA")]
    fn postcodes_are_normalised(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(Postcode::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", PostcodeError::Empty)]
    #[case("   ", PostcodeError::Empty)]
    #[case("Q1 1AA", PostcodeError::Invalid)] // first position: not Q, V, X
    #[case("V1 1AA", PostcodeError::Invalid)]
    #[case("X1 1AA", PostcodeError::Invalid)]
    #[case("AI1 1AA", PostcodeError::Invalid)] // second position: not I, J, Z
    #[case("AJ1 1AA", PostcodeError::Invalid)]
    #[case("AZ1 1AA", PostcodeError::Invalid)]
    #[case("W1I 1AA", PostcodeError::Invalid)] // third position (A9A): not I, L, ...
    #[case("W1L 1AA", PostcodeError::Invalid)]
    #[case("EC1C 1AA", PostcodeError::Invalid)] // fourth position (AA9A): not C, ...
    #[case("EC1D 1AA", PostcodeError::Invalid)]
    #[case("SW1A 1CA", PostcodeError::Invalid)] // inward: not C, I, K, M, O, V
    #[case("SW1A 1AI", PostcodeError::Invalid)]
    #[case("SW1A 1KA", PostcodeError::Invalid)]
    #[case("SW1A 1AM", PostcodeError::Invalid)]
    #[case("SW1A 1OA", PostcodeError::Invalid)]
    #[case("SW1A 1AV", PostcodeError::Invalid)]
    #[case("SW1A AAA", PostcodeError::Invalid)]
    #[case("SW1A 11A", PostcodeError::Invalid)]
    #[case("1S6 2AB", PostcodeError::Invalid)]
    #[case("GIR 0AB", PostcodeError::Invalid)]
    #[case("12345", PostcodeError::Invalid)]
    #[case("LS6", PostcodeError::Invalid)]
    #[case("SW1A 1AA1", PostcodeError::Invalid)]
    #[case("SW1AA 1AA", PostcodeError::Invalid)]
    #[case("SW1A-1AA", PostcodeError::Invalid)]
    #[case("SW1A 1AA.", PostcodeError::Invalid)]
    #[case("ÅB1 1AA", PostcodeError::Invalid)]
    #[case("ß1 1AA", PostcodeError::Invalid)] // would upper-case to "SS1 1AA"
    #[case("ＳＷ１Ａ １ＡＡ", PostcodeError::Invalid)] // full-width
    fn bad_postcodes_are_refused(#[case] input: &str, #[case] err: PostcodeError) {
        assert_eq!(Postcode::parse(input), Err(err));
    }

    // ---- DateOfBirth ------------------------------------------------------

    #[rstest]
    #[case("1985-04-23", "1985-04-23")]
    #[case(" 1985-04-23 ", "1985-04-23")]
    #[case("23/04/1985", "1985-04-23")]
    #[case("03/04/1985", "1985-04-03")]
    #[case("3/4/1985", "1985-04-03")]
    #[case("29/02/2000", "2000-02-29")]
    #[case("1900-01-01", "1900-01-01")] // the earliest allowed
    #[case("2025-06-15", "2025-06-15")] // born today
    #[case("15/6/2025", "2025-06-15")]
    fn dates_of_birth_are_accepted(#[case] input: &str, #[case] iso: &str) {
        assert_eq!(DateOfBirth::parse(input, today()).unwrap().to_iso(), iso);
    }

    #[rstest]
    #[case("", DateOfBirthError::Empty)]
    #[case("  ", DateOfBirthError::Empty)]
    #[case("31/02/2000", DateOfBirthError::Invalid)]
    #[case("29/02/2001", DateOfBirthError::Invalid)]
    #[case("2000-02-30", DateOfBirthError::Invalid)]
    #[case("2000-13-01", DateOfBirthError::Invalid)]
    #[case("00/01/2000", DateOfBirthError::Invalid)]
    #[case("1985-4-23", DateOfBirthError::Invalid)] // ISO needs two-digit months
    #[case("85-04-23", DateOfBirthError::Invalid)]
    #[case("23/04/85", DateOfBirthError::Invalid)] // two-digit years are ambiguous
    #[case("123/04/1985", DateOfBirthError::Invalid)]
    #[case("23-04-1985", DateOfBirthError::Invalid)]
    #[case("1985/04/23", DateOfBirthError::Invalid)]
    #[case("23/04/1985/1", DateOfBirthError::Invalid)]
    #[case("+985-04-23", DateOfBirthError::Invalid)]
    #[case("1985-04-23T00:00", DateOfBirthError::Invalid)]
    #[case("23 April 1985", DateOfBirthError::Invalid)]
    #[case("yesterday", DateOfBirthError::Invalid)]
    #[case("٢٣/٠٤/١٩٨٥", DateOfBirthError::Invalid)] // Arabic-Indic digits
    #[case("2025-06-16", DateOfBirthError::InFuture)]
    #[case("16/06/2025", DateOfBirthError::InFuture)]
    #[case("9999-12-31", DateOfBirthError::InFuture)]
    #[case("1899-12-31", DateOfBirthError::TooEarly)]
    #[case("01/01/1000", DateOfBirthError::TooEarly)]
    #[case("0000-01-01", DateOfBirthError::TooEarly)]
    fn bad_dates_of_birth_are_refused(#[case] input: &str, #[case] err: DateOfBirthError) {
        assert_eq!(DateOfBirth::parse(input, today()), Err(err));
    }

    #[rstest]
    #[case("1985-04-23", date(2025, 4, 22), 39)]
    #[case("1985-04-23", date(2025, 4, 23), 40)]
    #[case("1985-04-23", date(1985, 4, 23), 0)]
    #[case("1985-04-23", date(1985, 4, 22), -1)]
    #[case("2007-06-16", date(2025, 6, 15), 17)] // 18 tomorrow
    #[case("2007-06-15", date(2025, 6, 15), 18)]
    // Born on 29 February: the birthday is 1 March in other years.
    #[case("2008-02-29", date(2026, 2, 28), 17)]
    #[case("2008-02-29", date(2026, 3, 1), 18)]
    #[case("2008-02-29", date(2024, 2, 28), 15)]
    #[case("2008-02-29", date(2024, 2, 29), 16)]
    fn age_counts_birthdays(#[case] dob: &str, #[case] on: Date, #[case] age: i16) {
        let dob = DateOfBirth::parse(dob, date(2100, 1, 1)).unwrap();
        assert_eq!(dob.age_on(on), age);
    }

    #[test]
    fn a_stored_date_round_trips() {
        let d = date(1985, 4, 23);
        let dob = DateOfBirth::from_date_stored(d);
        assert_eq!(dob.as_date(), d);
        assert_eq!(dob.to_iso(), "1985-04-23");
        assert_eq!(DateOfBirth::parse(&dob.to_iso(), today()), Ok(dob));
    }

    // ---- Address lines, towns, short and free text ------------------------

    #[rstest]
    #[case("  12 High Street ", "12 High Street")]
    #[case("Flat 3, 14–16 Rue de l'Église", "Flat 3, 14–16 Rue de l'Église")]
    #[case("شارع الملك فهد", "شارع الملك فهد")]
    fn address_lines_are_trimmed(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(AddressLine::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", TextError::Empty)]
    #[case(" \t ", TextError::Empty)]
    #[case("12\nHigh Street", TextError::ControlCharacter)]
    #[case("12\tHigh Street", TextError::ControlCharacter)]
    #[case("12 High\u{0} Street", TextError::ControlCharacter)]
    #[case("12 High\u{85}Street", TextError::ControlCharacter)] // C1 next-line
    #[case("12 High\u{2028}Street", TextError::ControlCharacter)] // line separator
    #[case("\u{202E}teertS hgiH 21", TextError::ControlCharacter)] // right-to-left override
    #[case("12 \u{2066}High\u{2069} Street", TextError::ControlCharacter)] // isolates
    fn bad_address_lines_are_refused(#[case] input: &str, #[case] err: TextError) {
        assert_eq!(AddressLine::parse(input), Err(err));
    }

    #[rstest]
    #[case::address_line(AddressLine::parse, 200)]
    #[case::town(Town::parse, 100)]
    #[case::short_text(ShortText::parse, 200)]
    fn single_line_length_limits<T: std::fmt::Debug>(
        #[case] parse: fn(&str) -> Result<T, TextError>,
        #[case] max: usize,
    ) {
        assert!(
            parse(&"ŵ".repeat(max)).is_ok(),
            "the limit counts characters, not bytes"
        );
        assert!(
            parse(&format!("  {}  ", "w".repeat(max))).is_ok(),
            "spaces are trimmed first"
        );
        assert_eq!(parse(&"w".repeat(max + 1)).unwrap_err(), TextError::TooLong { max });
        assert_eq!(parse("").unwrap_err(), TextError::Empty);
        assert_eq!(parse("a\u{7}b").unwrap_err(), TextError::ControlCharacter);
    }

    #[rstest]
    #[case("Penicillin", "Penicillin")]
    #[case("  Latex ", "Latex")]
    #[case("Isotretinoin (Roaccutane) 20 mg", "Isotretinoin (Roaccutane) 20 mg")]
    fn short_text_entries_are_trimmed(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(ShortText::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", "")]
    #[case("  \r\n ", "")]
    #[case("  Bruises easily. ", "Bruises easily.")]
    #[case("line 1\r\nline 2", "line 1\nline 2")]
    #[case("line 1\rline 2", "line 1\nline 2")]
    #[case("dose:\t0.5 ml", "dose:\t0.5 ml")]
    #[case(
        "مريض\u{200F} (Arabic with a right-to-left mark)",
        "مريض\u{200F} (Arabic with a right-to-left mark)"
    )]
    fn free_text_keeps_line_breaks_and_tabs(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(FreeText::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("bell\u{7}", TextError::ControlCharacter)]
    #[case("a\u{0}b", TextError::ControlCharacter)]
    #[case("a\u{2029}b", TextError::ControlCharacter)]
    #[case("a\u{202D}b", TextError::ControlCharacter)]
    fn bad_free_text_is_refused(#[case] input: &str, #[case] err: TextError) {
        assert_eq!(FreeText::parse(input), Err(err));
    }

    #[test]
    fn free_text_limit_counts_a_line_break_once() {
        let at_limit = format!("{}\r\n{}", "a".repeat(4_999), "b".repeat(5_000));
        assert_eq!(FreeText::parse(&at_limit).unwrap().as_str().chars().count(), 10_000);
        assert_eq!(
            FreeText::parse(&"a".repeat(10_001)),
            Err(TextError::TooLong { max: 10_000 })
        );
        assert_eq!(FreeText::default().as_str(), "");
    }

    // ---- NewPassword (DOMAIN F37) -----------------------------------------

    // DOMAIN F37: at least 12 characters, no composition rules, and common or
    // guessable passwords refused (ASVS 6.2.1, 6.2.4, 6.2.5, 6.2.11).
    #[rstest]
    #[case::common("password123456", Err(PasswordError::TooCommon))]
    #[case::common_12("password1234", Err(PasswordError::TooCommon))]
    #[case::keyboard_walk("qwertyuiop123", Err(PasswordError::TooCommon))]
    #[case::phrase_and_digits("iloveyou1234", Err(PasswordError::TooCommon))]
    #[case::composition_does_not_help("P@ssw0rd2024!", Err(PasswordError::TooCommon))]
    #[case::repeat("aaaaaaaaaaaa", Err(PasswordError::TooCommon))]
    #[case::sequence("123456789012", Err(PasswordError::TooCommon))]
    #[case::context_word("aesthetics1234", Err(PasswordError::TooCommon))]
    #[case::eleven("x7#Kq2!vLm9", Err(PasswordError::TooShort { min: 12 }))]
    #[case::eleven_characters_many_bytes("日本語のパスワードで", Err(PasswordError::TooShort { min: 12 }))]
    #[case::empty("", Err(PasswordError::TooShort { min: 12 }))]
    #[case::passphrase("correct horse battery staple", Ok(()))]
    #[case::hyphenated_words("tidal-copper-meadow-fox-19", Ok(()))]
    #[case::lower_case_words_only("amber walrus cinnamon kite", Ok(()))]
    #[case::twelve_random("x7#Kq2!vLm9@", Ok(()))]
    #[case::twelve_random_no_symbols("Qz8vLw3nRt5k", Ok(()))]
    #[case::non_ascii_passphrase("ĝardeno ŝipo ĉokolado", Ok(()))]
    fn new_passwords(#[case] input: &str, #[case] expected: Result<(), PasswordError>) {
        assert_eq!(
            NewPassword::parse(input, &["jo.bloggs@example.org"]).map(|_| ()),
            expected
        );
    }

    // DOMAIN F37 / ASVS 6.2.11: the person's own details are tried first.
    #[test]
    fn a_password_made_of_the_users_own_details_is_refused() {
        let email = "jo.bloggs@example.org";
        assert_eq!(NewPassword::parse(email, &[email]), Err(PasswordError::TooCommon));
        assert_eq!(
            NewPassword::parse("velumvelum123", &[email]),
            Err(PasswordError::TooCommon)
        );
    }

    // DOMAIN F37 / ASVS 6.2.8 and 6.2.9: kept exactly as typed; 256 allowed.
    #[test]
    fn passwords_are_kept_exactly_as_typed_up_to_256_characters() {
        let spaced = "  Correct Horse Battery Staple  ";
        assert_eq!(NewPassword::parse(spaced, &[]).unwrap().expose(), spaced);
        let long: String = "correct horse battery staple ".repeat(9).chars().take(256).collect();
        assert_eq!(NewPassword::parse(&long, &[]).unwrap().expose(), long);
        assert_eq!(
            NewPassword::parse(&format!("{long}x"), &[]),
            Err(PasswordError::TooLong { max: 256 })
        );
    }

    #[test]
    fn guessable_words_include_the_parts_of_each_input() {
        let words = guessable_words(&["Jo.Bloggs@Example.org"]);
        for w in ["velum", "clinic", "jo.bloggs@example.org", "bloggs", "example", "org"] {
            assert!(words.iter().any(|x| x == w), "{w} missing");
        }
        assert!(!words.iter().any(|x| x == "jo"), "two-letter parts are noise");
    }

    // ---- No personal data in Debug or errors (G4, G19) --------------------

    #[test]
    fn debug_prints_only_the_type_name() {
        let today = today();
        let cases = [
            (format!("{:?}", PersonName::parse("Quarrington").unwrap()), "PersonName"),
            (
                format!("{:?}", EmailAddress::parse("q@quarrington.example").unwrap()),
                "EmailAddress",
            ),
            (format!("{:?}", UkMobile::parse("07911 123456").unwrap()), "UkMobile"),
            (format!("{:?}", Postcode::parse("SW1A 1AA").unwrap()), "Postcode"),
            (
                format!("{:?}", DateOfBirth::parse("1985-04-23", today).unwrap()),
                "DateOfBirth",
            ),
            (
                format!("{:?}", AddressLine::parse("1 Quarrington Row").unwrap()),
                "AddressLine",
            ),
            (format!("{:?}", Town::parse("Quarrington").unwrap()), "Town"),
            (format!("{:?}", ShortText::parse("Penicillin").unwrap()), "ShortText"),
            (format!("{:?}", FreeText::parse("Bruises easily").unwrap()), "FreeText"),
            (
                format!("{:?}", NewPassword::parse("tidal-copper-meadow-fox-19", &[]).unwrap()),
                "NewPassword",
            ),
        ];
        for (debug, name) in cases {
            assert_eq!(debug, format!("{name}(<redacted>)"));
        }
        // Also when nested in the structs other layers log.
        let nested = format!("{:?}", Some(vec![PersonName::parse("Quarrington").unwrap()]));
        assert_eq!(nested, "Some([PersonName(<redacted>)])");
    }

    /// Every parser's error, as the user and the log would see it.
    fn error_texts(input: &str) -> Vec<String> {
        fn both<E: std::fmt::Display + std::fmt::Debug>(r: Result<impl Sized, E>) -> Vec<String> {
            r.err()
                .map(|e| vec![e.to_string(), format!("{e:?}")])
                .unwrap_or_default()
        }
        [
            both(PersonName::parse(input)),
            both(EmailAddress::parse(input)),
            both(UkMobile::parse(input)),
            both(Postcode::parse(input)),
            both(DateOfBirth::parse(input, today())),
            both(AddressLine::parse(input)),
            both(Town::parse(input)),
            both(ShortText::parse(input)),
            both(FreeText::parse(input)),
            both(NewPassword::parse(input, &[input])),
        ]
        .concat()
    }

    #[rstest]
    #[case("Quarrington")]
    #[case("Quarrington@@example")]
    #[case("07700 900Quarr")]
    #[case("QU4RR 1NGTON")]
    #[case("31/02/Quarrington")]
    #[case("Quarrington\u{0}")]
    #[case("Quarrington-password")]
    fn errors_never_contain_the_input(#[case] input: &str) {
        let texts = error_texts(input);
        assert!(!texts.is_empty());
        for text in texts {
            assert!(!text.contains(input), "{text:?}");
            assert!(!text.to_lowercase().contains("quarr"), "{text:?}");
        }
    }

    // ---- serde ------------------------------------------------------------

    #[test]
    fn values_serialise_as_plain_strings() {
        let json = serde_json::json!([
            PersonName::parse(" Zoë ").unwrap(),
            EmailAddress::parse("Jo@Example.org").unwrap(),
            UkMobile::parse("07911 123456").unwrap(),
            Postcode::parse("sw1a1aa").unwrap(),
            DateOfBirth::parse("23/04/1985", today()).unwrap(),
            AddressLine::parse("1 High St").unwrap(),
            Town::parse("Leeds").unwrap(),
            ShortText::parse("Latex").unwrap(),
            FreeText::parse("a\r\nb").unwrap(),
        ]);
        assert_eq!(
            json,
            serde_json::json!([
                "Zoë",
                "jo@example.org",
                "+447911123456",
                "SW1A 1AA",
                "1985-04-23",
                "1 High St",
                "Leeds",
                "Latex",
                "a\nb"
            ])
        );
    }

    #[test]
    fn deserialising_goes_through_parse() {
        let p: Postcode = serde_json::from_str("\"sw1a1aa\"").unwrap();
        assert_eq!(p.as_str(), "SW1A 1AA");
        let m: UkMobile = serde_json::from_str("\"07911 123456\"").unwrap();
        assert_eq!(m.as_str(), "+447911123456");
        let e: EmailAddress = serde_json::from_str("\" Jo@Example.org\"").unwrap();
        assert_eq!(e.as_str(), "jo@example.org");
        let f: FreeText = serde_json::from_str("\"\"").unwrap();
        assert_eq!(f.as_str(), "");
        let list: Vec<ShortText> = serde_json::from_str("[\" Latex \"]").unwrap();
        assert_eq!(list[0].as_str(), "Latex");

        let err = serde_json::from_str::<PersonName>("\"Quarrington<script>\"").unwrap_err();
        assert!(err.to_string().contains("may only contain letters"), "{err}");
        assert!(!err.to_string().contains("Quarrington"), "{err}");
        assert!(serde_json::from_str::<Postcode>("\"Q1 1AA\"").is_err());
        assert!(serde_json::from_str::<UkMobile>("\"020 7946 0000\"").is_err());
        assert!(serde_json::from_str::<EmailAddress>("\"not-an-email\"").is_err());
        assert!(serde_json::from_str::<ShortText>("\"\"").is_err());
        assert!(serde_json::from_str::<AddressLine>("\"a\\u0000b\"").is_err());
        assert!(serde_json::from_str::<Town>("17").is_err());
        assert_eq!(
            ShortText::try_from(String::from(" Latex ")).map(|t| t.as_str().to_owned()),
            Ok("Latex".to_owned())
        );
    }

    #[test]
    fn from_stored_does_not_revalidate() {
        // Values Velum stored itself are trusted as stored; a rule tightened
        // later must not lock old records out.
        assert_eq!(PersonName::from_stored("R2D2".into()).as_str(), "R2D2");
        assert_eq!(Postcode::from_stored("sw1a1aa".into()).as_str(), "sw1a1aa");
        assert_eq!(FreeText::from_stored("x".into()), FreeText::parse("x").unwrap());
    }

    #[test]
    fn the_combining_mark_table_is_sorted_and_disjoint() {
        assert!(COMBINING_MARKS.iter().all(|(lo, hi)| lo <= hi));
        assert!(COMBINING_MARKS.windows(2).all(|w| w[0].1 < w[1].0));
        for mark in [
            '\u{300}',
            '\u{36F}',
            '\u{94D}',
            '\u{E4C}',
            '\u{3099}',
            '\u{1DFF}',
            '\u{E01EF}',
        ] {
            assert!(is_combining_mark(mark), "{:04X}", u32::from(mark));
        }
        for other in ['a', ' ', '\u{2FF}', '\u{370}', '1', '@', '\u{10FFFF}'] {
            assert!(!is_combining_mark(other), "{:04X}", u32::from(other));
        }
    }

    // ---- Properties (G15) -------------------------------------------------

    /// Valid postcodes in all six outward formats, built from the
    /// letter-position rules.
    const POSTCODE: &str = "([A-PR-UWYZ][0-9]|[A-PR-UWYZ][0-9][0-9]|[A-PR-UWYZ][0-9][ABCDEFGHJKPSTUW]\
        |[A-PR-UWYZ][A-HK-Y][0-9]|[A-PR-UWYZ][A-HK-Y][0-9][0-9]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]) \
        [0-9][ABD-HJLNP-UW-Z]{2}";

    /// Names: words of letters (with some combining marks) joined by the
    /// punctuation names use.
    const NAME: &str = "\\p{L}[\\p{L}\u{301}\u{308}\u{94D}]{0,8}([ '’.-]\\p{L}[\\p{L}\u{301}]{0,8}){0,4}";

    const EMAIL: &str = "[a-zA-Z0-9_+-]{1,10}(\\.[a-zA-Z0-9_+-]{1,10}){0,2}\
        @[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?(\\.[a-z0-9]{1,10}){0,2}\\.[a-zA-Z]{2,6}";

    /// A date from 1900-01-01 to `today()`.
    fn any_birth_date() -> impl Strategy<Value = Date> {
        let span = date(1900, 1, 1).until(today()).unwrap().get_days();
        (0..=span).prop_map(|days| date(1900, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap())
    }

    /// The age rule written out the long way: the number of birthdays on or
    /// before `on`, a 29 February birthday falling on 1 March in other years.
    fn age_by_counting(dob: Date, on: Date) -> i16 {
        let birthday = |year: i16| Date::new(year, dob.month(), dob.day()).unwrap_or_else(|_| date(year, 3, 1));
        let mut age = 0;
        while birthday(dob.year() + age + 1) <= on {
            age += 1;
        }
        age
    }

    proptest! {
        /// No input makes a parser panic, and a parser accepts its own
        /// output unchanged.
        #[test]
        fn parsers_are_total_and_idempotent(s in prop_oneof![any::<String>(), "\\PC{0,40}", "[0-9 +()/.-]{0,30}"]) {
            if let Ok(x) = PersonName::parse(&s) {
                prop_assert!(x.as_str().chars().count() <= PersonName::MAX);
                prop_assert_eq!(PersonName::parse(x.as_str()), Ok(x));
            }
            if let Ok(x) = EmailAddress::parse(&s) {
                prop_assert_eq!(EmailAddress::parse(x.as_str()), Ok(x));
            }
            if let Ok(x) = UkMobile::parse(&s) {
                prop_assert_eq!(UkMobile::parse(&x.national()), Ok(x.clone()));
                prop_assert_eq!(UkMobile::parse(x.as_str()), Ok(x));
            }
            if let Ok(x) = Postcode::parse(&s) {
                prop_assert_eq!(Postcode::parse(x.as_str()), Ok(x));
            }
            if let Ok(x) = DateOfBirth::parse(&s, today()) {
                prop_assert_eq!(DateOfBirth::parse(&x.to_iso(), today()), Ok(x));
            }
            if let Ok(x) = AddressLine::parse(&s) {
                prop_assert_eq!(AddressLine::parse(x.as_str()), Ok(x));
            }
            if let Ok(x) = Town::parse(&s) {
                prop_assert_eq!(Town::parse(x.as_str()), Ok(x));
            }
            if let Ok(x) = ShortText::parse(&s) {
                prop_assert_eq!(ShortText::parse(x.as_str()), Ok(x));
            }
            if let Ok(x) = FreeText::parse(&s) {
                prop_assert!(!x.as_str().contains('\r'));
                prop_assert_eq!(FreeText::parse(x.as_str()), Ok(x));
            }
        }

        /// Whatever is typed, no error message or `Debug` repeats it.
        #[test]
        fn errors_never_echo_the_input(s in "Qx[a-z0-9@. +/'-]{2,30}") {
            for text in error_texts(&s) {
                prop_assert!(!text.contains(&s));
            }
        }

        #[test]
        fn valid_postcodes_are_accepted_in_any_case_and_spacing(p in POSTCODE) {
            let parsed = Postcode::parse(&p).unwrap();
            prop_assert_eq!(parsed.as_str(), p.as_str());
            prop_assert_eq!(Postcode::parse(&p.to_lowercase()), Ok(parsed.clone()));
            prop_assert_eq!(Postcode::parse(&p.replace(' ', "")), Ok(parsed.clone()));
            prop_assert_eq!(Postcode::parse(&format!("  {}  ", p.replace(' ', "   "))), Ok(parsed.clone()));
            prop_assert_eq!(Postcode::parse(parsed.as_str()), Ok(parsed));
        }

        #[test]
        fn inward_codes_with_forbidden_letters_are_refused(
            p in POSTCODE,
            bad in "[CIKMOV]",
            second in any::<bool>(),
        ) {
            let mut chars: Vec<char> = p.chars().collect();
            let at = chars.len() - if second { 1 } else { 2 };
            chars[at] = bad.chars().next().unwrap();
            let p: String = chars.into_iter().collect();
            prop_assert_eq!(Postcode::parse(&p), Err(PostcodeError::Invalid));
        }

        #[test]
        fn generated_names_are_accepted_and_keyed(name in NAME, pad in "[ \t]{0,3}") {
            let parsed = PersonName::parse(&name).unwrap();
            prop_assert_eq!(parsed.as_str(), name.as_str());
            let padded = format!("{pad}{}{pad}", name.replace(' ', &format!(" {pad}")));
            prop_assert_eq!(PersonName::parse(&padded), Ok(parsed.clone()));
            let key = parsed.search_key();
            prop_assert!(!key.contains(['\'', '’', '-', '.']));
            prop_assert!(!key.contains("  ") && key.trim() == key);
            prop_assert_eq!(&key.to_lowercase(), &key);
            prop_assert_eq!(PersonName::search_key_of(&key), key);
        }

        #[test]
        fn generated_emails_are_accepted_in_lower_case(email in EMAIL) {
            let parsed = EmailAddress::parse(&email).unwrap();
            prop_assert_eq!(parsed.as_str(), email.to_lowercase());
            prop_assert_eq!(EmailAddress::parse(&email.to_uppercase()), Ok(parsed.clone()));
            prop_assert_eq!(EmailAddress::parse(&format!(" {email} ")), Ok(parsed));
        }

        /// 071xx to 075xx and 078xx are wholly allocated mobile ranges.
        #[test]
        fn every_way_of_writing_a_mobile_gives_one_value(n in "7[1-58][0-9]{8}") {
            let (a, b) = n.split_at(4);
            let e164 = format!("+44{n}");
            for written in [
                format!("0{n}"),
                format!("0{a} {b}"),
                format!("0{a}-{}-{}", &b[..3], &b[3..]),
                format!("(0{a}) {b}"),
                format!("+44 {a} {b}"),
                format!("+44 (0){a} {b}"),
                format!("0044 {a} {b}"),
                format!("44{n}"),
            ] {
                let m = UkMobile::parse(&written).unwrap();
                prop_assert_eq!(m.as_str(), e164.as_str());
                prop_assert_eq!(m.national(), format!("0{a} {b}"));
            }
        }

        #[test]
        fn every_way_of_writing_a_date_gives_one_value(d in any_birth_date()) {
            let iso = DateOfBirth::parse(&d.to_string(), today()).unwrap();
            prop_assert_eq!(iso.as_date(), d);
            prop_assert_eq!(iso.to_iso(), d.to_string());
            let uk = format!("{:02}/{:02}/{}", d.day(), d.month(), d.year());
            prop_assert_eq!(DateOfBirth::parse(&uk, today()), Ok(iso));
            let short = format!("{}/{}/{}", d.day(), d.month(), d.year());
            prop_assert_eq!(DateOfBirth::parse(&short, today()), Ok(iso));
        }

        #[test]
        fn age_counts_birthdays_had(dob in any_birth_date(), on in any_birth_date()) {
            let parsed = DateOfBirth::from_date_stored(dob);
            if on >= dob {
                prop_assert_eq!(parsed.age_on(on), age_by_counting(dob, on));
            } else {
                prop_assert!(parsed.age_on(on) < 0);
            }
        }

        /// The age goes up on the birthday itself, not a day early or late
        /// (random pairs of dates rarely land on one).
        #[test]
        fn age_goes_up_on_each_birthday(dob in any_birth_date(), years in 0i16..=120) {
            let parsed = DateOfBirth::from_date_stored(dob);
            let year = dob.year() + years;
            let birthday = Date::new(year, dob.month(), dob.day()).unwrap_or_else(|_| date(year, 3, 1));
            prop_assert_eq!(parsed.age_on(birthday), years);
            prop_assert_eq!(parsed.age_on(birthday.yesterday().unwrap()), years - 1);
        }

        #[test]
        fn single_line_text_within_limits_is_accepted(s in "[^\\p{C}\\p{Zl}\\p{Zp}]{0,120}") {
            let trimmed = s.trim();
            match ShortText::parse(&s) {
                Ok(t) => prop_assert_eq!(t.as_str(), trimmed),
                Err(e) => prop_assert!(trimmed.is_empty() && e == TextError::Empty),
            }
        }

        // DOMAIN F37: the length rule holds for any characters at all.
        #[test]
        fn passwords_under_twelve_characters_are_refused(s in "\\PC{0,11}") {
            prop_assert_eq!(NewPassword::parse(&s, &[]), Err(PasswordError::TooShort { min: 12 }));
        }

        #[test]
        fn passwords_over_256_characters_are_refused(s in "\\PC{257,300}") {
            prop_assert_eq!(NewPassword::parse(&s, &[]), Err(PasswordError::TooLong { max: 256 }));
        }
    }
}
