//! A cluster's catalog extension: a TOML file in the catalog's own format (see the top of
//! `schema/catalog.toml`) with the local codes a hospital network adds to the built-in catalog.
//!
//! `hdg init --catalog-extension FILE` checks it and copies it into the cluster folder; every
//! node's config and the cluster file name it. A node, and every client command that reads the
//! cluster file, makes the built-in catalog with the extension its active catalog
//! ([`hdg_schema::Catalog::activate`]) before anything is encoded, so records in local codes are
//! imported, shared and queried like built-in ones. The parties compare the catalog's digest
//! before every query and refuse to compute on different catalogs.

use std::path::Path;

use anyhow::Context;
use hdg_schema::Catalog;

/// The extension's file name inside a cluster folder.
pub const FILE_NAME: &str = "catalog-extension.toml";

/// The built-in catalog with the extension at `path`: refused, naming the file and the entry,
/// when it is not valid catalog TOML or redefines a code.
pub fn load(path: &Path) -> anyhow::Result<Catalog> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the catalog extension {}", path.display()))?;
    Catalog::builtin()
        .with_extension(&text)
        .with_context(|| format!("catalog extension {}", path.display()))
}

/// Makes the built-in catalog with the extension at `path` this process's active catalog and
/// returns it; without an extension, the active catalog as it is (the built-in one, unless the
/// process already activated another).
pub fn activate(path: Option<&Path>) -> anyhow::Result<&'static Catalog> {
    match path {
        Some(path) => Catalog::activate(load(path)?).context(
            "this process already uses another catalog (one cluster's catalog per process)",
        ),
        None => Ok(Catalog::active()),
    }
}
