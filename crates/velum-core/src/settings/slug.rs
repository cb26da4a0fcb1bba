//! A clinic's public slug ([`PublicSlug`]).

/// Why a slug was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("must be at least {min} characters")]
    TooShort { min: usize },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("may only contain lower-case letters a to z, digits and hyphens")]
    BadCharacter,
    #[error("must start and end with a letter or digit, with no two hyphens together")]
    BadHyphen,
    #[error("is a word Velum keeps for itself; choose another")]
    Reserved,
}

/// The clinic's name in the address of its public pages (the future booking
/// page): `bright-skin-leeds`. Lower-case ASCII letters, digits and single
/// hyphens, 3 to 63 characters (one DNS label, so it can become a host name
/// too), starting and ending with a letter or digit. Upper case typed is
/// lower-cased. Unique across the installation: the database decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicSlug(String);

/// Words that name Velum's own routes or could pass for them.
const RESERVED: &[&str] = &[
    "api", "admin", "www", "static", "platform", "login", "logout", "setup", "reset", "support", "staff", "clients",
    "audit", "settings", "account", "book", "booking", "velum", "healthz",
];

impl PublicSlug {
    pub const MIN: usize = 3;
    pub const MAX: usize = 63;

    /// # Errors
    /// Too short or long, a character other than a-z, 0-9 or `-`, a hyphen
    /// at either end or doubled, or a reserved word.
    pub fn parse(s: &str) -> Result<Self, SlugError> {
        let t = s.trim().to_ascii_lowercase();
        let n = t.chars().count();
        if n < Self::MIN {
            return Err(SlugError::TooShort { min: Self::MIN });
        }
        if n > Self::MAX {
            return Err(SlugError::TooLong { max: Self::MAX });
        }
        if !t
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(SlugError::BadCharacter);
        }
        if t.starts_with('-') || t.ends_with('-') || t.contains("--") {
            return Err(SlugError::BadHyphen);
        }
        if RESERVED.contains(&t.as_str()) {
            return Err(SlugError::Reserved);
        }
        Ok(Self(t))
    }

    /// Only for values Velum stored after parsing them.
    #[must_use]
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("bright-skin", "bright-skin")]
    #[case(" Bright-Skin-Leeds ", "bright-skin-leeds")]
    #[case("clinic42", "clinic42")]
    #[case("abc", "abc")]
    fn slugs_are_lower_cased(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(PublicSlug::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", SlugError::TooShort { min: 3 })]
    #[case("ab", SlugError::TooShort { min: 3 })]
    #[case("bright skin", SlugError::BadCharacter)]
    #[case("bright_skin", SlugError::BadCharacter)]
    #[case("brïght", SlugError::BadCharacter)]
    #[case("a/b/c", SlugError::BadCharacter)]
    #[case("-bright", SlugError::BadHyphen)]
    #[case("bright-", SlugError::BadHyphen)]
    #[case("bright--skin", SlugError::BadHyphen)]
    #[case("api", SlugError::Reserved)]
    #[case("Platform", SlugError::Reserved)]
    fn bad_slugs_are_refused(#[case] input: &str, #[case] err: SlugError) {
        assert_eq!(PublicSlug::parse(input), Err(err));
    }

    #[test]
    fn the_limit_is_one_dns_label() {
        assert!(PublicSlug::parse(&"a".repeat(63)).is_ok());
        assert_eq!(PublicSlug::parse(&"a".repeat(64)), Err(SlugError::TooLong { max: 63 }));
    }

    proptest! {
        #[test]
        fn parsed_slugs_reparse_unchanged(s in "\\PC{0,70}") {
            if let Ok(slug) = PublicSlug::parse(&s) {
                prop_assert_eq!(PublicSlug::parse(slug.as_str()), Ok(slug.clone()));
                prop_assert!(slug.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            }
        }
    }
}
