//! A [`UserStore`] kept in a text file: [`FileUserStore`].
//!
//! One account per line, `name:domain:NT-hash`, where the NT hash is the 32 hex digits of
//! MD4(UTF-16LE(password)); an empty domain matches any domain. Blank lines and lines
//! starting with `#` are ignored. Plaintext passwords are never written.
//!
//! ```text
//! # msrpc user store
//! alice::8846f7eaee8fb117ad06bdd830b7586c
//! bob:CORP:a4f49c406510bdcab6824ee7c30fd852
//! ```
//!
//! An NT hash is as good as the password for NTLM, so the file must not be readable by
//! others: [`FileUserStore::load`] refuses a world-readable file and
//! [`FileUserStore::save`] writes mode 0600 (atomically: a temporary file renamed over the
//! old one).

use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::crypto::{nt_hash, Key16};
use crate::UserStore;

/// Why a user file cannot be read, written or changed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing the file failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error (shown in this error's message, so not a `source`).
        error: std::io::Error,
    },
    /// A line is not `name:domain:32-hex-digits`.
    #[error("{}:{line}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The file can be read by every user.
    #[error(
        "{}: the file is readable by other users (mode {mode:03o}); it holds password \
         hashes: chmod 600 it",
        path.display()
    )]
    WorldReadable {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A user or domain name that cannot be stored.
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidName {
        /// `user name` or `domain`.
        what: &'static str,
        /// The name.
        value: String,
        /// Why.
        reason: &'static str,
    },
}

/// One account.
struct Entry {
    name: String,
    domain: String,
    hash: Key16,
}

/// A [`UserStore`] loaded from (and saved to) a text file of NT hashes; see the module
/// documentation for the format. User and domain names compare case-insensitively.
pub struct FileUserStore {
    path: PathBuf,
    entries: Vec<Entry>,
}

impl std::fmt::Debug for FileUserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileUserStore")
            .field("path", &self.path)
            .field("users", &self.entries.len())
            .finish()
    }
}

