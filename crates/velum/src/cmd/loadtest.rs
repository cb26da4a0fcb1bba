//! `velum loadtest`: drive a running Velum over HTTP as a clinic would and
//! report each operation's throughput and latency percentiles.
//!
//! It signs in once through the API (email, password and a TOTP code made
//! from the credentials file that `velum demo` writes) and shares the
//! session's token between its client tasks: a TOTP code can be used once,
//! and sign-ins are throttled per source address. Each client task has its
//! own HTTP client holding one keep-alive connection and sends one request
//! at a time. The operations run one after another, each for `--seconds`
//! with `--clients` tasks:
//!
//! - `healthz`: `GET /healthz`, the harness's own ceiling on this machine;
//! - `create_client`: `POST /api/v1/clients` with a new synthetic card;
//! - `read_client_full`: `GET /api/v1/clients/{id}` then
//!   `GET /api/v1/clients/{id}/medical` (both audited) for a random client
//!   of the clinic's list.
//!
//! `practitioner_day` and `create_appointment` are reported as not
//! available: Velum has no scheduling yet.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of the running server (plain http://, as `velum demo` or
    /// `velum serve --insecure-http` listen).
    #[arg(long)]
    url: String,
    /// The account to sign in as: the `demo-credentials.json` that `velum
    /// demo` writes (the first practitioner in it is used, else a manager,
    /// else an owner), or one object with `email`, `password` and
    /// `totp_secret`.
    #[arg(long)]
    credentials: PathBuf,
    /// Concurrent client tasks, each with its own keep-alive connection.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// How long each operation runs, in seconds (fractions allowed).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Allow a server that is not on this machine. The harness sends the
    /// password and a sign-in code over plain HTTP and creates synthetic
    /// clients (with their audit events) in the clinic it signs in to, so
    /// by default it only drives a server on a loopback address.
    #[arg(long)]
    allow_remote: bool,
}

/// The operations, in the order they run and are reported.
const OPERATIONS: [&str; 5] = [
    "healthz",
    "create_client",
    "read_client_full",
    "practitioner_day",
    "create_appointment",
];
/// Why an operation is not driven.
const NO_SCHEDULING: &str = "not available: Velum has no scheduling yet";
/// At most this many client ids are read from the clinic's list.
const MAX_IDS: usize = 20_000;

/// One operation's results.
#[derive(Debug, Serialize)]
struct OpReport {
    name: &'static str,
    available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
    /// Operations completed without error.
    count: u64,
    /// HTTP requests those operations made.
    requests: u64,
    /// Operations that failed (transport error or unexpected status).
    errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_error: Option<String>,
    /// Completed operations per second of the run.
    per_second: f64,
    /// Requests per second of the run.
    requests_per_second: f64,
    /// Latency of one whole operation, in milliseconds.
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    url: String,
    clients: usize,
    seconds: f64,
    operations: Vec<OpReport>,
}

#[derive(Debug, serde::Deserialize)]
struct Account {
    email: String,
    password: String,
    totp_secret: String,
    #[serde(default)]
    role: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.clients == 0 {
        bail!("--clients: must be at least 1");
    }
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 86_400.0) {
        bail!("--seconds: must be a number of seconds above 0 (at most a day)");
    }
    let base = parse_base_url(&args.url, args.allow_remote)?;
    let account = read_account(&args.credentials)?;
    let setup = http_client()?;
    let token = sign_in(&setup, &base, &account).await?;
    let token: Arc<str> = Arc::from(token);

    let run_for = Duration::from_secs_f64(args.seconds);
    let mut reports = Vec::new();
    let mut ids = list_client_ids(&setup, &base, &token).await?;
    for name in OPERATIONS {
        let report = match name {
            "healthz" | "create_client" => drive(name, &base, &token, args.clients, run_for, &[]).await?,
            "read_client_full" => {
                if ids.is_empty() {
                    ids = list_client_ids(&setup, &base, &token).await?;
                }
                if ids.is_empty() {
                    bail!("the clinic has no clients to read (seed some with `velum demo`)");
                }
                drive(name, &base, &token, args.clients, run_for, &ids).await?
            }
            _ => OpReport::unavailable(name),
        };
        reports.push(report);
    }
    // The session ends with the run (best effort: the report matters more).
    let _ = setup
        .post(format!("{base}/api/v1/auth/logout"))
        .bearer_auth(&*token)
        .send()
        .await;

    let failed = reports.iter().any(|r| r.errors > 0);
    let report = Report {
        url: base,
        clients: args.clients,
        seconds: args.seconds,
        operations: reports,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    if failed {
        eprintln!("error: some requests failed (see `errors` and `first_error`)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--url` without a trailing slash; plain HTTP only (this build of the
/// harness has no TLS client), and a loopback host unless `allow_remote`.
fn parse_base_url(url: &str, allow_remote: bool) -> anyhow::Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let Some(rest) = trimmed.strip_prefix("http://") else {
        if trimmed.starts_with("https://") {
            bail!("--url: https is not supported; point it at a plain http:// listener (such as `velum demo`'s)");
        }
        bail!("--url: expected http://HOST:PORT, got {url:?}");
    };
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        bail!("--url: expected http://HOST:PORT, got {url:?}");
    }
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| anyhow::anyhow!("--url: {e}"))?;
    let Some(host) = parsed.host_str() else {
        bail!("--url: no host in {url:?}");
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback());
    if !loopback && !allow_remote {
        bail!(
            "--url: {url:?} is not on this machine; the harness sends a password over plain HTTP and writes \
             synthetic clients, so give --allow-remote to drive another machine's server"
        );
    }
    Ok(trimmed.to_owned())
}

