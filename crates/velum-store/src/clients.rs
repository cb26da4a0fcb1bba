//! Client cards: contact details (searchable), each client's wrapped data
//! key, the sealed medical summary and the sealed change history.

use jiff::Timestamp;
use sqlx::AssertSqlSafe;
use uuid::Uuid;
use velum_core::client::{Address, ClientDetails};
use velum_core::text::{AddressLine, DateOfBirth, EmailAddress, PersonName, Postcode, Town, UkMobile};
use velum_core::{ClientId, StaffId};
use velum_crypto::WrappedKey;

use crate::bind::BindScope;
use crate::transfer::{Kind, ONE_CLINIC, Table, col, opt};
use crate::{Backend, ClinicScope, StoreError, Tx, from_micros, micros};

/// The clinic tables this module owns (`clients`, `client_keys`, `client_medical`, `client_history`), with every column and
/// its kind, in foreign-key order: their part of
/// [`crate::transfer::CLINIC_TABLES`].
pub const TABLES: &[Table] = &[
    Table {
        name: "clients",
        clinic_column: "clinic_id",
        order_by: "id",
        columns: &[
            col("clinic_id", Kind::Id).left_out(ONE_CLINIC),
            col("id", Kind::Id),
            col("given_name", Kind::Text),
            col("family_name", Kind::Text),
            col("given_key", Kind::Text).left_out("a search key, derived from the name (which is in)"),
            col("family_key", Kind::Text).left_out("a search key, derived from the name (which is in)"),
            col("full_key", Kind::Text).left_out("a search key, derived from the name (which is in)"),
            col("date_of_birth", Kind::Text),
            opt("email", Kind::Text),
            opt("mobile", Kind::Text),
            opt("line1", Kind::Text),
            opt("line2", Kind::Text),
            opt("town", Kind::Text),
            opt("postcode", Kind::Text),
            col("marketing_email", Kind::Bool),
            col("marketing_sms", Kind::Bool),
            col("archived", Kind::Bool),
            col("version", Kind::Int),
            col("created_at", Kind::Int).instant(),
            col("updated_at", Kind::Int).instant(),
        ],
    },
    Table {
        name: "client_keys",
        clinic_column: "clinic_id",
        order_by: "client_id",
        columns: &[
            col("clinic_id", Kind::Id).left_out(ONE_CLINIC),
            col("client_id", Kind::Id),
            col("key_id", Kind::Int).key(),
            col("wrapped", Kind::Bytes).key(),
            col("created_at", Kind::Int).left_out("the client's key is destroyed at offboarding"),
        ],
    },
    Table {
        name: "client_medical",
        clinic_column: "clinic_id",
        order_by: "client_id",
        columns: &[
            col("clinic_id", Kind::Id).left_out(ONE_CLINIC),
            col("client_id", Kind::Id),
            col("sealed", Kind::Bytes).sealed("client.medical/v2"),
            col("version", Kind::Int),
            col("updated_at", Kind::Int).instant(),
            col("updated_by", Kind::Id),
            col("aad_scheme", Kind::Int),
        ],
    },
    Table {
        name: "client_history",
        clinic_column: "clinic_id",
        order_by: "client_id, id",
        columns: &[
            col("clinic_id", Kind::Id).left_out(ONE_CLINIC),
            col("client_id", Kind::Id),
            col("id", Kind::Id),
            col("section", Kind::Text),
            col("changed_at", Kind::Int).instant(),
            col("changed_by", Kind::Id),
            opt("previous_sealed", Kind::Bytes).opened(),
        ],
    },
];

