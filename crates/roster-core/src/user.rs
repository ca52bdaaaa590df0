//! The user records that go in and come out: what a caller stages ([`NewUser`]), how it is
//! checked and tidied on the way into staging, and what a run creates ([`User`]).
//!
//! Staging checks only what needs no other record: that each user has an email and an
//! importId, that its roles exist, and that every field has its type. Emails and usernames
//! are judged later, by the run, because their validity is a per-user outcome (a flag), not
//! a reason to refuse the whole batch.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{field_path, InvalidParams, RecordRef};
use crate::{Config, Error, Password};

/// Whether an account is a person or a bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserType {
    /// A person (the default).
    #[default]
    User,
    /// A bot account.
    Bot,
}

/// A user as a caller hands it to [`Engine::add_users`](crate::Engine::add_users), in
/// Rocket.Chat's `import.addUsers` shape. Strings are trimmed when staged; empty ones count
/// as absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewUser {
    /// The user's addresses; at least one must be non-empty.
    pub emails: Vec<String>,
    /// The ids of the user in the system it comes from; at least one must be non-empty.
    pub import_ids: Vec<String>,
    /// The username; generated from the first email when absent.
    pub username: Option<String>,
    /// The display name; guessed from the username when absent.
    pub name: Option<String>,
    /// The password; the account has none when absent.
    pub password: Option<Password>,
    /// `avatarUrl`.
    pub avatar_url: Option<String>,
    /// `statusText`.
    pub status_text: Option<String>,
    /// `bio`.
    pub bio: Option<String>,
    /// `type`.
    pub user_type: UserType,
    /// `utcOffset`, in hours.
    pub utc_offset: Option<f64>,
    /// `deleted`: the user is created deactivated.
    pub deleted: bool,
    /// Roles; the configured default roles are merged in.
    pub roles: Vec<String>,
    /// `customFields`, kept as JSON.
    pub custom_fields: Option<Map<String, Value>>,
}

/// A staged record as the store keeps it: trimmed, roles merged, password held apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StagedUser {
    pub emails: Vec<String>,
    pub import_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    #[serde(rename = "type", default)]
    pub user_type: UserType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<f64>,
    #[serde(default)]
    pub deleted: bool,
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Map<String, Value>>,
}

/// A user that a run created.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The username, as given or generated.
    pub username: String,
    /// The addresses, as given (trimmed).
    pub emails: Vec<String>,
    /// The display name, as given or guessed.
    pub name: String,
    /// False for users staged with `deleted: true`.
    pub active: bool,
    /// The roles, defaults merged.
    pub roles: Vec<String>,
    /// The ids the user had in the system it came from.
    pub import_ids: Vec<String>,
    /// Person or bot.
    #[serde(rename = "type")]
    pub user_type: UserType,
    /// Whether a password hash is stored (the hash itself is never handed out).
    pub has_password: bool,
}

/// Trims every string of `user`, checks the required fields and the roles, and merges the
/// default roles: the one gate between a caller's record and the staging area.
pub(crate) fn prepare(
    user: NewUser,
    at: &RecordRef,
    config: &Config,
) -> Result<(StagedUser, Option<Password>), Error> {
    let emails = trimmed_list(user.emails);
    if emails.is_empty() {
        return Err(Error::MissingRequiredData { record: at.clone(), field: "emails" });
    }
    let import_ids = trimmed_list(user.import_ids);
    if import_ids.is_empty() {
        return Err(Error::MissingRequiredData { record: at.clone(), field: "importIds" });
    }
    let roles = merged_roles(trimmed_list(user.roles), at, config)?;
    let password = user.password.filter(|p| !p.expose().is_empty());

    let staged = StagedUser {
        emails,
        import_ids,
        username: trimmed(user.username),
        name: trimmed(user.name),
        avatar_url: trimmed(user.avatar_url),
        status_text: trimmed(user.status_text),
        bio: trimmed(user.bio),
        user_type: user.user_type,
        utc_offset: user.utc_offset,
        deleted: user.deleted,
        roles,
        custom_fields: user.custom_fields,
    };
    Ok((staged, password))
}

fn trimmed(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn trimmed_list(values: Vec<String>) -> Vec<String> {
    values.into_iter().filter_map(|v| trimmed(Some(v))).collect()
}

/// The user's roles (each checked against the catalogue) followed by the default roles,
/// each role once, in first-seen order.
fn merged_roles(roles: Vec<String>, at: &RecordRef, config: &Config) -> Result<Vec<String>, Error> {
    if let Some(bad) = roles.iter().find(|r| !config.role_catalogue.contains(r)) {
        return Err(Error::InvalidRoles { record: at.clone(), role: bad.clone() });
    }
    let mut merged: Vec<String> = Vec::with_capacity(roles.len() + config.default_roles.len());
    for role in roles.into_iter().chain(config.default_roles.iter().cloned()) {
        if !merged.contains(&role) {
            merged.push(role);
        }
    }
    Ok(merged)
}

impl NewUser {
    /// Reads one user object of an add-users body. A value of the wrong type is an error that
    /// names its path (`users[3].utcOffset`); unknown keys are ignored; `null` is absent.
    pub fn from_json(value: &Value, at: &RecordRef) -> Result<NewUser, InvalidParams> {
        let Value::Object(fields) = value else {
            return Err(InvalidParams::new(at.to_string(), "must be an object"));
        };
        let reader = FieldReader { fields, at };
        Ok(NewUser {
            emails: reader.strings("emails")?,
            import_ids: reader.strings("importIds")?,
            username: reader.string("username")?,
            name: reader.string("name")?,
            password: reader.string("password")?.map(Password::new),
            avatar_url: reader.string("avatarUrl")?,
            status_text: reader.string("statusText")?,
            bio: reader.string("bio")?,
            user_type: reader.user_type()?,
            utc_offset: reader.number("utcOffset")?,
            deleted: reader.boolean("deleted")?.unwrap_or(false),
            roles: reader.strings("roles")?,
            custom_fields: reader.object("customFields")?,
        })
    }
}

/// Typed access to the fields of one user object, with errors that name the path.
struct FieldReader<'a> {
    fields: &'a Map<String, Value>,
    at: &'a RecordRef,
}

