//! The strength of the secrets kadet reads from files: the ingest token
//! (`[auth] token_file`) and a webhook's signing key are kadet's own
//! secrets, so one too short to resist guessing is refused; a webhook's
//! `token_file` is the receiver's, so it is only warned about. A secret file
//! other users can read is warned about too: it gives the secret away.

use crate::config::{Config, SinkConfig};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Shorter than this, a secret of kadet's own is refused.
pub const MIN_SECRET_CHARS: usize = 16;
/// Shorter than this, a secret is warned about.
pub const GOOD_SECRET_CHARS: usize = 32;

/// One finding: the config section and key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `[auth]` or `[[sinks]]` (with its index).
    pub section: &'static str,
    /// The index of the section (for `[[sinks]]`).
    pub index: usize,
    /// The key naming the file.
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

/// What is weak about the secret files `cfg` names: (refused, warned).
pub fn weaknesses(cfg: &Config) -> (Vec<Finding>, Vec<Finding>) {
    let mut files: Vec<(&'static str, usize, &'static str, &Path, bool)> = Vec::new();
    if let Some(p) = &cfg.auth.token_file {
        files.push(("[auth]", 0, "token_file", p, true));
    }
    for (i, s) in cfg.sinks.iter().enumerate() {
        if let SinkConfig::Webhook {
            token_file,
            signing_key_file,
            ..
        } = s
        {
            if let Some(p) = token_file {
                files.push(("[[sinks]]", i, "token_file", p, false));
            }
            if let Some(p) = signing_key_file {
                files.push(("[[sinks]]", i, "signing_key_file", p, true));
            }
        }
    }
    let (mut refused, mut warned) = (Vec::new(), Vec::new());
    for (section, index, key, path, own) in files {
        let finding = |message: String| Finding {
            section,
            index,
            key,
            message,
        };
        // Unreadable files are reported where they are read.
        let Ok(secret) = crate::sinks::read_token(path) else {
            continue;
        };
        let n = secret.chars().count();
        let advice = "`openssl rand -hex 32` makes a good one";
        if own && n < MIN_SECRET_CHARS {
            refused.push(finding(format!(
                "{}: the secret is {n} characters; at least {MIN_SECRET_CHARS} are required ({advice})",
                path.display()
            )));
        } else if n < GOOD_SECRET_CHARS {
            warned.push(finding(format!(
                "{}: the secret is only {n} characters; use at least {GOOD_SECRET_CHARS} random ones ({advice})",
                path.display()
            )));
        }
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                warned.push(finding(format!(
                    "{}: other users can read it (mode {:o}); chmod 600",
                    path.display(),
                    mode & 0o777
                )));
            }
        }
    }
    (refused, warned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_own_secrets_are_refused_and_open_files_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str, mode: u32| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let short = write("short", "abc\n", 0o600);
        let fair = write("fair", "0123456789abcdef0123\n", 0o644);
        let good = write("good", &format!("{}\n", "a1".repeat(20)), 0o600);
        let text = format!(
            "[auth]\ntoken_file = {short:?}\n\
             [[sinks]]\ntype = \"webhook\"\nname = \"a\"\nurl = \"https://h/x\"\ntoken_file = {short:?}\nsigning_key_file = {fair:?}\n\
             [[sinks]]\ntype = \"webhook\"\nname = \"b\"\nurl = \"https://h/y\"\nsigning_key_file = {good:?}\n"
        );
        let cfg = Config::parse(&text, "t.toml").unwrap();
        let (refused, warned) = weaknesses(&cfg);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(
            (refused[0].section, refused[0].key),
            ("[auth]", "token_file")
        );
        let keys: Vec<(usize, &str)> = warned.iter().map(|w| (w.index, w.key)).collect();
        // The receiver's short token, the short signing key, its open mode.
        assert_eq!(
            keys,
            [
                (0, "token_file"),
                (0, "signing_key_file"),
                (0, "signing_key_file")
            ]
        );
        assert!(warned[2].message.contains("chmod 600"), "{warned:?}");
    }
}
