//! Schema helpers shared by the migrations (backend-neutral statements only). Changing one
//! changes every migration that uses it, so they stay this small.

use sea_orm_migration::prelude::*;

/// Creates index `name` on `cols` of `table` (unique when asked) unless it exists.
pub(super) async fn index(
    m: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut i = Index::create();
    i.name(name).table(table).if_not_exists();
    for c in cols {
        i.col(Alias::new(*c));
    }
    if unique {
        i.unique();
    }
    m.create_index(i.to_owned()).await
}

/// A foreign key from `(table, column)` to `(table, column)`.
pub(super) fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .to_owned()
}
