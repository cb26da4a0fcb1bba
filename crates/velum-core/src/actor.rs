//! Who is acting, and the staff roles. What each role may do with each
//! section of the client card is decided in [`crate::policy`]; the app layer
//! checks it in every use case, and templates never decide access.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::id::{ClientId, ClinicId, StaffId};

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
/// session extractor from a live, fully authenticated session; every staff
/// use case takes it (from [`Actor::account`]) and checks policy against it.
/// A platform operator inside a clinic under a support grant is one too,
/// with role [`Role::Support`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaffActor {
    pub staff_id: StaffId,
    pub clinic_id: ClinicId,
    pub role: Role,
    /// Where the request came from, for the audit trail only (never logs).
    pub source: Option<IpAddr>,
}

impl StaffActor {
    #[must_use]
    pub const fn may(&self, access: Access, section: Section) -> bool {
        self.role.may(access, section)
    }

    /// The clinic this member of staff acts in: the only rows they reach.
    #[must_use]
    pub const fn scope(&self) -> ClinicScope {
        ClinicScope::new(self.clinic_id)
    }

    /// An operator's scope for the platform operations it runs on one
    /// clinic (its status, support grants, usage counts, offboarding): the
    /// use cases that take it read no client data. `None` for anyone but
    /// an operator on their own account.
    #[must_use]
    pub const fn operator_scope(&self, clinic: ClinicId) -> Option<ClinicScope> {
        if matches!(self.role, Role::Operator) {
            Some(ClinicScope::new(clinic))
        } else {
            None
        }
    }

    /// What the audit trail records as the kind of actor: an operator's
    /// own account (role `Operator`) acts as `operator`, anyone else
    /// (support visits included) as `staff`.
    #[must_use]
    pub fn kind(&self) -> ActorKind {
        if matches!(self.role, Role::Operator) {
            ActorKind::Operator
        } else {
            ActorKind::Staff
        }
    }
}

/// A signed-in client of one clinic (the client portal, online booking).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientActor {
    pub client_id: ClientId,
    pub clinic_id: ClinicId,
    pub source: Option<IpAddr>,
}

impl ClientActor {
    #[must_use]
    pub const fn scope(&self) -> ClinicScope {
        ClinicScope::new(self.clinic_id)
    }
}

/// An anonymous visitor of one clinic's public pages (its booking page),
/// and anyone not yet signed in acting on the one clinic their request
/// names (signing in to an account, resetting its password, accepting an
/// invitation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicActor {
    pub clinic_id: ClinicId,
    pub source: Option<IpAddr>,
}

impl PublicActor {
    /// A visitor of `clinic` (the source is not needed for a scope).
    #[must_use]
    pub const fn of(clinic_id: ClinicId) -> Self {
        Self {
            clinic_id,
            source: None,
        }
    }

    #[must_use]
    pub const fn scope(&self) -> ClinicScope {
        ClinicScope::new(self.clinic_id)
    }
}

/// A platform operator on the platform's own pages. Runs clinics (creates,
/// suspends, offboards them), never reads their data. `home` is the
/// platform's own row, where operator accounts live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperatorActor {
    pub staff_id: StaffId,
    pub home: ClinicId,
    pub source: Option<IpAddr>,
}

/// A background or command-line job acting with nobody signed in: the mail
/// worker, an export, an import, a key rotation, an offboarding. It names
/// itself, and the clinic when it acts on one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemJob {
    job: &'static str,
    clinic_id: Option<ClinicId>,
}

impl SystemJob {
    /// A job acting on no clinic in particular (the platform's own chain).
    /// `job` is a short name in `snake_case` (it is stored in the audit
    /// trail, see [`ActorKind::System`]).
    #[must_use]
    pub const fn new(job: &'static str) -> Self {
        Self { job, clinic_id: None }
    }

    /// A job acting on one clinic.
    #[must_use]
    pub const fn for_clinic(job: &'static str, clinic_id: ClinicId) -> Self {
        Self {
            job,
            clinic_id: Some(clinic_id),
        }
    }

    /// A job acting on one clinic, and the scope it runs in: the one way
    /// to reach a clinic's rows with nobody signed in.
    #[must_use]
    pub const fn scope_of(job: &'static str, clinic_id: ClinicId) -> (Self, ClinicScope) {
        (Self::for_clinic(job, clinic_id), ClinicScope::new(clinic_id))
    }

    #[must_use]
    pub const fn job(&self) -> &'static str {
        self.job
    }

    #[must_use]
    pub const fn clinic(&self) -> Option<ClinicId> {
        self.clinic_id
    }

    /// The clinic the job names, as the scope its queries run in: `None`
    /// for a job that names no clinic.
    #[must_use]
    pub const fn scope(&self) -> Option<ClinicScope> {
        match self.clinic_id {
            Some(c) => Some(ClinicScope::new(c)),
            None => None,
        }
    }

    #[must_use]
    pub fn kind(&self) -> ActorKind {
        ActorKind::System(self.job.to_owned())
    }
}

