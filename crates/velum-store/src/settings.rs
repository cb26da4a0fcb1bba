//! A clinic's settings (`clinic_settings`) and its public slug
//! (`clinic_slugs`, unique across the installation).

use jiff::Timestamp;
use velum_core::StaffId;
use velum_core::client::Address;
use velum_core::settings::{
    ClinicSettings, ClinicTimeZone, DisplayName, NoticeHours, PublicSlug, RegistrationNumber, Regulator, RetentionKind,
    RetentionYears,
};
use velum_core::text::{AddressLine, Postcode, ShortText, Town};

use crate::bind::BindScope;
use crate::transfer::{Kind, ONE_CLINIC, Table, col, opt};
use crate::{ClinicScope, StoreError, Tx, micros};

/// The clinic tables this module owns (`clinic_settings`, `clinic_slugs`), with every column and
/// its kind, in foreign-key order: their part of
/// [`crate::transfer::CLINIC_TABLES`].
pub const TABLES: &[Table] = &[
    Table {
        name: "clinic_settings",
        clinic_column: "clinic_id",
        order_by: "clinic_id",
        columns: &[
            col("clinic_id", Kind::Id).left_out(ONE_CLINIC),
            col("time_zone", Kind::Text),
            opt("display_name", Kind::Text),
            opt("line1", Kind::Text),
            opt("line2", Kind::Text),
            opt("town", Kind::Text),
            opt("postcode", Kind::Text),
            opt("regulator", Kind::Text),
            opt("registration_number", Kind::Text),
            opt("licensing_authority", Kind::Text),
            opt("licence_number", Kind::Text),
            col("cancellation_notice_hours", Kind::Int),
            col("reminder_lead_hours", Kind::Int),
            opt("clinical_retention_years", Kind::Int),
            opt("financial_retention_years", Kind::Int),
            col("updated_at", Kind::Int).instant(),
            col("updated_by", Kind::Id),
        ],
    },
    // The public-slug directory: a slug taken on the target refuses the
    // import (its unique key), and nothing is written.
    Table {
        name: "clinic_slugs",
        clinic_column: "clinic_id",
        order_by: "slug",
        columns: &[col("slug", Kind::Text), col("clinic_id", Kind::Id).left_out(ONE_CLINIC)],
    },
];

/// What `put` reports when the slug belongs to another clinic.
pub const SLUG_TAKEN: &str = "clinic_slugs";

#[derive(sqlx::FromRow)]
struct Row {
    time_zone: String,
    display_name: Option<String>,
    line1: Option<String>,
    line2: Option<String>,
    town: Option<String>,
    postcode: Option<String>,
    regulator: Option<String>,
    registration_number: Option<String>,
    licensing_authority: Option<String>,
    licence_number: Option<String>,
    cancellation_notice_hours: i64,
    reminder_lead_hours: i64,
    clinical_retention_years: Option<i64>,
    financial_retention_years: Option<i64>,
}

/// The clinic's settings; the defaults when it never saved any.
///
/// # Errors
/// Database errors; `Corrupt` for a regulator Velum does not know.
pub async fn get(tx: &mut Tx, scope: &ClinicScope) -> Result<ClinicSettings, StoreError> {
    let row: Option<Row> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT time_zone, display_name, line1, line2, town, postcode, regulator, registration_number, \
                licensing_authority, licence_number, cancellation_notice_hours, reminder_lead_hours, \
                clinical_retention_years, financial_retention_years \
         FROM clinic_settings WHERE clinic_id = $1"
    )
    .bind_scope(scope)
    .fetch_optional(c)
    .await)?;
    let slug: Option<String> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT slug FROM clinic_slugs WHERE clinic_id = $1"
    )
    .bind_scope(scope)
    .fetch_optional(c)
    .await)?;
    let mut s = match row {
        None => ClinicSettings::default(),
        Some(r) => from_row(r)?,
    };
    s.public_slug = slug.map(PublicSlug::from_stored);
    Ok(s)
}

