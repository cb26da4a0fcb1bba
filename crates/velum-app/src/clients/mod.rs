//! The client card: create, open (per section), edit, search, archive, the
//! medical summary, marketing preferences, change history and access
//! history. Every use case checks the actor's role against the section
//! (`Role::may`) and writes its audit event in its own transaction.

use velum_core::policy::{self, CardTab};
use velum_core::{ClientId, Role};
use velum_store::clients::ClientRecord;

use crate::AppError;

mod card;
mod contact;
mod history;
mod marketing;
mod medical;
mod sealed_section;
mod search;

pub(crate) use card::Done;
pub use contact::{ClientPatch, Contact};
pub(crate) use history::history_aad;
pub use history::{AccessEntry, Change};
pub use marketing::Marketing;
pub use medical::Medical;
pub(crate) use medical::{medical_aad, medical_aad_v1, open_medical};
pub(crate) use sealed_section::MEDICAL;
pub use search::Listed;

/// Who the card is about: shown on every tab.
#[derive(Clone)]
pub struct CardHeader {
    pub id: ClientId,
    pub given_name: String,
    pub family_name: String,
    pub archived: bool,
}

velum_core::debug_redacted!(CardHeader { given_name, family_name; shown: id, archived });

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

/// A page of results; `next` is the cursor for the following page.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
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

/// The tabs a role may open on a card ([`policy::card_tabs`]).
#[must_use]
pub fn tabs_for(role: Role) -> Vec<CardTab> {
    policy::card_tabs(role)
}
