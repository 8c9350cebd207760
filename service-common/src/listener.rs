//! Binding the listening socket before the server starts, so that "port in use" is a
//! one-line config error, and publishing the real address for callers that bound port 0.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use anyhow::Context;

/// Binds `addr`; the error names the flags that chose it.
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .with_context(|| format!("--bind/--port (BIND/PORT): cannot listen on '{addr}'"))
}

/// Writes `IP:PORT\n` to `path`, atomically ([`atomic_file`]: temp file + rename) so a
/// reader polling for the file never sees a half-written address.
pub fn write_addr_file(path: &Path, addr: SocketAddr) -> anyhow::Result<()> {
    atomic_file::write(path, format!("{addr}\n").as_bytes())
        .context("--addr-file (ADDR_FILE): cannot be written")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn port_in_use_names_the_flag_and_address() {
        let first = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let taken = first.local_addr().unwrap();
        let err = bind(taken).expect_err("second bind must fail");
        let line = format!("{err:#}");
        assert!(
            line.starts_with("--bind/--port (BIND/PORT): cannot listen on '127.0.0.1:"),
            "{line}"
        );
    }

    #[test]
    fn addr_file_holds_the_address_and_a_newline() {
        let dir = std::env::temp_dir().join(format!("svc-common-addr-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("addr");
        write_addr_file(&path, "127.0.0.1:4321".parse().unwrap()).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "127.0.0.1:4321\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
