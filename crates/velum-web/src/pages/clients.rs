//! Client list, search, the card with a tab per section, and its forms.

use crate::extract::CsrfForm;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use velum_app::AppError;
use velum_app::clients::{AccessEntry, Card, CardHeader, Change, ClientPatch, Listed, Marketing, Page};
use velum_core::actor::Access;
use velum_core::client::{ClientInput, MedicalInput};
use velum_core::policy::CardTab;
use velum_core::{ClientId, Section};

use super::{Errors, Nav, ok, render};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{PageId, StaffSession};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/clients", get(list))
        .route("/clients/search", post(search))
        .route("/clients/new", get(new_form).post(create))
        .route("/clients/{id}", get(contact))
        .route("/clients/{id}/edit", get(edit_form).post(edit))
        .route("/clients/{id}/medical", get(medical))
        .route("/clients/{id}/medical/edit", get(medical_form).post(medical_save))
        .route("/clients/{id}/marketing", get(marketing).post(marketing_save))
        .route("/clients/{id}/history", get(history))
        .route("/clients/{id}/access", get(access))
        .route("/clients/{id}/archive", post(archive))
}

/// An instant on the platform's pages: London time (the operator's list
/// spans clinics of every zone).
pub fn when(t: jiff::Timestamp) -> String {
    velum_core::settings::ClinicTimeZone::london().show(t)
}

/// A date of birth as staff read it.
fn dob(iso: &str) -> String {
    jiff::civil::Date::strptime("%Y-%m-%d", iso)
        .map_or_else(|_| iso.to_owned(), |d| d.strftime("%-d %b %Y").to_string())
}

struct Row {
    id: String,
    name: String,
    dob: String,
    mobile: String,
    postcode: String,
    archived: bool,
}

fn row(l: &Listed) -> Row {
    let c = l.contact.as_ref().map(|c| &c.details);
    Row {
        id: l.header.id.to_string(),
        name: format!("{}, {}", l.header.family_name, l.header.given_name),
        dob: c.map(|d| dob(&d.date_of_birth.to_iso())).unwrap_or_default(),
        mobile: c
            .and_then(|d| d.mobile.as_ref().map(velum_core::text::UkMobile::national))
            .unwrap_or_default(),
        postcode: c
            .and_then(|d| d.address.as_ref().map(|a| a.postcode.as_str().to_owned()))
            .unwrap_or_default(),
        archived: l.header.archived,
    }
}

#[derive(Template)]
#[template(path = "clients.html")]
struct ListPage {
    nav: Option<Nav>,
    q: String,
    rows: Vec<Row>,
    next: String,
    searched: bool,
    can_create: bool,
    show_contact: bool,
    include_archived: bool,
    sealed: String,
}

fn list_page(s: &StaffSession, q: String, searched: bool, include_archived: bool, page: &Page<Listed>) -> ListPage {
    ListPage {
        nav: Some(Nav::of(s)),
        q,
        rows: page.items.iter().map(row).collect(),
        next: page.next.clone().unwrap_or_default(),
        searched,
        can_create: s.actor.may(Access::Write, Section::Contact),
        show_contact: s.actor.may(Access::Read, Section::Contact),
        include_archived,
        sealed: String::new(),
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    cursor: Option<String>,
    /// A sealed search (see `App::seal_search`): never the query itself.
    #[serde(default)]
    s: Option<String>,
}

/// Every card in name order, 50 a page, or the results of a sealed search.
/// Cursors are card ids and searches are sealed: no names in URLs.
pub async fn list(
    State(state): State<AppState>,
    s: StaffSession,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let (query, archived, sealed) = match q.s.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => {
            let (query, archived) = state.app.open_search(&s.actor, token).await?;
            (query, archived, token.to_owned())
        }
        None => (String::new(), false, String::new()),
    };
    let page = state
        .app
        .search_clients(&s.actor, &query, q.cursor.as_deref(), archived)
        .await?;
    let mut view = list_page(&s, query, !sealed.is_empty(), archived, &page);
    view.sealed = sealed;
    Ok(ok(&view))
}

