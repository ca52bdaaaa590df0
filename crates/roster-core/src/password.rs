//! Passwords: the one type that holds a plaintext, and Rocket.Chat's hashing scheme.
//!
//! Rocket.Chat stores bcrypt over the lowercase hex SHA-256 digest of the password, so an
//! imported account logs in to a Rocket.Chat-compatible host with the password it had. A
//! [`Password`] never shows its text: `Debug` prints `Password(<redacted>)`, and there is no
//! `Display` and no `Serialize`.

use sha2::{Digest, Sha256};

/// A plaintext password on its way to being hashed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a plaintext.
    pub fn new(plaintext: impl Into<String>) -> Self {
        Password(plaintext.into())
    }

    /// The plaintext, for hashing and for staging only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// The lowercase hex SHA-256 digest that Rocket.Chat's scheme feeds to bcrypt.
    fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// bcrypt over the digest at `cost`.
    pub(crate) fn hash(&self, cost: u32) -> Result<String, bcrypt::BcryptError> {
        bcrypt::hash(self.digest(), cost)
    }

    /// Whether this password matches a stored hash; a malformed hash matches nothing.
    pub(crate) fn matches(&self, hash: &str) -> bool {
        bcrypt::verify(self.digest(), hash).unwrap_or(false)
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_plaintext() {
        let shown = format!("{:?}", Password::new("hunter2"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn hash_verifies_with_the_same_password_only() {
        let hash = Password::new("Pw-0001-abc").hash(4).unwrap();
        assert!(hash.starts_with("$2"), "{hash}");
        assert!(!hash.contains("Pw-0001-abc"));
        assert!(Password::new("Pw-0001-abc").matches(&hash));
        assert!(!Password::new("pw-0001-abc").matches(&hash));
        assert!(!Password::new("x").matches("not a hash"));
    }

    #[test]
    fn the_digest_is_rocket_chat_s_lowercase_hex_sha256() {
        let digest = Password::new("abc").digest();
        assert_eq!(digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