/// A client card as stored (contact section and status).
#[derive(Clone, Debug)]
pub struct ClientRecord {
    pub id: ClientId,
    pub details: ClientDetails,
    pub marketing_email: bool,
    pub marketing_sms: bool,
    pub archived: bool,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    given_name: String,
    family_name: String,
    date_of_birth: String,
    email: Option<String>,
    mobile: Option<String>,
    line1: Option<String>,
    line2: Option<String>,
    town: Option<String>,
    postcode: Option<String>,
    marketing_email: bool,
    marketing_sms: bool,
    archived: bool,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, given_name, family_name, date_of_birth, email, mobile, line1, line2, town, postcode, \
    marketing_email, marketing_sms, archived, version, created_at, updated_at";

impl TryFrom<Row> for ClientRecord {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        let dob = jiff::civil::Date::strptime("%Y-%m-%d", &r.date_of_birth)
            .map_err(|_| StoreError::Corrupt("client date of birth"))?;
        let address = match (r.line1, r.town, r.postcode) {
            (Some(line1), Some(town), Some(postcode)) => Some(Address {
                line1: AddressLine::from_stored(line1),
                line2: r.line2.map(AddressLine::from_stored),
                town: Town::from_stored(town),
                postcode: Postcode::from_stored(postcode),
            }),
            _ => None,
        };
        Ok(ClientRecord {
            id: ClientId::from_uuid(r.id),
            details: ClientDetails {
                given_name: PersonName::from_stored(r.given_name),
                family_name: PersonName::from_stored(r.family_name),
                date_of_birth: DateOfBirth::from_date_stored(dob),
                email: r.email.map(EmailAddress::from_stored),
                mobile: r.mobile.map(UkMobile::from_stored),
                address,
            },
            marketing_email: r.marketing_email,
            marketing_sms: r.marketing_sms,
            archived: r.archived,
            version: r.version,
            created_at: from_micros(r.created_at)?,
            updated_at: from_micros(r.updated_at)?,
        })
    }
}

/// The flat column values of a client's details.
struct Flat<'a> {
    given: &'a str,
    family: &'a str,
    given_key: String,
    family_key: String,
    full_key: String,
    dob: String,
    email: Option<&'a str>,
    mobile: Option<&'a str>,
    line1: Option<&'a str>,
    line2: Option<&'a str>,
    town: Option<&'a str>,
    postcode: Option<&'a str>,
}

fn flat(d: &ClientDetails) -> Flat<'_> {
    let given_key = d.given_name.search_key();
    let family_key = d.family_name.search_key();
    let a = d.address.as_ref();
    Flat {
        given: d.given_name.as_str(),
        family: d.family_name.as_str(),
        full_key: format!("{given_key} {family_key}"),
        given_key,
        family_key,
        dob: d.date_of_birth.to_iso(),
        email: d.email.as_ref().map(EmailAddress::as_str),
        mobile: d.mobile.as_ref().map(UkMobile::as_str),
        line1: a.map(|a| a.line1.as_str()),
        line2: a.and_then(|a| a.line2.as_ref().map(AddressLine::as_str)),
        town: a.map(|a| a.town.as_str()),
        postcode: a.map(|a| a.postcode.as_str()),
    }
}

/// A new client card, with its wrapped data key.
///
/// # Errors
/// Database errors.
pub async fn insert(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: ClientId,
    details: &ClientDetails,
    key: (i64, &WrappedKey),
    now: Timestamp,
) -> Result<(), StoreError> {
    let f = flat(details);
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO clients (clinic_id, id, given_name, family_name, given_key, family_key, full_key, date_of_birth, \
           email, mobile, line1, line2, town, postcode, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $15)",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(f.given)
    .bind(f.family)
    .bind(&f.given_key)
    .bind(&f.family_key)
    .bind(&f.full_key)
    .bind(&f.dob)
    .bind(f.email)
    .bind(f.mobile)
    .bind(f.line1)
    .bind(f.line2)
    .bind(f.town)
    .bind(f.postcode)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO client_keys (clinic_id, client_id, key_id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(key.0)
    .bind(key.1.as_bytes())
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The client's wrapped data key and the clinic key id that wraps it.
///
/// # Errors
/// Database errors.
pub async fn key(tx: &mut Tx, scope: &ClinicScope, id: ClientId) -> Result<Option<(i64, WrappedKey)>, StoreError> {
    let row: Option<(i64, Vec<u8>)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT key_id, wrapped FROM client_keys WHERE clinic_id = $1 AND client_id = $2"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(k, w)| (k, WrappedKey::from_bytes(w))))
}

/// Up to `limit` client keys wrapped under another clinic key than
/// `current`: `(client, key id, wrapped)`, in client order (the work left
/// in a clinic-key rotation).
///
/// # Errors
/// Database errors.
pub async fn keys_not_under(
    tx: &mut Tx,
    scope: &ClinicScope,
    current: i64,
    limit: i64,
) -> Result<Vec<(ClientId, i64, WrappedKey)>, StoreError> {
    let rows: Vec<(Uuid, i64, Vec<u8>)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT client_id, key_id, wrapped FROM client_keys WHERE clinic_id = $1 AND key_id <> $2 \
         ORDER BY client_id LIMIT $3"
    )
    .bind_scope(scope)
    .bind(current)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(id, k, w)| (ClientId::from_uuid(id), k, WrappedKey::from_bytes(w)))
        .collect())
}

