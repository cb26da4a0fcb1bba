//! The access policy, in one place: may this actor do this to this section
//! or resource? Use cases in the app ask here (and audit a refusal); pages
//! ask the app, or show what it returned (a card's `tabs`), and never decide
//! access themselves.

use crate::actor::{Access, Role, Section};
use crate::id::StaffId;

/// May this role read (or, with `Access::Write`, change) this section of a
/// client's card?
#[must_use]
pub const fn may(role: Role, access: Access, section: Section) -> bool {
    use Access::Read;
    use Section::{AccessHistory, ClinicalNotes, Consents, Contact, Marketing, Medical, Payments, Photos};
    match (role, access, section) {
        // Owners and managers run the clinic and answer data requests:
        // they see every section. The access history is read-only for all.
        (Role::Owner | Role::Manager, _, AccessHistory) => matches!(access, Read),
        (Role::Owner | Role::Manager, _, _) => true,
        // Practitioners treat: the whole clinical record, no audit trail.
        (Role::Practitioner, _, Contact | Medical | ClinicalNotes | Photos | Consents | Marketing)
        | (Role::Practitioner, Read, Payments) => true,
        // Reception: contact details, bookings and payments, never medical.
        (Role::Receptionist, _, Contact | Payments | Marketing) => true,
        // Marketing: only marketing preferences (and only of clients who
        // consented, which the app layer checks per client).
        (Role::Marketing, Read, Marketing) => true,
        // Auditors: who looked at what. They can find the client by name
        // and contact details, never clinical values.
        (Role::Auditor, Read, Contact | AccessHistory) => true,
        // Support under a break-glass grant: enough to find and look at a
        // card a clinic reports a problem with, read-only, never clinical
        // values. Platform operators see no client data at all.
        (Role::Support, Read, Contact | Marketing | Payments | AccessHistory) => true,
        _ => false,
    }
}

/// Owners and managers invite staff, change roles and disable accounts.
#[must_use]
pub const fn may_manage_staff(role: Role) -> bool {
    matches!(role, Role::Owner | Role::Manager)
}

/// Only an owner may make (invite or promote to) an owner.
#[must_use]
pub const fn may_assign_role(actor: Role, role: Role) -> bool {
    may_manage_staff(actor) && (!matches!(role, Role::Owner) || matches!(actor, Role::Owner))
}

/// The clinic roles this role may give a member of staff, in the order a
/// form lists them (empty for a role that does not manage staff).
#[must_use]
pub fn assignable_roles(actor: Role) -> Vec<Role> {
    Role::ALL.into_iter().filter(|r| may_assign_role(actor, *r)).collect()
}

/// May `actor` (with id `actor_id`) change the account `target_id`, whose
/// role is `target_role`, and (with `new_role`) give it that role? Owners
/// may change anyone; managers may not touch owners or make owners; nobody
/// changes their own role or disables themselves.
#[must_use]
pub fn may_change_staff(
    actor: Role,
    actor_id: StaffId,
    target_id: StaffId,
    target_role: Role,
    new_role: Option<Role>,
) -> bool {
    may_manage_staff(actor)
        && target_id != actor_id
        && (matches!(actor, Role::Owner) || !matches!(target_role, Role::Owner))
        && new_role.is_none_or(|r| may_assign_role(actor, r))
}

/// Who may read the clinic-wide audit trail.
#[must_use]
pub const fn may_read_audit(role: Role) -> bool {
    matches!(role, Role::Owner | Role::Manager | Role::Auditor)
}

/// Only the clinic's owner sees its support grants and grants, refuses or
/// ends them.
#[must_use]
pub const fn may_decide_support(role: Role) -> bool {
    matches!(role, Role::Owner)
}

/// Who may read the clinic's settings: its owner and managers.
#[must_use]
pub const fn may_read_settings(role: Role) -> bool {
    matches!(role, Role::Owner | Role::Manager)
}

/// Who may change the clinic's settings: its owner.
#[must_use]
pub const fn may_change_settings(role: Role) -> bool {
    matches!(role, Role::Owner)
}

/// Who sees the clinic's failed background jobs: its owner.
#[must_use]
pub const fn may_see_failed_jobs(role: Role) -> bool {
    matches!(role, Role::Owner)
}

/// A tab of the client card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CardTab {
    Contact,
    Medical,
    Marketing,
    /// The card's change history (which section changed, who, when).
    Changes,
    AccessHistory,
}

impl CardTab {
    pub const ALL: [CardTab; 5] = [
        CardTab::Contact,
        CardTab::Medical,
        CardTab::Marketing,
        CardTab::Changes,
        CardTab::AccessHistory,
    ];

    /// The section whose read permission opens this tab.
    #[must_use]
    pub const fn section(self) -> Section {
        match self {
            CardTab::Contact | CardTab::Changes => Section::Contact,
            CardTab::Medical => Section::Medical,
            CardTab::Marketing => Section::Marketing,
            CardTab::AccessHistory => Section::AccessHistory,
        }
    }

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            CardTab::Contact => "Contact details",
            CardTab::Medical => "Medical",
            CardTab::Marketing => "Marketing",
            CardTab::Changes => "Changes",
            CardTab::AccessHistory => "Access history",
        }
    }
}

