//! Typed ids (G3). Each wraps a time-ordered UUID v7; they never mix, so a
//! `ClientId` cannot be passed where a `ClinicId` is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUID v7). Ids are made in the app,
            /// never by the database.
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| InvalidId)
            }
        }
    };
}

/// The text given where an id was expected is not a UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be an id in UUID form")]
pub struct InvalidId;

define_id!(
    /// One clinic: the tenant. Every row of clinic data carries it.
    ClinicId
);
define_id!(
    /// A client (patient) of one clinic.
    ClientId
);
define_id!(
    /// A staff account of one clinic.
    StaffId
);
define_id!(
    /// One audit event.
    AuditEventId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_reject_non_uuids() {
        let id = ClientId::new();
        assert_eq!(id.to_string().parse::<ClientId>(), Ok(id));
        assert_eq!("12".parse::<ClientId>(), Err(InvalidId));
        assert_eq!("../etc/passwd".parse::<ClinicId>(), Err(InvalidId));
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let a = StaffId::new();
        let b = StaffId::new();
        assert!(a < b);
    }
}
