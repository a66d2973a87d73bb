//! API bearer tokens: made by `hrsync api-token create`, shown once, kept
//! only as a SHA-256 hash in a JSON file beside the state file
//! (`<state>.api-tokens.json`, mode 0600, replaced atomically).
//!
//! Why a plain SHA-256 and not a password hash (argon2): a token is 32
//! bytes from the system's CSPRNG (256 bits), so nobody can guess it or
//! search for it from its hash however fast the hash is; slow hashes exist
//! for low-entropy secrets people choose. A fast hash also keeps every API
//! request cheap. The file is re-read at each check, so a token created or
//! revoked by the CLI counts at once in a running `hrsync run`.

use std::fmt;
use std::path::{Path, PathBuf};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The prefix of every token (so a leaked one is recognisable in a scan).
pub const TOKEN_PREFIX: &str = "hrsync_";

/// What a token may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read flows, cycles, the log, metrics.
    Viewer,
    /// Also act on flows: pause, resume, retry or drop escrow.
    Operator,
    /// Everything.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One token as stored: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub role: Role,
    /// Lowercase hex SHA-256 of the token's text.
    pub sha256: String,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFileData {
    tokens: Vec<TokenRecord>,
}

/// Why a token operation failed. Never carries a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("API token file {path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("API token file {path} is not valid: {cause}")]
    Corrupt { path: PathBuf, cause: String },
    #[error("an API token named `{0}` exists already (revoke it first, or pick another --name)")]
    NameTaken(String),
    #[error("no API token is named `{0}`")]
    Unknown(String),
    #[error("the token name `{0}` must be 1 to 64 characters: letters, digits, `-`, `_` or `.`")]
    BadName(String),
    #[error("the system's random number generator failed")]
    Random,
}

/// The token file of a state file.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
}

impl TokenStore {
    /// The token file beside `state_file`.
    pub fn beside(state_file: &Path) -> TokenStore {
        let mut name = state_file.as_os_str().to_owned();
        name.push(".api-tokens.json");
        TokenStore { path: PathBuf::from(name) }
    }

    pub fn at(path: impl Into<PathBuf>) -> TokenStore {
        TokenStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every token, revoked ones too, oldest first (none without a file).
    pub fn list(&self) -> Result<Vec<TokenRecord>, TokenError> {
        Ok(self.read()?.tokens)
    }

    /// Make a token: returns its text (to show once) and its record.
    pub fn create(
        &self,
        role: Role,
        name: Option<&str>,
        now: Timestamp,
    ) -> Result<(String, TokenRecord), TokenError> {
        let mut data = self.read()?;
        let name = match name {
            Some(n) => n.to_owned(),
            None => {
                let n = data.tokens.iter().filter(|t| t.role == role).count() + 1;
                let mut name = format!("{role}-{n}");
                let mut k = n;
                while data.tokens.iter().any(|t| t.name == name) {
                    k += 1;
                    name = format!("{role}-{k}");
                }
                name
            }
        };
        if name.is_empty()
            || name.len() > 64
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(TokenError::BadName(name));
        }
        if data.tokens.iter().any(|t| t.name == name && t.revoked_at.is_none()) {
            return Err(TokenError::NameTaken(name));
        }
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).map_err(|_| TokenError::Random)?;
        let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let record =
            TokenRecord { name, role, sha256: hash(&token), created_at: now, revoked_at: None };
        // A revoked token of the same name stays listed under its name.
        data.tokens.push(record.clone());
        self.write(&data)?;
        Ok((token, record))
    }

    /// Revoke the live token named `name`; it stays listed, revoked.
    pub fn revoke(&self, name: &str, now: Timestamp) -> Result<TokenRecord, TokenError> {
        let mut data = self.read()?;
        let Some(t) = data.tokens.iter_mut().find(|t| t.name == name && t.revoked_at.is_none())
        else {
            return Err(TokenError::Unknown(name.to_owned()));
        };
        t.revoked_at = Some(now);
        let out = t.clone();
        self.write(&data)?;
        Ok(out)
    }

    /// The live token whose hash is `token`'s, if any.
    pub fn verify(&self, token: &str) -> Result<Option<TokenRecord>, TokenError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let h = hash(token);
        Ok(self.read()?.tokens.into_iter().find(|t| t.revoked_at.is_none() && t.sha256 == h))
    }

    fn read(&self) -> Result<TokenFileData, TokenError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TokenFileData::default());
            }
            Err(source) => {
                return Err(TokenError::Io { path: self.path.clone(), what: "reading", source });
            }
        };
        serde_json::from_str(&text)
            .map_err(|e| TokenError::Corrupt { path: self.path.clone(), cause: e.to_string() })
    }

    /// Written aside (0600 from creation) and renamed into place, so a
    /// reader sees the old file or the new one, never half of one.
    fn write(&self, data: &TokenFileData) -> Result<(), TokenError> {
        use std::io::Write as _;
        let io = |what| move |source| TokenError::Io { path: self.path.clone(), what, source };
        let mut text = serde_json::to_string_pretty(data)
            .map_err(|e| TokenError::Corrupt { path: self.path.clone(), cause: e.to_string() })?;
        text.push('\n');
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io("creating"))?;
        #[cfg(unix)]
        {
            // A leftover temporary file keeps its old mode: set it again.
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io("setting the mode of"))?;
        }
        file.write_all(text.as_bytes()).map_err(io("writing"))?;
        file.sync_all().map_err(io("syncing"))?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(io("replacing"))
    }
}

/// Lowercase hex SHA-256 of a token's text.
fn hash(token: &str) -> String {
    use std::fmt::Write as _;
    let d = digest(&SHA256, token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in d.as_ref() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn create_verify_revoke() {
        let dir = std::env::temp_dir().join(format!("hrsync-tokens-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let store = TokenStore::beside(&dir.join("state.sqlite"));
        let _ = std::fs::remove_file(store.path());
        let (token, rec) = store.create(Role::Viewer, None, now()).expect("create");
        assert_eq!(rec.name, "viewer-1");
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() > 40);
        let text = std::fs::read_to_string(store.path()).expect("file");
        assert!(!text.contains(&token[TOKEN_PREFIX.len()..]), "only the hash is stored");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(store.path()).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(store.verify(&token).expect("verify").map(|r| r.role), Some(Role::Viewer));
        assert_eq!(store.verify("hrsync_nope").expect("verify"), None);
        assert!(matches!(
            store.create(Role::Admin, Some("viewer-1"), now()),
            Err(TokenError::NameTaken(_))
        ));
        assert!(matches!(
            store.create(Role::Admin, Some("a b"), now()),
            Err(TokenError::BadName(_))
        ));
        store.revoke("viewer-1", now()).expect("revoke");
        assert_eq!(store.verify(&token).expect("verify"), None, "revoked");
        assert!(matches!(store.revoke("viewer-1", now()), Err(TokenError::Unknown(_))));
        assert_eq!(store.list().expect("list").len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
