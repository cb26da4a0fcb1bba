//! Test-only: the real Velum app on `127.0.0.1:0` with a fresh encrypted
//! database in a temporary directory, a clock the test moves, typed role
//! fixtures, an API client, and an SMTP listener on loopback that keeps
//! what it receives. Dropping a `TestApp` stops the server and deletes its
//! data (its temporary directory, and its PostgreSQL database if it has one).

pub mod cli;
mod raw;
mod smtp;

use std::net::SocketAddr;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, Response};
use serde_json::Value;
use tokio::sync::oneshot;
use velum_app::mail::SmtpTls;
use velum_app::{
    Actor, App, AppSettings, BlobStore, ClientId, ClinicId, Clock, DataLocation, FixedClock, MasterKey, Role,
    SmtpSettings, StaffId,
};
use velum_crypto::TotpSecret;
use velum_synthetic::Synthetic;

pub use raw::{RawDb, tamper};
pub use smtp::SmtpSink;
#[doc(hidden)]
pub use sqlx as __sqlx;

/// A running app with its own data.
pub struct TestApp {
    pub app: App,
    pub addr: SocketAddr,
    pub base_url: String,
    pub clock: Arc<FixedClock>,
    pub smtp: SmtpSink,
    pub http: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    /// Where the data lives (the SQLite file in `data_dir`, or the test's
    /// own PostgreSQL database), for tests that reach behind the app.
    pub location: DataLocation,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    counter: std::sync::atomic::AtomicU32,
    /// The test's own PostgreSQL database, dropped after the app is closed.
    _pg: Option<PgDatabase>,
}

/// A member of staff with known credentials.
#[derive(Clone, Debug)]
pub struct Staff {
    pub id: StaffId,
    pub clinic: ClinicId,
    pub role: Role,
    pub email: String,
    pub password: String,
    pub totp_secret: String,
}

impl Staff {
    pub fn actor(&self) -> Actor {
        staff_actor(self.clinic, self.id, self.role)
    }
}

/// Member of staff `staff` acting as `role` in `clinic` (no source address),
/// for tests that call the app directly.
pub fn staff_actor(clinic: ClinicId, staff: StaffId, role: Role) -> Actor {
    Actor::Staff(velum_core::StaffActor {
        staff_id: staff,
        clinic_id: clinic,
        role,
        source: None,
    })
}

/// A ready member of staff (password set, two-step sign-in confirmed) made
/// through `app`'s fixtures, for tests that call the app directly: acting
/// as them, and their TOTP secret.
pub async fn seed_staff(
    app: &App,
    clinic: ClinicId,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
) -> (Actor, String) {
    let (id, totp_secret) = app
        .fixture_staff(clinic, email, name, role, password)
        .await
        .expect("staff");
    (staff_actor(clinic, id, role), totp_secret)
}

/// A clock fixed at the real time now, which the test then moves.
pub fn clock_now() -> Arc<FixedClock> {
    #[expect(
        clippy::disallowed_methods,
        reason = "the test clock starts at the real time, then the test moves it"
    )]
    let now = Timestamp::now();
    Arc::new(FixedClock::new(now))
}

/// A clinic with one account per role.
#[derive(Clone, Debug)]
pub struct Clinic {
    pub id: ClinicId,
    pub staff: Vec<Staff>,
}

impl Clinic {
    pub fn by_role(&self, role: Role) -> &Staff {
        self.staff
            .iter()
            .find(|s| s.role == role)
            .expect("every role has an account")
    }
    pub fn owner(&self) -> &Staff {
        self.by_role(Role::Owner)
    }
}

/// The bytes of [`test_master_key`], as `velum` reads them from a key file
/// ([`cli::data_dir_with_key`]).
pub const TEST_KEY: [u8; 32] = [7; 32];

/// The master key every test app uses: fixed, so data dirs can be reopened.
pub fn test_master_key() -> MasterKey {
    MasterKey::from_bytes(&TEST_KEY).expect("32 bytes")
}

/// Which database a test app runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend the suite was asked to run on: `VELUM_TEST_BACKEND=postgres`
    /// (with `VELUM_TEST_PG_URL`) or SQLite by default.
    pub fn from_env() -> Backend {
        match env("VELUM_TEST_BACKEND").as_deref() {
            Some("postgres") => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }
}

#[expect(clippy::disallowed_methods, reason = "the test kit reads its own settings")]
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The PostgreSQL server tests may use (`VELUM_TEST_PG_URL`), if any.
pub fn pg_url() -> Option<String> {
    env("VELUM_TEST_PG_URL")
}

