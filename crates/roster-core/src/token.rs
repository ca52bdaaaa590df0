//! API tokens for hosts that let Roster check who is calling (the HTTP adapter's default).
//!
//! A token is 32 random bytes shown once, as hex, when it is made. The store keeps only its
//! SHA-256 digest, so a copy of the file gives no usable token; a presented token is hashed
//! and compared with each digest of the claimed user in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::Store;
use crate::StoreError;

/// Makes a token for `user_id` holding `permissions`; returns the token itself.
pub(crate) fn create(
    store: &Store,
    user_id: &str,
    permissions: &[String],
) -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    store.insert_token(&digest(&token), user_id, permissions)?;
    Ok(token)
}

/// The permissions of `user_id` if `token` is one of theirs, else `None`.
pub(crate) fn check(
    store: &Store,
    user_id: &str,
    token: &str,
) -> Result<Option<Vec<String>>, StoreError> {
    let presented = digest(token);
    let mut found = None;
    // Every digest of the user is compared, so the time taken does not tell which matched.
    for (stored, permissions) in store.tokens_of(user_id)? {
        if constant_time_eq(stored.as_bytes(), presented.as_bytes()) {
            found = Some(permissions);
        }
    }
    Ok(found)
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equality whose time depends only on the lengths, not on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_authenticates_its_user_only() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        let token = create(&store, "u1", &["run-import".to_owned()])?;
        assert_eq!(token.len(), 64);
        assert_eq!(check(&store, "u1", &token)?, Some(vec!["run-import".to_owned()]));
        assert_eq!(check(&store, "u2", &token)?, None);
        assert_eq!(check(&store, "u1", "wrong")?, None);
        Ok(())
    }

    #[test]
    fn only_the_digest_is_stored() -> Result<(), StoreError> {
        let store = Store::open_in_memory()?;
        let token = create(&store, "u1", &[])?;
        let stored = store.tokens_of("u1")?;
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0].0, token);
        assert_eq!(stored[0].0, digest(&token));
        Ok(())
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
