//! `postgres://` store URLs: the connection settings, the schema, and a location to show.

use std::str::FromStr;
use std::time::Duration;

use postgres::config::Host;

use crate::store::{StoreError, is_postgres_url};

/// The schema used when the URL names none.
pub const DEFAULT_SCHEMA: &str = "public";

/// How long opening a connection may take when the URL sets no `connect_timeout`: an
/// unreachable server is reported in seconds, not after the system's TCP timeout.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed store URL.
#[derive(Clone)]
pub(crate) struct StoreUrl {
    /// What the driver connects with (the URL without `schema`).
    pub(crate) config: postgres::Config,
    /// The schema holding the store's tables.
    pub(crate) schema: String,
    /// `postgres://user@host:port/db?schema=s`: the URL without its password, for messages.
    pub(crate) location: String,
    /// TLS, when `sslmode` is `require`, `verify-ca` or `verify-full`. Read only with the
    /// `postgres-tls` feature: without it, such a URL is refused when parsed.
    #[cfg_attr(not(feature = "postgres-tls"), allow(dead_code))]
    pub(crate) tls: Option<Tls>,
}

/// How the server's certificate is checked over TLS (see `tls.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tls {
    /// `sslrootcert`: the CA the server's certificate must chain to; none checks no chain.
    pub(crate) root: Option<std::path::PathBuf>,
    /// `verify-full`: the certificate must name the URL's host.
    pub(crate) check_name: bool,
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The driver's config holds the password: show only the location.
        f.debug_struct("StoreUrl").field("location", &self.location).finish_non_exhaustive()
    }
}

impl StoreUrl {
    /// Parses `url`: the driver's URL syntax plus an optional `schema=NAME` query parameter.
    ///
    /// # Errors
    /// The URL does not parse, or the schema is not a plain SQL identifier; the message shows
    /// the URL without its password.
    pub(crate) fn parse(url: &str) -> Result<Self, StoreError> {
        let shown = without_password(url);
        let bad = |message: String| StoreError::Io { location: shown.clone(), message };
        if !is_postgres_url(url) {
            return Err(bad("not a PostgreSQL URL: it must start with postgres://".to_owned()));
        }
        let Taken { driver_url, schema, tls } = take_params(url).map_err(bad)?;
        if tls.is_some() && !cfg!(feature = "postgres-tls") {
            return Err(bad("the URL asks for TLS (sslmode), but this program was built without it: enable the \
                 `postgres-tls` feature of jobs-core"
                .to_owned()));
        }
        let mut config = postgres::Config::from_str(&driver_url).map_err(|e| {
            bad(format!(
                "not a valid PostgreSQL URL ({e}); the form is postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME]"
            ))
        })?;
        if tls.is_some() {
            config.ssl_mode(postgres::config::SslMode::Require);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("jobs");
        }
        let location = location(&config, &schema);
        Ok(StoreUrl { config, schema, location, tls })
    }

    /// The schema, quoted for SQL.
    pub(crate) fn quoted_schema(&self) -> String {
        // `take_params` admits only letters, digits and `_`: quoting cannot be escaped.
        format!("\"{}\"", self.schema)
    }
}

/// What [`take_params`] takes out of a URL.
struct Taken {
    /// The URL for the driver, without the parameters it does not know.
    driver_url: String,
    schema: String,
    tls: Option<Tls>,
}

/// Removes the parameters the driver does not know from the query string: `schema`, and
/// `sslmode=verify-ca|verify-full` and `sslrootcert` (the driver knows only `disable`,
/// `prefer` and `require`); returns the rest, the schema and the TLS settings.
fn take_params(url: &str) -> Result<Taken, String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(Taken { driver_url: url.to_owned(), schema: DEFAULT_SCHEMA.to_owned(), tls: None });
    };
    let mut schema = None;
    let mut mode = None;
    let mut root = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("schema", name)) => {
                if schema.is_some() {
                    return Err("`schema` is given twice in the URL; keep one".to_owned());
                }
                check_schema(name)?;
                schema = Some(name.to_owned());
            }
            Some(("sslmode", value)) => {
                match value {
                    "disable" | "prefer" | "require" | "verify-ca" | "verify-full" => mode = Some(value.to_owned()),
                    _ => {
                        return Err(format!(
                            "sslmode={value} is not known: use disable, prefer, require, verify-ca or verify-full"
                        ));
                    }
                }
                if value == "require" {
                    rest.push(pair);
                }
            }
            Some(("sslrootcert", path)) => root = Some(std::path::PathBuf::from(path)),
            _ => rest.push(pair),
        }
    }
    let tls = match mode.as_deref() {
        Some("require") => Some(Tls { root, check_name: false }),
        Some(mode @ ("verify-ca" | "verify-full")) => {
            let Some(root) = root else {
                return Err(format!("sslmode={mode} needs sslrootcert=FILE: the CA certificate(s) to trust, in PEM"));
            };
            Some(Tls { root: Some(root), check_name: mode == "verify-full" })
        }
        _ => None,
    };
    let driver_url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
    Ok(Taken { driver_url, schema: schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_owned()), tls })
}

