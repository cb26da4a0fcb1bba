//! The client card: create, open (per section), edit, search, archive, the
//! medical summary, marketing preferences, change history and access
//! history. Every use case checks the actor's role against the section
//! (`Role::may`) and writes its audit event in its own transaction.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use velum_core::actor::Access;
use velum_core::audit::AuditAction;
use velum_core::client::{ClientDetails, ClientInput, MedicalInput, MedicalSummary};
use velum_core::policy::{self, CardTab, ChangeSection};
use velum_core::text::{DateOfBirth, UkMobile};
use velum_core::{Actor, ClientId, Role, Section, StaffActor, StaffId};
use velum_crypto::{Aad, ClientKey};
use velum_store::clients::{self, ClientRecord, MEDICAL_AAD_SCHEME, MedicalRow, SearchTerm};
use velum_store::{ClinicScope, Tx};

use crate::{App, AppError, DuplicateMatch, event};

/// Who the card is about: shown on every tab.
#[derive(Clone)]
pub struct CardHeader {
    pub id: ClientId,
    pub given_name: String,
    pub family_name: String,
    pub archived: bool,
}

velum_core::debug_redacted!(CardHeader { given_name, family_name; shown: id, archived });

/// The contact section.
#[derive(Clone, Debug)]
pub struct Contact {
    pub details: ClientDetails,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The medical section, opened.
#[derive(Clone, Debug)]
pub struct Medical {
    pub summary: MedicalSummary,
    /// 0 when nothing has been recorded yet.
    pub version: i64,
}

/// Marketing preferences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marketing {
    pub email: bool,
    pub sms: bool,
}

/// The sections of a card the actor asked for (and may see).
#[derive(Clone, Debug)]
pub struct Card {
    pub header: CardHeader,
    pub contact: Option<Contact>,
    pub medical: Option<Medical>,
    pub marketing: Option<Marketing>,
    /// The tabs this actor may open on this card.
    pub tabs: Vec<CardTab>,
}

/// One row of a search result.
#[derive(Clone, Debug)]
pub struct Listed {
    pub header: CardHeader,
    /// `None` for roles without the contact permission.
    pub contact: Option<Contact>,
}

/// A page of results; `next` is the cursor for the following page.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// A change to the contact section; absent fields stay as they are, an
/// empty string clears an optional field.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub town: Option<String>,
    pub postcode: Option<String>,
}

velum_core::debug_redacted!(ClientPatch {
    given_name,
    family_name,
    date_of_birth,
    email,
    mobile,
    line1,
    line2,
    town,
    postcode,
});

impl ClientPatch {
    fn apply(self, mut to: ClientInput) -> ClientInput {
        let set = |field: &mut String, v: Option<String>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut to.given_name, self.given_name);
        set(&mut to.family_name, self.family_name);
        set(&mut to.date_of_birth, self.date_of_birth);
        set(&mut to.email, self.email);
        set(&mut to.mobile, self.mobile);
        set(&mut to.line1, self.line1);
        set(&mut to.line2, self.line2);
        set(&mut to.town, self.town);
        set(&mut to.postcode, self.postcode);
        to
    }
}

/// One change in a card's history (the previous value stays sealed).
#[derive(Clone, Debug)]
pub struct Change {
    pub section: String,
    pub at: Timestamp,
    pub by: Option<String>,
    pub first: bool,
}

/// Page size for lists.
pub const PAGE_SIZE: i64 = 50;

/// The cursor a caller passed back from a previous page, if any.
pub(crate) fn parse_cursor<T: std::str::FromStr>(cursor: Option<&str>) -> Result<Option<T>, AppError> {
    cursor
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse()
                .map_err(|_| AppError::field("cursor", "is not a cursor from a previous page"))
        })
        .transpose()
}

impl<T> Page<T> {
    /// Cut a fetch of `PAGE_SIZE + 1` items to one page; when more follow,
    /// the cursor is the last item's key.
    pub(crate) fn cut(mut items: Vec<T>, key: impl Fn(&T) -> String) -> Page<T> {
        let limit = usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more { items.last().map(key) } else { None };
        Page { items, next }
    }
}

fn header(r: &ClientRecord) -> CardHeader {
    CardHeader {
        id: r.id,
        given_name: r.details.given_name.as_str().to_owned(),
        family_name: r.details.family_name.as_str().to_owned(),
        archived: r.archived,
    }
}

