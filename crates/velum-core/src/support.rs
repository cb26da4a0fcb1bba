//! Break-glass support grants: what state a grant is in, which decisions
//! move it where, and the operator's reason and the length asked for.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

/// A grant's stored status (`support_grants.status`). Whether a granted
/// grant still lives depends on the time: see [`GrantState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrantStatus {
    Requested,
    Granted,
    Denied,
    Revoked,
}

impl GrantStatus {
    pub const ALL: [GrantStatus; 4] = [
        GrantStatus::Requested,
        GrantStatus::Granted,
        GrantStatus::Denied,
        GrantStatus::Revoked,
    ];

    /// The stored text.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            GrantStatus::Requested => "requested",
            GrantStatus::Granted => "granted",
            GrantStatus::Denied => "denied",
            GrantStatus::Revoked => "revoked",
        }
    }
}

impl fmt::Display for GrantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a stored grant status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be one of requested, granted, denied, revoked")]
pub struct UnknownGrantStatus;

impl FromStr for GrantStatus {
    type Err = UnknownGrantStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GrantStatus::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or(UnknownGrantStatus)
    }
}

/// What the clinic's owner decides about a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Grant,
    Deny,
    Revoke,
}

/// A grant's state at an instant: its stored status, with a granted grant
/// whose time is up counted as expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrantState {
    /// Asked for; the owner has not decided.
    Requested,
    /// Granted and not yet at its end: the operator may visit.
    Live,
    /// Granted, and its time is up.
    Expired,
    /// Refused by the owner.
    Denied,
    /// Ended early by the owner.
    Revoked,
}

impl GrantState {
    pub const ALL: [GrantState; 5] = [
        GrantState::Requested,
        GrantState::Live,
        GrantState::Expired,
        GrantState::Denied,
        GrantState::Revoked,
    ];

    /// The state of a grant stored as `status`, ending at `expires_at`, at `now`.
    #[must_use]
    pub fn at(status: GrantStatus, expires_at: Option<Timestamp>, now: Timestamp) -> GrantState {
        match status {
            GrantStatus::Requested => GrantState::Requested,
            GrantStatus::Granted if expires_at.is_some_and(|t| t > now) => GrantState::Live,
            GrantStatus::Granted => GrantState::Expired,
            GrantStatus::Denied => GrantState::Denied,
            GrantStatus::Revoked => GrantState::Revoked,
        }
    }

    /// As shown and in the API: `requested`, `granted` (live), `expired`,
    /// `denied` or `revoked`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            GrantState::Requested => "requested",
            GrantState::Live => "granted",
            GrantState::Expired => "expired",
            GrantState::Denied => "denied",
            GrantState::Revoked => "revoked",
        }
    }

    /// The status stored for a grant in this state.
    #[must_use]
    pub const fn stored(self) -> GrantStatus {
        match self {
            GrantState::Requested => GrantStatus::Requested,
            GrantState::Live | GrantState::Expired => GrantStatus::Granted,
            GrantState::Denied => GrantStatus::Denied,
            GrantState::Revoked => GrantStatus::Revoked,
        }
    }

    /// The allowed transitions: the status a decision moves a grant in this
    /// state to, or `None` when the decision does not apply (a grant is
    /// decided once; only a live grant can be ended early).
    #[must_use]
    pub const fn after(self, decision: Decision) -> Option<GrantStatus> {
        match (self, decision) {
            (GrantState::Requested, Decision::Grant) => Some(GrantStatus::Granted),
            (GrantState::Requested, Decision::Deny) => Some(GrantStatus::Denied),
            (GrantState::Live, Decision::Revoke) => Some(GrantStatus::Revoked),
            _ => None,
        }
    }

    /// Whether the operator may be inside the clinic under this grant.
    #[must_use]
    pub const fn is_live(self) -> bool {
        matches!(self, GrantState::Live)
    }

    /// Whether the grant was ever open (so the window it was open in, and
    /// what was done in it, can be shown).
    #[must_use]
    pub const fn was_open(self) -> bool {
        matches!(self, GrantState::Live | GrantState::Expired | GrantState::Revoked)
    }
}

impl fmt::Display for GrantState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an operator asks for access: trimmed, 10 to 500 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupportReason(String);

/// Why a support reason was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SupportReasonError {
    #[error("must say why support needs access, in at least 10 characters")]
    TooShort,
    #[error("must be at most 500 characters")]
    TooLong,
}

impl SupportReason {
    pub const MIN: usize = 10;
    pub const MAX: usize = 500;