/// Whoever is acting. Staff use cases take the staff member from
/// [`Actor::account`], which refuses every other kind; the policy answers
/// "no" for every kind but staff on the sections of a client card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    Staff(StaffActor),
    Client(ClientActor),
    Public(PublicActor),
    Operator(OperatorActor),
    System(SystemJob),
}

/// The actor is not a signed-in member of staff (or operator), so a staff
/// use case refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this needs a signed-in member of staff")]
pub struct NotStaff;

impl Actor {
    /// The signed-in account behind a staff or operator actor, as the staff
    /// use cases take it: a member of staff with their role in their
    /// clinic; an operator with role [`Role::Operator`] in the platform's
    /// own row (a role the policy grants no client data).
    ///
    /// # Errors
    /// `NotStaff` for a client, a public visitor or a system job.
    pub const fn account(&self) -> Result<StaffActor, NotStaff> {
        match self {
            Actor::Staff(s) => Ok(*s),
            Actor::Operator(o) => Ok(StaffActor {
                staff_id: o.staff_id,
                clinic_id: o.home,
                role: Role::Operator,
                source: o.source,
            }),
            Actor::Client(_) | Actor::Public(_) | Actor::System(_) => Err(NotStaff),
        }
    }

    /// The clinic whose data the actor may reach, if any (an operator
    /// reaches none).
    #[must_use]
    pub const fn clinic(&self) -> Option<ClinicId> {
        match self {
            Actor::Staff(s) => Some(s.clinic_id),
            Actor::Client(c) => Some(c.clinic_id),
            Actor::Public(p) => Some(p.clinic_id),
            Actor::Operator(_) => None,
            Actor::System(j) => j.clinic_id,
        }
    }

    /// The scope of [`Actor::clinic`]: the only clinic the actor's queries
    /// may touch. `None` for an operator and a job naming no clinic.
    #[must_use]
    pub const fn scope(&self) -> Option<ClinicScope> {
        match self.clinic() {
            Some(c) => Some(ClinicScope::new(c)),
            None => None,
        }
    }

    /// Where the request came from (`None` for a system job).
    #[must_use]
    pub const fn source(&self) -> Option<IpAddr> {
        match self {
            Actor::Staff(StaffActor { source, .. })
            | Actor::Client(ClientActor { source, .. })
            | Actor::Public(PublicActor { source, .. })
            | Actor::Operator(OperatorActor { source, .. }) => *source,
            Actor::System(_) => None,
        }
    }

    /// What the audit trail records about who acted.
    #[must_use]
    pub fn kind(&self) -> ActorKind {
        match self {
            Actor::Staff(s) => s.kind(),
            Actor::Client(_) => ActorKind::Client,
            Actor::Public(_) => ActorKind::Public,
            Actor::Operator(_) => ActorKind::Operator,
            Actor::System(j) => j.kind(),
        }
    }

    /// May this actor read (or change) this section of a client card?
    /// Staff by their role; every other kind is refused (fail closed: the
    /// client portal and booking will get their own rules, not these).
    #[must_use]
    pub const fn may(&self, access: Access, section: Section) -> bool {
        match self {
            Actor::Staff(s) => s.may(access, section),
            Actor::Client(_) | Actor::Public(_) | Actor::Operator(_) | Actor::System(_) => false,
        }
    }
}

impl From<StaffActor> for Actor {
    fn from(s: StaffActor) -> Self {
        Actor::Staff(s)
    }
}

impl From<SystemJob> for Actor {
    fn from(j: SystemJob) -> Self {
        Actor::System(j)
    }
}

/// Which kind of actor an audit event records. Stored in the audit trail
/// as text and covered by the chain's link: `staff`, `client`, `public`,
/// `operator`, or `system:<job>` (the job's name after the colon).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ActorKind {
    Staff,
    Client,
    Public,
    Operator,
    /// A background or command-line job, with its name.
    System(String),
}

impl ActorKind {
    /// The stored text (hashed into the chain: never change a form).
    #[must_use]
    pub fn to_stored(&self) -> String {
        match self {
            ActorKind::Staff => "staff".to_owned(),
            ActorKind::Client => "client".to_owned(),
            ActorKind::Public => "public".to_owned(),
            ActorKind::Operator => "operator".to_owned(),
            ActorKind::System(job) => format!("system:{job}"),
        }
    }

    /// A kind back from its stored text; `None` for anything else.
    #[must_use]
    pub fn from_stored(text: &str) -> Option<ActorKind> {
        [
            ActorKind::Staff,
            ActorKind::Client,
            ActorKind::Public,
            ActorKind::Operator,
        ]
        .into_iter()
        .find(|k| k.to_stored() == text)
        .or_else(|| {
            text.strip_prefix("system:")
                .filter(|job| !job.is_empty())
                .map(|job| ActorKind::System(job.to_owned()))
        })
    }

