//! How a command unlocks a data folder's keyring (see `hdg_storage::keyring`): with a key file
//! kept outside the folder (`--key-file FILE`, or `key_file` in a node's config), or with a
//! passphrase read from an environment variable (`HDG_PASSPHRASE`, or the variable a node's
//! config names in `passphrase_env`). A passphrase is never taken on the command line, where
//! other users could read it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hdg_storage::KeySource;
use zeroize::Zeroizing;

/// The environment variable a command reads a data folder's passphrase from.
pub const PASSPHRASE_ENV: &str = "HDG_PASSPHRASE";

/// The `--key-file` option of the commands that open a data folder.
#[derive(clap::Args, Clone, Debug)]
pub struct Unlock {
    /// The key file that unlocks the data folder's keyring (64 hex digits, kept outside the
    /// folder). Without it, the passphrase in the environment variable HDG_PASSPHRASE.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

impl Unlock {
    /// The key source these options name.
    pub fn source(&self) -> anyhow::Result<KeySource> {
        key_source(self.key_file.as_deref(), PASSPHRASE_ENV)
    }
}

/// A key file when one is given, else the passphrase in the environment variable `env`; an
/// error naming both when neither is there.
pub fn key_source(key_file: Option<&Path>, env: &str) -> anyhow::Result<KeySource> {
    if let Some(path) = key_file {
        return Ok(KeySource::File(path.to_path_buf()));
    }
    match std::env::var(env) {
        Ok(text) if !text.is_empty() => Ok(KeySource::Passphrase(Zeroizing::new(text))),
        Ok(_) => bail!("the passphrase in {env} is empty"),
        Err(_) => bail!(
            "the data folder's keys are sealed under a key kept outside it: give --key-file FILE, \
             or the passphrase in the environment variable {env}"
        ),
    }
}

/// The node's ed25519 identity from its data folder's keyring, without opening the store (for
/// processes that act as the node while it is stopped, such as `hdg bench party`).
pub fn node_signing_key(
    data: &Path,
    source: &KeySource,
) -> anyhow::Result<ed25519_dalek::SigningKey> {
    let ring = hdg_storage::keyring::open(data, source)
        .with_context(|| format!("cannot unlock the keys of {}", data.display()))?;
    Ok(ring.node_key())
}

/// A data folder argument shared by the store commands.
#[derive(clap::Args, Clone)]
pub struct DataDir {
    /// The node's data folder (RocksDB and its sealed keyring).
    #[arg(long = "data", value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub unlock: Unlock,
}

impl DataDir {
    /// Opens the store in this folder (creating it with `create`), unlocked as the options say.
    pub fn open(&self, create: bool) -> anyhow::Result<hdg_storage::Store> {
        Ok(hdg_storage::Store::open(
            &self.dir,
            create,
            &self.unlock.source()?,
        )?)
    }
}