#[derive(Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    include_archived: Option<String>,
}

/// The search box posts here; the answer is a redirect to the results, so
/// Back and reload work, with the query sealed rather than in the URL.
pub async fn search(
    State(state): State<AppState>,
    s: StaffSession,
    CsrfForm(f): CsrfForm<SearchForm>,
) -> Result<Response, PageError> {
    if f.q.trim().is_empty() {
        return Ok(Redirect::to("/clients").into_response());
    }
    let token = state
        .app
        .seal_search(&s.actor, &f.q, f.include_archived.is_some())
        .await?;
    Ok(Redirect::to(&format!("/clients?s={token}")).into_response())
}

#[derive(Template)]
#[template(path = "client_form.html")]
struct FormPage {
    nav: Option<Nav>,
    title: String,
    action: String,
    cancel: String,
    v: ClientInput,
    errors: Errors,
    duplicates: Vec<(String, String, String)>,
}

#[derive(Deserialize)]
pub struct ClientForm {
    #[serde(default)]
    allow_duplicate: Option<String>,
    #[serde(flatten)]
    input: ClientInput,
}

pub async fn new_form(s: StaffSession) -> Response {
    if !s.actor.may(Access::Write, Section::Contact) {
        return PageError(AppError::Forbidden).into_response();
    }
    ok(&FormPage {
        nav: Some(Nav::of(&s)),
        title: "New client".into(),
        action: "/clients/new".into(),
        cancel: "/clients".into(),
        v: ClientInput::default(),
        errors: Errors::default(),
        duplicates: Vec::new(),
    })
}

pub async fn create(
    State(state): State<AppState>,
    s: StaffSession,
    CsrfForm(f): CsrfForm<ClientForm>,
) -> Result<Response, PageError> {
    let page = |errors: Errors, duplicates| FormPage {
        nav: Some(Nav::of(&s)),
        title: "New client".into(),
        action: "/clients/new".into(),
        cancel: "/clients".into(),
        v: f.input.clone(),
        errors,
        duplicates,
    };
    match state
        .app
        .create_client(&s.actor, &f.input, f.allow_duplicate.is_some())
        .await
    {
        Ok(card) => Ok(Redirect::to(&format!("/clients/{}", card.header.id)).into_response()),
        Err(AppError::Validation(errors)) => Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(Errors(errors), Vec::new()),
        )),
        Err(AppError::Duplicate(matches)) => {
            let dups = matches
                .into_iter()
                .map(|m| {
                    let why = match m.reason {
                        "email" => "same email",
                        "mobile" => "same mobile",
                        _ => "same name and date of birth",
                    };
                    (
                        m.id.to_string(),
                        format!("{}, {} (born {})", m.family_name, m.given_name, dob(&m.date_of_birth)),
                        why.to_owned(),
                    )
                })
                .collect();
            Ok(render(StatusCode::CONFLICT, &page(Errors::default(), dups)))
        }
        Err(e) => Err(e.into()),
    }
}

struct Tab {
    href: String,
    label: &'static str,
    active: bool,
}

#[derive(Default)]
struct ContactView {
    given_name: String,
    family_name: String,
    dob: String,
    email: String,
    mobile: String,
    address: Vec<String>,
    created: String,
    updated: String,
    version: i64,
}

#[derive(Default)]
struct MedicalView {
    allergies: Vec<String>,
    medications: Vec<String>,
    conditions: Vec<String>,
    notes: String,
    recorded: bool,
}

struct AccessView {
    at: String,
    who: String,
    action: &'static str,
    sections: String,
    purpose: String,
}

