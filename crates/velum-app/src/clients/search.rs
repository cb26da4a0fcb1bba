//! Searching cards, and the sealed links that carry a search.

use velum_core::actor::Access;
use velum_core::audit::AuditAction;
use velum_core::text::{DateOfBirth, UkMobile};
use velum_core::{Actor, ClientId, Section, StaffActor};
use velum_store::clients::{self, SearchTerm};

use crate::{App, AppError, event};

use super::*;

/// One row of a search result.
#[derive(Clone, Debug)]
pub struct Listed {
    pub header: CardHeader,
    /// `None` for roles without the contact permission.
    pub contact: Option<Contact>,
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

impl App {
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
