//! A person's name ([`PersonName`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::is_combining_mark;

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    /// Names: words of letters (with some combining marks) joined by the
    /// punctuation names use.
    const NAME: &str = "\\p{L}[\\p{L}\u{301}\u{308}\u{94D}]{0,8}([ '’.-]\\p{L}[\\p{L}\u{301}]{0,8}){0,4}";

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

    proptest! {
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
    }
}
