//! The rules about emails and usernames: which are valid, when two are the same, and how a
//! missing username or name is made up.
//!
//! Two addresses or usernames are the same when their keys are equal. The key is the
//! canonical caseless form of Unicode (D145): NFC, then full case folding, then NFC again,
//! so `Ann@X.org` and `ann@x.org`, `Straße` and `STRASSE`, and a composed and a decomposed
//! `é` all share one key. Values are stored as given; only keys are folded.

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::config::UsernamePolicy;

/// The comparison key of an email or a username.
pub(crate) fn key(value: &str) -> String {
    // The planner takes two keys per record, and most are ASCII: ASCII text is already NFC,
    // and full case folding changes nothing in it but the capital letters.
    if value.is_ascii() {
        return value.to_ascii_lowercase();
    }
    let folded = match is_nfc_quick(value.chars()) {
        IsNormalized::Yes => caseless::default_case_fold_str(value),
        _ => caseless::default_case_fold_str(&value.nfc().collect::<String>()),
    };
    match is_nfc_quick(folded.chars()) {
        IsNormalized::Yes => folded,
        _ => folded.nfc().collect(),
    }
}

/// Whether `address` is a valid email address: the HTML standard's rule, with any Unicode
/// letter, mark or digit also allowed in the local part and in domain labels.
pub(crate) fn is_valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty() && local.chars().all(is_local_char) && is_valid_domain(domain)
}

fn is_local_char(c: char) -> bool {
    const ATEXT_PUNCTUATION: &str = ".!#$%&'*+/=?^_`{|}~-";
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || ATEXT_PUNCTUATION.contains(c)
    } else {
        is_word_char(c)
    }
}

fn is_valid_domain(domain: &str) -> bool {
    !domain.is_empty() && domain.split('.').all(is_valid_label)
}

fn is_valid_label(label: &str) -> bool {
    let alnum = |c: char| {
        if c.is_ascii() {
            c.is_ascii_alphanumeric()
        } else {
            is_word_char(c)
        }
    };
    let (Some(first), Some(last)) = (label.chars().next(), label.chars().last()) else {
        return false;
    };
    label.chars().count() <= 63
        && alnum(first)
        && alnum(last)
        && label.chars().all(|c| alnum(c) || c == '-')
}

/// A Unicode letter, mark or decimal digit.
fn is_word_char(c: char) -> bool {
    matches!(c.general_category_group(), GeneralCategoryGroup::Letter | GeneralCategoryGroup::Mark)
        || c.general_category() == GeneralCategory::DecimalNumber
}

impl UsernamePolicy {
    /// Whether `c` may appear in a username.
    fn allows(&self, c: char) -> bool {
        // The ASCII letters and digits are exactly the ASCII word characters.
        let word = if c.is_ascii() { c.is_ascii_alphanumeric() } else { is_word_char(c) };
        word || self.punctuation.contains(c)
    }

    /// Whether `username` satisfies the policy.
    pub(crate) fn accepts(&self, username: &str) -> bool {
        let count = username.chars().count();
        (1..=self.max_chars).contains(&count) && username.chars().all(|c| self.allows(c))
    }

    /// The start of a generated username: the first email's local part as written, up to any
    /// `+`, without the characters the policy refuses; `user` when nothing is left. Cut short
    /// enough that `digits` more characters of suffix still fit.
    pub(crate) fn username_base(&self, email: &str, digits: usize) -> String {
        let local = email.split('@').next().unwrap_or_default();
        let local = local.split('+').next().unwrap_or_default();
        let room = self.max_chars.saturating_sub(digits).max(1);
        let base: String = local.chars().filter(|c| self.allows(*c)).take(room).collect();
        if base.is_empty() {
            "user".chars().take(room).collect()
        } else {
            base
        }
    }
}

