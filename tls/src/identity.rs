//! A node's TLS identity, made from its ed25519 node key, and the reverse: a peer's ed25519
//! public key read back from the certificate it presents.
//!
//! Peers are pinned by public key (no CA), so the certificate is only a container for the key:
//! its name is fixed, its validity spans 1975-4096 so nothing expires under a running cluster,
//! and its own signature is never relied on (the TLS handshake signature proves possession of
//! the key, and [`crate::pinning`] checks the key against the pinned set).

use ed25519_dalek::SigningKey;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use thiserror::Error;
use zeroize::Zeroizing;

/// An ed25519 public key: the identity by which nodes pin each other.
pub type NodeKey = [u8; 32];

/// DER of an RFC 8410 PKCS#8 v1 Ed25519 private key up to the 32-byte seed that follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER of an RFC 8410 Ed25519 SubjectPublicKeyInfo up to the 32-byte key that follows.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// The one name every node certificate carries (names are not checked; keys are).
pub const CERT_NAME: &str = "hdg-node";

/// Why an identity could not be made or read.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// rcgen refused the key or the certificate parameters.
    #[error("cannot make the node certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The peer's certificate is not a parseable X.509 certificate.
    #[error("peer certificate is not valid X.509: {0}")]
    BadCertificate(String),
    /// The peer's certificate key is not an Ed25519 key.
    #[error("peer certificate key is not Ed25519 (node keys are Ed25519)")]
    NotEd25519,
}

/// This node's certificate and private key for TLS, and its public key.
pub struct TlsIdentity {
    certificate: CertificateDer<'static>,
    pkcs8: Zeroizing<Vec<u8>>,
    public: NodeKey,
}

impl TlsIdentity {
    /// Makes the self-signed certificate of the node whose key is `key` (the node.key seed).
    pub fn from_signing_key(key: &SigningKey) -> Result<TlsIdentity, IdentityError> {
        let mut pkcs8 = Zeroizing::new(Vec::with_capacity(48));
        pkcs8.extend_from_slice(&PKCS8_ED25519_PREFIX);
        pkcs8.extend_from_slice(key.as_bytes());
        let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
            &rcgen::PKCS_ED25519,
        )?;
        let mut params = rcgen::CertificateParams::new(vec![CERT_NAME.to_string()])?;
        params.not_before = rcgen::date_time_ymd(1975, 1, 1);
        params.not_after = rcgen::date_time_ymd(4096, 1, 1);
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::CommonName, CERT_NAME);
        params.distinguished_name = name;
        let certificate = params.self_signed(&pair)?.der().clone();
        Ok(TlsIdentity {
            certificate,
            pkcs8,
            public: key.verifying_key().to_bytes(),
        })
    }

    /// The certificate to present in the TLS handshake.
    pub fn certificate(&self) -> CertificateDer<'static> {
        self.certificate.clone()
    }

    /// The private key in PKCS#8, for the TLS configuration.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.pkcs8.to_vec()))
    }

    /// This node's ed25519 public key (what peers pin).
    pub fn public_key(&self) -> NodeKey {
        self.public
    }
}

/// The ed25519 public key in a peer's certificate (its SubjectPublicKeyInfo).
pub fn peer_key(certificate: &CertificateDer<'_>) -> Result<NodeKey, IdentityError> {
    let cert = webpki::EndEntityCert::try_from(certificate)
        .map_err(|e| IdentityError::BadCertificate(format!("{e:?}")))?;
    ed25519_key_from_spki(cert.subject_public_key_info().as_ref())
}

/// An ed25519 public key from 64 hex digits (surrounding white space ignored): how keys are
/// written in configs, the cluster file and the registry. Not checked to be a curve point.
pub fn parse_key(hex_text: &str) -> Option<NodeKey> {
    let bytes = hex::decode(hex_text.trim()).ok()?;
    NodeKey::try_from(bytes.as_slice()).ok()
}

/// The key of an Ed25519 SubjectPublicKeyInfo (DER), refusing every other algorithm.
fn ed25519_key_from_spki(spki: &[u8]) -> Result<NodeKey, IdentityError> {
    spki.strip_prefix(&SPKI_ED25519_PREFIX[..])
        .and_then(|key| NodeKey::try_from(key).ok())
        .ok_or(IdentityError::NotEd25519)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn the_certificate_carries_the_node_key() {
        let k = key(7);
        let id = TlsIdentity::from_signing_key(&k).unwrap();
        assert_eq!(id.public_key(), k.verifying_key().to_bytes());
        assert_eq!(peer_key(&id.certificate()).unwrap(), id.public_key());
        let other = TlsIdentity::from_signing_key(&key(8)).unwrap();
        assert_ne!(peer_key(&other.certificate()).unwrap(), id.public_key());
    }

    #[test]
    fn the_private_key_is_the_node_seed_in_pkcs8() {
        let k = key(9);
        let id = TlsIdentity::from_signing_key(&k).unwrap();
        let PrivateKeyDer::Pkcs8(der) = id.private_key() else {
            panic!("expected PKCS#8");
        };
        assert_eq!(&der.secret_pkcs8_der()[16..], k.as_bytes());
        // ring accepts it as an Ed25519 key pair with the same public key.
        let pair = rcgen::KeyPair::try_from(&der).unwrap();
        assert_eq!(pair.public_key_raw(), k.verifying_key().as_bytes());
    }

    #[test]
    fn non_ed25519_keys_and_garbage_are_refused() {
        let p256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec![CERT_NAME.to_string()])
            .unwrap()
            .self_signed(&p256)
            .unwrap();
        assert!(matches!(
            peer_key(cert.der()),
            Err(IdentityError::NotEd25519)
        ));
        assert!(matches!(
            peer_key(&CertificateDer::from(vec![0x30, 0x03, 1, 2, 3])),
            Err(IdentityError::BadCertificate(_))
        ));
        assert!(ed25519_key_from_spki(&SPKI_ED25519_PREFIX).is_err());
    }
}