/// How many client keys are wrapped under another clinic key than `current`.
///
/// # Errors
/// Database errors.
pub async fn count_keys_not_under(tx: &mut Tx, scope: &ClinicScope, current: i64) -> Result<i64, StoreError> {
    let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM client_keys WHERE clinic_id = $1 AND key_id <> $2"
    )
    .bind_scope(scope)
    .bind(current)
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// Replace a client's wrapped key with one wrapped under clinic key `to`,
/// only if it is still wrapped under `from` (so a concurrent rotation
/// cannot overwrite newer work). Returns whether it changed.
///
/// # Errors
/// Database errors.
pub async fn rewrap_key(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: ClientId,
    from: i64,
    to: (i64, &WrappedKey),
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, |c| sqlx::query(
        "UPDATE client_keys SET key_id = $4, wrapped = $5 WHERE clinic_id = $1 AND client_id = $2 AND key_id = $3"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(from)
    .bind(to.0)
    .bind(to.1.as_bytes())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// # Errors
/// Database errors.
pub async fn get(tx: &mut Tx, scope: &ClinicScope, id: ClientId) -> Result<Option<ClientRecord>, StoreError> {
    let row: Option<Row> = on_tx!(tx, |c| sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM clients WHERE clinic_id = $1 AND id = $2"
    )))
    .bind_scope(scope)
    .bind(id.as_uuid())
    .fetch_optional(c)
    .await)?;
    row.map(ClientRecord::try_from).transpose()
}

/// Replace the contact details, bumping the version.
///
/// # Errors
/// Database errors.
pub async fn update_details(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: ClientId,
    details: &ClientDetails,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let f = flat(details);
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE clients SET given_name = $3, family_name = $4, given_key = $5, family_key = $6, full_key = $7, \
           date_of_birth = $8, email = $9, mobile = $10, line1 = $11, line2 = $12, town = $13, postcode = $14, \
           version = version + 1, updated_at = $15 \
         WHERE clinic_id = $1 AND id = $2",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(f.given)
    .bind(f.family)
    .bind(&f.given_key)
    .bind(&f.family_key)
    .bind(&f.full_key)
    .bind(&f.dob)
    .bind(f.email)
    .bind(f.mobile)
    .bind(f.line1)
    .bind(f.line2)
    .bind(f.town)
    .bind(f.postcode)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// # Errors
/// Database errors.
pub async fn set_archived(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: ClientId,
    archived: bool,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE clients SET archived = $3, version = version + 1, updated_at = $4 WHERE clinic_id = $1 AND id = $2",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(archived)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// # Errors
/// Database errors.
pub async fn set_marketing(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: ClientId,
    email: bool,
    sms: bool,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE clients SET marketing_email = $3, marketing_sms = $4, version = version + 1, updated_at = $5 \
         WHERE clinic_id = $1 AND id = $2",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(email)
    .bind(sms)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Cards that look like the same person: same name and date of birth, or
/// the same email, or the same mobile.
///
/// # Errors
/// Database errors.
pub async fn find_duplicates(
    tx: &mut Tx,
    scope: &ClinicScope,
    d: &ClientDetails,
) -> Result<Vec<ClientRecord>, StoreError> {
    let f = flat(d);
    let rows: Vec<Row> = on_tx!(tx, |c| sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM clients WHERE clinic_id = $1 AND ( \
           (family_key = $2 AND given_key = $3 AND date_of_birth = $4) OR email = $5 OR mobile = $6) \
         ORDER BY family_key, given_key, id LIMIT 10"
    )))
    .bind_scope(scope)
    .bind(&f.family_key)
    .bind(&f.given_key)
    .bind(&f.dob)
    .bind(f.email)
    .bind(f.mobile)
    .fetch_all(c)
    .await)?;
    rows.into_iter().map(ClientRecord::try_from).collect()
}

