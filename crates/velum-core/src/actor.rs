//! Who is acting, and the staff roles. What each role may do with each
//! section of the client card is decided in [`crate::policy`]; the app layer
//! checks it in every use case, and templates never decide access.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::id::{ClinicId, StaffId};

/// A staff role. One per account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Manager,
    Practitioner,
    Receptionist,
    Marketing,
    Auditor,
    /// A platform operator (hosted mode): runs clinics, never reads their
    /// data. Belongs to the platform, not to any clinic; never assignable
    /// to clinic staff.
    Operator,
    /// An operator inside one clinic under a break-glass grant its owner
    /// gave: never stored, only derived from a live grant.
    Support,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Manager,
        Role::Practitioner,
        Role::Receptionist,
        Role::Marketing,
        Role::Auditor,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Practitioner => "practitioner",
            Role::Receptionist => "receptionist",
            Role::Marketing => "marketing",
            Role::Auditor => "auditor",
            Role::Operator => "operator",
            Role::Support => "support",
        }
    }

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Manager => "Manager",
            Role::Practitioner => "Practitioner",
            Role::Receptionist => "Receptionist",
            Role::Marketing => "Marketing",
            Role::Auditor => "Auditor",
            Role::Operator => "Platform operator",
            Role::Support => "Platform support",
        }
    }

    /// May this role read (or, with `Access::Write`, change) this section?
    /// The table is [`crate::policy::may`].
    #[must_use]
    pub const fn may(self, access: Access, section: Section) -> bool {
        crate::policy::may(self, access, section)
    }

    /// Owners and managers invite staff, change roles and disable accounts.
    #[must_use]
    pub const fn may_manage_staff(self) -> bool {
        crate::policy::may_manage_staff(self)
    }

    /// Who may read the clinic-wide audit trail.
    #[must_use]
    pub const fn may_read_audit(self) -> bool {
        crate::policy::may_read_audit(self)
    }

    /// The purpose recorded in the audit trail when this role opens a record.
    #[must_use]
    pub const fn default_purpose(self) -> Purpose {
        match self {
            Role::Practitioner => Purpose::DirectCare,
            Role::Owner | Role::Manager | Role::Receptionist => Purpose::Administration,
            Role::Marketing => Purpose::Marketing,
            Role::Auditor => Purpose::Audit,
            Role::Operator | Role::Support => Purpose::Support,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of the six roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be one of owner, manager, practitioner, receptionist, marketing, auditor")]
pub struct UnknownRole;

/// Parses the six clinic roles only: a platform role can never be typed
/// into a staff form. The store reads stored roles with [`Role::from_stored`].
impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(UnknownRole)
    }
}

impl Role {
    /// A role as stored: a clinic role, or `operator`.
    ///
    /// # Errors
    /// `UnknownRole` for anything else (`support` is never stored).
    pub fn from_stored(s: &str) -> Result<Role, UnknownRole> {
        if s == Role::Operator.as_str() {
            Ok(Role::Operator)
        } else {
            s.parse()
        }
    }
}

/// Read or change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A section of the client card. Each has its own permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Contact,
    Medical,
    ClinicalNotes,
    Photos,
    Consents,
    Payments,
    Marketing,
    AccessHistory,
}

impl Section {
    pub const ALL: [Section; 8] = [
        Section::Contact,
        Section::Medical,
        Section::ClinicalNotes,
        Section::Photos,
        Section::Consents,
        Section::Payments,
        Section::Marketing,
        Section::AccessHistory,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Section::Contact => "contact",
            Section::Medical => "medical",
            Section::ClinicalNotes => "clinical_notes",
            Section::Photos => "photos",
            Section::Consents => "consents",
            Section::Payments => "payments",
            Section::Marketing => "marketing",
            Section::AccessHistory => "access_history",
        }
    }

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Section::Contact => "Contact details",
            Section::Medical => "Medical",
            Section::ClinicalNotes => "Clinical notes",
            Section::Photos => "Photos",
            Section::Consents => "Consents",
            Section::Payments => "Payments",
            Section::Marketing => "Marketing preferences",
            Section::AccessHistory => "Access history",
        }
    }

    /// Sections whose values are special-category (health) data. Auditors
    /// and reception never see these.
    #[must_use]
    pub const fn is_clinical(self) -> bool {
        matches!(
            self,
            Section::Medical | Section::ClinicalNotes | Section::Photos | Section::Consents
        )
    }
}

impl FromStr for Section {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Section::ALL.into_iter().find(|x| x.as_str() == s).ok_or(())
    }
}

/// Why a record was opened; recorded with every audit event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    DirectCare,
    Administration,
    Marketing,
    Audit,
    Security,
    /// Platform support under a break-glass grant.
    Support,
}

impl Purpose {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Purpose::DirectCare => "direct_care",
            Purpose::Administration => "administration",
            Purpose::Marketing => "marketing",
            Purpose::Audit => "audit",
            Purpose::Security => "security",
            Purpose::Support => "support",
        }
    }
}

/// A signed-in staff member acting in one clinic. Built by the web layer's
/// session extractor from a live, fully authenticated session; every use case
/// takes it first and checks policy against it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub staff_id: StaffId,
    pub clinic_id: ClinicId,
    pub role: Role,
    /// Where the request came from, for the audit trail only (never logs).
    pub source: Option<IpAddr>,
}

impl Actor {
    #[must_use]
    pub const fn may(&self, access: Access, section: Section) -> bool {
        self.role.may(access, section)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue rule: "Receptionist: contact details and bookings, never medical."
    #[test]
    fn reception_never_sees_clinical_sections() {
        for s in Section::ALL.into_iter().filter(|s| s.is_clinical()) {
            assert!(!Role::Receptionist.may(Access::Read, s), "{s:?}");
            assert!(!Role::Auditor.may(Access::Read, s), "{s:?}");
            assert!(!Role::Marketing.may(Access::Read, s), "{s:?}");
        }
        assert!(Role::Receptionist.may(Access::Write, Section::Contact));
    }

    #[test]
    fn marketing_sees_only_marketing_preferences() {
        let visible: Vec<_> = Section::ALL
            .into_iter()
            .filter(|s| Role::Marketing.may(Access::Read, *s))
            .collect();
        assert_eq!(visible, vec![Section::Marketing]);
    }

    #[test]
    fn nobody_can_rewrite_the_access_history() {
        for r in Role::ALL {
            assert!(!r.may(Access::Write, Section::AccessHistory), "{r}");
        }
        assert!(Role::Auditor.may(Access::Read, Section::AccessHistory));
        assert!(!Role::Practitioner.may(Access::Read, Section::AccessHistory));
    }

    #[test]
    fn platform_roles_never_see_clinical_values_and_operators_see_no_client_data() {
        for s in Section::ALL {
            assert!(!Role::Operator.may(Access::Read, s), "{s:?}");
            assert!(!Role::Support.may(Access::Write, s), "{s:?}");
            if s.is_clinical() {
                assert!(!Role::Support.may(Access::Read, s), "{s:?}");
            }
        }
        assert!(Role::Support.may(Access::Read, Section::Contact));
        assert!(!Role::Operator.may_manage_staff() && !Role::Support.may_manage_staff());
        assert_eq!("operator".parse::<Role>(), Err(UnknownRole));
        assert_eq!(Role::from_stored("operator"), Ok(Role::Operator));
        assert_eq!(Role::from_stored("support"), Err(UnknownRole));
    }

    #[test]
    fn roles_round_trip_through_text() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!("admin".parse::<Role>(), Err(UnknownRole));
    }
}
