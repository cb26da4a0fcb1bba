//! An email address ([`EmailAddress`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::is_combining_mark;

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    const EMAIL: &str = "[a-zA-Z0-9_+-]{1,10}(\\.[a-zA-Z0-9_+-]{1,10}){0,2}\
        @[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?(\\.[a-z0-9]{1,10}){0,2}\\.[a-zA-Z]{2,6}";

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

    proptest! {
        #[test]
        fn generated_emails_are_accepted_in_lower_case(email in EMAIL) {
            let parsed = EmailAddress::parse(&email).unwrap();
            prop_assert_eq!(parsed.as_str(), email.to_lowercase());
            prop_assert_eq!(EmailAddress::parse(&email.to_uppercase()), Ok(parsed.clone()));
            prop_assert_eq!(EmailAddress::parse(&format!(" {email} ")), Ok(parsed));
        }
    }
}