/// A PostgreSQL database made for one test on the test server. Dropping it
/// drops the database (ending any connection still open to it), also when
/// the test fails, so the server does not fill up with test databases.
#[derive(Debug)]
pub struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for PgDatabase {
    /// Blocking, on a thread of its own with its own runtime, so it works
    /// from any context: inside or outside a runtime, and while unwinding.
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            use sqlx::Connection;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await.map_err(|e| e.to_string())?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: test database {} was not dropped: {e}", self.name),
            Err(_) => eprintln!("warning: test database {} was not dropped", self.name),
        }
    }
}

/// A fresh, empty PostgreSQL database on the test server, dropped with the
/// returned guard. Panics if `VELUM_TEST_PG_URL` is not set.
pub async fn fresh_pg_database() -> PgDatabase {
    use sqlx::Connection;
    let admin = pg_url().expect("VELUM_TEST_PG_URL must be set for PostgreSQL tests");
    let name = format!("velum_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.expect("close");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    PgDatabase { admin, name, url }
}

/// Where a test's data lives: a temporary directory, and the test's own
/// PostgreSQL database if it has one. Keep it alive as long as the data is
/// used; dropping it deletes both.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
    // Declared after `dir`, dropped after it: the directory goes first.
    pg: Option<PgDatabase>,
}

impl Scratch {
    /// The temporary directory.
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The test's own PostgreSQL database, if it has one.
    pub fn pg(&self) -> Option<&PgDatabase> {
        self.pg.as_ref()
    }
}

/// A fresh, empty place for data on `backend`; keep the returned
/// [`Scratch`] alive as long as the data is used.
pub async fn fresh_location(backend: Backend) -> (DataLocation, Scratch) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (location, pg) = match backend {
        Backend::Sqlite => (DataLocation::SqliteFile(dir.path().join("velum.db")), None),
        Backend::Postgres => {
            let db = fresh_pg_database().await;
            (DataLocation::Postgres(db.url().to_owned()), Some(db))
        }
    };
    (location, Scratch { dir, pg })
}

/// Settings that send mail to `sink` over STARTTLS (required, as
/// `velum serve` does by default), trusting the sink's certificate; plain
/// SMTP to a sink without TLS.
pub fn smtp_settings(sink: &SmtpSink) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port: sink.port(),
        from: "Velum <velum@test.example>".into(),
        tls: if sink.ca_pem().is_some() {
            SmtpTls::Required
        } else {
            SmtpTls::None
        },
        ca_pem: sink.ca_pem().map(str::to_owned),
        username: None,
        password: None,
    }
}

/// Open an app on `location` with the test key and `clock`, sending mail to
/// `smtp` if given (no blob store).
pub async fn open_app(location: &DataLocation, clock: Arc<FixedClock>, smtp: Option<&SmtpSink>) -> App {
    open_app_with_blobs(location, clock, smtp, None).await
}

/// [`open_app`] with a blob store.
pub async fn open_app_with_blobs(
    location: &DataLocation,
    clock: Arc<FixedClock>,
    smtp: Option<&SmtpSink>,
    blobs: Option<BlobStore>,
) -> App {
    let settings = AppSettings {
        base_url: "http://127.0.0.1".into(),
        smtp: smtp.map(smtp_settings),
        blobs,
    };
    App::open(location, test_master_key(), clock, settings)
        .await
        .expect("open app")
}

/// Whether the tests run under CI (`CI` set to any non-empty value): then a
/// missing PostgreSQL server, S3 server or browser part is a failure, never
/// a skip, so CI cannot pass without them.
pub fn under_ci() -> bool {
    env("CI").is_some()
}

/// Print, loudly, that PostgreSQL tests were skipped. Returns true when they
/// must be skipped (no server configured). Under CI ([`under_ci`]) a
/// missing server fails the test instead.
pub fn skip_without_pg(test: &str) -> bool {
    if pg_url().is_some() {
        return false;
    }
    assert!(
        !under_ci(),
        "PostgreSQL test {test}: VELUM_TEST_PG_URL is not set and CI is: CI must run every PostgreSQL test"
    );
    eprintln!("SKIPPED: PostgreSQL test {test}: VELUM_TEST_PG_URL is not set (.ci/run starts a server and sets it)");
    true
}

impl TestApp {
    /// Start the app on a fresh database of the backend chosen by the
    /// environment (see [`Backend::from_env`]).
    pub async fn spawn() -> TestApp {
        Self::spawn_on(Backend::from_env()).await
    }

    /// Start the app on a fresh database: an encrypted SQLite file in a
    /// temporary directory, or a new PostgreSQL database.
    pub async fn spawn_on(backend: Backend) -> TestApp {
        Self::spawn_with(backend, false, Vec::new()).await
    }

    /// Start the app as it runs behind a TLS proxy (an `https://` base URL):
    /// `__Host-` cookies marked `Secure`, HSTS on every response. The test
    /// still talks plain HTTP to the socket, as the proxy would.
    pub async fn spawn_https() -> TestApp {
        Self::spawn_with(Backend::from_env(), true, Vec::new()).await
    }