    /// Words for the audit page: "Staff", "System (mail job)".
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            ActorKind::Staff => "Staff".to_owned(),
            ActorKind::Client => "Client".to_owned(),
            ActorKind::Public => "Public visitor".to_owned(),
            ActorKind::Operator => "Platform operator".to_owned(),
            ActorKind::System(job) => format!("System ({} job)", job.replace('_', " ")),
        }
    }
}

/// The clinic whose rows a repository call may touch. Made only from an
/// actor ([`StaffActor::scope`], [`Actor::scope`]) or from a system job
/// naming its clinic ([`SystemJob::scope`]), so holding one proves where
/// the clinic came from. The store puts its id in every `WHERE` clause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClinicScope(ClinicId);

impl ClinicScope {
    const fn new(clinic: ClinicId) -> Self {
        Self(clinic)
    }

    #[must_use]
    pub const fn clinic_id(&self) -> ClinicId {
        self.0
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

    fn staff(role: Role) -> StaffActor {
        StaffActor {
            staff_id: StaffId::new(),
            clinic_id: ClinicId::new(),
            role,
            source: None,
        }
    }

    /// Clients, public visitors, operators and jobs are refused every
    /// section of a client card until rules of their own exist: the staff
    /// policy fails closed for them.
    #[test]
    fn actors_other_than_staff_may_not_touch_any_staff_section() {
        let clinic = ClinicId::new();
        let others = [
            Actor::Client(ClientActor {
                client_id: ClientId::new(),
                clinic_id: clinic,
                source: None,
            }),
            Actor::Public(PublicActor {
                clinic_id: clinic,
                source: None,
            }),
            Actor::Operator(OperatorActor {
                staff_id: StaffId::new(),
                home: ClinicId::new(),
                source: None,
            }),
            Actor::System(SystemJob::for_clinic("export", clinic)),
            Actor::System(SystemJob::new("mail")),
        ];
        for a in &others {
            for s in Section::ALL {
                assert!(!a.may(Access::Read, s), "{a:?} {s:?}");
                assert!(!a.may(Access::Write, s), "{a:?} {s:?}");
            }
        }
        for a in &others[..2] {
            assert_eq!(a.account(), Err(NotStaff));
        }
        assert_eq!(others[3].account(), Err(NotStaff));
        // An operator's own account is reachable (password, two-step
        // codes) with a role the policy grants nothing.
        let op = others[2].account().unwrap();
        assert_eq!(op.role, Role::Operator);
        assert!(Section::ALL.into_iter().all(|s| !op.may(Access::Read, s)));
        assert!(Actor::Staff(staff(Role::Owner)).may(Access::Read, Section::Medical));
    }

    #[test]
    fn each_actor_records_its_kind_and_reaches_only_its_clinic() {
        let owner = staff(Role::Owner);
        let support = staff(Role::Support);
        assert_eq!(Actor::Staff(owner).kind(), ActorKind::Staff);
        assert_eq!(Actor::Staff(support).kind(), ActorKind::Staff);
        assert_eq!(
            Actor::Staff(owner).scope().map(|s| s.clinic_id()),
            Some(owner.clinic_id)
        );
        assert_eq!(owner.scope().clinic_id(), owner.clinic_id);
        let op = Actor::Operator(OperatorActor {
            staff_id: StaffId::new(),
            home: ClinicId::new(),
            source: None,
        });
        assert_eq!(op.kind(), ActorKind::Operator);
        assert_eq!(op.account().map(|a| a.kind()), Ok(ActorKind::Operator));
        assert_eq!(op.clinic(), None);
        assert!(op.scope().is_none());
        let clinic = ClinicId::new();
        let job = SystemJob::for_clinic("key_rotation", clinic);
        assert_eq!(Actor::from(job).kind(), ActorKind::System("key_rotation".into()));
        assert_eq!(job.scope().map(|s| s.clinic_id()), Some(clinic));
        assert!(SystemJob::new("mail").scope().is_none());
        assert_eq!(Actor::from(job).source(), None);
    }

    #[test]
    fn actor_kinds_round_trip_through_stored_text() {
        let kinds = [
            ActorKind::Staff,
            ActorKind::Client,
            ActorKind::Public,
            ActorKind::Operator,
            ActorKind::System("mail".into()),
        ];
        let stored: Vec<String> = kinds.iter().map(ActorKind::to_stored).collect();
        assert_eq!(stored, ["staff", "client", "public", "operator", "system:mail"]);
        for k in kinds {
            assert_eq!(ActorKind::from_stored(&k.to_stored()), Some(k));
        }
        assert_eq!(ActorKind::from_stored("system:"), None);
        assert_eq!(ActorKind::from_stored("admin"), None);
        assert_eq!(ActorKind::System("mail".into()).label(), "System (mail job)");
    }
}