struct ChangeView {
    at: String,
    who: String,
    what: String,
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardPage {
    nav: Option<Nav>,
    id: String,
    name: String,
    archived: bool,
    tabs: Vec<Tab>,
    tab: CardTab,
    contact: ContactView,
    medical: MedicalView,
    marketing: Marketing,
    access: Vec<AccessView>,
    changes: Vec<ChangeView>,
    next: String,
    can_edit: bool,
    csrf: String,
}

/// A tab's path under the card.
const fn tab_path(t: CardTab) -> &'static str {
    match t {
        CardTab::Contact => "",
        CardTab::Medical => "/medical",
        CardTab::Marketing => "/marketing",
        CardTab::Changes => "/history",
        CardTab::AccessHistory => "/access",
    }
}

/// A card page showing `card_tabs`: the tabs the app gave with the card,
/// or (pages that load no card) the app's tabs for the actor.
fn card_page(s: &StaffSession, header: &CardHeader, card_tabs: &[CardTab], tab: CardTab) -> CardPage {
    let id = header.id.to_string();
    let tabs = card_tabs
        .iter()
        .map(|t| Tab {
            href: format!("/clients/{id}{}", tab_path(*t)),
            label: t.label(),
            active: *t == tab,
        })
        .collect();
    let write_section = match tab {
        CardTab::Medical => Section::Medical,
        CardTab::Marketing => Section::Marketing,
        _ => Section::Contact,
    };
    CardPage {
        nav: Some(Nav::of(s)),
        name: format!("{} {}", header.given_name, header.family_name),
        id,
        archived: header.archived,
        tabs,
        tab,
        contact: ContactView::default(),
        medical: MedicalView::default(),
        marketing: Marketing {
            email: false,
            sms: false,
        },
        access: Vec::new(),
        changes: Vec::new(),
        next: String::new(),
        can_edit: s.actor.may(Access::Write, write_section),
        csrf: s.info.csrf_token.clone(),
    }
}

fn contact_view(card: &Card, tz: &velum_core::settings::ClinicTimeZone) -> ContactView {
    let Some(c) = &card.contact else {
        return ContactView::default();
    };
    let d = &c.details;
    ContactView {
        given_name: d.given_name.as_str().to_owned(),
        family_name: d.family_name.as_str().to_owned(),
        dob: dob(&d.date_of_birth.to_iso()),
        email: d.email.as_ref().map(|e| e.as_str().to_owned()).unwrap_or_default(),
        mobile: d
            .mobile
            .as_ref()
            .map(velum_core::text::UkMobile::national)
            .unwrap_or_default(),
        address: d
            .address
            .as_ref()
            .map(|a| {
                [
                    Some(a.line1.as_str()),
                    a.line2.as_ref().map(|l| l.as_str()),
                    Some(a.town.as_str()),
                    Some(a.postcode.as_str()),
                ]
                .into_iter()
                .flatten()
                .map(str::to_owned)
                .collect()
            })
            .unwrap_or_default(),
        created: tz.show(c.created_at),
        updated: tz.show(c.updated_at),
        version: c.version,
    }
}

/// The first tab this role may open, for roles without contact details.
fn first_tab(s: &StaffSession, id: ClientId) -> Option<Response> {
    // No tab at all: the use case refuses (and records it).
    let first = *velum_app::clients::tabs_for(s.account.role).first()?;
    if first == CardTab::Contact {
        return None;
    }
    let to = format!("/clients/{id}{}", tab_path(first));
    Some(Redirect::to(&to).into_response())
}

pub async fn contact(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClientId>,
) -> Result<Response, PageError> {
    if let Some(r) = first_tab(&s, id) {
        return Ok(r);
    }
    let card = state.app.open_card(&s.actor, id, &[Section::Contact]).await?;
    let mut page = card_page(&s, &card.header, &card.tabs, CardTab::Contact);
    page.contact = contact_view(&card, &s.info.time_zone);
    Ok(ok(&page))
}