/// What a search looks for. Built by the app layer from the search box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchTerm {
    /// Every card, in name order.
    All,
    /// Prefix of the family name, the given name, or "given family".
    Name(String),
    /// Exact date of birth, `YYYY-MM-DD`.
    DateOfBirth(String),
    /// Prefix of the (lower-case) email address.
    Email(String),
    /// Prefix of the E.164 mobile number.
    Mobile(String),
}

/// Upper bound for a prefix range: every string starting with `p` sorts
/// below it (bytewise, which is how SQLite compares TEXT by default).
fn prefix_end(p: &str) -> String {
    format!("{p}\u{10FFFF}")
}

/// One page of cards matching `term`, in name order, after `cursor`.
///
/// # Errors
/// Database errors.
pub async fn search(
    tx: &mut Tx,
    scope: &ClinicScope,
    term: &SearchTerm,
    include_archived: bool,
    only_marketing_consented: bool,
    after: Option<ClientId>,
    limit: i64,
) -> Result<Vec<ClientRecord>, StoreError> {
    // The filter is chosen from a fixed set of SQL fragments; user input is
    // only ever bound.
    let (filter, a, b) = match term {
        SearchTerm::All => ("1 = 1", String::new(), String::new()),
        SearchTerm::Name(p) => {
            return name_search(tx, scope, p, include_archived, only_marketing_consented, after, limit).await;
        }
        SearchTerm::DateOfBirth(d) => ("date_of_birth = $2 AND $3 = $3", d.clone(), String::new()),
        SearchTerm::Email(p) => ("(email >= $2 AND email < $3)", p.clone(), prefix_end(p)),
        SearchTerm::Mobile(p) => ("(mobile >= $2 AND mobile < $3)", p.clone(), prefix_end(p)),
    };
    let archived = if include_archived { "" } else { " AND archived = FALSE" };
    let marketing = if only_marketing_consented {
        " AND (marketing_email = TRUE OR marketing_sms = TRUE)"
    } else {
        ""
    };
    // The cursor is the last card's id (never its name: cursors travel in
    // URLs); the page continues after that card's place in name order.
    let after_sql = if after.is_some() {
        " AND (family_key, given_key, id) > \
           (SELECT c.family_key, c.given_key, c.id FROM clients c WHERE c.clinic_id = $1 AND c.id = $4)"
    } else {
        " AND $4 IS NULL"
    };
    // On SQLite the unary `+` stops the ORDER BY from walking the
    // family-name index and testing every card of the clinic (170 ms for a
    // date-of-birth search at 100,000 cards); the search then goes through
    // its own term's index and sorts the matches. Listing every card keeps
    // the index walk, which is the fast plan for it. PostgreSQL's planner
    // chooses for itself (and has no unary `+` on text).
    let plus = if tx.backend() == Backend::Sqlite && *term != SearchTerm::All {
        "+"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM clients WHERE clinic_id = $1 AND {filter}{archived}{marketing}{after_sql} \
         ORDER BY {plus}family_key, {plus}given_key, {plus}id LIMIT $5"
    );
    let rows: Vec<Row> = on_tx!(tx, |c| sqlx::query_as(AssertSqlSafe(sql))
        .bind_scope(scope)
        .bind(a)
        .bind(b)
        .bind(after.map(|c| c.as_uuid()))
        .bind(limit)
        .fetch_all(c)
        .await)?;
    rows.into_iter().map(ClientRecord::try_from).collect()
}

