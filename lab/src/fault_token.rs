//! The lab's fault token: the secret the provider wants before it lets anyone change its
//! faults (`FAULT_API_TOKEN`). One per state directory, made on the first `lab up`, kept
//! across repairs and `lab down` (a shell that exported it keeps working), readable by
//! the user only (mode 0600). `lab fault-token` prints it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// The variable the provider (and the experiments) read the token from.
pub const ENV: &str = "FAULT_API_TOKEN";

/// The name of the Secret holding the token on Kubernetes, and its key.
#[cfg_attr(not(feature = "kubernetes"), allow(dead_code))]
pub const SECRET_NAME: &str = "provider-fault-token";
#[cfg_attr(not(feature = "kubernetes"), allow(dead_code))]
pub const SECRET_KEY: &str = "token";

/// 128 random bits as 32 lowercase hex characters (rand's thread RNG is a CSPRNG seeded
/// from the operating system).
pub fn generate() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `text` is a token the lab could have made (what the provider accepts is
/// wider; the lab only ever writes these).
fn is_valid(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The token stored at `path`, or `None` when there is none yet.
pub fn read(path: &Path) -> Result<Option<String>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let token = text.trim();
    if !is_valid(token) {
        bail!(
            "{} does not hold a fault token (32 hex characters); delete it and run `lab up` to make a new one",
            path.display()
        );
    }
    Ok(Some(token.to_string()))
}

/// The token stored at `path`, made (mode 0600) when there is none.
pub fn read_or_create(path: &Path) -> Result<String> {
    if let Some(token) = read(path)? {
        // Tighten a file that was copied around with looser permissions.
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
        return Ok(token);
    }
    let token = generate();
    atomic_file::write_with(
        path,
        format!("{token}\n").as_bytes(),
        atomic_file::Mode::Private,
    )?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fault-token");
        assert_eq!(read(&path).unwrap(), None);
        let token = read_or_create(&path).unwrap();
        assert!(is_valid(&token), "{token}");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_or_create(&path).unwrap(), token);
        assert_eq!(read(&path).unwrap(), Some(token.clone()));
        assert_ne!(generate(), token, "tokens are random");
    }

    #[test]
    fn a_damaged_token_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fault-token");
        fs::write(&path, "not a token\n").unwrap();
        let err = format!("{:#}", read_or_create(&path).unwrap_err());
        assert!(
            err.contains("fault-token does not hold a fault token"),
            "{err}"
        );
    }
}