fn same(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn check_name(what: &'static str, value: &str, may_be_empty: bool) -> Result<(), StoreError> {
    let bad = |reason| {
        Err(StoreError::InvalidName {
            what,
            value: value.to_string(),
            reason,
        })
    };
    if value.is_empty() && !may_be_empty {
        return bad("it is empty");
    }
    if value.contains(':') {
        return bad("it contains `:`");
    }
    if value.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    if value.trim() != value {
        return bad("it starts or ends with white space");
    }
    if value.starts_with('#') {
        return bad("it starts with `#`");
    }
    if what == "user name" && value.eq_ignore_ascii_case(crate::ANONYMOUS_LOGON) {
        return bad("it is the name anonymous logons get");
    }
    Ok(())
}

fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let hi = (*pair.first()? as char).to_digit(16)?;
        let lo = (*pair.get(1)? as char).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

fn hex16(h: &[u8; 16]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

impl FileUserStore {
    /// An empty store that [`save`](Self::save) writes to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileUserStore {
            path: path.into(),
            entries: Vec::new(),
        }
    }

    /// Reads `path`. Refuses a world-readable file, and a malformed or duplicated line
    /// (naming its line number).
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        let io = |error| StoreError::Io {
            path: path.clone(),
            error,
        };
        let meta = std::fs::metadata(&path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o004 != 0 {
                return Err(StoreError::WorldReadable { path, mode });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(io)?);
        Self::parse(path, &text)
    }

    /// Like [`load`](Self::load), but a missing file is an empty store.
    pub fn load_or_new(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::new(path)),
            _ => Self::load(path),
        }
    }

    fn parse(path: PathBuf, text: &str) -> Result<Self, StoreError> {
        let mut store = FileUserStore::new(path);
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: String| StoreError::Malformed {
                path: store.path.clone(),
                line: i + 1,
                reason,
            };
            let parts: Vec<&str> = line.split(':').collect();
            let [name, domain, hash] = parts.as_slice() else {
                return Err(bad(format!(
                    "expected `name:domain:NT-hash`, found {} field(s)",
                    parts.len()
                )));
            };
            check_name("user name", name, false).map_err(|e| bad(e.to_string()))?;
            check_name("domain", domain, true).map_err(|e| bad(e.to_string()))?;
            let Some(hash) = parse_hex16(hash) else {
                return Err(bad(
                    "the NT hash must be 32 hex digits (never a plaintext password)".into(),
                ));
            };
            if store.position(name, domain).is_some() {
                return Err(bad(format!(
                    "user `{name}` (domain `{domain}`) appears twice"
                )));
            }
            store.entries.push(Entry {
                name: (*name).to_string(),
                domain: (*domain).to_string(),
                hash: Zeroizing::new(hash),
            });
        }
        Ok(store)
    }

    /// The file this store loads from and saves to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn position(&self, user: &str, domain: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| same(&e.name, user) && same(&e.domain, domain))
    }

    /// Adds `user` (in `domain`; empty for any) with `password`, or replaces its password;
    /// only MD4(UTF-16LE(password)) is kept. Returns whether the user was new.
    pub fn add(&mut self, user: &str, domain: &str, password: &str) -> Result<bool, StoreError> {
        self.add_hash(user, domain, *nt_hash(password))
    }

    /// [`add`](Self::add) with the NT hash itself.
    pub fn add_hash(
        &mut self,
        user: &str,
        domain: &str,
        hash: [u8; 16],
    ) -> Result<bool, StoreError> {
        check_name("user name", user, false)?;
        check_name("domain", domain, true)?;
        let hash = Zeroizing::new(hash);
        match self.position(user, domain) {
            Some(i) => {
                if let Some(e) = self.entries.get_mut(i) {
                    e.hash = hash;
                }
                Ok(false)
            }
            None => {
                self.entries.push(Entry {
                    name: user.to_string(),
                    domain: domain.to_string(),
                    hash,
                });
                Ok(true)
            }
        }
    }

    /// Removes every entry of `user` (any domain); returns how many were removed.
    pub fn remove(&mut self, user: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| !same(&e.name, user));
        before - self.entries.len()
    }

    /// The user names, in file order (no hashes).
    pub fn list(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }

    /// The `(user, domain)` pairs, in file order (an empty domain means any).
    pub fn accounts(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|e| (e.name.clone(), e.domain.clone()))
            .collect()
    }

    /// The number of accounts.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no accounts.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the store to its path atomically: a temporary file (mode 0600) in the same
    /// directory, flushed to disk, then renamed over the old file.
    pub fn save(&self) -> Result<(), StoreError> {
        let io = |error| StoreError::Io {
            path: self.path.clone(),
            error,
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = self
            .path
            .file_name()
            .ok_or_else(|| io(std::io::Error::other("the path names no file")))?;
        let mut text = Zeroizing::new(String::from(
            "# msrpc user store: name:domain:NT-hash (MD4 of the UTF-16LE password).\n\
             # An empty domain matches any domain. Keep this file mode 0600.\n",
        ));
        for e in &self.entries {
            text.push_str(&format!("{}:{}:{}\n", e.name, e.domain, hex16(&e.hash)));
        }
        let mut tmp = None;
        for n in 0..100u32 {
            let name = format!(
                ".{}.tmp.{}.{n}",
                file_name.to_string_lossy(),
                std::process::id()
            );
            let candidate = dir.join(name);
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            match opts.open(&candidate) {
                Ok(f) => {
                    tmp = Some((candidate, f));
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io(e)),
            }
        }
        let (tmp_path, mut file) =
            tmp.ok_or_else(|| io(std::io::Error::other("cannot create a temporary file")))?;
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| {
                drop(file);
                std::fs::rename(&tmp_path, &self.path)
            });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp_path);
            return Err(io(e));
        }
        // Make the rename durable too (best effort).
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl UserStore for FileUserStore {
    /// An entry for exactly `domain` wins over one for any domain (empty).
    fn nt_hash(&self, user: &str, domain: &str) -> Option<[u8; 16]> {
        let of_user = || self.entries.iter().filter(|e| same(&e.name, user));
        of_user()
            .find(|e| !e.domain.is_empty() && same(&e.domain, domain))
            .or_else(|| of_user().find(|e| e.domain.is_empty()))
            .map(|e| *e.hash)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    // MD4(UTF-16LE("password")).
    const PASSWORD_HASH: &str = "8846f7eaee8fb117ad06bdd830b7586c";

    fn write(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }

    #[test]
    fn add_save_load_lookup_remove() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let mut s = FileUserStore::load_or_new(&path).unwrap();
        assert!(s.is_empty());
        assert!(s.add("Alice", "", "password").unwrap());
        assert!(s.add("bob", "CORP", "secret").unwrap());
        assert!(
            !s.add("ALICE", "", "password").unwrap(),
            "replaced, not added"
        );
        s.save().unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!("Alice::{PASSWORD_HASH}\n")),
            "{text}"
        );
        assert!(!text.contains("secret") && !text.contains(":password"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let mut s = FileUserStore::load(&path).unwrap();
        assert_eq!(s.list(), ["Alice", "bob"]);
        let want = *nt_hash("password");
        assert_eq!(s.nt_hash("alice", "ANYTHING"), Some(want));
        assert_eq!(s.nt_hash("ALICE", ""), Some(want));
        assert_eq!(s.nt_hash("Bob", "corp"), Some(*nt_hash("secret")));
        assert_eq!(s.nt_hash("bob", "OTHER"), None, "bob is only in CORP");
        assert_eq!(s.nt_hash("carol", ""), None);

        // A domain-specific entry wins over the any-domain one.
        s.add("alice", "LAB", "other").unwrap();
        assert_eq!(s.nt_hash("alice", "lab"), Some(*nt_hash("other")));
        assert_eq!(s.nt_hash("alice", "x"), Some(want));

        assert_eq!(s.remove("ALICE"), 2);
        assert_eq!(s.remove("alice"), 0);
        s.save().unwrap();
        let s = FileUserStore::load(&path).unwrap();
        assert_eq!(s.accounts(), [("bob".to_string(), "CORP".to_string())]);
    }

    #[test]
    fn comments_blank_lines_and_upper_case_hex() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        write(
            &path,
            "# comment\n\n  alice::8846F7EAEE8FB117AD06BDD830B7586C  \r\n",
            0o600,
        );
        let s = FileUserStore::load(&path).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.nt_hash("alice", "D"), Some(*nt_hash("password")));
    }

    #[test]
    fn malformed_lines_name_their_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let cases = [
            ("alice:password\n", "found 2 field(s)"),
            ("# ok\nalice::password\n", "32 hex digits"),
            (
                "\n\nalice::8846f7eaee8fb117ad06bdd830b7586\n",
                "32 hex digits",
            ),
            (":D:8846f7eaee8fb117ad06bdd830b7586c\n", "empty"),
            ("a:b:c:d\n", "found 4 field(s)"),
            (
                "a::8846f7eaee8fb117ad06bdd830b7586c\nA::8846f7eaee8fb117ad06bdd830b7586c\n",
                "appears twice",
            ),
            ("a::8846f7eaee8fb117ad06bdd830b7586g\n", "32 hex digits"),
        ];
        let lines = [1, 2, 3, 1, 1, 2, 1];
        for ((text, want), line) in cases.iter().zip(lines) {
            write(&path, text, 0o600);
            let err = FileUserStore::load(&path).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, StoreError::Malformed { line: l, .. } if l == line),
                "{text:?}: {msg}"
            );
            assert!(msg.contains(want), "{text:?}: {msg}");
            assert!(msg.contains(&format!("users:{line}:")), "{msg}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        write(&path, "a::8846f7eaee8fb117ad06bdd830b7586c\n", 0o644);
        let err = FileUserStore::load(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::WorldReadable { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));
        write(&path, "a::8846f7eaee8fb117ad06bdd830b7586c\n", 0o640);
        assert!(FileUserStore::load(&path).is_ok());
        // Saving replaces the file with a private one.
        let s = FileUserStore::load(&path).unwrap();
        s.save().unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn missing_files_and_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope");
        assert!(matches!(
            FileUserStore::load(&path).unwrap_err(),
            StoreError::Io { .. }
        ));
        let mut s = FileUserStore::load_or_new(&path).unwrap();
        for (user, domain) in [
            ("", ""),
            ("a:b", ""),
            ("#x", ""),
            ("a\nb", ""),
            ("a", "D:E"),
            // The name anonymous logons get (any case) is not an account name.
            ("ANONYMOUS LOGON", ""),
            ("anonymous logon", "NT AUTHORITY"),
        ] {
            assert!(
                matches!(
                    s.add(user, domain, "pw").unwrap_err(),
                    StoreError::InvalidName { .. }
                ),
                "{user:?} {domain:?}"
            );
        }
        assert!(s.is_empty());
        assert!(!format!("{s:?}").contains("8846"));
    }
}