fn check_schema(name: &str) -> Result<(), String> {
    let starts_well = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if starts_well && plain && name.len() <= 63 {
        Ok(())
    } else {
        Err(format!(
            "the schema `{name}` is not a plain SQL name: use 1 to 63 ASCII letters, digits and `_`, starting with a letter or `_`"
        ))
    }
}

/// The URL as shown in messages: user, hosts, ports, database and schema; never the password.
fn location(config: &postgres::Config, schema: &str) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or_else(|| config.get_ports().first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = config.get_dbname().unwrap_or_default();
    let schema = if schema == DEFAULT_SCHEMA { String::new() } else { format!("?schema={schema}") };
    format!("postgres://{user}{}/{db}{schema}", hosts.join(","))
}

/// `url` with any password between `user:` and `@` replaced, for messages about a URL that
/// does not parse.
pub(crate) fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{hosts}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_for_tls() {
        let taken =
            take_params("postgres://h/db?sslmode=verify-full&sslrootcert=/ca.pem&schema=s&connect_timeout=3").unwrap();
        assert_eq!(taken.driver_url, "postgres://h/db?connect_timeout=3");
        assert_eq!(taken.schema, "s");
        assert_eq!(taken.tls, Some(Tls { root: Some("/ca.pem".into()), check_name: true }));
        let require = take_params("postgres://h/db?sslmode=require").unwrap();
        assert_eq!(require.driver_url, "postgres://h/db?sslmode=require");
        assert_eq!(require.tls, Some(Tls { root: None, check_name: false }));
        let verify_ca = take_params("postgres://h/db?sslmode=verify-ca&sslrootcert=ca").unwrap();
        assert_eq!(verify_ca.tls, Some(Tls { root: Some("ca".into()), check_name: false }));
        for plain in ["postgres://h/db", "postgres://h/db?sslmode=disable", "postgres://h/db?sslmode=prefer"] {
            assert_eq!(take_params(plain).unwrap().tls, None, "{plain}");
        }
        let error = take_params("postgres://h/db?sslmode=verify-ca").err().unwrap();
        assert!(error.contains("sslmode=verify-ca needs sslrootcert=FILE"), "{error}");
        let error = take_params("postgres://h/db?sslmode=on").err().unwrap();
        assert!(error.contains("sslmode=on is not known"), "{error}");
        let parsed = StoreUrl::parse("postgres://u:pw@h/db?sslmode=verify-full&sslrootcert=/ca.pem");
        if cfg!(feature = "postgres-tls") {
            let url = parsed.unwrap();
            assert_eq!(url.config.get_ssl_mode(), postgres::config::SslMode::Require);
        } else {
            let error = parsed.unwrap_err().to_string();
            assert!(error.contains("built without it") && !error.contains("pw"), "{error}");
        }
    }

    #[test]
    fn the_schema_is_taken_out_and_the_password_never_shown() {
        let url = StoreUrl::parse("postgres://ann:s3cret@db.example:5433/app?schema=jobs_a&sslmode=disable").unwrap();
        assert_eq!(url.schema, "jobs_a");
        assert_eq!(url.location, "postgres://ann@db.example:5433/app?schema=jobs_a");
        assert!(!format!("{url:?}").contains("s3cret"));
        let url = StoreUrl::parse("postgresql://ann@localhost/app").unwrap();
        assert_eq!((url.schema.as_str(), url.location.as_str()), ("public", "postgres://ann@localhost:5432/app"));
    }

    #[test]
    fn bad_urls_and_schemas_are_refused_by_name_without_the_password() {
        let err = StoreUrl::parse("postgres://ann:s3cret@host/db?schema=a;drop").unwrap_err().to_string();
        assert!(err.contains("the schema `a;drop` is not a plain SQL name"), "{err}");
        assert!(!err.contains("s3cret") && err.contains("ann:***@host"), "{err}");
        let err = StoreUrl::parse("postgres://ann:s3cret@host:notaport/db").unwrap_err().to_string();
        assert!(err.contains("not a valid PostgreSQL URL"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        let err = StoreUrl::parse("postgres://host/db?schema=a&schema=b").unwrap_err().to_string();
        assert!(err.contains("`schema` is given twice"), "{err}");
    }

    #[test]
    fn only_postgres_schemes_are_urls() {
        assert!(is_postgres_url("postgres://h/db") && is_postgres_url("postgresql://h/db"));
        assert!(!is_postgres_url("./jobs.redb") && !is_postgres_url("postgres.redb"));
    }
}
