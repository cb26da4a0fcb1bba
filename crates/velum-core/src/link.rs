//! Single-use links emailed to staff.

/// What a single-use link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Set a first password (new owner or invited staff).
    Setup,
    /// Choose a new password after "forgot password".
    Reset,
}

impl LinkPurpose {
    /// The name stored with the link, used in its URL path and its audit detail.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Setup => "setup",
            LinkPurpose::Reset => "reset",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are stored with each link: a rename would orphan live links.
    #[test]
    fn stored_link_purposes_never_change() {
        assert_eq!(
            [LinkPurpose::Setup.as_str(), LinkPurpose::Reset.as_str()],
            ["setup", "reset"]
        );
    }
}