/// Cards in the clinic (archived included).
///
/// # Errors
/// Database errors.
pub async fn count(tx: &mut Tx, scope: &ClinicScope) -> Result<i64, StoreError> {
    let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM clients WHERE clinic_id = $1"
    )
    .bind_scope(scope)
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// A client's sealed medical summary as stored.
#[derive(Clone, Debug)]
pub struct MedicalRow {
    pub sealed: Vec<u8>,
    pub version: i64,
    /// How the associated data was made: [`MEDICAL_AAD_SCHEME`] (clinic,
    /// client and version), or 1 for a row sealed before migration 0010
    /// (clinic and client only) that the start-up upgrade has not re-sealed.
    pub aad_scheme: i64,
}

/// The medical record's current associated-data scheme: clinic, client and
/// version (migration 0010).
pub const MEDICAL_AAD_SCHEME: i64 = 2;

/// The sealed medical summary, its version and its AAD scheme.
///
/// # Errors
/// Database errors.
pub async fn medical(tx: &mut Tx, scope: &ClinicScope, id: ClientId) -> Result<Option<MedicalRow>, StoreError> {
    let row: Option<(Vec<u8>, i64, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT sealed, version, aad_scheme FROM client_medical WHERE clinic_id = $1 AND client_id = $2"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(sealed, version, aad_scheme)| MedicalRow {
        sealed,
        version,
        aad_scheme,
    }))
}

/// Store version `version` of the sealed medical summary (sealed under
/// [`MEDICAL_AAD_SCHEME`] with that version), only if the stored one is
/// `version - 1` (none for version 1). Returns `false`, changing nothing,
/// if another write got there first: the version is bound into the
/// ciphertext, so it is set here, never incremented blindly.
///
/// # Errors
/// Database errors.
pub async fn put_medical(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: ClientId,
    sealed: &[u8],
    version: i64,
    by: StaffId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "INSERT INTO client_medical (clinic_id, client_id, sealed, version, aad_scheme, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (clinic_id, client_id) DO UPDATE SET sealed = excluded.sealed, version = excluded.version, \
           aad_scheme = excluded.aad_scheme, updated_at = excluded.updated_at, updated_by = excluded.updated_by \
         WHERE client_medical.version = excluded.version - 1",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(sealed)
    .bind(version)
    .bind(MEDICAL_AAD_SCHEME)
    .bind(micros(now))
    .bind(by.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Up to `limit` medical rows of the clinic still sealed under scheme 1,
/// after client `after`, in client order (the start-up upgrade's work).
///
/// # Errors
/// Database errors.
pub async fn medical_old_scheme(
    tx: &mut Tx,
    scope: &ClinicScope,
    after: Option<ClientId>,
    limit: i64,
) -> Result<Vec<(ClientId, MedicalRow)>, StoreError> {
    let rows: Vec<(Uuid, Vec<u8>, i64, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT client_id, sealed, version, aad_scheme FROM client_medical \
         WHERE clinic_id = $1 AND aad_scheme = 1 AND ($2 IS NULL OR client_id > $2) ORDER BY client_id LIMIT $3"
    )
    .bind_scope(scope)
    .bind(after.map(|a| a.as_uuid()))
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(id, sealed, version, aad_scheme)| {
            (
                ClientId::from_uuid(id),
                MedicalRow {
                    sealed,
                    version,
                    aad_scheme,
                },
            )
        })
        .collect())
}

/// Replace a scheme-1 medical ciphertext with the same summary sealed under
/// [`MEDICAL_AAD_SCHEME`], only if the row is still scheme 1 at `version`.
///
/// # Errors
/// Database errors.
pub async fn reseal_medical(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: ClientId,
    version: i64,
    sealed: &[u8],
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE client_medical SET sealed = $4, aad_scheme = $5 \
         WHERE clinic_id = $1 AND client_id = $2 AND version = $3 AND aad_scheme = 1"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(version)
    .bind(sealed)
    .bind(MEDICAL_AAD_SCHEME)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// The clinics that still hold scheme-1 medical rows. Installation-wide on
/// purpose (G7): it is the start-up upgrade's list of clinics to visit,
/// and returns ids only; each clinic is then read through its own scope.
///
/// # Errors
/// Database errors.
pub async fn clinics_with_old_medical(tx: &mut Tx) -> Result<Vec<velum_core::ClinicId>, StoreError> {
    let ids: Vec<Uuid> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT DISTINCT clinic_id FROM client_medical WHERE aad_scheme = 1 ORDER BY clinic_id"
    )
    .fetch_all(c)
    .await)?;
    Ok(ids.into_iter().map(velum_core::ClinicId::from_uuid).collect())
}