/// A display name guessed from a username: `john.doe` becomes `John Doe`.
pub(crate) fn guess_name(username: &str) -> String {
    let words = username.split(['.', '_', '-']).filter(|w| !w.is_empty());
    let capitalized: Vec<String> = words.map(capitalize).collect();
    if capitalized.is_empty() {
        username.to_owned()
    } else {
        capitalized.join(" ")
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_fold_case_and_canonical_equivalence() {
        assert_eq!(key("Ann@X.org"), key("ann@x.org"));
        assert_eq!(key("Straße"), key("STRASSE"));
        assert_eq!(key("zo\u{e9}"), key("zoe\u{301}"));
        assert_eq!(key("ZOE\u{301}"), key("zo\u{e9}"));
        assert_ne!(key("zoe"), key("zo\u{e9}"));
    }

    #[test]
    fn emails_follow_the_html_rule_widened_to_unicode() {
        for good in
            ["a@b", "ann.lee+chat@example.org", "ü.ñ@bücher.example", "x@a-b.c", "千@例子.中国"]
        {
            assert!(is_valid_email(good), "{good} should be valid");
        }
        for bad in [
            "",
            "@example.com",
            "ann@",
            "ann@@example.com",
            "ann x@example.com",
            "ann@exa mple.com",
            "ann.example.com",
            "ann@-example.com",
            "ann@example-.com",
            "ann@example..com",
            "a😀@example.com",
        ] {
            assert!(!is_valid_email(bad), "{bad} should be invalid");
        }
    }

    #[test]
    fn usernames_follow_the_default_policy() {
        let policy = UsernamePolicy::default();
        for good in ["ann", "Ann.Lee_2-x", "千风", "zoe\u{301}", &"a".repeat(64)] {
            assert!(policy.accepts(good), "{good} should be accepted");
        }
        for bad in ["", "ann lee", "ann;", "ann@home", "ann😀", &"a".repeat(65)] {
            assert!(!policy.accepts(bad), "{bad} should be refused");
        }
    }

    #[test]
    fn generated_username_bases_come_from_the_local_part() {
        let policy = UsernamePolicy::default();
        assert_eq!(policy.username_base("Ann.Lee+chat@example.org", 0), "Ann.Lee");
        assert_eq!(policy.username_base("o'brien@example.org", 0), "obrien");
        assert_eq!(policy.username_base("+++@example.org", 0), "user");
        assert_eq!(policy.username_base(&format!("{}@x.org", "a".repeat(80)), 2).len(), 62);
    }

    #[test]
    fn names_are_guessed_from_usernames() {
        assert_eq!(guess_name("john.doe"), "John Doe");
        assert_eq!(guess_name("ana_maria-souza"), "Ana Maria Souza");
        assert_eq!(guess_name("élodie"), "Élodie");
        assert_eq!(guess_name("..."), "...");
    }

    proptest! {
        // The short cuts (ASCII, text already NFC) give the key of the definition.
        #[test]
        fn key_is_nfc_of_the_folded_nfc(
            s in "\\PC{0,12}|[a-zA-Z0-9.@_-]{0,16}|[a-zA-ZÀ-ÿ\u{300}-\u{36F}İıßſΣς.@]{0,12}"
        ) {
            let composed: String = s.nfc().collect();
            let defined: String = caseless::default_case_fold_str(&composed).nfc().collect();
            prop_assert_eq!(key(&s), defined);
        }

        #[test]
        fn key_is_idempotent(s in "\\PC{0,12}") {
            let once = key(&s);
            prop_assert_eq!(key(&once), once.clone());
        }

        // Latin, Greek and Cyrillic letters: std's case tables may know newer letters than
        // the folding tables do, so the property is checked on scripts both know.
        #[test]
        fn key_ignores_case(s in "[a-zA-Z0-9À-ÿΑ-ωА-я.@_-]{0,16}") {
            prop_assert_eq!(key(&s.to_uppercase()), key(&s.to_lowercase()));
        }

        #[test]
        fn generated_bases_are_always_accepted(local in "\\PC{0,80}", digits in 0usize..4) {
            let policy = UsernamePolicy::default();
            let base = policy.username_base(&format!("{local}@example.org"), digits);
            prop_assert!(policy.accepts(&base));
            prop_assert!(base.chars().count() + digits <= policy.max_chars);
        }
    }
}
