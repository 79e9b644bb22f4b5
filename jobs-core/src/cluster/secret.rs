//! The cluster's shared secret, and the HMAC-SHA256 proofs of it exchanged in the handshake.
//!
//! Each side of a connection sends a fresh random nonce; each proves the secret with
//! `HMAC-SHA256(secret, label ‖ dialer nonce ‖ acceptor nonce ‖ dialer ‖ acceptor ‖ purpose)`,
//! where the label says which side speaks. The secret itself never crosses the network, a
//! proof is good for one connection only (both nonces are in it), and one side's proof cannot
//! be replayed as the other's (the labels differ).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The length of a handshake nonce and of a proof, in bytes.
pub(super) const NONCE_LEN: usize = 32;
/// The shortest secret accepted, in bytes: shorter ones are guessable offline from one
/// overheard handshake.
pub const MIN_SECRET_LEN: usize = 16;

/// The environment variable that holds the cluster's shared secret (a contract: scripts and
/// service units set it).
pub const SECRET_ENV: &str = "JOBS_CLUSTER_SECRET";

/// The shared secret every process of a cluster proves in the handshake. Its `Debug` never
/// shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSecret(Vec<u8>);

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(..)")
    }
}

/// A secret was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Shorter than [`MIN_SECRET_LEN`] bytes (after trimming surrounding white space).
    #[error(
        "the cluster secret from {source_name} is {len} bytes long: use at least {MIN_SECRET_LEN} random bytes \
         (e.g. `openssl rand -hex 32`)"
    )]
    TooShort {
        /// Where it came from.
        source_name: String,
        /// Its length.
        len: usize,
    },
    /// The secret file could not be read.
    #[error("cannot read the cluster secret file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why not.
        source: std::io::Error,
    },
}

impl ClusterSecret {
    /// A secret from its text, trimmed of surrounding white space (a trailing newline in a
    /// file is not part of it); `source_name` names where it came from, for the error.
    ///
    /// # Errors
    /// The trimmed secret is shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn new(text: &str, source_name: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        if text.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort { source_name: source_name.to_owned(), len: text.len() });
        }
        Ok(ClusterSecret(text.as_bytes().to_vec()))
    }

    /// The secret in the file at `path`: see [`new`](Self::new).
    ///
    /// # Errors
    /// The file cannot be read, or holds too short a secret.
    pub fn from_file(path: &std::path::Path) -> Result<Self, SecretError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SecretError::Read { path: path.display().to_string(), source })?;
        ClusterSecret::new(&text, &path.display().to_string())
    }
}

/// Which side of a connection proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The process that opened the connection.
    Dialer,
    /// The process that accepted it.
    Acceptor,
}

/// What a proof binds: both nonces, both processes, and the connection's purpose.
pub(super) struct Transcript<'a> {
    pub(super) dialer_nonce: &'a [u8; NONCE_LEN],
    pub(super) acceptor_nonce: &'a [u8; NONCE_LEN],
    pub(super) dialer: u64,
    pub(super) acceptor: u64,
    pub(super) purpose: u8,
}

/// `side`'s proof of `secret` (an empty key without one: a cluster without a secret only
/// checks that both sides have none) for the connection `transcript` describes.
pub(super) fn prove(secret: Option<&ClusterSecret>, side: Side, transcript: &Transcript<'_>) -> [u8; NONCE_LEN] {
    let mut mac = keyed(secret);
    absorb(&mut mac, side, transcript);
    let mut proof = [0u8; NONCE_LEN];
    proof.copy_from_slice(&mac.finalize().into_bytes());
    proof
}

/// Whether `proof` is `side`'s proof of `secret` for `transcript`, compared in constant time.
pub(super) fn verify(secret: Option<&ClusterSecret>, side: Side, transcript: &Transcript<'_>, proof: &[u8]) -> bool {
    let mut mac = keyed(secret);
    absorb(&mut mac, side, transcript);
    mac.verify_slice(proof).is_ok()
}

/// A fresh random nonce.
pub(super) fn nonce() -> Result<[u8; NONCE_LEN], String> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| format!("the operating system gave no random bytes: {e}"))?;
    Ok(nonce)
}

fn keyed(secret: Option<&ClusterSecret>) -> Hmac<Sha256> {
    let key: &[u8] = secret.map_or(&[], |s| s.0.as_slice());
    // HMAC takes a key of any length: longer ones are hashed, shorter ones padded.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => <Hmac<Sha256> as KeyInit>::new(&Default::default()),
    }
}

fn absorb(mac: &mut Hmac<Sha256>, side: Side, t: &Transcript<'_>) {
    mac.update(match side {
        Side::Dialer => b"jobs-cluster/3 dialer\0",
        Side::Acceptor => b"jobs-cluster/3 acceptor",
    });
    mac.update(t.dialer_nonce);
    mac.update(t.acceptor_nonce);
    mac.update(&t.dialer.to_be_bytes());
    mac.update(&t.acceptor.to_be_bytes());
    mac.update(&[t.purpose]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript<'a>(d: &'a [u8; NONCE_LEN], a: &'a [u8; NONCE_LEN]) -> Transcript<'a> {
        Transcript { dialer_nonce: d, acceptor_nonce: a, dialer: 1, acceptor: 0, purpose: 0 }
    }

    #[test]
    fn a_proof_checks_only_with_the_same_secret_side_and_nonces() {
        let one = ClusterSecret::new("0123456789abcdef-one\n", "test").unwrap();
        let two = ClusterSecret::new("0123456789abcdef-two", "test").unwrap();
        let (d, a) = ([1u8; NONCE_LEN], [2u8; NONCE_LEN]);
        let proof = prove(Some(&one), Side::Dialer, &transcript(&d, &a));
        assert!(verify(Some(&one), Side::Dialer, &transcript(&d, &a), &proof));
        assert!(!verify(Some(&two), Side::Dialer, &transcript(&d, &a), &proof));
        assert!(!verify(None, Side::Dialer, &transcript(&d, &a), &proof));
        assert!(!verify(Some(&one), Side::Acceptor, &transcript(&d, &a), &proof));
        assert!(!verify(Some(&one), Side::Dialer, &transcript(&a, &d), &proof));
        assert!(!verify(Some(&one), Side::Dialer, &transcript(&d, &a), &proof[..31]));
        let other = Transcript { dialer: 2, ..transcript(&d, &a) };
        assert!(!verify(Some(&one), Side::Dialer, &other, &proof));
    }

    #[test]
    fn the_proof_is_rfc_2104_hmac_sha256() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_secret() {
        let error = ClusterSecret::new("  short \n", "JOBS_CLUSTER_SECRET").unwrap_err().to_string();
        assert!(error.contains("JOBS_CLUSTER_SECRET is 5 bytes long"), "{error}");
        let secret = ClusterSecret::new("a-long-enough-secret", "x").unwrap();
        assert_eq!(format!("{secret:?}"), "ClusterSecret(..)");
    }
}