/// `meta` key recording that the start-up upgrade to [`MEDICAL_AAD_SCHEME`]
/// has run; from then on a scheme-1 row is refused, never re-sealed.
const MEDICAL_AAD_DONE: &str = "medical_aad_v2";

/// Whether the upgrade to [`MEDICAL_AAD_SCHEME`] has run here.
///
/// # Errors
/// Database errors.
pub async fn medical_aad_upgraded(tx: &mut Tx) -> Result<bool, StoreError> {
    let v: Option<String> = on_tx!(tx, |c| sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
        .bind(MEDICAL_AAD_DONE)
        .fetch_optional(c)
        .await)?;
    Ok(v.is_some())
}

/// Record that the upgrade to [`MEDICAL_AAD_SCHEME`] has run (at `now`).
///
/// # Errors
/// Database errors.
pub async fn mark_medical_aad_upgraded(tx: &mut Tx, now: Timestamp) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"
    )
    .bind(MEDICAL_AAD_DONE)
    .bind(now.to_string())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// One change to a card: which section, who, when, and the previous value
/// (sealed; `None` for the change that created the section).
#[derive(Clone, Debug)]
pub struct HistoryEntry {
    pub id: Uuid,
    pub section: String,
    pub changed_at: Timestamp,
    pub changed_by: StaffId,
    pub changed_by_name: Option<String>,
    pub previous_sealed: Option<Vec<u8>>,
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    id: Uuid,
    section: String,
    changed_at: i64,
    changed_by: Uuid,
    display_name: Option<String>,
    previous_sealed: Option<Vec<u8>>,
}

/// # Errors
/// Database errors.
#[expect(clippy::too_many_arguments, reason = "one history row's columns")]
pub async fn insert_history(
    tx: &mut Tx,
    scope: &ClinicScope,
    client: ClientId,
    id: Uuid,
    section: &str,
    by: StaffId,
    previous_sealed: Option<&[u8]>,
    now: Timestamp,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO client_history (clinic_id, client_id, id, section, changed_at, changed_by, previous_sealed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind_scope(scope)
    .bind(client.as_uuid())
    .bind(id)
    .bind(section)
    .bind(micros(now))
    .bind(by.as_uuid())
    .bind(previous_sealed)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A card's history, newest first, for the given sections.
///
/// # Errors
/// Database errors.
pub async fn history(tx: &mut Tx, scope: &ClinicScope, client: ClientId) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows: Vec<HistoryRow> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT h.id, h.section, h.changed_at, h.changed_by, s.display_name, h.previous_sealed \
         FROM client_history h LEFT JOIN staff s ON s.clinic_id = h.clinic_id AND s.id = h.changed_by \
         WHERE h.clinic_id = $1 AND h.client_id = $2 ORDER BY h.id DESC LIMIT 200",
    )
    .bind_scope(scope)
    .bind(client.as_uuid())
    .fetch_all(c)
    .await)?;
    rows.into_iter()
        .map(|r| {
            Ok(HistoryEntry {
                id: r.id,
                section: r.section,
                changed_at: from_micros(r.changed_at)?,
                changed_by: StaffId::from_uuid(r.changed_by),
                changed_by_name: r.display_name,
                previous_sealed: r.previous_sealed,
            })
        })
        .collect()
}

