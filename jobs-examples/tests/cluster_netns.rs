//! `jobs run --engine timely` across hosts made of Linux network namespaces: each process in
//! a namespace of its own, with its own address on a bridge, PostgreSQL reachable on the
//! bridge's address, and the cluster's shared secret required (the hosts are off loopback).
//!
//! * Three hosts over a slow link (20 ms each way and 1 MB/s, added by a user-space proxy: the
//!   kernel may have no `netem`) print, for every example job, what the local engine prints.
//! * A stranger on the network that sends junk, or runs a process with another secret, is
//!   turned away while the cluster waits for the right process.
//! * A host cut off mid-run (`ip link set ... down`): the other process fails within 30 s
//!   with an error naming the lost process, the run is recorded `failed` with no output;
//!   with `--retries 1` the run completes once the host is back.
//!
//! The tests need root (to make namespaces), the `ip` command and PostgreSQL
//! (`JOBS_TEST_POSTGRES_URL`); without them, and without `CI`, they are built `ignored`
//! (see `build.rs`). Everything they make (namespaces, veth pairs, the bridge,
//! `/etc/netns/NAME/`) is removed by a guard, however the test ends. Traffic stays inside the
//! namespaces, the bridge and 127.0.0.1.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod support;
use support::Ran;

use jobs_core::runs::{RunLog, RunRecord, Status};
use jobs_core::testing::postgres_server::{TestSchema, test_schema};

/// How long any one process may take before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(90);
/// How soon the survivors of a lost host must stop.
const FAIL_STOP_WITHIN: Duration = Duration::from_secs(30);
/// The latency the proxy adds, each way.
const LATENCY: Duration = Duration::from_millis(20);
/// The slow link's throughput, each way, in bytes a second (1 MB/s).
const RATE: u64 = 1 << 20;
/// The secret every process proves.
const SECRET: &str = "a-test-secret-for-the-namespaced-cluster";

/// Runs `ip args...`, failing the test with its stderr if it fails.
fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("the ip command runs");
    assert!(output.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
}

/// A bridge in the root namespace with address `10.<net>.1/24`, and one namespace per host,
/// host `i` at `10.<net>.(10 + i)`, joined to the bridge by a veth pair. Dropped, it removes
/// them all (also after a failed assertion).
struct Network {
    net: String,
    bridge: String,
    hosts: Vec<String>,
    veths: Vec<String>,
}