pub async fn edit_form(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClientId>,
) -> Result<Response, PageError> {
    // No form for a role that could not save it (a support visit, an
    // auditor): the card itself, read-only.
    if !s.actor.may(Access::Write, Section::Contact) {
        return Ok(Redirect::to(&format!("/clients/{id}")).into_response());
    }
    let card = state.app.open_card(&s.actor, id, &[Section::Contact]).await?;
    let v = card
        .contact
        .as_ref()
        .map(|c| ClientInput::from_details(&c.details))
        .unwrap_or_default();
    Ok(ok(&FormPage {
        nav: Some(Nav::of(&s)),
        title: format!("Edit {} {}", card.header.given_name, card.header.family_name),
        action: format!("/clients/{id}/edit"),
        cancel: format!("/clients/{id}"),
        v,
        errors: Errors::default(),
        duplicates: Vec::new(),
    }))
}

pub async fn edit(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClientId>,
    CsrfForm(f): CsrfForm<ClientForm>,
) -> Result<Response, PageError> {
    let i = f.input.clone();
    let patch = ClientPatch {
        given_name: Some(i.given_name),
        family_name: Some(i.family_name),
        date_of_birth: Some(i.date_of_birth),
        email: Some(i.email),
        mobile: Some(i.mobile),
        line1: Some(i.line1),
        line2: Some(i.line2),
        town: Some(i.town),
        postcode: Some(i.postcode),
    };
    match state.app.update_client(&s.actor, id, patch).await {
        Ok(_) => Ok(Redirect::to(&format!("/clients/{id}")).into_response()),
        Err(AppError::Validation(errors)) => Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &FormPage {
                nav: Some(Nav::of(&s)),
                title: "Edit client".into(),
                action: format!("/clients/{id}/edit"),
                cancel: format!("/clients/{id}"),
                v: f.input,
                errors: Errors(errors),
                duplicates: Vec::new(),
            },
        )),
        Err(e) => Err(e.into()),
    }
}

fn medical_view(card: &Card) -> MedicalView {
    let Some(m) = &card.medical else {
        return MedicalView::default();
    };
    let list = |v: &[velum_core::text::ShortText]| v.iter().map(|x| x.as_str().to_owned()).collect();
    MedicalView {
        allergies: list(&m.summary.allergies),
        medications: list(&m.summary.medications),
        conditions: list(&m.summary.conditions),
        notes: m.summary.notes.as_str().to_owned(),
        recorded: m.version > 0,
    }
}

pub async fn medical(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClientId>,
) -> Result<Response, PageError> {
    let card = state.app.open_card(&s.actor, id, &[Section::Medical]).await?;
    let mut page = card_page(&s, &card.header, &card.tabs, CardTab::Medical);
    page.medical = medical_view(&card);
    Ok(ok(&page))
}

#[derive(Template)]
#[template(path = "medical_form.html")]
struct MedicalFormPage {
    nav: Option<Nav>,
    id: String,
    name: String,
    allergies: String,
    medications: String,
    conditions: String,
    notes: String,
    errors: Errors,
}

pub async fn medical_form(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClientId>,
) -> Result<Response, PageError> {
    let card = state.app.open_card(&s.actor, id, &[Section::Medical]).await?;
    let m = medical_view(&card);
    Ok(ok(&MedicalFormPage {
        nav: Some(Nav::of(&s)),
        id: id.to_string(),
        name: format!("{} {}", card.header.given_name, card.header.family_name),
        allergies: m.allergies.join("\n"),
        medications: m.medications.join("\n"),
        conditions: m.conditions.join("\n"),
        notes: m.notes,
        errors: Errors::default(),
    }))
}

#[derive(Deserialize)]
pub struct MedicalForm {
    #[serde(default)]
    allergies: String,
    #[serde(default)]
    medications: String,
    #[serde(default)]
    conditions: String,
    #[serde(default)]
    notes: String,
}

