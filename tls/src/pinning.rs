//! TLS certificate verification by pinned ed25519 keys, for both ends of a mutual-TLS link.
//!
//! There is no CA: a peer is accepted exactly when the Ed25519 key in its certificate is one of
//! the pinned node keys. Names, validity dates and the certificate's own signature are not
//! checked (nothing can expire under a running cluster); the handshake signature is verified
//! with the ring provider's algorithms, which proves the peer holds the pinned key. Anything
//! else is refused with an error naming the unknown key in hex. [`server_config`] and
//! [`client_config`] build TLS 1.3 configurations in which each side presents its node
//! certificate and the server requires the client's.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, OtherError,
    ServerConfig, SignatureScheme,
};
use thiserror::Error;

use crate::identity::{NodeKey, TlsIdentity, peer_key};

/// ALPN protocol of node-to-node links.
pub const ALPN: &[u8] = b"hdg-node/1";

/// ALPN protocol of the client API (HTTP/1.1 over TLS).
pub const API_ALPN: &[u8] = b"http/1.1";

/// A peer presented a certificate whose key is not pinned.
#[derive(Debug, Error)]
#[error("peer key {key} is not pinned")]
pub struct UnpinnedKey {
    /// The unknown key, hex.
    pub key: String,
}

/// Accepts exactly the pinned ed25519 keys, as a server's and as a client's verifier.
#[derive(Debug)]
pub struct PinnedKeys {
    pinned: Vec<NodeKey>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedKeys {
    /// A verifier accepting exactly `pinned`.
    pub fn new(pinned: impl IntoIterator<Item = NodeKey>) -> PinnedKeys {
        PinnedKeys {
            pinned: pinned.into_iter().collect(),
            algorithms: provider().signature_verification_algorithms,
        }
    }

    /// The pinned key in `certificate`, or the TLS error refusing it.
    pub fn check(&self, certificate: &CertificateDer<'_>) -> Result<NodeKey, rustls::Error> {
        let key = peer_key(certificate).map_err(|e| {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
        })?;
        if self.pinned.contains(&key) {
            Ok(key)
        } else {
            let unknown = UnpinnedKey {
                key: hex::encode(key),
            };
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(unknown)),
            )))
        }
    }

    fn verify13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn verify12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
}

impl ServerCertVerifier for PinnedKeys {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|_| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

impl ClientCertVerifier for PinnedKeys {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|_| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// The ring crypto provider (never aws-lc-rs).
pub(crate) fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// TLS 1.3 server side: presents `identity`, requires a client certificate with a pinned key.
pub fn server_config(
    identity: &TlsIdentity,
    pinned: &[NodeKey],
) -> Result<ServerConfig, rustls::Error> {
    let verifier = Arc::new(PinnedKeys::new(pinned.iter().copied()));
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.certificate()], identity.private_key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// TLS 1.3 client side: presents `identity`, accepts a server whose key is pinned.
pub fn client_config(
    identity: &TlsIdentity,
    pinned: &[NodeKey],
) -> Result<ClientConfig, rustls::Error> {
    let verifier = Arc::new(PinnedKeys::new(pinned.iter().copied()));
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![identity.certificate()], identity.private_key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// TLS 1.3 server side of the client API: presents `chain` with its `key` — the node's own
/// certificate (the key clients pin), or a chain from the hospital's CA ([`crate::ca`]) — and
/// asks clients for no certificate (their requests are signed instead).
pub fn api_server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![API_ALPN.to_vec()];
    Ok(config)
}

/// TLS 1.3 client side of the client API: accepts a node whose key is one of `pinned` (the
/// cluster's node keys, from its cluster file) and presents no certificate.
pub fn api_client_config(pinned: &[NodeKey]) -> Result<ClientConfig, rustls::Error> {
    let verifier = Arc::new(PinnedKeys::new(pinned.iter().copied()));
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![API_ALPN.to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn identity(seed: u8) -> TlsIdentity {
        TlsIdentity::from_signing_key(&SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    #[test]
    fn only_pinned_keys_pass_and_the_refusal_names_the_key() {
        let (a, b, rogue) = (identity(1), identity(2), identity(3));
        let pins = PinnedKeys::new([a.public_key(), b.public_key()]);
        assert_eq!(pins.check(&a.certificate()).unwrap(), a.public_key());
        assert_eq!(pins.check(&b.certificate()).unwrap(), b.public_key());
        let err = pins.check(&rogue.certificate()).unwrap_err().to_string();
        assert!(
            err.contains(&hex::encode(rogue.public_key())),
            "error does not name the key: {err}"
        );
        let none = PinnedKeys::new([]);
        assert!(none.check(&a.certificate()).is_err());
    }

    #[test]
    fn configurations_build_for_mutual_tls() {
        let a = identity(1);
        let server = server_config(&a, &[identity(2).public_key()]).unwrap();
        assert_eq!(server.alpn_protocols, vec![ALPN.to_vec()]);
        client_config(&a, &[identity(2).public_key()]).unwrap();
        let verifier = PinnedKeys::new([]);
        assert!(verifier.offer_client_auth() && verifier.client_auth_mandatory());
    }
}