impl Network {
    fn new(test: u8, hosts: usize) -> Self {
        // Names unique to this process and test, within the kernel's 15 characters.
        let tag = format!("{}{test}", std::process::id() % 100_000);
        let mut network = Network {
            net: format!("10.{}.{}", 200 + test, std::process::id() % 250),
            bridge: format!("jbr{tag}"),
            hosts: Vec::new(),
            veths: Vec::new(),
        };
        ip(&["link", "add", &network.bridge, "type", "bridge"]);
        ip(&["addr", "add", &format!("{}.1/24", network.net), "dev", &network.bridge]);
        ip(&["link", "set", &network.bridge, "up"]);
        for i in 0..hosts {
            let (ns, veth, peer) = (format!("jns{tag}h{i}"), format!("jv{tag}h{i}"), format!("jp{tag}h{i}"));
            ip(&["netns", "add", &ns]);
            network.hosts.push(ns.clone());
            ip(&["link", "add", &veth, "type", "veth", "peer", "name", &peer]);
            network.veths.push(veth.clone());
            ip(&["link", "set", &peer, "netns", &ns]);
            ip(&["link", "set", &veth, "master", &network.bridge]);
            ip(&["link", "set", &veth, "up"]);
            ip(&["-n", &ns, "addr", "add", &format!("{}/24", network.address(i)), "dev", &peer]);
            ip(&["-n", &ns, "link", "set", &peer, "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        network
    }

    /// Host `i`'s address.
    fn address(&self, i: usize) -> String {
        format!("{}.{}", self.net, 10 + i)
    }

    /// The root namespace's address on the bridge, where the proxies listen.
    fn gateway(&self) -> String {
        format!("{}.1", self.net)
    }

    /// Names `names` for host `i`'s processes (its `/etc/hosts`, which `ip netns exec`
    /// mounts over the real one).
    fn set_names(&self, i: usize, names: &[(String, String)]) {
        let dir = PathBuf::from("/etc/netns").join(&self.hosts[i]);
        std::fs::create_dir_all(&dir).expect("/etc/netns/NAME is made");
        let mut text = String::from("127.0.0.1 localhost\n");
        for (name, address) in names {
            text.push_str(&format!("{address} {name}\n"));
        }
        std::fs::write(dir.join("hosts"), text).expect("the namespace's hosts file is written");
    }

    /// Takes host `i`'s link down (`false`) or up again.
    fn set_link(&self, i: usize, up: bool) {
        ip(&["link", "set", &self.veths[i], if up { "up" } else { "down" }]);
    }

    /// `jobs args...` in host `i`'s namespace, on the store at `store`, with the secret.
    fn jobs(&self, i: usize, store: &str, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.hosts[i], env!("CARGO_BIN_EXE_jobs")])
            .args(args)
            .env("JOBS_STORE", store)
            .env("JOBS_CLUSTER_SECRET", SECRET)
            .env("JOBS_LOG", std::env::var("JOBS_NETNS_LOG").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for ns in &self.hosts {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
            let _ = std::fs::remove_dir_all(PathBuf::from("/etc/netns").join(ns));
        }
        // Deleting a namespace deletes its end of each veth pair, and so the pair.
        for veth in &self.veths {
            let _ = Command::new("ip").args(["link", "del", veth]).stderr(Stdio::null()).status();
        }
        let _ = Command::new("ip").args(["link", "del", &self.bridge]).status();
    }
}

/// A TCP proxy that delivers every byte `delay` after it arrived, both ways, at most `rate`
/// bytes a second each way when given: latency and a slow link without `netem`.
struct Proxy {
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

impl Proxy {
    fn start(listen: &str, target: SocketAddr, delay: Duration, rate: Option<u64>) -> Self {
        let listener = TcpListener::bind(listen).unwrap_or_else(|e| panic!("the proxy listens on {listen}: {e}"));
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let accepting = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
                            continue;
                        };
                        let _ = client.set_nonblocking(false);
                        for (from, to) in [(&client, &server), (&server, &client)] {
                            if let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) {
                                pump(from, to, (delay, rate), Arc::clone(&stopping));
                            }
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy { stop, accepting: Some(accepting) }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

/// Copies `from` to `to`, each chunk `delay` after it was read, at most `rate` bytes a second.
fn pump(mut from: TcpStream, mut to: TcpStream, (delay, rate): (Duration, Option<u64>), stop: Arc<AtomicBool>) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let _ = from.set_read_timeout(Some(Duration::from_millis(200)));
        let mut buffer = vec![0u8; 64 << 10];
        while !stop.load(Ordering::SeqCst) {
            match from.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send((Instant::now() + delay, buffer[..n].to_vec())).is_err() {
                        break;
                    }
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        let _ = from.shutdown(Shutdown::Read);
    });
    std::thread::spawn(move || {
        // When the link is free again after the bytes already sent.
        let mut free_at = Instant::now();
        for (due, bytes) in rx {
            std::thread::sleep(due.max(free_at).saturating_duration_since(Instant::now()));
            if to.write_all(&bytes).is_err() {
                break;
            }
            if let Some(rate) = rate {
                let busy = Duration::from_secs_f64(bytes.len() as f64 / rate as f64);
                free_at = free_at.max(Instant::now()) + busy;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// The test's PostgreSQL schema, and a proxy that makes it reachable on the bridge.
struct Database {
    _proxy: Proxy,
    /// The URL the namespaced processes use: the bridge's address.
    bridged: String,
    /// The URL this test uses: the server's own address.
    schema: TestSchema,
}

impl Database {
    fn new(network: &Network, test: &str, delay: Duration) -> Self {
        let schema = test_schema(test);
        let url = schema.url().to_owned();
        // postgres://user@HOST:PORT/db?...: the server's address, and the URL with the
        // bridge's address in its place.
        let after_scheme = url.split_once("://").map(|(_, rest)| rest).expect("a URL");
        let host_port = after_scheme.split('@').nth(1).unwrap_or(after_scheme).split(['/', '?']).next().expect("host");
        let target: SocketAddr = host_port.parse().expect("the test server's URL names an IP address and a port");
        let listen = format!("{}:15432", network.gateway());
        let proxy = Proxy::start(&listen, target, delay, None);
        let bridged = url.replacen(host_port, &listen, 1);
        Database { _proxy: proxy, bridged, schema }
    }

    fn newest_run(&self) -> Option<RunRecord> {
        let store = self.schema.open().expect("the store opens");
        store.recent().expect("runs are listed").into_iter().next()
    }

    /// `jobs args...` from the root namespace, straight to the server.
    fn jobs(&self, args: &[&str]) -> Ran {
        support::jobs_command_via_env(self.schema.url(), args).output().expect("jobs runs").into()
    }
}

/// Waits for `child` to exit within `limit`; kills it and fails the test otherwise.
fn finish(child: Child, limit: Duration) -> Ran {
    finish_named(child, limit, "a jobs process")
}

/// [`finish`], naming the process `what` if it runs too long. Its output is read while it
/// runs, so a large report cannot fill the pipe and stall it.
fn finish_named(mut child: Child, limit: Duration, what: &str) -> Ran {
    let read_all = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = read_all(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = read_all(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().expect("the child can be waited for") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let threads = threads_of(child.id());
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{what} ran longer than {limit:?}; its threads:\n{threads}\nstderr:\n{}",
                    err.join().unwrap_or_default()
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    Ran { code: status.code(), out: out.join().expect("stdout was read"), err: err.join().expect("stderr was read") }
}

/// Each thread of process `pid` with where it waits in the kernel, for a hung process.
fn threads_of(pid: u32) -> String {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return String::new() };
    tasks
        .flatten()
        .map(|task| {
            let read = |file: &str| std::fs::read_to_string(task.path().join(file)).unwrap_or_default();
            format!("{} {}\n", read("comm").trim(), read("wchan").trim())
        })
        .collect()
}

/// Starts `jobs run JOB --engine timely` as process `i` of `processes` in host `i`'s namespace.
fn process_command(network: &Network, processes: usize, i: usize, run: (&str, &str, &str), extra: &[&str]) -> Command {
    let (store, hosts_file, job) = run;
    let (processes, process) = (processes.to_string(), i.to_string());
    let mut args = vec!["run", job, "--engine", "timely", "--processes", &processes, "--process", &process, "--hosts"];
    args.push(hosts_file);
    args.extend(extra);
    network.jobs(i, store, &args)
}

/// Starts `jobs run JOB --engine timely` on the first `processes` hosts; the host file names
/// each process.
fn start_all(network: &Network, processes: usize, run: (&str, &str, &str), extra: &[&str]) -> Vec<Child> {
    (0..processes)
        .map(|i| process_command(network, processes, i, run, extra).spawn().expect("jobs starts in its namespace"))
        .collect()
}

#[test]
#[cfg_attr(
    any(jobs_no_test_netns, jobs_no_test_postgres),
    ignore = "needs root, the ip command (network namespaces) and PostgreSQL: set JOBS_TEST_POSTGRES_URL"
)]
fn three_hosts_over_a_slow_link_print_the_local_engines_output_for_every_job() {
    let network = Network::new(1, 3);
    let database = Database::new(&network, "three_hosts_over_a_slow_link", Duration::ZERO);
    database.jobs(&["seed", "--explorations", "1500", "--users", "300"]).assert_code(0);
    // Host i knows itself by its own address and the others by the proxy in front of them,
    // which adds the latency: node-j:PORT_j is the gateway at PORT_j, forwarded to host j.
    let ports: Vec<u16> = (0..3).map(|j| 17100 + j).collect();
    let _proxies: Vec<Proxy> = (0..3)
        .map(|j| {
            let target = format!("{}:{}", network.address(j), ports[j]).parse().expect("an address");
            Proxy::start(&format!("{}:{}", network.gateway(), ports[j]), target, LATENCY, Some(RATE))
        })
        .collect();
    for i in 0..3 {
        let names: Vec<(String, String)> = (0..3)
            .map(|j| (format!("node-{j}"), if i == j { network.address(j) } else { network.gateway() }))
            .collect();
        network.set_names(i, &names);
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let hosts_file = dir.path().join("hosts");
    let text: String = (0..3).map(|j| format!("node-{j}:{}\n", ports[j])).collect();
    std::fs::write(&hosts_file, text).expect("the host file is written");
    let hosts_file = hosts_file.display().to_string();

    let listed = database.jobs(&["list", "--json"]);
    listed.assert_code(0);
    let jobs: Vec<String> = listed
        .out
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).expect("JSON")["name"].as_str().expect("a name").to_owned()
        })
        .collect();
    assert!(jobs.len() >= 7, "{jobs:?}");
    let started = Instant::now();
    for job in &jobs {
        // Dry runs, so the migration job leaves the data as the next job expects it.
        let local = database.jobs(&["run", job, "--dry-run"]);
        local.assert_code(0);
        let children = start_all(&network, 3, (&database.bridged, &hosts_file, job), &["--workers", "1", "--dry-run"]);
        let ran: Vec<Ran> = children
            .into_iter()
            .enumerate()
            .map(|(process, child)| finish_named(child, PATIENCE, &format!("{job}, process {process}")))
            .collect();
        for (process, peer) in ran.iter().enumerate() {
            assert_eq!(peer.code, Some(0), "{job}, process {process}:\n{}", peer.err);
        }
        assert!(ran[0].out == local.out, "{job} on three hosts:\n{}\nlocal:\n{}", ran[0].out, local.out);
        let record = database.newest_run().expect("process 0 recorded the run");
        assert_eq!(record.status(), Status::Completed);
        assert_eq!(record.engine, "timely");
        assert_eq!(record.threads, 3);
    }
    eprintln!(
        "{} jobs on three hosts with {LATENCY:?} each way at {RATE} bytes/s took {:?}",
        jobs.len(),
        started.elapsed()
    );
}

#[test]
#[cfg_attr(
    any(jobs_no_test_netns, jobs_no_test_postgres),
    ignore = "needs root, the ip command (network namespaces) and PostgreSQL: set JOBS_TEST_POSTGRES_URL"
)]
fn a_host_cut_off_fails_the_run_in_seconds_and_a_retry_completes_when_it_is_back() {
    // Hosts 0 and 1 run the cluster; host 2 is a stranger on the same network.
    let network = Network::new(2, 3);
    let database = Database::new(&network, "a_host_cut_off", Duration::ZERO);
    database.jobs(&["seed", "--explorations", "30000", "--users", "300"]).assert_code(0);
    let local = database.jobs(&["run", "InteractionAuditOneOffJob"]);
    local.assert_code(0);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let hosts_file = dir.path().join("hosts");
    std::fs::write(&hosts_file, format!("{}:7100\n{}:7100\n", network.address(0), network.address(1)))
        .expect("the host file is written");
    let hosts_file = hosts_file.display().to_string();
    let mapping = |database: &Database| {
        let deadline = Instant::now() + PATIENCE;
        while !database.newest_run().is_some_and(|r| r.status() == Status::Started && r.progress.read() > 0) {
            assert!(Instant::now() < deadline, "the cluster never started mapping");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let job = "InteractionAuditOneOffJob";

    let run = (database.bridged.as_str(), hosts_file.as_str(), job);

    // A stranger on the network sends process 0 junk, then starts a process 1 with another
    // secret: both are turned away, and process 0 goes on waiting for the real process 1.
    let zero = process_command(&network, 2, 0, run, &["--workers", "1"]).spawn().expect("process 0 starts");
    let junk = format!(
        "for i in $(seq 100); do (head -c 100000 /dev/urandom > /dev/tcp/{}/7100) 2>/dev/null && exit 0; sleep 0.1; done; exit 1",
        network.address(0)
    );
    let sent = Command::new("ip").args(["netns", "exec", &network.hosts[2], "bash", "-c", &junk]).status();
    assert!(sent.expect("bash runs").success(), "the stranger reached process 0");
    // Its own host file lists host 2's address for process 1, where it can listen.
    let impostor_hosts = dir.path().join("impostor-hosts");
    std::fs::write(&impostor_hosts, format!("{}:7100\n{}:7100\n", network.address(0), network.address(2)))
        .expect("the impostor's host file is written");
    let impostor_hosts = impostor_hosts.display().to_string();
    let args = ["run", job, "--engine", "timely", "--processes", "2", "--process", "1", "--connect-timeout", "3"];
    let mut impostor = network.jobs(2, run.0, &[&args[..], &["--hosts", &impostor_hosts]].concat());
    impostor.env("JOBS_CLUSTER_SECRET", "not-the-cluster-secret-at-all");
    let impostor = finish(impostor.spawn().expect("the impostor starts"), PATIENCE);
    impostor.assert_code(1);
    assert!(impostor.err.contains("has another cluster secret than process 1"), "{}", impostor.err);

    // Cut off without retries: process 0 stops within seconds naming process 1, and the run
    // is failed, with no output.
    let one = process_command(&network, 2, 1, run, &["--workers", "1"]).spawn().expect("process 1 starts");
    mapping(&database);
    network.set_link(1, false);
    let cut_at = Instant::now();
    let zero = finish(zero, FAIL_STOP_WITHIN + Duration::from_secs(5));
    let zero_stopped = cut_at.elapsed();
    eprintln!("host 1 cut off: process 0 stopped after {zero_stopped:?}");
    assert!(zero_stopped < FAIL_STOP_WITHIN, "process 0 took {zero_stopped:?} to stop");
    zero.assert_code(1);
    assert!(zero.err.contains("lost process 1"), "{}", zero.err);
    assert!(zero.err.contains("ignored a connection"), "the junk is reported:\n{}", zero.err);
    assert!(zero.err.contains("refused this process"), "the impostor is reported:\n{}", zero.err);
    // The cut-off host lost its store too: it stops once the link is back, naming process 0.
    network.set_link(1, true);
    let one = finish(one, PATIENCE);
    eprintln!("process 1 stopped {:?} after the link came back", cut_at.elapsed() - zero_stopped);
    one.assert_code(1);
    assert!(one.err.contains("process 0"), "{}", one.err);
    let record = database.newest_run().expect("a run");
    assert_eq!(record.status(), Status::Failed);
    assert!(record.error.as_deref().unwrap_or("").contains("lost process 1"), "{:?}", record.error);
    assert!(zero.out.is_empty(), "a failed run prints no report lines:\n{}", zero.out);
    let stored = database.jobs(&["output", record.id().as_str(), "--full"]);
    assert!(stored.out.is_empty(), "a failed run keeps no output:\n{}", stored.out);

    // Cut off with a retry: once host 1 is back, both processes run the job again and it
    // completes with the local engine's output.
    let extra = ["--workers", "1", "--retries", "1", "--connect-timeout", "40"];
    let mut children = start_all(&network, 2, run, &extra).into_iter();
    let (zero, one) = (children.next().expect("process 0"), children.next().expect("process 1"));
    mapping(&database);
    network.set_link(1, false);
    // Longer than the heartbeat timeout, so both sides give the session up.
    std::thread::sleep(Duration::from_secs(12));
    network.set_link(1, true);
    let (zero, one) = (finish(zero, PATIENCE), finish(one, PATIENCE));
    zero.assert_code(0);
    one.assert_code(0);
    assert!(zero.out == local.out, "the retried run's output differs from the local engine's");
    let record = database.newest_run().expect("a run");
    assert_eq!(record.status(), Status::Completed);
    assert_eq!(record.attempts, 2, "process 0 records the retry");
}