    /// [`TestApp::spawn`] behind trusted proxies: requests from these
    /// ranges have their `X-Forwarded-For` / `Forwarded` headers believed
    /// (as `velum serve --trusted-proxy`). Test clients connect from
    /// 127.0.0.1 unless they choose another loopback address.
    pub async fn spawn_trusting(trusted_proxies: &[&str]) -> TestApp {
        let nets = trusted_proxies
            .iter()
            .map(|t| velum_web::parse_trusted_proxy(t).expect("a CIDR"))
            .collect();
        Self::spawn_with(Backend::from_env(), false, nets).await
    }

    async fn spawn_with(backend: Backend, https: bool, trusted_proxies: Vec<velum_web::IpNet>) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let smtp = SmtpSink::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base_url = format!("http://{addr}");
        let clock = clock_now();
        let settings = AppSettings {
            base_url: base_url.clone(),
            smtp: Some(smtp_settings(&smtp)),
            // As `velum serve` on the embedded database: blobs/ in the data dir.
            blobs: Some(BlobStore::open(&data_dir.path().join("blobs").to_string_lossy()).expect("blob store")),
        };
        let (location, pg) = match backend {
            Backend::Sqlite => (DataLocation::SqliteFile(data_dir.path().join("velum.db")), None),
            Backend::Postgres => {
                let db = fresh_pg_database().await;
                (DataLocation::Postgres(db.url().to_owned()), Some(db))
            }
        };
        let app = App::open(&location, test_master_key(), clock.clone(), settings)
            .await
            .expect("open app");
        let router = velum_web::router(
            app.clone(),
            velum_web::WebConfig {
                secure_cookies: https,
                first_run_token: None,
                trusted_proxies,
            },
        );
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = velum_web::serve(listener, router, async {
                let _ = rx.await;
            })
            .await;
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let t = TestApp {
            app,
            addr,
            base_url,
            clock,
            smtp,
            http,
            data_dir,
            location,
            shutdown: Some(tx),
            server: Some(server),
            counter: std::sync::atomic::AtomicU32::new(0),
            _pg: pg,
        };
        t.wait_healthy().await;
        t
    }

    async fn wait_healthy(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base_url)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the app did not answer /healthz");
    }

    /// A clinic with one ready account per role.
    pub async fn clinic(&self, name: &str) -> Clinic {
        let id = self.app.fixture_clinic(name).await.expect("clinic");
        let mut staff = Vec::new();
        for role in Role::ALL {
            staff.push(self.staff(id, role).await);
        }
        Clinic { id, staff }
    }

    /// A ready account (password set, TOTP confirmed) in `clinic`.
    pub async fn staff(&self, clinic: ClinicId, role: Role) -> Staff {
        let n = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let email = format!("{}.{n}@{}.test.example", role.as_str(), &clinic.to_string()[..8]);
        let password = format!("quiet-harbour-lantern-{n}-velum");
        let (id, secret) = self
            .app
            .fixture_staff(clinic, &email, &format!("{} {n}", role.label()), role, &password)
            .await
            .expect("staff");
        Staff {
            id,
            clinic,
            role,
            email,
            password,
            totp_secret: secret,
        }
    }

    /// A ready platform operator account (hosted mode).
    pub async fn operator(&self) -> Staff {
        let n = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let email = format!("operator.{n}@platform.test.example");
        let password = format!("quiet-harbour-lantern-{n}-velum");
        let (id, secret) = self
            .app
            .fixture_operator(&email, &format!("Operator {n}"), &password)
            .await
            .expect("operator");
        Staff {
            id,
            clinic: velum_app::platform::platform_id(),
            role: Role::Operator,
            email,
            password,
            totp_secret: secret,
        }
    }

    /// `n` synthetic clients created by `by`.
    pub async fn clients(&self, by: &Staff, n: usize, seed: u64) -> Vec<ClientId> {
        let mut rng = Synthetic::new(seed);
        self.app
            .fixture_clients(&by.actor(), n, &mut rng)
            .await
            .expect("clients")
    }

    /// The current TOTP code for `staff`, after moving the clock to a fresh
    /// 30-second step (a code can be used once only).
    pub fn fresh_code(&self, staff: &Staff) -> String {
        self.clock.advance(SignedDuration::from_secs(30));
        code_at(&staff.totp_secret, self.clock.now())
    }

    /// Sign in through the API and return a client holding the token.
    pub async fn login(&self, staff: &Staff) -> Api {
        let code = self.fresh_code(staff);
        let r = self
            .post_json(
                "/api/v1/auth/login",
                &serde_json::json!({"email": staff.email, "password": staff.password, "totp": code}),
            )
            .await;
        assert_eq!(r.status(), 200, "login for {} failed", staff.role);
        let body: Value = r.json().await.expect("json");
        Api {
            http: self.http.clone(),
            base_url: self.base_url.clone(),
            token: body["token"].as_str().expect("token").to_owned(),
        }
    }

    /// POST JSON without a token.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(format!("{}{path}", self.base_url))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// A client (no redirects followed) whose requests come from the
    /// loopback address `ip` (any of 127.0.0.0/8 reaches the app), so a
    /// test can play several source addresses.
    pub fn client_from(&self, ip: std::net::Ipv4Addr, cookies: bool) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::V4(ip))
            .cookie_store(cookies)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Run the background worker's mail work now, as `velum serve`'s
    /// worker does each round: handle queued password-reset requests, then
    /// deliver the outbox to the SMTP sink.
    pub async fn deliver_mail(&self) -> usize {
        self.app.process_password_resets().await.expect("password resets");
        self.app.deliver_outbox().await.expect("deliver")
    }

    /// Stop the server and close the database (so files can be inspected).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        self.app.close().await;
    }
}