fn from_row(r: Row) -> Result<ClinicSettings, StoreError> {
    let address = match (r.line1, r.town, r.postcode) {
        (Some(line1), Some(town), Some(postcode)) => Some(Address {
            line1: AddressLine::from_stored(line1),
            line2: r.line2.map(AddressLine::from_stored),
            town: Town::from_stored(town),
            postcode: Postcode::from_stored(postcode),
        }),
        _ => None,
    };
    let registration = match (r.regulator, r.registration_number) {
        (Some(reg), Some(n)) => Some((
            Regulator::parse(&reg).map_err(|_| StoreError::Corrupt("unknown regulator in clinic_settings"))?,
            RegistrationNumber::from_stored(n),
        )),
        _ => None,
    };
    Ok(ClinicSettings {
        time_zone: ClinicTimeZone::from_stored(&r.time_zone),
        public_slug: None,
        display_name: r.display_name.map(DisplayName::from_stored),
        address,
        registration,
        licensing_authority: r.licensing_authority.map(ShortText::from_stored),
        licence_number: r.licence_number.map(RegistrationNumber::from_stored),
        cancellation_notice: NoticeHours::from_stored(r.cancellation_notice_hours),
        reminder_lead: NoticeHours::from_stored(r.reminder_lead_hours),
        clinical_retention: r
            .clinical_retention_years
            .map(|y| RetentionYears::from_stored(RetentionKind::Clinical, y)),
        financial_retention: r
            .financial_retention_years
            .map(|y| RetentionYears::from_stored(RetentionKind::Financial, y)),
    })
}

/// Save the clinic's settings (all of them) and its slug.
///
/// # Errors
/// `Conflict(SLUG_TAKEN)` when another clinic has the slug (the caller must
/// roll back); database errors.
pub async fn put(
    tx: &mut Tx,
    scope: &ClinicScope,
    s: &ClinicSettings,
    by: StaffId,
    now: Timestamp,
) -> Result<(), StoreError> {
    let a = s.address.as_ref();
    let reg = s.registration.as_ref();
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO clinic_settings (clinic_id, time_zone, display_name, line1, line2, town, postcode, regulator, \
             registration_number, licensing_authority, licence_number, cancellation_notice_hours, reminder_lead_hours, \
             clinical_retention_years, financial_retention_years, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (clinic_id) DO UPDATE SET time_zone = excluded.time_zone, display_name = excluded.display_name, \
             line1 = excluded.line1, line2 = excluded.line2, town = excluded.town, postcode = excluded.postcode, \
             regulator = excluded.regulator, registration_number = excluded.registration_number, \
             licensing_authority = excluded.licensing_authority, licence_number = excluded.licence_number, \
             cancellation_notice_hours = excluded.cancellation_notice_hours, \
             reminder_lead_hours = excluded.reminder_lead_hours, \
             clinical_retention_years = excluded.clinical_retention_years, \
             financial_retention_years = excluded.financial_retention_years, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by"
    )
    .bind_scope(scope)
    .bind(s.time_zone.as_str())
    .bind(s.display_name.as_ref().map(DisplayName::as_str))
    .bind(a.map(|a| a.line1.as_str()))
    .bind(a.and_then(|a| a.line2.as_ref()).map(AddressLine::as_str))
    .bind(a.map(|a| a.town.as_str()))
    .bind(a.map(|a| a.postcode.as_str()))
    .bind(reg.map(|(r, _)| r.as_str()))
    .bind(reg.map(|(_, n)| n.as_str()))
    .bind(s.licensing_authority.as_ref().map(ShortText::as_str))
    .bind(s.licence_number.as_ref().map(RegistrationNumber::as_str))
    .bind(i64::from(s.cancellation_notice.hours()))
    .bind(i64::from(s.reminder_lead.hours()))
    .bind(s.clinical_retention.map(|y| i64::from(y.years())))
    .bind(s.financial_retention.map(|y| i64::from(y.years())))
    .bind(micros(now))
    .bind(by.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    on_tx!(tx, |c| sqlx::query("DELETE FROM clinic_slugs WHERE clinic_id = $1")
        .bind_scope(scope)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    if let Some(slug) = &s.public_slug {
        on_tx!(tx, |c| sqlx::query(
            "INSERT INTO clinic_slugs (slug, clinic_id) VALUES ($1, $2)"
        )
        .bind(slug.as_str())
        .bind_scope(scope)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| match StoreError::from_sqlx(e) {
            StoreError::Conflict(_) => StoreError::Conflict(SLUG_TAKEN.into()),
            other => other,
        })?;
    }
    Ok(())
}
