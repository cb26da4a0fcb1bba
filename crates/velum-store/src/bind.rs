//! Binding a [`ClinicScope`] into a query.
//!
//! Every clinic-scoped statement has `clinic_id = $n` in its `WHERE` clause
//! (or its `INSERT` values); `.bind_scope(scope)` binds the scope's clinic
//! at that position, so the scope is written the same way everywhere and a
//! repository cannot bind some other clinic id by accident. It works on
//! both backends' query types, so the single SQL text inside `on_tx!` stays
//! one text.

use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Database, Encode, Type};
use uuid::Uuid;

use crate::ClinicScope;

/// `.bind_scope(scope)`: bind the scope's clinic id as the next parameter.
pub(crate) trait BindScope: Sized {
    #[must_use]
    fn bind_scope(self, scope: &ClinicScope) -> Self;
}

impl<DB> BindScope for Query<'_, DB, <DB as Database>::Arguments>
where
    DB: Database,
    Uuid: for<'e> Encode<'e, DB> + Type<DB>,
{
    fn bind_scope(self, scope: &ClinicScope) -> Self {
        self.bind(scope.clinic_id().as_uuid())
    }
}

impl<'q, DB, O> BindScope for QueryAs<'q, DB, O, <DB as Database>::Arguments>
where
    DB: Database,
    Uuid: Encode<'q, DB> + Type<DB>,
{
    fn bind_scope(self, scope: &ClinicScope) -> Self {
        self.bind(scope.clinic_id().as_uuid())
    }
}

impl<'q, DB, O> BindScope for QueryScalar<'q, DB, O, <DB as Database>::Arguments>
where
    DB: Database,
    Uuid: Encode<'q, DB> + Type<DB>,
{
    fn bind_scope(self, scope: &ClinicScope) -> Self {
        self.bind(scope.clinic_id().as_uuid())
    }
}