/// The account from the credentials file: a `velum demo` list or one object.
fn read_account(path: &std::path::Path) -> anyhow::Result<Account> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--credentials: cannot read {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("--credentials: {} is not JSON", path.display()))?;
    let accounts: Vec<Account> = match value {
        Value::Array(_) => serde_json::from_value(value),
        other => serde_json::from_value(other).map(|a| vec![a]),
    }
    .with_context(|| {
        format!(
            "--credentials: {} must hold an account (email, password, totp_secret) or a list of them",
            path.display()
        )
    })?;
    let pick = ["practitioner", "manager", "owner"]
        .iter()
        .find_map(|want| accounts.iter().position(|a| a.role.as_deref() == Some(want)))
        .or_else(|| accounts.iter().position(|a| a.role.is_none()));
    match pick {
        Some(i) => Ok(accounts.into_iter().nth(i).unwrap_or_else(|| unreachable!())),
        None => bail!(
            "--credentials: {} has no practitioner, manager or owner account (one that may read medical summaries)",
            path.display()
        ),
    }
}

/// One HTTP client: no redirects, one keep-alive connection, no Nagle delay.
fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot make an HTTP client")
}

/// Seconds since the Unix epoch, for the TOTP code. The harness runs
/// outside the app, so it reads the system clock itself.
#[expect(
    clippy::disallowed_methods,
    reason = "the load harness is a client of the server, not part of the app; it has no app clock"
)]
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Sign in through the API. A code of the current 30-second step may have
/// been used already (a run just before this one); then the next step's
/// code, which the server also accepts, is tried once.
async fn sign_in(http: &reqwest::Client, base: &str, account: &Account) -> anyhow::Result<String> {
    let secret = velum_crypto::totp::TotpSecret::from_base32(&account.totp_secret)
        .map_err(|_| anyhow::anyhow!("--credentials: totp_secret is not a valid base32 TOTP secret"))?;
    let now = unix_now();
    let mut last = String::new();
    for at in [now, now + 30] {
        let body = json!({"email": account.email, "password": account.password, "totp": secret.code_at(at)});
        let r = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("--url: cannot reach {base}"))?;
        let status = r.status();
        if status.is_success() {
            let v: Value = r.json().await.context("sign-in: the answer was not JSON")?;
            return v
                .get("token")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("sign-in: the answer has no token"));
        }
        let text = r.text().await.unwrap_or_default();
        let msg = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or(text);
        last = format!("{} {}", status.as_u16(), msg.trim());
        if status != reqwest::StatusCode::UNAUTHORIZED {
            break;
        }
    }
    bail!("sign-in refused: {last} (check the credentials file and that the server's clock is right)")
}

/// Ids from the clinic's client list, page by page (at most `MAX_IDS`).
async fn list_client_ids(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = http.get(format!("{base}/api/v1/clients")).bearer_auth(token);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let r = req.send().await.context("listing clients")?;
        if !r.status().is_success() {
            bail!("listing clients: HTTP {}", r.status().as_u16());
        }
        let page: Value = r.json().await.context("listing clients: the answer was not JSON")?;
        let items = page.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
        ids.extend(
            items
                .iter()
                .filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_owned)),
        );
        cursor = page.get("next_cursor").and_then(Value::as_str).map(str::to_owned);
        if cursor.is_none() || ids.len() >= MAX_IDS || items.is_empty() {
            return Ok(ids);
        }
    }
}