impl FieldReader<'_> {
    fn get(&self, field: &str) -> Option<&Value> {
        self.fields.get(field).filter(|v| !v.is_null())
    }

    fn wrong(&self, field: &str, problem: &str) -> InvalidParams {
        InvalidParams::new(field_path(self.at, field), problem)
    }

    fn string(&self, field: &str) -> Result<Option<String>, InvalidParams> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.wrong(field, "must be a string")),
        }
    }

    fn strings(&self, field: &str) -> Result<Vec<String>, InvalidParams> {
        let items = match self.get(field) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(self.wrong(field, "must be an array of strings")),
        };
        let element = |(i, v): (usize, &Value)| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Null => Ok(String::new()),
            _ => Err(self.wrong(&format!("{field}[{i}]"), "must be a string")),
        };
        items.iter().enumerate().map(element).collect()
    }

    fn number(&self, field: &str) -> Result<Option<f64>, InvalidParams> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(self.wrong(field, "must be a number")),
        }
    }

    fn boolean(&self, field: &str) -> Result<Option<bool>, InvalidParams> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong(field, "must be a boolean")),
        }
    }

    fn object(&self, field: &str) -> Result<Option<Map<String, Value>>, InvalidParams> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o.clone())),
            Some(_) => Err(self.wrong(field, "must be an object")),
        }
    }

    fn user_type(&self) -> Result<UserType, InvalidParams> {
        match self.string("type")?.as_deref().map(str::trim) {
            None | Some("") | Some("user") => Ok(UserType::User),
            Some("bot") => Ok(UserType::Bot),
            Some(_) => Err(self.wrong("type", "must be \"user\" or \"bot\"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> Result<NewUser, InvalidParams> {
        NewUser::from_json(&value, &RecordRef::Index(3))
    }

    #[test]
    fn wrong_types_name_their_path() {
        let err = read(json!({"emails": ["a@b.c"], "utcOffset": "x"})).unwrap_err();
        assert_eq!(err.to_string(), "users[3].utcOffset must be a number");
        let err = read(json!({"emails": ["a@b.c", 7]})).unwrap_err();
        assert_eq!(err.path, "users[3].emails[1]");
        let err = read(json!({"deleted": "yes"})).unwrap_err();
        assert_eq!(err.path, "users[3].deleted");
        let err = read(json!({"type": "robot"})).unwrap_err();
        assert_eq!(err.path, "users[3].type");
        let err = NewUser::from_json(&json!([1]), &RecordRef::Line(9)).unwrap_err();
        assert_eq!(err.to_string(), "line 9 must be an object");
    }

    #[test]
    fn nulls_are_absent_and_unknown_keys_ignored() {
        let user = read(json!({"emails": ["a@b.c"], "importIds": ["1"], "name": null,
            "utcOffset": null, "favouriteColour": 3, "type": "bot"}))
        .unwrap();
        assert_eq!(user.name, None);
        assert_eq!(user.utc_offset, None);
        assert_eq!(user.user_type, UserType::Bot);
    }

    #[test]
    fn prepare_trims_requires_and_merges_roles() {
        let config = Config::default();
        let at = RecordRef::Index(0);
        let user = NewUser {
            emails: vec!["  ".into(), " a@b.c ".into()],
            import_ids: vec![" 7 ".into()],
            username: Some("  ".into()),
            roles: vec!["admin".into(), "user".into(), "admin".into()],
            password: Some(Password::new(" keep spaces ")),
            ..NewUser::default()
        };
        let (staged, password) = prepare(user, &at, &config).unwrap();
        assert_eq!(staged.emails, ["a@b.c"]);
        assert_eq!(staged.import_ids, ["7"]);
        assert_eq!(staged.username, None);
        assert_eq!(staged.roles, ["admin", "user"]);
        assert_eq!(password.unwrap().expose(), " keep spaces ");
    }

    #[test]
    fn prepare_refuses_missing_fields_and_unknown_roles() {
        let config = Config::default();
        let at = RecordRef::Line(4);
        let no_email = NewUser { import_ids: vec!["1".into()], ..NewUser::default() };
        let err = prepare(no_email, &at, &config).unwrap_err();
        assert_eq!(err.to_string(), "Users are missing required data.");
        assert_eq!(err.location().unwrap(), "line 4: emails");

        let no_id = NewUser { emails: vec!["a@b.c".into()], ..NewUser::default() };
        let err = prepare(no_id, &at, &config).unwrap_err();
        assert_eq!(err.location().unwrap(), "line 4: importIds");

        let bad_role = NewUser {
            emails: vec!["a@b.c".into()],
            import_ids: vec!["1".into()],
            roles: vec!["superuser".into()],
            ..NewUser::default()
        };
        let err = prepare(bad_role, &at, &config).unwrap_err();
        assert_eq!(err.to_string(), "One or more of the users have been assigned invalid roles.");
        assert!(err.location().unwrap().contains("superuser"));
    }
}