    /// # Errors
    /// Under 10 or over 500 characters once trimmed.
    pub fn parse(s: &str) -> Result<Self, SupportReasonError> {
        let s = s.trim();
        match s.chars().count() {
            n if n < Self::MIN => Err(SupportReasonError::TooShort),
            n if n > Self::MAX => Err(SupportReasonError::TooLong),
            _ => Ok(Self(s.to_owned())),
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a grant lasts once granted: 5 to 480 minutes, 60 when not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GrantMinutes(i64);

/// The text is not a whole number of minutes from 5 to 480.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a whole number of minutes from 5 to 480")]
pub struct GrantMinutesError;

impl GrantMinutes {
    pub const MIN: i64 = 5;
    pub const DEFAULT: i64 = 60;
    pub const MAX: i64 = 8 * 60;

    /// Blank means the default (60).
    ///
    /// # Errors
    /// Not a whole number, or outside 5 to 480.
    pub fn parse(s: &str) -> Result<Self, GrantMinutesError> {
        match s.trim() {
            "" => Ok(Self(Self::DEFAULT)),
            m => match m.parse::<i64>() {
                Ok(n) if (Self::MIN..=Self::MAX).contains(&n) => Ok(Self(n)),
                _ => Err(GrantMinutesError),
            },
        }
    }

    #[must_use]
    pub const fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;

    #[test]
    fn stored_statuses_round_trip_and_nothing_else_parses() {
        for s in GrantStatus::ALL {
            assert_eq!(s.as_str().parse::<GrantStatus>(), Ok(s));
        }
        for bad in ["expired", "live", "Granted", ""] {
            assert_eq!(bad.parse::<GrantStatus>(), Err(UnknownGrantStatus), "{bad}");
        }
    }

    #[test]
    fn a_granted_grant_lives_until_its_end_and_then_has_expired() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let later = now.checked_add(SignedDuration::from_mins(1)).unwrap();
        assert_eq!(GrantState::at(GrantStatus::Granted, Some(later), now), GrantState::Live);
        assert_eq!(
            GrantState::at(GrantStatus::Granted, Some(now), now),
            GrantState::Expired
        );
        assert_eq!(GrantState::at(GrantStatus::Granted, None, now), GrantState::Expired);
        assert_eq!(GrantState::at(GrantStatus::Requested, None, now), GrantState::Requested);
        assert_eq!(GrantState::at(GrantStatus::Denied, None, now), GrantState::Denied);
        assert_eq!(
            GrantState::at(GrantStatus::Revoked, Some(now), now),
            GrantState::Revoked
        );
        for s in GrantState::ALL {
            assert_eq!(GrantState::at(s.stored(), Some(later), now).stored(), s.stored(), "{s}");
        }
    }

    #[test]
    fn a_grant_is_decided_once_and_only_a_live_one_can_be_ended() {
        use Decision::{Deny, Grant, Revoke};
        let allowed: Vec<_> = GrantState::ALL
            .into_iter()
            .flat_map(|s| [Grant, Deny, Revoke].map(move |d| (s, d, s.after(d))))
            .filter(|(_, _, to)| to.is_some())
            .collect();
        assert_eq!(
            allowed,
            vec![
                (GrantState::Requested, Grant, Some(GrantStatus::Granted)),
                (GrantState::Requested, Deny, Some(GrantStatus::Denied)),
                (GrantState::Live, Revoke, Some(GrantStatus::Revoked)),
            ]
        );
        assert!(GrantState::Live.is_live() && !GrantState::Expired.is_live());
        assert!(!GrantState::Denied.was_open() && GrantState::Revoked.was_open());
    }

    #[test]
    fn reasons_and_minutes_are_parsed_with_their_limits() {
        assert_eq!(SupportReason::parse("  too short "), Err(SupportReasonError::TooShort));
        assert_eq!(SupportReason::parse("   short   "), Err(SupportReasonError::TooShort));
        assert_eq!(SupportReason::parse(&"x".repeat(501)), Err(SupportReasonError::TooLong));
        assert_eq!(
            SupportReason::parse("  the diary will not load  ").unwrap().as_str(),
            "the diary will not load"
        );
        assert_eq!(GrantMinutes::parse(" ").map(GrantMinutes::get), Ok(60));
        assert_eq!(GrantMinutes::parse("5").map(GrantMinutes::get), Ok(5));
        assert_eq!(GrantMinutes::parse("480").map(GrantMinutes::get), Ok(480));
        for bad in ["4", "481", "1.5", "ten", "-30"] {
            assert_eq!(GrantMinutes::parse(bad), Err(GrantMinutesError), "{bad}");
        }
    }
}