/// What one task measured.
#[derive(Default)]
struct TaskResult {
    latencies_us: Vec<u32>,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Run one operation with `clients` tasks for `run_for`.
async fn drive(
    name: &'static str,
    base: &str,
    token: &Arc<str>,
    clients: usize,
    run_for: Duration,
    ids: &[String],
) -> anyhow::Result<OpReport> {
    let ids: Arc<[String]> = Arc::from(ids);
    let run_tag = letters(RandomState::new().build_hasher().finish());
    let start = Instant::now();
    let deadline = start + run_for;
    let mut tasks = Vec::with_capacity(clients);
    for n in 0..clients {
        let http = http_client()?;
        let base = base.to_owned();
        let token = token.clone();
        let ids = ids.clone();
        let tag = format!("{run_tag}{}", letters(n as u64));
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new();
            let mut out = TaskResult::default();
            let mut seq = 0_u64;
            while Instant::now() < deadline {
                let began = Instant::now();
                let result = match name {
                    "healthz" => healthz(&http, &base).await,
                    "create_client" => {
                        seq += 1;
                        create_client(&http, &base, &token, &tag, seq).await
                    }
                    _ => {
                        let id = &ids[rng.below(ids.len())];
                        read_client_full(&http, &base, &token, id).await
                    }
                };
                let took = began.elapsed();
                match result {
                    Ok(requests) => {
                        out.requests += requests;
                        out.latencies_us
                            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert(e);
                    }
                }
            }
            out
        }));
    }
    let mut all = TaskResult::default();
    for t in tasks {
        let r = t.await.context("a client task failed")?;
        all.latencies_us.extend(r.latencies_us);
        all.requests += r.requests;
        all.errors += r.errors;
        if all.first_error.is_none() {
            all.first_error = r.first_error;
        }
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    all.latencies_us.sort_unstable();
    let pct = |p: f64| percentile_ms(&all.latencies_us, p);
    let count = all.latencies_us.len() as u64;
    Ok(OpReport {
        name,
        available: true,
        note: None,
        count,
        requests: all.requests,
        errors: all.errors,
        first_error: all.first_error,
        per_second: count as f64 / elapsed,
        requests_per_second: all.requests as f64 / elapsed,
        p50_ms: pct(50.0),
        p95_ms: pct(95.0),
        p99_ms: pct(99.0),
        max_ms: pct(100.0),
    })
}

impl OpReport {
    fn unavailable(name: &'static str) -> OpReport {
        OpReport {
            name,
            available: false,
            note: Some(NO_SCHEDULING),
            count: 0,
            requests: 0,
            errors: 0,
            first_error: None,
            per_second: 0.0,
            requests_per_second: 0.0,
            p50_ms: 0.0,
            p95_ms: 0.0,
            p99_ms: 0.0,
            max_ms: 0.0,
        }
    }
}

/// The nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[i]) / 1000.0
}