fn contact(r: &ClientRecord) -> Contact {
    Contact {
        details: r.details.clone(),
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// A card section sealed under the client's key, one current version per
/// client: its associated data names clinic, client and version, so an
/// older ciphertext copied over the current row does not open (a removed
/// allergy must not come back unnoticed), and each change keeps the
/// previous value sealed in the client's history. The medical summary is
/// one ([`MEDICAL`]); a questionnaire, consultation, treatment or consent
/// is another constant and two store calls (read the row, put it with a
/// version check).
pub(crate) struct SealedSection {
    /// The associated data's label, with its scheme (`client.medical/v2`).
    pub label: &'static str,
    /// The section its history rows and audit events name.
    pub section: Section,
    /// The field named in errors.
    pub field: &'static str,
}

/// The medical summary (associated-data scheme 2).
pub(crate) const MEDICAL: SealedSection = SealedSection {
    label: "client.medical/v2",
    section: Section::Medical,
    field: "medical",
};

/// The next version of a sealed section, ready to store; once stored,
/// [`SealedSection::keep_history`] records the previous one.
pub(crate) struct NextVersion {
    pub sealed: Vec<u8>,
    pub version: i64,
    history_id: uuid::Uuid,
    previous: Option<Vec<u8>>,
}

impl SealedSection {
    /// The associated data of one version of this section of one client.
    pub(crate) fn aad(&self, scope: &ClinicScope, client: ClientId, version: i64) -> Aad {
        Aad::record_version(
            self.label,
            &[scope.clinic_id().as_uuid(), client.as_uuid()],
            u64::try_from(version).unwrap_or(0),
        )
    }

    /// Open a stored version. One that does not open as this client's
    /// section at its stored version is an integrity failure (a rolled-back
    /// or swapped ciphertext), never shown.
    pub(crate) fn open(
        &self,
        key: &ClientKey,
        scope: &ClinicScope,
        client: ClientId,
        sealed: &[u8],
        version: i64,
    ) -> Result<Vec<u8>, AppError> {
        key.open(sealed, &self.aad(scope, client, version))
            .map_err(|e| match e {
                velum_crypto::CryptoError::WrongKey => AppError::Integrity,
                other => other.into(),
            })
    }

    /// Open a stored version and read its JSON.
    pub(crate) fn read<T: serde::de::DeserializeOwned>(
        &self,
        key: &ClientKey,
        scope: &ClinicScope,
        client: ClientId,
        sealed: &[u8],
        version: i64,
    ) -> Result<T, AppError> {
        let plain = self.open(key, scope, client, sealed, version)?;
        serde_json::from_slice(&plain).map_err(|_| AppError::Internal(format!("{} json: not readable", self.field)))
    }

    /// Seal `value` as the version after `previous` (its sealed bytes and
    /// version; `None` for the first), and the previous value for the
    /// history.
    pub(crate) fn next<T: Serialize>(
        &self,
        key: &ClientKey,
        scope: &ClinicScope,
        client: ClientId,
        previous: Option<(&[u8], i64)>,
        value: &T,
    ) -> Result<NextVersion, AppError> {
        let history_id = uuid::Uuid::now_v7();
        let before = match previous {
            Some((sealed, version)) => {
                let plain = self.open(key, scope, client, sealed, version)?;
                Some(key.seal(&plain, &history_aad(scope, client, history_id)))
            }
            None => None,
        };
        let version = previous.map_or(1, |(_, v)| v + 1);
        let json =
            serde_json::to_vec(value).map_err(|_| AppError::Internal(format!("{} json: cannot encode", self.field)))?;
        Ok(NextVersion {
            sealed: key.seal(&json, &self.aad(scope, client, version)),
            version,
            history_id,
            previous: before,
        })
    }

    /// The answer when the stored version moved on meanwhile.
    pub(crate) fn conflict(&self) -> AppError {
        AppError::Conflict(velum_core::client::FieldErrors::single(
            self.field,
            "was changed by someone else meanwhile; reload it and try again",
        ))
    }

    /// Record the change in the client's history, the previous value sealed.
    pub(crate) async fn keep_history(
        &self,
        tx: &mut Tx,
        scope: &ClinicScope,
        client: ClientId,
        next: &NextVersion,
        by: StaffId,
        now: Timestamp,
    ) -> Result<(), AppError> {
        clients::insert_history(
            tx,
            scope,
            client,
            next.history_id,
            self.section.as_str(),
            by,
            next.previous.as_deref(),
            now,
        )
        .await?;
        Ok(())
    }
}

/// The medical record's associated data: clinic, client and version
/// (scheme 2), so an older ciphertext of the record copied over the current
/// row does not open.
pub(crate) fn medical_aad(scope: &ClinicScope, client: ClientId, version: i64) -> Aad {
    MEDICAL.aad(scope, client, version)
}

/// Scheme 1, before migration 0010: clinic and client only. Only the
/// start-up upgrade ([`App::upgrade_medical_aad`]) opens with it.
pub(crate) fn medical_aad_v1(scope: &ClinicScope, client: ClientId) -> Aad {
    Aad::record("client.medical", &[scope.clinic_id().as_uuid(), client.as_uuid()])
}

/// Open a stored medical row. A row that is not under the current scheme,
/// or does not open as this client's record at its stored version, is an
/// integrity failure (a rolled-back or swapped ciphertext), never shown.
pub(crate) fn open_medical(
    key: &ClientKey,
    scope: &ClinicScope,
    client: ClientId,
    row: &MedicalRow,
) -> Result<Vec<u8>, AppError> {
    if row.aad_scheme != MEDICAL_AAD_SCHEME {
        return Err(AppError::Integrity);
    }
    MEDICAL.open(key, scope, client, &row.sealed, row.version)
}

pub(crate) fn history_aad(scope: &ClinicScope, client: ClientId, id: uuid::Uuid) -> Aad {
    Aad::record("client.history", &[scope.clinic_id().as_uuid(), client.as_uuid(), id])
}

/// The tabs a role may open on a card ([`policy::card_tabs`]).
#[must_use]
pub fn tabs_for(role: Role) -> Vec<CardTab> {
    policy::card_tabs(role)
}

/// Turn the search box into a search term: a date, an email, a phone
/// number, or a name.
fn search_term(q: &str, today: jiff::civil::Date) -> SearchTerm {
    let q = q.trim();
    if q.is_empty() {
        return SearchTerm::All;
    }
    if let Ok(dob) = DateOfBirth::parse(q, today) {
        return SearchTerm::DateOfBirth(dob.to_iso());
    }
    if q.contains('@') {
        return SearchTerm::Email(q.to_lowercase());
    }
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let phone_like = q.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
    if phone_like && digits.len() >= 3 {
        if let Ok(m) = UkMobile::parse(q) {
            return SearchTerm::Mobile(m.as_str().to_owned());
        }
        let national = digits
            .strip_prefix("44")
            .map(str::to_owned)
            .or_else(|| digits.strip_prefix('0').map(str::to_owned))
            .unwrap_or(digits);
        return SearchTerm::Mobile(format!("+44{national}"));
    }
    // "Barker, Joanne" (how lists show names) means "Joanne Barker".
    let reordered = match q.split_once(',') {
        Some((family, given)) => format!("{} {}", given.trim(), family.trim()),
        None => q.to_owned(),
    };
    let key = reordered
        .to_lowercase()
        .chars()
        .filter(|c| !"'’-.".contains(*c))
        .collect::<String>();
    SearchTerm::Name(key.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// One line of a client's access history (the app's own view: the web
/// layer never sees a store type).
#[derive(Clone, Debug)]
pub struct AccessEntry {
    pub seq: i64,
    pub at: jiff::Timestamp,
    /// `None` for events recorded before the kind was.
    pub actor_kind: Option<velum_core::ActorKind>,
    pub actor_id: Option<velum_core::StaffId>,
    pub actor_name: Option<String>,
    pub action: AuditAction,
    pub sections: Vec<Section>,
    pub purpose: String,
}

impl From<velum_store::audit::AccessEntry> for AccessEntry {
    fn from(e: velum_store::audit::AccessEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            actor_name: e.actor_name,
            action: e.action,
            sections: e.sections,
            purpose: e.purpose,
        }
    }
}

/// A card inside a use case: who acts, in which clinic, the open
/// transaction and the card as loaded.
pub(crate) struct CardTx<'a> {
    pub actor: &'a StaffActor,
    pub scope: ClinicScope,
    pub tx: Tx,
    pub card: ClientRecord,
}

/// What a card use case answers, and the audit event it leaves on the card
/// (for the sections it was given): `None` when nothing happened, or when
/// the use case recorded its own event.
pub(crate) struct Done<T> {
    value: T,
    audit: Option<(AuditAction, Option<String>)>,
}

impl<T> Done<T> {
    /// Answer `value`, recording `action`.
    pub(crate) fn audited(action: AuditAction, value: T) -> Self {
        Self {
            value,
            audit: Some((action, None)),
        }
    }

    /// Answer `value`, recording `action` with a detail (never personal data).
    pub(crate) fn audited_with(action: AuditAction, detail: String, value: T) -> Self {
        Self {
            value,
            audit: Some((action, Some(detail))),
        }
    }

    /// Answer `value` without an event of the skeleton's.
    pub(crate) fn unaudited(value: T) -> Self {
        Self { value, audit: None }
    }
}

impl App {
    /// The use-case skeleton for one card: check the actor may use
    /// `sections` (auditing a refusal), begin, load the card in the actor's
    /// clinic (or audit and answer `NotFound`), run `act`, write the audit
    /// event it asks for, commit. An integrity failure of a medical section
    /// is recorded in a transaction of its own.
    pub(crate) async fn with_card<T>(
        &self,
        actor: &Actor,
        id: ClientId,
        access: Access,
        sections: &[Section],
        act: impl AsyncFnOnce(&mut CardTx<'_>) -> Result<Done<T>, AppError>,
    ) -> Result<T, AppError> {
        let actor = &self.card_access(actor, id, access, sections).await?;
        self.in_card(actor, id, sections, act).await
    }

    /// The skeleton's first step alone, for a use case that checks its
    /// input between the access check and the transaction.
    pub(crate) async fn card_access(
        &self,
        actor: &Actor,
        id: ClientId,
        access: Access,
        sections: &[Section],
    ) -> Result<StaffActor, AppError> {
        let actor = self.staff_of(actor).await?;
        self.allow(&actor, access, Some(id), sections).await?;
        Ok(actor)
    }

    /// The rest of [`App::with_card`], once [`App::card_access`] passed.
    pub(crate) async fn in_card<T>(
        &self,
        actor: &StaffActor,
        id: ClientId,
        sections: &[Section],
        act: impl AsyncFnOnce(&mut CardTx<'_>) -> Result<Done<T>, AppError>,
    ) -> Result<T, AppError> {
        let mut tx = self.begin().await?;
        let Some(card) = self.load(&mut tx, actor, id).await? else {
            return Err(self.not_found(tx, actor, id, sections).await);
        };
        let mut c = CardTx {
            actor,
            scope: actor.scope(),
            tx,
            card,
        };
        match act(&mut c).await {
            Ok(done) => {
                if let Some((action, detail)) = done.audit {
                    self.audit(&mut c.tx, event(actor, action, Some(id), sections, detail))
                        .await?;
                }
                c.tx.commit().await?;
                Ok(done.value)
            }
            Err(AppError::Integrity) if sections.contains(&Section::Medical) => {
                Err(self.integrity_failure(c.tx, actor, id).await)
            }
            Err(e) => Err(e),
        }
    }

    /// Check the actor may use `sections` of a card; audit and refuse if not.
    async fn allow(
        &self,
        actor: &StaffActor,
        access: Access,
        client: Option<ClientId>,
        sections: &[Section],
    ) -> Result<(), AppError> {
        if sections.iter().all(|s| actor.may(access, *s)) {
            Ok(())
        } else {
            let what = if access == Access::Read { "read" } else { "write" };
            Err(self.deny(actor, client, sections, what).await)
        }
    }
    /// Load a card in the actor's clinic. Marketing staff see only clients
    /// who agreed to marketing.
    async fn load(&self, tx: &mut Tx, actor: &StaffActor, id: ClientId) -> Result<Option<ClientRecord>, AppError> {
        let scope = actor.scope();
        let found = clients::get(tx, &scope, id).await?;
        Ok(found.filter(|r| actor.role != Role::Marketing || r.marketing_email || r.marketing_sms))
    }

    /// Answer `NotFound`, auditing the refusal in the same transaction
    /// (DOMAIN F38: a request for another clinic's client is refused and
    /// logged, with the same answer as for an id that does not exist).
    async fn not_found(&self, mut tx: Tx, actor: &StaffActor, id: ClientId, sections: &[Section]) -> AppError {
        let detail = Some(format!("not_found:{id}"));
        let done = async {
            self.audit(&mut tx, event(actor, AuditAction::Denied, None, sections, detail))
                .await?;
            tx.commit().await?;
            Ok::<(), AppError>(())
        }
        .await;
        done.err().unwrap_or(AppError::NotFound)
    }

    /// Answer `Integrity` for a medical record that failed its integrity
    /// check, after recording the failure in the clinic's chain (in a
    /// transaction of its own: the read's is rolled back) and the log, with
    /// ids only, never a value.
    async fn integrity_failure(&self, tx: Tx, actor: &StaffActor, id: ClientId) -> AppError {
        drop(tx);
        tracing::error!(
            clinic = %actor.clinic_id,
            client = %id,
            "a medical record failed its integrity check and was not shown"
        );
        let detail = Some("medical record does not open at its stored version".to_owned());
        let done = async {
            let mut tx = self.begin().await?;
            self.audit(
                &mut tx,
                event(
                    actor,
                    AuditAction::IntegrityFailure,
                    Some(id),
                    &[Section::Medical],
                    detail,
                ),
            )
            .await?;
            tx.commit().await?;
            Ok::<(), AppError>(())
        }
        .await;
        done.err().unwrap_or(AppError::Integrity)
    }

    /// Open the given sections of a card: one read, one audit event naming
    /// every section opened.
    ///
    /// # Errors
    /// `Forbidden` for a section the role may not read; `NotFound`.
    pub async fn open_card(&self, actor: &Actor, id: ClientId, sections: &[Section]) -> Result<Card, AppError> {
        self.with_card(actor, id, Access::Read, sections, async |c| {
            let medical = if sections.contains(&Section::Medical) {
                Some(self.read_medical(&mut c.tx, &c.scope, id).await?)
            } else {
                None
            };
            let r = &c.card;
            Ok(Done::audited(
                AuditAction::Read,
                Card {
                    header: header(r),
                    contact: sections.contains(&Section::Contact).then(|| contact(r)),
                    medical,
                    marketing: sections.contains(&Section::Marketing).then_some(Marketing {
                        email: r.marketing_email,
                        sms: r.marketing_sms,
                    }),
                    tabs: tabs_for(c.actor.role),
                },
            ))
        })
        .await
    }

    async fn read_medical(&self, tx: &mut Tx, scope: &ClinicScope, id: ClientId) -> Result<Medical, AppError> {
        match clients::medical(tx, scope, id).await? {
            None => Ok(Medical {
                summary: MedicalSummary::default(),
                version: 0,
            }),
            Some(row) => {
                let key = self.client_key(tx, scope, id).await?;
                if row.aad_scheme != MEDICAL_AAD_SCHEME {
                    return Err(AppError::Integrity);
                }
                let summary = MEDICAL.read(&key, scope, id, &row.sealed, row.version)?;
                Ok(Medical {
                    summary,
                    version: row.version,
                })
            }
        }
    }

    /// Create a card. Unless `allow_duplicate`, refuses with `Duplicate`
    /// when a card with the same name and date of birth, email or mobile
    /// exists, so staff can open that one instead.
    ///
    /// # Errors
    /// `Validation` naming every bad field; `Duplicate`; `Forbidden`.
    pub async fn create_client(
        &self,
        actor: &Actor,
        input: &ClientInput,
        allow_duplicate: bool,
    ) -> Result<Card, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.allow(actor, Access::Write, None, &[Section::Contact]).await?;
        let today = self.today_in(&actor.scope()).await?;
        let details = input.parse(today).map_err(AppError::Validation)?;
        let scope = actor.scope();
        let mut tx = self.begin().await?;
        if !allow_duplicate {
            let dups = clients::find_duplicates(&mut tx, &scope, &details).await?;
            if !dups.is_empty() {
                // The answer names existing clients: record it as a search.
                let detail = Some(format!("duplicate_check results:{}", dups.len()));
                self.audit(
                    &mut tx,
                    event(actor, AuditAction::Search, None, &[Section::Contact], detail),
                )
                .await?;
                tx.commit().await?;
                return Err(AppError::Duplicate(
                    dups.iter().map(|r| duplicate(r, &details)).collect(),
                ));
            }
        }
        let id = ClientId::new();
        let now = self.now();
        let (key_id, clinic_key) = self.clinic_key(&mut tx, &scope).await?;
        let client_key = ClientKey::generate();
        let wrapped = clinic_key.wrap_client_key(&client_key, scope.clinic_id(), id);
        clients::insert(&mut tx, &scope, id, &details, (key_id, &wrapped), now).await?;
        clients::insert_history(
            &mut tx,
            &scope,
            id,
            uuid::Uuid::now_v7(),
            Section::Contact.as_str(),
            actor.staff_id,
            None,
            now,
        )
        .await?;
        self.audit(
            &mut tx,
            event(actor, AuditAction::Create, Some(id), &[Section::Contact], None),
        )
        .await?;
        let r = clients::get(&mut tx, &scope, id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(Card {
            header: header(&r),
            contact: Some(contact(&r)),
            medical: None,
            marketing: None,
            tabs: tabs_for(actor.role),
        })
    }
    /// Change contact details. The previous details are kept, sealed under
    /// the client's key.
    ///
    /// # Errors
    /// `Validation`; `Forbidden`; `NotFound`.
    pub async fn update_client(&self, actor: &Actor, id: ClientId, patch: ClientPatch) -> Result<Card, AppError> {
        let sections = [Section::Contact];
        let actor = &self.card_access(actor, id, Access::Write, &sections).await?;
        let today = self.today_in(&actor.scope()).await?;
        self.in_card(actor, id, &sections, async |c| {
            let before = &c.card;
            let input = patch.apply(ClientInput::from_details(&before.details));
            let details = input.parse(today).map_err(AppError::Validation)?;
            let now = self.now();
            let action = if details != before.details {
                let key = self.client_key(&mut c.tx, &c.scope, id).await?;
                let hid = uuid::Uuid::now_v7();
                let prev = serde_json::to_vec(&before.details)
                    .map_err(|_| AppError::Internal("contact json: cannot encode".into()))?;
                let sealed = key.seal(&prev, &history_aad(&c.scope, id, hid));
                clients::insert_history(
                    &mut c.tx,
                    &c.scope,
                    id,
                    hid,
                    Section::Contact.as_str(),
                    c.actor.staff_id,
                    Some(&sealed),
                    now,
                )
                .await?;
                clients::update_details(&mut c.tx, &c.scope, id, &details, now).await?;
                AuditAction::Update
            } else {
                // Nothing changed, but the answer shows the card: a read.
                AuditAction::Read
            };
            let r = clients::get(&mut c.tx, &c.scope, id).await?.ok_or(AppError::NotFound)?;
            Ok(Done::audited(
                action,
                Card {
                    header: header(&r),
                    contact: Some(contact(&r)),
                    medical: None,
                    marketing: None,
                    tabs: tabs_for(c.actor.role),
                },
            ))
        })
        .await
    }

    /// Archive (or restore) a card. Archived cards leave the default search.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn set_client_archived(&self, actor: &Actor, id: ClientId, archived: bool) -> Result<(), AppError> {
        self.with_card(actor, id, Access::Write, &[Section::Contact], async |c| {
            if c.card.archived == archived {
                return Ok(Done::unaudited(()));
            }
            clients::set_archived(&mut c.tx, &c.scope, id, archived, self.now()).await?;
            clients::insert_history(
                &mut c.tx,
                &c.scope,
                id,
                uuid::Uuid::now_v7(),
                ChangeSection::Status.as_str(),
                c.actor.staff_id,
                None,
                self.now(),
            )
            .await?;
            let action = if archived {
                AuditAction::Archive
            } else {
                AuditAction::Unarchive
            };
            Ok(Done::audited(action, ()))
        })
        .await
    }

    /// Replace the medical summary (sealed under the client's key); the
    /// previous one is kept sealed in the history.
    ///
    /// # Errors
    /// `Validation` naming entries like `allergies[1]`; `Forbidden`; `NotFound`.
    pub async fn put_medical(&self, actor: &Actor, id: ClientId, input: &MedicalInput) -> Result<Medical, AppError> {
        let sections = [Section::Medical];
        let actor = &self.card_access(actor, id, Access::Write, &sections).await?;
        let summary = input.parse().map_err(AppError::Validation)?;
        self.in_card(actor, id, &sections, async |c| {
            let key = self.client_key(&mut c.tx, &c.scope, id).await?;
            let now = self.now();
            let previous = clients::medical(&mut c.tx, &c.scope, id).await?;
            if previous
                .as_ref()
                .is_some_and(|row| row.aad_scheme != MEDICAL_AAD_SCHEME)
            {
                return Err(AppError::Integrity);
            }
            let previous = previous.as_ref().map(|row| (row.sealed.as_slice(), row.version));
            let next = MEDICAL.next(&key, &c.scope, id, previous, &summary)?;
            let by = c.actor.staff_id;
            if !clients::put_medical(&mut c.tx, &c.scope, id, &next.sealed, next.version, by, now).await? {
                return Err(MEDICAL.conflict());
            }
            MEDICAL.keep_history(&mut c.tx, &c.scope, id, &next, by, now).await?;
            let version = next.version;
            Ok(Done::audited(AuditAction::Update, Medical { summary, version }))
        })
        .await
    }

    /// Record the client's marketing choices.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn set_marketing(&self, actor: &Actor, id: ClientId, choice: Marketing) -> Result<(), AppError> {
        self.with_card(actor, id, Access::Write, &[Section::Marketing], async |c| {
            let before = &c.card;
            clients::set_marketing(&mut c.tx, &c.scope, id, choice.email, choice.sms, self.now()).await?;
            let detail = format!(
                "email:{}->{} sms:{}->{}",
                before.marketing_email, choice.email, before.marketing_sms, choice.sms
            );
            clients::insert_history(
                &mut c.tx,
                &c.scope,
                id,
                uuid::Uuid::now_v7(),
                Section::Marketing.as_str(),
                c.actor.staff_id,
                None,
                self.now(),
            )
            .await?;
            Ok(Done::audited_with(AuditAction::Update, detail, ()))
        })
        .await
    }

    /// Search cards by name, date of birth, phone or email. Marketing staff
    /// get only clients who consented to marketing, and only their names.
    /// The search is audited without its query (the query is personal data).
    ///
    /// # Errors
    /// `Forbidden` for roles that may see neither contact details nor marketing.
    pub async fn search_clients(
        &self,
        actor: &Actor,
        q: &str,
        cursor: Option<&str>,
        include_archived: bool,
    ) -> Result<Page<Listed>, AppError> {
        let actor = &self.staff_of(actor).await?;
        let with_contact = actor.may(Access::Read, Section::Contact);
        let marketing_only = !with_contact && actor.may(Access::Read, Section::Marketing);
        let sections = if with_contact {
            [Section::Contact]
        } else {
            [Section::Marketing]
        };
        if !with_contact && !marketing_only {
            return Err(self.deny(actor, None, &sections, "search").await);
        }
        let after = parse_cursor::<ClientId>(cursor)?;
        let term = search_term(q, self.today_in(&actor.scope()).await?);
        // Marketing staff may not see dates of birth, emails or phone numbers,
        // so they may not search by them either (it would confirm them).
        if marketing_only && !matches!(term, SearchTerm::All | SearchTerm::Name(_)) {
            return Err(AppError::field("q", "can be a name only for your role"));
        }
        let scope = actor.scope();
        let mut tx = self.begin().await?;
        let rows = clients::search(
            &mut tx,
            &scope,
            &term,
            include_archived,
            marketing_only,
            after,
            PAGE_SIZE + 1,
        )
        .await?;
        let page = Page::cut(rows, |r| r.id.to_string());
        let items: Vec<Listed> = page
            .items
            .iter()
            .map(|r| Listed {
                header: header(r),
                contact: with_contact.then(|| contact(r)),
            })
            .collect();
        self.audit(
            &mut tx,
            event(
                actor,
                AuditAction::Search,
                None,
                &sections,
                Some(format!("results:{}", items.len())),
            ),
        )
        .await?;
        tx.commit().await?;
        let next = page.next;
        Ok(Page { items, next })
    }

    /// Who opened or changed this card, newest first (the "Access history"
    /// tab). Reading it is itself recorded.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn access_log(
        &self,
        actor: &Actor,
        id: ClientId,
        cursor: Option<&str>,
    ) -> Result<(CardHeader, Page<AccessEntry>), AppError> {
        let sections = [Section::AccessHistory];
        let actor = &self.card_access(actor, id, Access::Read, &sections).await?;
        let before = parse_cursor::<i64>(cursor)?;
        self.in_card(actor, id, &sections, async |c| {
            // Record this read first, so the page shows it at the top.
            self.audit(&mut c.tx, event(c.actor, AuditAction::Read, Some(id), &sections, None))
                .await?;
            let events = velum_store::audit::client_access_log(&mut c.tx, &c.scope, id, before, PAGE_SIZE + 1).await?;
            let events = events.into_iter().map(AccessEntry::from).collect();
            Ok(Done::unaudited((
                header(&c.card),
                Page::cut(events, |e| e.seq.to_string()),
            )))
        })
        .await
    }

    /// The card's change history: which section, who, when. Previous values
    /// stay sealed.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn client_changes(&self, actor: &Actor, id: ClientId) -> Result<(CardHeader, Vec<Change>), AppError> {
        self.with_card(actor, id, Access::Read, &[Section::Contact], async |c| {
            let rows = clients::history(&mut c.tx, &c.scope, id).await?;
            // Only changes to sections this role may read (reception does not
            // learn when the medical summary changed); a row of a section
            // Velum does not know is shown to nobody.
            let changes = rows
                .into_iter()
                .filter(|h| policy::may_see_stored_change(c.actor.role, &h.section))
                .map(|h| Change {
                    first: h.previous_sealed.is_none(),
                    section: h.section,
                    at: h.changed_at,
                    by: h.changed_by_name,
                })
                .collect();
            Ok(Done::audited_with(
                AuditAction::Read,
                "history".into(),
                (header(&c.card), changes),
            ))
        })
        .await
    }

    /// Cards in the actor's clinic (for dashboards and tests).
    ///
    /// # Errors
    /// `Forbidden` without the contact permission.
    pub async fn count_clients(&self, actor: &Actor) -> Result<i64, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.allow(actor, Access::Read, None, &[Section::Contact]).await?;
        let mut tx = self.store().begin_read().await?;
        Ok(clients::count(&mut tx, &actor.scope()).await?)
    }
}