/// The tabs of a client's card this role may open, in order.
#[must_use]
pub fn card_tabs(role: Role) -> Vec<CardTab> {
    CardTab::ALL
        .into_iter()
        .filter(|t| may(role, Access::Read, t.section()))
        .collect()
}

/// What a row of a card's change history records a change to: a section,
/// or the card's status (archived or restored). Stored as text in
/// `client_history.section`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeSection {
    Section(Section),
    /// The card was archived or restored.
    Status,
}

impl ChangeSection {
    /// The stored text.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ChangeSection::Section(s) => s.as_str(),
            ChangeSection::Status => "status",
        }
    }

    /// The stored text parsed; `None` for anything Velum does not write.
    #[must_use]
    pub fn parse(s: &str) -> Option<ChangeSection> {
        if s == ChangeSection::Status.as_str() {
            Some(ChangeSection::Status)
        } else {
            s.parse().ok().map(ChangeSection::Section)
        }
    }
}

/// May this role see that a change of this kind happened? A change to a
/// section only to those who may read the section (reception does not learn
/// when the medical summary changed); an archive or restore to anyone who
/// may open the card's history.
#[must_use]
pub const fn may_see_change(role: Role, change: ChangeSection) -> bool {
    match change {
        ChangeSection::Section(s) => may(role, Access::Read, s),
        ChangeSection::Status => may(role, Access::Read, Section::Contact),
    }
}

/// Fail-closed: a change history row whose stored section Velum does not
/// know is shown to nobody.
#[must_use]
pub fn may_see_stored_change(role: Role, stored_section: &str) -> bool {
    ChangeSection::parse(stored_section).is_some_and(|c| may_see_change(role, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_ROLE: [Role; 8] = [
        Role::Owner,
        Role::Manager,
        Role::Practitioner,
        Role::Receptionist,
        Role::Marketing,
        Role::Auditor,
        Role::Operator,
        Role::Support,
    ];

    #[test]
    fn a_change_row_of_an_unknown_section_is_shown_to_nobody() {
        for role in EVERY_ROLE {
            for stored in ["", "mystery", "Contact", "status ", "access_history_x"] {
                assert!(!may_see_stored_change(role, stored), "{role} {stored:?}");
            }
        }
        assert!(may_see_stored_change(Role::Receptionist, "status"));
        assert!(may_see_stored_change(Role::Receptionist, "contact"));
        assert!(!may_see_stored_change(Role::Receptionist, "medical"));
        for s in Section::ALL {
            assert_eq!(ChangeSection::parse(s.as_str()), Some(ChangeSection::Section(s)));
        }
    }

    #[test]
    fn only_an_owner_may_make_an_owner_and_nobody_changes_themselves() {
        assert_eq!(assignable_roles(Role::Owner), Role::ALL.to_vec());
        assert_eq!(
            assignable_roles(Role::Manager),
            Role::ALL.into_iter().filter(|r| *r != Role::Owner).collect::<Vec<_>>()
        );
        for r in [
            Role::Practitioner,
            Role::Receptionist,
            Role::Marketing,
            Role::Auditor,
            Role::Operator,
            Role::Support,
        ] {
            assert!(assignable_roles(r).is_empty(), "{r}");
        }
        let (me, other) = (StaffId::new(), StaffId::new());
        assert!(may_change_staff(Role::Owner, me, other, Role::Owner, Some(Role::Owner)));
        assert!(!may_change_staff(Role::Owner, me, me, Role::Owner, None));
        assert!(!may_change_staff(Role::Manager, me, other, Role::Owner, None));
        assert!(!may_change_staff(
            Role::Manager,
            me,
            other,
            Role::Receptionist,
            Some(Role::Owner)
        ));
        assert!(may_change_staff(
            Role::Manager,
            me,
            other,
            Role::Receptionist,
            Some(Role::Manager)
        ));
        assert!(!may_change_staff(
            Role::Practitioner,
            me,
            other,
            Role::Receptionist,
            None
        ));
    }

    #[test]
    fn card_tabs_follow_the_read_permission_of_their_section() {
        assert_eq!(card_tabs(Role::Owner), CardTab::ALL.to_vec());
        assert_eq!(
            card_tabs(Role::Receptionist),
            vec![CardTab::Contact, CardTab::Marketing, CardTab::Changes]
        );
        assert_eq!(card_tabs(Role::Marketing), vec![CardTab::Marketing]);
        assert_eq!(card_tabs(Role::Operator), Vec::new());
    }

    #[test]
    fn audit_and_support_decisions() {
        let readers: Vec<_> = EVERY_ROLE.into_iter().filter(|r| may_read_audit(*r)).collect();
        assert_eq!(readers, vec![Role::Owner, Role::Manager, Role::Auditor]);
        let deciders: Vec<_> = EVERY_ROLE.into_iter().filter(|r| may_decide_support(*r)).collect();
        assert_eq!(deciders, vec![Role::Owner]);
    }
}