impl Drop for TestApp {
    /// Stop the server and close the database before the test's process
    /// can exit: SQLCipher's connections must be closed before OpenSSL's
    /// exit handlers run, or a connection closing on its own thread can
    /// crash the process after the test has passed. Tests therefore use the
    /// multi-threaded runtime (`#[tokio::test(flavor = "multi_thread")]`).
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                let app = self.app.clone();
                tokio::task::block_in_place(|| h.block_on(app.close()));
            }
            _ => {}
        }
    }
}

/// The TOTP code for a base32 secret at `t`.
pub fn code_at(secret_base32: &str, t: Timestamp) -> String {
    let secret = TotpSecret::from_base32(secret_base32).expect("secret");
    secret.code_at(u64::try_from(t.as_second()).expect("positive time"))
}

/// An API client with a bearer token.
#[derive(Clone, Debug)]
pub struct Api {
    pub http: reqwest::Client,
    pub base_url: String,
    pub token: String,
}

impl Api {
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("request")
    }
    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.send(Method::PATCH, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.send(Method::PUT, path, Some(body)).await
    }
}

/// A valid new-client body, unique per `n`.
pub fn client_json(n: u32) -> Value {
    serde_json::json!({
        "given_name": "Amelia",
        "family_name": format!("Testcase{}", letters(n)),
        "date_of_birth": "1988-03-14",
        "email": format!("amelia.{n}@example.org"),
        "mobile": format!("07911 {:06}", 100_000 + n),
        "address": {"line1": "12 Elm Grove", "town": "Leeds", "postcode": "LS6 2AB"}
    })
}

/// A number spelled in letters (names may not contain digits).
pub fn letters(mut n: u32) -> String {
    let mut s = String::new();
    loop {
        s.push(char::from(b'a' + u8::try_from(n % 26).unwrap_or(0)));
        n /= 26;
        if n == 0 {
            break s;
        }
    }
}

/// A browser-like client (cookie jar, no redirects followed) signed in
/// through the pages.
#[derive(Clone, Debug)]
pub struct Web {
    pub http: reqwest::Client,
    pub base_url: String,
}

/// The value of the first `name="csrf"` hidden field in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    html.split(marker)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

impl Web {
    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("request")
    }

    /// GET `page`, then POST `form` (plus the page's CSRF token) to `action`.
    pub async fn submit(&self, page: &str, action: &str, form: &[(&str, &str)]) -> Response {
        let html = self.get(page).await.text().await.expect("page");
        let csrf = csrf_in(&html);
        let mut fields: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.http
            .post(format!("{}{action}", self.base_url))
            .form(&fields)
            .send()
            .await
            .expect("request")
    }
}

impl TestApp {
    /// Sign in through the pages: password, then the TOTP code.
    pub async fn web_login(&self, staff: &Staff) -> Web {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        self.web_login_with(staff, http).await
    }

    /// [`TestApp::web_login`] with a given client (one with a cookie store,
    /// for example from [`TestApp::client_from`]).
    pub async fn web_login_with(&self, staff: &Staff, http: reqwest::Client) -> Web {
        let web = Web {
            http,
            base_url: self.base_url.clone(),
        };
        let r = web
            .submit(
                "/login",
                "/login",
                &[("email", &staff.email), ("password", &staff.password)],
            )
            .await;
        assert_eq!(r.status(), 303, "password step");
        assert_eq!(r.headers()["location"], "/login/code");
        let code = self.fresh_code(staff);
        let r = web.submit("/login/code", "/login/code", &[("code", &code)]).await;
        assert_eq!(r.status(), 303, "code step");
        assert_eq!(r.headers()["location"], "/");
        web
    }
}
