//! Static bearer tokens: named service identities, each with a role.
//!
//! Only SHA-256 digests are kept. Every offered token is compared with every
//! digest in constant time, so timing tells nothing about which one matched.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{caller::Caller, role::Role};

/// One configured token.
#[derive(Clone)]
struct Entry {
    name: String,
    role: Role,
    digest: [u8; 32],
}

/// The configured static tokens.
#[derive(Clone, Default)]
pub struct TokenTable {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.entries.iter().map(|e| (&e.name, e.role)).collect();
        f.debug_struct("TokenTable")
            .field("tokens", &names)
            .finish_non_exhaustive()
    }
}

/// The SHA-256 digest of `token`, as `TOKENS_FILE` lists it.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenTable {
    /// Adds the token `token`, named `name`, granting `role`.
    pub fn add(&mut self, name: &str, role: Role, token: &SecretString) -> Result<(), String> {
        self.add_digest(name, role, digest(token.expose_secret()))
    }

    /// Adds a token known by its digest; refuses a name or a token already used.
    pub fn add_digest(&mut self, name: &str, role: Role, digest: [u8; 32]) -> Result<(), String> {
        if self.entries.iter().any(|e| e.name == name) {
            return Err(format!("the token name `{name}` is used twice"));
        }
        if self.entries.iter().any(|e| e.digest == digest) {
            return Err(format!(
                "the token named `{name}` is the same token as another one; give each its own"
            ));
        }
        self.entries.push(Entry {
            name: name.to_owned(),
            role,
            digest,
        });
        Ok(())
    }

    /// True when no token is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The caller `token` names, if it is one of ours.
    pub fn find(&self, token: &str) -> Option<Caller> {
        let offered = digest(token);
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.digest.ct_eq(&offered)) {
                found = Some(entry);
            }
        }
        found.map(|entry| Caller::service(&entry.name, entry.role))
    }

    /// Reads a `TOKENS_FILE`: one token per line, `name role sha256-hex`,
    /// with blank lines and `#` comments ignored.
    pub fn add_file(&mut self, text: &str) -> Result<(), String> {
        for (index, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            self.add_line(line)
                .map_err(|why| format!("TOKENS_FILE line {}: {why}", index + 1))?;
        }
        Ok(())
    }

    fn add_line(&mut self, line: &str) -> Result<(), String> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, role, hex] = fields[..] else {
            return Err("expected three fields: `name role sha256-of-the-token`".into());
        };
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return Err(format!(
                "the name `{name}` may hold only letters, digits and - _ . @"
            ));
        }
        let role = Role::parse(role).ok_or_else(|| {
            format!("unknown role `{role}`; expected viewer, analyst, editor or admin")
        })?;
        let digest = parse_hex_digest(hex)
            .ok_or("the third field must be the token's SHA-256 as 64 hex digits (sha256sum)")?;
        self.add_digest(name, role, digest)
    }
}

fn parse_hex_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(digest)
}
