//! A town or city ([`Town`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{TextError, single_line};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn towns_are_trimmed() {
        assert_eq!(Town::parse("  Llanfair PG ").unwrap().as_str(), "Llanfair PG");
        assert_eq!(Town::parse(" "), Err(TextError::Empty));
    }
}