/// Name search, in two tiers that each walk one index in order and stop at
/// the page: first the cards whose family name starts with `p`, in name
/// order; then the cards whose given name (or "given family") starts with
/// it and whose family name does not, in given-name order. Neither tier
/// sorts its matches, so a prefix shared by thousands of cards (`smi`,
/// `joh`) costs one page of index entries, not thousands.
///
/// The cursor is the last card shown; its keys say which tier it was in
/// and where that tier continues. A cursor naming no card of this clinic
/// gives an empty page.
async fn name_search(
    tx: &mut Tx,
    scope: &ClinicScope,
    p: &str,
    include_archived: bool,
    only_marketing_consented: bool,
    after: Option<ClientId>,
    limit: i64,
) -> Result<Vec<ClientRecord>, StoreError> {
    let end = prefix_end(p);
    let start = match after {
        None => NamePosition::Family(p.to_owned(), String::new(), Uuid::nil()),
        Some(id) => {
            let keys: Option<(String, String, String)> = on_tx!(tx, |c| sqlx::query_as(
                "SELECT family_key, given_key, full_key FROM clients WHERE clinic_id = $1 AND id = $2"
            )
            .bind_scope(scope)
            .bind(id.as_uuid())
            .fetch_optional(c)
            .await)?;
            match keys {
                None => return Ok(Vec::new()),
                Some((family, given, _)) if family.as_str() >= p && family < end => {
                    NamePosition::Family(family, given, id.as_uuid())
                }
                Some((_, _, full)) => NamePosition::Given(full, id.as_uuid()),
            }
        }
    };
    let filters = match (include_archived, only_marketing_consented) {
        (true, false) => "",
        (false, false) => " AND archived = FALSE",
        (true, true) => " AND (marketing_email = TRUE OR marketing_sms = TRUE)",
        (false, true) => " AND archived = FALSE AND (marketing_email = TRUE OR marketing_sms = TRUE)",
    };
    // SQLite is told which index to walk; PostgreSQL's planner finds it.
    let sqlite = tx.backend() == Backend::Sqlite;
    // The outer sort must not walk an index over the whole clinic on SQLite
    // (unary `+` stops that); it only orders the page's few rows.
    let plus = if sqlite { "+" } else { "" };
    let indexed_by = |index: &str| {
        if sqlite {
            format!(" INDEXED BY {index}")
        } else {
            String::new()
        }
    };
    let mut found = Vec::new();
    let (full_from, full_id) = match start {
        NamePosition::Family(family, given, id) => {
            // The inner walk reads only the covering index; the outer query
            // reads the page's rows.
            let sql = format!(
                "SELECT {COLUMNS} FROM clients WHERE clinic_id = $1 AND id IN ( \
                   SELECT id FROM clients{} WHERE clinic_id = $1 \
                   AND family_key >= $2 AND family_key < $3 \
                   AND (family_key, given_key, id) > ($5, $6, $7){filters} \
                   ORDER BY family_key, given_key, id LIMIT $4) \
                 ORDER BY {plus}family_key, {plus}given_key, {plus}id",
                indexed_by("clients_family")
            );
            let rows: Vec<Row> = on_tx!(tx, |c| sqlx::query_as(AssertSqlSafe(sql))
                .bind_scope(scope)
                .bind(p)
                .bind(&end)
                .bind(limit)
                .bind(&family)
                .bind(&given)
                .bind(id)
                .fetch_all(c)
                .await)?;
            found = rows
                .into_iter()
                .map(ClientRecord::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            (p.to_owned(), Uuid::nil())
        }
        NamePosition::Given(full, id) => (full, id),
    };
    let wanted = limit - i64::try_from(found.len()).unwrap_or(i64::MAX);
    if wanted <= 0 {
        return Ok(found);
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM clients WHERE clinic_id = $1 AND id IN ( \
           SELECT id FROM clients{} WHERE clinic_id = $1 \
           AND full_key >= $2 AND full_key < $3 AND NOT (family_key >= $2 AND family_key < $3) \
           AND (full_key, id) > ($5, $6){filters} \
           ORDER BY full_key, id LIMIT $4) \
         ORDER BY {plus}full_key, {plus}id",
        indexed_by("clients_full")
    );
    let rows: Vec<Row> = on_tx!(tx, |c| sqlx::query_as(AssertSqlSafe(sql))
        .bind_scope(scope)
        .bind(p)
        .bind(&end)
        .bind(wanted)
        .bind(&full_from)
        .bind(full_id)
        .fetch_all(c)
        .await)?;
    for r in rows {
        found.push(ClientRecord::try_from(r)?);
    }
    Ok(found)
}

/// Where a name search continues.
enum NamePosition {
    /// In the family-name tier, after (family key, given key, id).
    Family(String, String, Uuid),
    /// In the given-name tier, after (full key, id).
    Given(String, Uuid),
}
