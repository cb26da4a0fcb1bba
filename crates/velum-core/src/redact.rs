//! Redacted `Debug` for the input types that carry personal or clinical
//! data as raw strings (what was typed, or a JSON body), so that `{:?}` in a
//! log line, an error or a panic message shows the shape, never a value
//! (G4, docs/LOGGING.md).

use std::fmt;

/// What is printed in place of a value.
pub const REDACTED: &str = "<redacted>";

/// Prints [`REDACTED`]; the value of every hidden field in
/// [`debug_redacted!`](crate::debug_redacted).
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// `Debug` for a struct with named fields that prints its name and every
/// field's name with `<redacted>` for the value:
/// `ClientInput { given_name: <redacted>, … }`. Fields after `shown:` (ids,
/// fixed codes: never personal data) print their own `Debug`.
///
/// Every field must be listed, in either part: the macro destructures
/// `Self` without `..`, so a field added later fails to compile until it is
/// placed here, and nobody has to remember.
///
/// ```
/// struct Invite { email: String, role: &'static str }
/// velum_core::debug_redacted!(Invite { email; shown: role });
/// let i = Invite { email: "jo@example.org".into(), role: "owner" };
/// assert_eq!(format!("{i:?}"), r#"Invite { email: <redacted>, role: "owner" }"#);
/// ```
#[macro_export]
macro_rules! debug_redacted {
    ($t:ident { $($hidden:ident),* $(,)? $(; shown: $($shown:ident),* $(,)?)? }) => {
        impl ::std::fmt::Debug for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let Self { $($hidden: _,)* $($($shown,)*)? } = self;
                f.debug_struct(stringify!($t))
                    $(.field(stringify!($hidden), &$crate::redact::Redacted))*
                    $($(.field(stringify!($shown), $shown))*)?
                    .finish()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #[expect(dead_code, reason = "the fields are only printed")]
    struct Both {
        name: String,
        id: u32,
    }
    debug_redacted!(Both { name; shown: id });

    #[expect(dead_code, reason = "the fields are only printed")]
    struct Hidden {
        a: String,
        b: Option<String>,
    }
    debug_redacted!(Hidden { a, b });

    #[test]
    fn hidden_fields_print_the_marker_and_shown_fields_their_value() {
        let b = Both {
            name: "Quarrington".into(),
            id: 7,
        };
        assert_eq!(format!("{b:?}"), "Both { name: <redacted>, id: 7 }");
        let h = Hidden {
            a: "Quarrington".into(),
            b: Some("Zebedee".into()),
        };
        assert_eq!(format!("{h:?}"), "Hidden { a: <redacted>, b: <redacted> }");
        assert!(!format!("{h:#?}").contains("Quarrington"));
    }
}
