//! The host file: one `host:port` per process, in process order.

use std::path::Path;

/// A host file could not be read, or a line of it is not an address.
#[derive(Debug, thiserror::Error)]
pub enum HostsError {
    /// The file could not be read.
    #[error("cannot read the host file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why not.
        source: std::io::Error,
    },
    /// A line is not `host:port`.
    #[error("host file {path}, line {line}: `{text}` is not an address: {reason}; write one `host:port` per process")]
    BadLine {
        /// The file.
        path: String,
        /// The line's number, from 1.
        line: usize,
        /// The line as written.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same address is listed twice.
    #[error(
        "host file {path}, line {line}: `{address}` is already listed on line {first}; each process needs its own address"
    )]
    Duplicate {
        /// The file.
        path: String,
        /// The line of the second listing.
        line: usize,
        /// The first listing's line.
        first: usize,
        /// The address.
        address: String,
    },
}

/// Reads the host file at `path`: see [`parse_hosts`].
///
/// # Errors
/// The file cannot be read, or a line is not an address.
pub fn read_hosts(path: &Path) -> Result<Vec<String>, HostsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| HostsError::Read { path: path.display().to_string(), source })?;
    parse_hosts(&text, &path.display().to_string())
}

/// Parses a host file's text: one `host:port` per line, process 0 first. Blank lines and
/// lines starting with `#` are skipped, as is anything after a `#`.
///
/// ```
/// # use jobs_core::cluster::parse_hosts;
/// let hosts = parse_hosts("# the cluster\n10.0.0.1:7100\n\n10.0.0.2:7100  # second machine\n", "hosts.txt")?;
/// assert_eq!(hosts, ["10.0.0.1:7100", "10.0.0.2:7100"]);
/// # Ok::<(), jobs_core::cluster::HostsError>(())
/// ```
///
/// # Errors
/// A line is not `host:port` with a port from 1 to 65535, or an address is listed twice; the
/// error names the file and the line.
pub fn parse_hosts(text: &str, path: &str) -> Result<Vec<String>, HostsError> {
    let mut hosts: Vec<(usize, String)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let text = raw.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let bad = |reason| HostsError::BadLine { path: path.to_owned(), line, text: text.to_owned(), reason };
        if text.contains(char::is_whitespace) {
            return Err(bad("it contains a space"));
        }
        let Some((host, port)) = text.rsplit_once(':') else {
            return Err(bad("it has no `:port`"));
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("the host is empty"));
        }
        match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err(bad("the port is not a number from 1 to 65535")),
            Ok(_) => {}
        }
        if let Some((first, _)) = hosts.iter().find(|(_, known)| known == text) {
            return Err(HostsError::Duplicate { path: path.to_owned(), line, first: *first, address: text.to_owned() });
        }
        hosts.push((line, text.to_owned()));
    }
    Ok(hosts.into_iter().map(|(_, host)| host).collect())
}

/// Whether a host file's `host:port` names this machine's loopback interface only: an address
/// in `127.0.0.0/8`, `::1`, or `localhost`. Any other name counts as reachable from elsewhere,
/// even one that resolves to a loopback address today.
///
/// ```
/// # use jobs_core::cluster::is_loopback;
/// assert!(is_loopback("127.0.0.1:7100") && is_loopback("[::1]:7100") && is_loopback("localhost:7100"));
/// assert!(!is_loopback("10.0.0.2:7100") && !is_loopback("node-2:7100") && !is_loopback("0.0.0.0:7100"));
/// ```
pub fn is_loopback(host_port: &str) -> bool {
    let host = host_port.rsplit_once(':').map_or(host_port, |(host, _)| host);
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let hosts =
            parse_hosts("\n# comment\n127.0.0.1:7000 # zero\n  \n[::1]:7001\nnode-2.example:7002\n", "h").unwrap();
        assert_eq!(hosts, ["127.0.0.1:7000", "[::1]:7001", "node-2.example:7002"]);
    }

    #[test]
    fn a_bad_line_is_named_with_its_number() {
        let cases = [
            ("127.0.0.1:7000\nlocalhost\n", 2, "has no `:port`"),
            ("127.0.0.1:0\n", 1, "port is not a number"),
            ("\n\n127.0.0.1:70000\n", 3, "port is not a number"),
            (":7000\n", 1, "host is empty"),
            ("a:1 b:2\n", 1, "contains a space"),
        ];
        for (text, line, reason) in cases {
            let error = parse_hosts(text, "hosts.txt").unwrap_err().to_string();
            assert!(error.starts_with(&format!("host file hosts.txt, line {line}: ")), "{error}");
            assert!(error.contains(reason), "{error}");
        }
    }

    #[test]
    fn an_address_listed_twice_is_refused() {
        let error = parse_hosts("h:1\nh:2\nh:1\n", "f").unwrap_err().to_string();
        assert_eq!(error, "host file f, line 3: `h:1` is already listed on line 1; each process needs its own address");
    }
}