pub async fn medical_save(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClientId>,
    CsrfForm(f): CsrfForm<MedicalForm>,
) -> Result<Response, PageError> {
    let input = MedicalInput {
        allergies: MedicalInput::lines(&f.allergies),
        medications: MedicalInput::lines(&f.medications),
        conditions: MedicalInput::lines(&f.conditions),
        notes: f.notes.clone(),
    };
    match state.app.put_medical(&s.actor, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/clients/{id}/medical")).into_response()),
        Err(AppError::Validation(errors)) => Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &MedicalFormPage {
                nav: Some(Nav::of(&s)),
                id: id.to_string(),
                name: String::new(),
                allergies: f.allergies,
                medications: f.medications,
                conditions: f.conditions,
                notes: f.notes,
                errors: Errors(errors),
            },
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn marketing(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClientId>,
) -> Result<Response, PageError> {
    let card = state.app.open_card(&s.actor, id, &[Section::Marketing]).await?;
    let mut page = card_page(&s, &card.header, &card.tabs, CardTab::Marketing);
    page.marketing = card.marketing.unwrap_or(Marketing {
        email: false,
        sms: false,
    });
    Ok(ok(&page))
}

#[derive(Deserialize)]
pub struct MarketingForm {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    sms: Option<String>,
}

pub async fn marketing_save(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClientId>,
    CsrfForm(f): CsrfForm<MarketingForm>,
) -> Result<Response, PageError> {
    let choice = Marketing {
        email: f.email.is_some(),
        sms: f.sms.is_some(),
    };
    state.app.set_marketing(&s.actor, id, choice).await?;
    Ok(Redirect::to(&format!("/clients/{id}/marketing")).into_response())
}

pub async fn history(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClientId>,
) -> Result<Response, PageError> {
    let (header, changes) = state.app.client_changes(&s.actor, id).await?;
    let mut page = card_page(
        &s,
        &header,
        &velum_app::clients::tabs_for(s.account.role),
        CardTab::Changes,
    );
    page.changes = changes.iter().map(|c| change_view(c, &s.info.time_zone)).collect();
    Ok(ok(&page))
}

fn change_view(c: &Change, tz: &velum_core::settings::ClinicTimeZone) -> ChangeView {
    let what = match (c.section.as_str(), c.first) {
        ("status", _) => "Archived or restored".to_owned(),
        ("marketing", _) => "Marketing choices changed".to_owned(),
        ("contact", true) => "Card created".to_owned(),
        ("medical", true) => "Medical summary first recorded".to_owned(),
        ("contact", false) => "Contact details changed (previous version kept, sealed)".to_owned(),
        ("medical", false) => "Medical summary changed (previous version kept, sealed)".to_owned(),
        (other, _) => format!("{other} changed"),
    };
    ChangeView {
        at: tz.show(c.at),
        who: c.by.clone().unwrap_or_else(|| "—".into()),
        what,
    }
}

#[derive(Deserialize)]
pub struct AccessQuery {
    #[serde(default)]
    cursor: Option<String>,
}

pub async fn access(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClientId>,
    Query(q): Query<AccessQuery>,
) -> Result<Response, PageError> {
    let (header, page) = state.app.access_log(&s.actor, id, q.cursor.as_deref()).await?;
    let mut view = card_page(
        &s,
        &header,
        &velum_app::clients::tabs_for(s.account.role),
        CardTab::AccessHistory,
    );
    view.access = page.items.iter().map(|e| access_view(e, &s.info.time_zone)).collect();
    view.next = page.next.unwrap_or_default();
    Ok(ok(&view))
}

fn access_view(e: &AccessEntry, tz: &velum_core::settings::ClinicTimeZone) -> AccessView {
    AccessView {
        at: tz.show(e.at),
        who: e.actor_name.clone().unwrap_or_else(|| "System".into()),
        action: e.action.label(),
        sections: e.sections.iter().map(|s| s.label()).collect::<Vec<_>>().join(", "),
        purpose: e.purpose.replace('_', " "),
    }
}

#[derive(Deserialize)]
pub struct ArchiveForm {
    #[serde(default)]
    archived: String,
}

pub async fn archive(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClientId>,
    CsrfForm(f): CsrfForm<ArchiveForm>,
) -> Result<Response, PageError> {
    state
        .app
        .set_client_archived(&s.actor, id, f.archived == "true")
        .await?;
    Ok(Redirect::to(&format!("/clients/{id}")).into_response())
}