fn duplicate(r: &ClientRecord, new: &ClientDetails) -> DuplicateMatch {
    let reason = if new.email.is_some() && r.details.email == new.email {
        "email"
    } else if new.mobile.is_some() && r.details.mobile == new.mobile {
        "mobile"
    } else {
        "name_and_date_of_birth"
    };
    DuplicateMatch {
        id: r.id,
        given_name: r.details.given_name.as_str().to_owned(),
        family_name: r.details.family_name.as_str().to_owned(),
        date_of_birth: r.details.date_of_birth.to_iso(),
        reason,
    }
}

/// How long a search link stays usable.
const SEARCH_LINK_LIFETIME_SECS: i64 = 12 * 3600;

fn search_aad(actor: &StaffActor) -> velum_crypto::Aad {
    velum_crypto::Aad::record("search.link", &[actor.clinic_id.as_uuid(), actor.staff_id.as_uuid()])
}

impl App {
    /// A search, sealed for one member of staff, to put in a URL: the web
    /// app answers a search with a redirect to a results page (so the Back
    /// button works) without the query appearing in the URL, history or
    /// logs. Only the same staff member's session can open it, for 12 hours.
    ///
    /// # Errors
    /// Database errors.
    pub async fn seal_search(&self, actor: &Actor, q: &str, include_archived: bool) -> Result<String, AppError> {
        let actor = &self.staff_of(actor).await?;
        let scope = actor.scope();
        let mut tx = self.store().begin_read().await?;
        let (_, key) = self.clinic_key(&mut tx, &scope).await?;
        drop(tx);
        let plain = format!("{}|{}|{q}", self.now().as_second(), u8::from(include_archived));
        let sealed = key.seal(plain.as_bytes(), &search_aad(actor));
        Ok(hex::encode(sealed))
    }