/// A request's outcome: the status it should have, or a short error (no
/// body: it could hold personal data).
async fn expect(resp: Result<reqwest::Response, reqwest::Error>, want: u16, what: &str) -> Result<(), String> {
    match resp {
        Ok(r) if r.status().as_u16() == want => {
            // Read the body so the connection can be reused.
            r.bytes().await.map(|_| ()).map_err(|e| format!("{what}: {e}"))
        }
        Ok(r) => Err(format!("{what}: HTTP {}", r.status().as_u16())),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

async fn healthz(http: &reqwest::Client, base: &str) -> Result<u64, String> {
    expect(http.get(format!("{base}/healthz")).send().await, 200, "GET /healthz").await?;
    Ok(1)
}

async fn create_client(http: &reqwest::Client, base: &str, token: &str, tag: &str, seq: u64) -> Result<u64, String> {
    let family = format!("Loadtest{}{}", tag, letters(seq));
    let body = json!({
        "given_name": "Avery",
        "family_name": family,
        "date_of_birth": "1990-05-17",
        "email": format!("loadtest.{}.{seq}@example.org", tag.to_lowercase()),
        "address": {"line1": "1 Test Row", "town": "Leeds", "postcode": "LS1 4AP"}
    });
    let resp = http
        .post(format!("{base}/api/v1/clients"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await;
    expect(resp, 201, "POST /api/v1/clients").await?;
    Ok(1)
}

async fn read_client_full(http: &reqwest::Client, base: &str, token: &str, id: &str) -> Result<u64, String> {
    let card = http
        .get(format!("{base}/api/v1/clients/{id}"))
        .bearer_auth(token)
        .send()
        .await;
    expect(card, 200, "GET /api/v1/clients/{id}").await?;
    let medical = http
        .get(format!("{base}/api/v1/clients/{id}/medical"))
        .bearer_auth(token)
        .send()
        .await;
    expect(medical, 200, "GET /api/v1/clients/{id}/medical").await?;
    Ok(2)
}

/// A number spelled in letters (client names may not hold digits).
fn letters(mut n: u64) -> String {
    let mut s = String::new();
    loop {
        s.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return s;
        }
    }
}

/// xorshift64*: picking random ids needs no more.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        Rng(RandomState::new().build_hasher().finish() | 1)
    }
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

fn print_table(r: &Report) {
    println!(
        "velum loadtest: {} clients, {} s per operation, {}",
        r.clients, r.seconds, r.url
    );
    println!(
        "{:<20} {:>9} {:>11} {:>11} {:>9} {:>9} {:>9} {:>7}",
        "operation", "count", "ops/s", "requests/s", "p50 ms", "p95 ms", "p99 ms", "errors"
    );
    for op in &r.operations {
        if !op.available {
            println!("{:<20} {}", op.name, op.note.unwrap_or("not available"));
            continue;
        }
        println!(
            "{:<20} {:>9} {:>11.1} {:>11.1} {:>9.3} {:>9.3} {:>9.3} {:>7}",
            op.name, op.count, op.per_second, op.requests_per_second, op.p50_ms, op.p95_ms, op.p99_ms, op.errors
        );
        if let Some(e) = &op.first_error {
            println!("{:<20} first error: {e}", "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 50.0);
        assert_eq!(percentile_ms(&v, 95.0), 95.0);
        assert_eq!(percentile_ms(&v, 99.0), 99.0);
        assert_eq!(percentile_ms(&v, 100.0), 100.0);
        assert_eq!(percentile_ms(&[], 95.0), 0.0);
        assert_eq!(percentile_ms(&[7000], 1.0), 7.0);
    }

    #[test]
    fn the_url_must_be_plain_http_with_a_host() {
        assert_eq!(
            parse_base_url("http://127.0.0.1:8080/", false).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            parse_base_url("http://localhost:8080", false).unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(parse_base_url("http://[::1]:8080", false).unwrap(), "http://[::1]:8080");
        let e = parse_base_url("http://clinic.example:8080", false)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--url:") && e.contains("--allow-remote"), "{e}");
        assert_eq!(
            parse_base_url("http://clinic.example:8080", true).unwrap(),
            "http://clinic.example:8080"
        );
        for bad in [
            "127.0.0.1:8080",
            "https://x.example",
            "http://",
            "ftp://x",
            "http://a b",
        ] {
            let e = parse_base_url(bad, true).unwrap_err().to_string();
            assert!(e.starts_with("--url:"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_first_account_that_may_read_medical_summaries_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let acc = |role: &str| json!({"email": format!("{role}@x.example"), "password": "p", "totp_secret": "JBSWY3DPEHPK3PXP", "role": role});
        std::fs::write(
            &path,
            json!([acc("receptionist"), acc("owner"), acc("practitioner")]).to_string(),
        )
        .unwrap();
        assert_eq!(read_account(&path).unwrap().email, "practitioner@x.example");
        std::fs::write(&path, json!([acc("receptionist")]).to_string()).unwrap();
        assert!(read_account(&path).unwrap_err().to_string().contains("no practitioner"));
        std::fs::write(
            &path,
            json!({"email": "a@x.example", "password": "p", "totp_secret": "JBSWY3DPEHPK3PXP"}).to_string(),
        )
        .unwrap();
        assert_eq!(read_account(&path).unwrap().email, "a@x.example");
        std::fs::write(&path, "{").unwrap();
        assert!(read_account(&path).unwrap_err().to_string().contains("not JSON"));
        let missing = read_account(&dir.path().join("none.json")).unwrap_err().to_string();
        assert!(missing.starts_with("--credentials: cannot read"), "{missing}");
    }
}
