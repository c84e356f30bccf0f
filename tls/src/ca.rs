//! Trust by a certificate authority, for hospitals that run one: a node may serve its client
//! API with a certificate chain its CA issued (`api_certificate` and `api_private_key` in its
//! config, PEM files), and a client given `--ca FILE` trusts a node whose chain leads to one of
//! those roots and names the host it dialled (WebPKI rules: dates, names, key usage). Pinning the
//! node keys of the cluster file stays the default; this is the alternative the hospital's own
//! PKI provides. The links between nodes are always pinned.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::pinning::{API_ALPN, provider};

/// Every certificate in the PEM file at `path` (a chain, leaf first; or a set of roots).
pub fn load_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read certificates from {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
    if certificates.is_empty() {
        bail!("{} holds no certificate", path.display());
    }
    Ok(certificates)
}

/// The one private key in the PEM file at `path` (PKCS#8, SEC1 or PKCS#1).
pub fn load_private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .with_context(|| format!("{} holds no PEM private key", path.display()))
}

/// TLS 1.3 client side of the client API: accepts a node whose certificate chains to one of
/// `roots` and is valid for the host dialled; presents no certificate.
pub fn api_client_config_with_roots(
    roots: &[CertificateDer<'static>],
) -> anyhow::Result<ClientConfig> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store
            .add(root.clone())
            .context("a --ca certificate is not a usable trust anchor")?;
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![API_ALPN.to_vec()];
    Ok(config)
}
