//! The timely engine in the bench: one process with every worker, and a two-process cluster
//! on loopback (two sessions on two threads of this process, sharing the store, talking TCP
//! as separate processes would), against the local engine on the same store.

use std::net::TcpListener;
use std::path::Path;

use anyhow::{Context, Result, anyhow, ensure};
use jobs_core::cluster::{self, ClusterConfig};
use jobs_core::{RedbStore, RunOptions, RunReport};
use jobs_examples::InteractionAuditOneOffJob;

/// `InteractionAuditOneOffJob` on one timely process with `workers` workers.
pub fn one_process(path: &Path, workers: usize, shards: usize) -> Result<Vec<String>> {
    let store = RedbStore::open(path)?;
    let options = RunOptions::default().with_shards(shards);
    checked(cluster::run_local(&InteractionAuditOneOffJob, &store, &options, workers)?)
}

/// `InteractionAuditOneOffJob` on a cluster of `processes` sessions of `workers` workers each,
/// connected over 127.0.0.1; returns process 0's output.
pub fn loopback_cluster(path: &Path, processes: usize, workers: usize, shards: usize) -> Result<Vec<String>> {
    let store = RedbStore::open(path)?;
    let hosts = free_ports(processes)?.into_iter().map(|port| format!("127.0.0.1:{port}")).collect::<Vec<_>>();
    let options = RunOptions::default().with_shards(shards);
    let reports = std::thread::scope(|scope| {
        let sessions: Vec<_> = (0..processes)
            .map(|process| {
                let config = ClusterConfig::cluster(workers, process, hosts.clone());
                let (store, options) = (&store, &options);
                scope.spawn(move || cluster::run(&InteractionAuditOneOffJob, store, options, &config))
            })
            .collect();
        sessions.into_iter().map(|s| s.join().map_err(|_| anyhow!("a cluster session panicked"))).collect::<Vec<_>>()
    });
    let mut reports = reports.into_iter();
    let zero = reports.next().context("no process 0")???;
    for other in reports {
        other??;
    }
    checked(zero)
}

fn checked(report: RunReport) -> Result<Vec<String>> {
    ensure!(report.stats.failures == 0, "the timely run had failures: {:?}", report.failures.first());
    Ok(report.output)
}

fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<std::io::Result<Vec<_>>>()?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}