    /// Open a sealed search: `(query, include_archived)`.
    ///
    /// # Errors
    /// `NotFound` for a link that is not this staff member's, or has expired.
    pub async fn open_search(&self, actor: &Actor, token: &str) -> Result<(String, bool), AppError> {
        let actor = &self.staff_of(actor).await?;
        let bytes = hex::decode(token).map_err(|_| AppError::NotFound)?;
        let scope = actor.scope();
        let mut tx = self.store().begin_read().await?;
        let (_, key) = self.clinic_key(&mut tx, &scope).await?;
        drop(tx);
        let plain = key.open(&bytes, &search_aad(actor)).map_err(|_| AppError::NotFound)?;
        let text = String::from_utf8(plain).map_err(|_| AppError::NotFound)?;
        let mut parts = text.splitn(3, '|');
        let (Some(at), Some(archived), Some(q)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(AppError::NotFound);
        };
        let at: i64 = at.parse().map_err(|_| AppError::NotFound)?;
        if self.now().as_second() - at > SEARCH_LINK_LIFETIME_SECS {
            return Err(AppError::NotFound);
        }
        Ok((q.to_owned(), archived == "1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_box_understands_dates_emails_phones_and_names() {
        let today = jiff::civil::date(2026, 11, 23);
        assert_eq!(search_term("", today), SearchTerm::All);
        assert_eq!(
            search_term("1985-04-23", today),
            SearchTerm::DateOfBirth("1985-04-23".into())
        );
        assert_eq!(
            search_term("23/04/1985", today),
            SearchTerm::DateOfBirth("1985-04-23".into())
        );
        assert_eq!(
            search_term("Jo@Example.org", today),
            SearchTerm::Email("jo@example.org".into())
        );
        assert_eq!(
            search_term("07911 123456", today),
            SearchTerm::Mobile("+447911123456".into())
        );
        assert_eq!(search_term("07911", today), SearchTerm::Mobile("+447911".into()));
        assert_eq!(search_term("O'Neill", today), SearchTerm::Name("oneill".into()));
        assert_eq!(
            search_term("  Jane   Smith-Jones ", today),
            SearchTerm::Name("jane smithjones".into())
        );
    }
}
