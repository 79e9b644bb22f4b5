//! TLS to PostgreSQL (feature `postgres-tls`) against a throwaway server that this test
//! starts on 127.0.0.1, with `ssl=on` and a certificate signed by a CA the test makes with the
//! `openssl` command; its `pg_hba.conf` rejects every connection without TLS, so a store that
//! opens proves the connection was encrypted.
//!
//! Needs PostgreSQL's server binaries (`initdb`, `pg_ctl`, as `.ci/postgres` installs them)
//! and `openssl`; built without them, and without `CI`, the test is reported `ignored` (see
//! `build.rs`). The server and its files are removed by a guard however the test ends.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use jobs_core::store::PostgresStore;
use jobs_core::store::Store;

/// Runs `program args...` (as the `postgres` user when `as_postgres` and we are root),
/// failing the test with its output if it fails.
fn run(program: &Path, args: &[&str], as_postgres: bool) {
    let mut command = if as_postgres && is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    };
    let output = command.args(args).output().unwrap_or_else(|e| panic!("{} runs: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} {}: {}{}",
        program.display(),
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .any(|line| line.strip_prefix("Uid:").is_some_and(|ids| ids.split_whitespace().next() == Some("0")))
    })
}

/// The newest PostgreSQL server binaries' directory.
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed in /usr/lib/postgresql")
        .flatten()
        .map(|version| version.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    found.pop().expect("a PostgreSQL version with initdb")
}

/// A CA (key and certificate) and a server certificate for `localhost` signed by it.
fn make_certificates(dir: &Path) {
    let openssl = Path::new("openssl");
    let path = |name: &str| dir.join(name).display().to_string();
    for ca in ["ca", "other-ca"] {
        let (key, crt, subject) =
            (path(&format!("{ca}.key")), path(&format!("{ca}.crt")), format!("/CN=jobs test {ca}"));
        run(
            openssl,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &crt,
                "-days",
                "2",
                "-subj",
                &subject,
            ],
            false,
        );
    }
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("written");
    let (key, csr, crt) = (path("server.key"), path("server.csr"), path("server.crt"));
    run(
        openssl,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=localhost",
        ],
        false,
    );
    let (ca, ca_key, ext) = (path("ca.crt"), path("ca.key"), path("server.ext"));
    run(
        openssl,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
        false,
    );
}

/// A throwaway server with TLS on 127.0.0.1, stopped and removed when dropped.
struct Server {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        make_certificates(dir.path());
        let data = dir.path().join("data");
        let bin = bin_dir();
        if is_root() {
            run(Path::new("chown"), &["-R", "postgres:", &dir.path().display().to_string()], false);
        }
        let data_arg = data.display().to_string();
        run(&bin.join("initdb"), &["-D", &data_arg, "-U", "postgres", "--auth=trust", "--no-sync"], true);
        // Only TLS connections are let in.
        std::fs::write(
            data.join("pg_hba.conf"),
            "hostssl all all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 reject\nhost all all ::1/128 reject\n",
        )
        .expect("pg_hba.conf is written");
        for file in ["server.crt", "server.key"] {
            std::fs::copy(dir.path().join(file), data.join(file)).expect("the certificate is copied");
        }
        let key = data.join("server.key").display().to_string();
        run(Path::new("chmod"), &["600", &key], false);
        if is_root() {
            run(Path::new("chown"), &["-R", "postgres:", &data_arg], false);
        }
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let options = format!(
            "-k {} -h 127.0.0.1 -p {port} -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key -c fsync=off",
            dir.path().display()
        );
        let log = dir.path().join("server.log").display().to_string();
        let server = Server { bin, data, port, dir };
        run(
            &server.bin.join("pg_ctl"),
            &["-D", &data_arg, "-l", &log, "-w", "-t", "60", "-o", &options, "start"],
            true,
        );
        server
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?schema=tls_test&{query}", self.port)
    }

    fn ca(&self, name: &str) -> String {
        self.dir.path().join(format!("{name}.crt")).display().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl"));
            command
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = command.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

fn open(url: &str) -> Result<String, String> {
    let store = PostgresStore::open(url).map_err(|e| e.to_string())?;
    store.store_id().map_err(|e| e.to_string())
}

#[test]
#[cfg_attr(jobs_no_test_postgres_tls, ignore = "needs PostgreSQL's server binaries (initdb) and openssl")]
fn the_store_speaks_tls_to_postgresql_as_sslmode_asks() {
    let server = Server::start();
    let ca = server.ca("ca");
    let other = server.ca("other-ca");

    // verify-full: the chain and the name (the certificate names `localhost`).
    let id = open(&server.url("localhost", &format!("sslmode=verify-full&sslrootcert={ca}"))).expect("verify-full");
    // The same store through every mode that encrypts.
    let require = open(&server.url("127.0.0.1", "sslmode=require")).expect("require, no CA");
    assert_eq!(require, id);
    let verify_ca = open(&server.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"))).expect("verify-ca");
    assert_eq!(verify_ca, id);

    // Without TLS the server refuses (pg_hba.conf): the store did encrypt above.
    let plain = open(&server.url("127.0.0.1", "sslmode=disable")).unwrap_err();
    assert!(plain.contains("cannot connect to the PostgreSQL server"), "{plain}");
    let default = open(&server.url("127.0.0.1", "")).unwrap_err();
    assert!(default.contains("cannot connect"), "{default}");

    // verify-full refuses a certificate that does not name the host, verify-ca accepts it.
    let wrong_name = open(&server.url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"))).unwrap_err();
    assert!(wrong_name.contains("cannot connect") && wrong_name.contains("certificate"), "{wrong_name}");
    // Another CA: refused by verify-ca and verify-full alike.
    for mode in ["verify-ca", "verify-full"] {
        let error = open(&server.url("localhost", &format!("sslmode={mode}&sslrootcert={other}"))).unwrap_err();
        assert!(error.contains("certificate"), "{mode}: {error}");
    }
    // Settings that cannot work are refused before connecting, by name.
    let no_root = open(&server.url("localhost", "sslmode=verify-full")).unwrap_err();
    assert!(no_root.contains("sslmode=verify-full needs sslrootcert=FILE"), "{no_root}");
    let missing = open(&server.url("localhost", "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt")).unwrap_err();
    assert!(missing.contains("cannot read sslrootcert /nonexistent/ca.crt"), "{missing}");
    let unknown = open(&server.url("localhost", "sslmode=allow-anything")).unwrap_err();
    assert!(unknown.contains("sslmode=allow-anything is not known"), "{unknown}");
}
