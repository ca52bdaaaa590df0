//! A deterministic generator of users for the benches and for `benches/peak-memory.sh`.
//!
//! Record `i` is a pure function of the seed and `i`, so a bench can make any slice of a large
//! input without holding the rest, and two runs see the same records. The mix is meant to look
//! like a real export: every username is unique; 2 records in 100 reuse the address of an
//! earlier valid record in another letter case (the run skips them as `email-in-use`); 1 in 100
//! has a malformed address (the run fails them as `invalid-email`). Everything else imports.

use std::io::{self, Write};

use roster_core::{NewUser, Password};

/// Records in 100 that repeat an earlier address in another letter case.
const DUPLICATE_PERCENT: u64 = 2;
/// Records in 100 with an address that is not valid.
const INVALID_PERCENT: u64 = 1;

const FIRST: [&str; 24] = [
    "Ann", "Bruno", "Chiara", "Dmitri", "Elif", "Fatima", "Gustav", "Hana", "Ines", "Jonas",
    "Kaito", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Søren", "Tomás",
    "Uma", "Viktor", "Wen", "Zoë",
];
const LAST: [&str; 24] = [
    "Adeyemi", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova",
    "Jensen", "Kowalski", "Larsen", "Müller", "Nakamura", "Okafor", "Petrov", "Quist", "Rossi",
    "Schmidt", "Tanaka", "Ueda", "Varga", "Weber", "Yilmaz",
];
const DOMAINS: [&str; 6] = [
    "example.org",
    "mail.example.net",
    "corp.example",
    "uni.example.edu",
    "example.com",
    "io.test",
];
const PASSWORD_CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789%&#*!@";

/// What the run is expected to make of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Imported.
    Valid,
    /// Skipped: its address is that of record `of`, in another letter case.
    DuplicateEmail { of: u64 },
    /// Failed: its address is malformed.
    InvalidEmail,
}

/// One generated user.
#[derive(Debug, Clone)]
pub struct Record {
    pub import_id: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub password: Option<String>,
    pub kind: Kind,
}

/// Makes records from a seed; `with_passwords` gives every record a password.
#[derive(Debug, Clone, Copy)]
pub struct Generator {
    seed: u64,
    passwords: bool,
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator { seed, passwords: false }
    }

    pub fn with_passwords(self) -> Generator {
        Generator { passwords: true, ..self }
    }

    /// Records `0..n`, in order.
    pub fn records(&self, n: u64) -> impl Iterator<Item = Record> + '_ {
        (0..n).map(|i| self.record(i))
    }

    /// Record `i`.
    pub fn record(&self, i: u64) -> Record {
        let kind = self.kind(i);
        let (first, last, domain) = self.parts(i);
        let username = format!("{}.{}.{i}", first.to_lowercase(), last.to_lowercase());
        let email = match kind {
            Kind::Valid => self.address(i),
            Kind::DuplicateEmail { of } => self.address(of).to_uppercase(),
            Kind::InvalidEmail => match self.random(i, 3) % 3 {
                0 => format!("{username}.{domain}"),
                1 => format!("{username}@@{domain}"),
                _ => format!("{username} at {domain}"),
            },
        };
        let password = self.passwords.then(|| self.password(i));
        let name = format!("{first} {last}");
        Record { import_id: format!("gen-{i:08}"), username, name, email, password, kind }
    }

    /// The valid address of record `i`, as written.
    fn address(&self, i: u64) -> String {
        let (first, last, domain) = self.parts(i);
        format!("{}.{}.{i}@{domain}", first.to_lowercase(), last.to_lowercase())
    }

    fn parts(&self, i: u64) -> (&'static str, &'static str, &'static str) {
        let r = self.random(i, 1);
        let first = FIRST[(r % 24) as usize];
        let last = LAST[((r >> 8) % 24) as usize];
        (first, last, DOMAINS[((r >> 16) % 6) as usize])
    }

    /// The kind of record `i`. A duplicate copies the nearest valid record at or before a
    /// random earlier one; the first records have nothing to copy and are valid.
    fn kind(&self, i: u64) -> Kind {
        let roll = self.random(i, 0) % 100;
        if roll < DUPLICATE_PERCENT {
            let mut of = self.random(i, 2) % i.max(1);
            while of > 0 && !self.is_valid(of) {
                of -= 1;
            }
            if of < i && self.is_valid(of) {
                return Kind::DuplicateEmail { of };
            }
            return Kind::Valid;
        }
        if roll < DUPLICATE_PERCENT + INVALID_PERCENT {
            return Kind::InvalidEmail;
        }
        Kind::Valid
    }

    fn is_valid(&self, i: u64) -> bool {
        self.random(i, 0) % 100 >= DUPLICATE_PERCENT + INVALID_PERCENT
    }

    fn password(&self, i: u64) -> String {
        let mut r = self.random(i, 4);
        (0..12)
            .map(|_| {
                r = splitmix(r);
                PASSWORD_CHARS[(r % PASSWORD_CHARS.len() as u64) as usize] as char
            })
            .collect()
    }

    /// A well-mixed number for record `i` and purpose `stream`.
    fn random(&self, i: u64, stream: u64) -> u64 {
        splitmix(self.seed ^ splitmix(i.wrapping_mul(8).wrapping_add(stream)))
    }
}

/// SplitMix64's output function: a cheap bijection that scatters its input's bits.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Record {
    /// The record as [`roster_core::Engine::add_users`] takes it.
    pub fn to_new_user(&self) -> NewUser {
        NewUser {
            emails: vec![self.email.clone()],
            import_ids: vec![self.import_id.clone()],
            username: Some(self.username.clone()),
            name: Some(self.name.clone()),
            password: self.password.as_ref().map(Password::new),
            ..NewUser::default()
        }
    }

    /// Writes the record as one line of a `.jsonl` file.
    pub fn write_jsonl(&self, out: &mut impl Write) -> io::Result<()> {
        let mut line = serde_json::json!({
            "username": self.username,
            "emails": [self.email],
            "importIds": [self.import_id],
            "name": self.name,
        });
        if let Some(password) = &self.password {
            line["password"] = password.as_str().into();
        }
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")
    }
}
