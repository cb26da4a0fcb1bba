//! Card read and search latency with 100,000 clients in one clinic, on the
//! real encrypted SQLite store, in-process.
//!
//!     cargo bench -p velum --bench card            # 100,000 clients, SQLite
//!     VELUM_BENCH_CLIENTS=5000 cargo bench -p velum --bench card
//!     VELUM_BENCH_DATABASE_URL=postgres://… cargo bench -p velum --bench card
//!
//! The seeded SQLite database is kept in $TMPDIR/velum-bench-<N> and reused
//! by the next run (a PostgreSQL database is reused likewise). Prints
//! p50/p95/p99 per operation; the targets are p95 < 5 ms for a search and
//! for a full card read (decrypt plus audit write). Then 8 concurrent
//! readers share two app instances (two pools, as two app servers would) and
//! the card-read throughput is printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use velum_app::{Actor, App, AppSettings, DataLocation, MasterKey, Role, Section, SystemClock};
use velum_synthetic::Synthetic;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<28} n={:<6} p50={:>8.3} ms  p95={:>8.3} ms  p99={:>8.3} ms",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.95).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
    );
}

#[expect(clippy::disallowed_methods, reason = "a benchmark reads its own settings")]
fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn clients_wanted() -> usize {
    setting("VELUM_BENCH_CLIENTS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let n = clients_wanted();
    let dir = std::env::temp_dir().join(format!("velum-bench-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = AppSettings {
        base_url: "http://127.0.0.1".into(),
        smtp: None,
        blobs: None,
    };
    let pg = setting("VELUM_BENCH_DATABASE_URL");
    let location = match &pg {
        Some(url) => DataLocation::Postgres(url.clone()),
        None => DataLocation::SqliteFile(dir.join("velum.db")),
    };
    let open = || async {
        App::open(
            &location,
            MasterKey::from_bytes(&[9u8; 32]).unwrap(),
            Arc::new(SystemClock),
            settings.clone(),
        )
        .await
        .unwrap()
    };
    let app = open().await;
    let dir = if pg.is_some() { dir.join("pg") } else { dir };
    std::fs::create_dir_all(&dir).unwrap();
    let owner = match app.clinics().await.unwrap().first() {
        Some(c) => {
            let id = std::fs::read_to_string(dir.join("owner")).unwrap();
            Actor::Staff(velum_core::StaffActor {
                staff_id: id.trim().parse().unwrap(),
                clinic_id: c.id,
                role: Role::Owner,
                source: None,
            })
        }
        None => seed(&app, n, &dir).await,
    };
    let practitioner = Actor::Staff(velum_core::StaffActor {
        role: Role::Practitioner,
        ..owner.account().unwrap()
    });

    // Sample ids and search terms from the data itself.
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let page = app.search_clients(&owner, "", cursor.as_deref(), false).await.unwrap();
        ids.extend(page.items.iter().map(|l| l.header.id));
        cursor = page.next;
    }
    // Search terms: the first three letters of family names and of given
    // names, drawn as the seed draws them (so common names come up often).
    let mut rng = Synthetic::new(99);
    let today = app.clinic_today(&owner).await.unwrap();
    let prefix = |name: &str| name.chars().take(3).collect::<String>().to_lowercase();
    let (names, givens): (Vec<String>, Vec<String>) = (0..200)
        .map(|_| {
            let c = rng.client(today);
            (prefix(&c.family_name), prefix(&c.given_name))
        })
        .unzip();

    eprintln!("sampled {} ids", ids.len());
    let mut card = Vec::new();
    for i in 0..2000 {
        let id = ids[i % ids.len()];
        let t = Instant::now();
        app.open_card(&practitioner, id, &[Section::Contact, Section::Medical])
            .await
            .unwrap();
        card.push(t.elapsed());
    }
    eprintln!("card reads done");
    let mut search = Vec::new();
    let mut by_term: std::collections::BTreeMap<&str, Vec<Duration>> = std::collections::BTreeMap::new();
    for i in 0..2000 {
        let term = &names[i % names.len()];
        let t = Instant::now();
        app.search_clients(&owner, term, None, false).await.unwrap();
        search.push(t.elapsed());
        by_term.entry(term).or_default().push(t.elapsed());
    }
    if setting("VELUM_BENCH_SLOWEST").is_some() {
        let mut medians: Vec<(Duration, &str)> = by_term
            .iter_mut()
            .map(|(k, v)| {
                v.sort();
                (v[v.len() / 2], *k)
            })
            .collect();
        medians.sort();
        for (d, k) in medians.iter().rev().take(12) {
            eprintln!("slow term {k:?}: median {:.3} ms", d.as_secs_f64() * 1e3);
        }
    }
    let mut given = Vec::new();
    for i in 0..2000 {
        let t = Instant::now();
        app.search_clients(&owner, &givens[i % givens.len()], None, false)
            .await
            .unwrap();
        given.push(t.elapsed());
    }
    eprintln!("name searches done");
    let mut dob = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        app.search_clients(&owner, "1985-04-23", None, false).await.unwrap();
        dob.push(t.elapsed());
    }
    println!(
        "backend: {}; clients in clinic: {n}",
        if pg.is_some() {
            "PostgreSQL"
        } else {
            "SQLite (SQLCipher)"
        }
    );
    report("full card read (c+medical)", card);
    report("search: family-name prefix", search);
    report("search: given-name prefix", given);
    report("search: date of birth", dob);

    // Throughput: 8 concurrent readers over two app instances.
    let second = open().await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let app = if t % 2 == 0 { app.clone() } else { second.clone() };
        let actor = practitioner.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..500 {
                let id = ids[(t * 500 + i) % ids.len()];
                app.open_card(&actor, id, &[Section::Contact, Section::Medical])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "8 concurrent readers, 2 app instances: {:.0} card reads/s ({} reads in {secs:.2} s)",
        4000.0 / secs,
        4000
    );
    second.close().await;
    app.close().await;
}

async fn seed(app: &App, n: usize, dir: &std::path::Path) -> Actor {
    let clinic = app.fixture_clinic("Benchmark Clinic").await.unwrap();
    let (staff_id, _) = app
        .fixture_staff(
            clinic,
            "owner@bench.example",
            "Bench Owner",
            Role::Owner,
            "granite-puffin-lagoon-velvet",
        )
        .await
        .unwrap();
    std::fs::write(dir.join("owner"), staff_id.to_string()).unwrap();
    let owner = Actor::Staff(velum_core::StaffActor {
        staff_id,
        clinic_id: clinic,
        role: Role::Owner,
        source: None,
    });
    let mut rng = Synthetic::new(1);
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let batch = (n - done).min(1000);
        app.fixture_clients(&owner, batch, &mut rng).await.unwrap();
        done += batch;
        eprintln!("seeded {done}/{n} clients ({:.0?})", started.elapsed());
    }
    owner
}
