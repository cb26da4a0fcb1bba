//! Behind HTTPS (an `https://` base URL): every cookie is `__Host-`
//! prefixed and `Secure`, every response carries HSTS, and a bare-named
//! cookie planted by a neighbouring subdomain is ignored. Over plain HTTP
//! (`--insecure-http`) there is no HSTS.

use reqwest::Response;
use velum_testkit::{TestApp, csrf_in};

const HSTS: &str = "max-age=63072000; includeSubDomains";

fn set_cookies(r: &Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The `name=value` pair of the Set-Cookie header for `name`, after
/// checking the attributes every cookie must have over HTTPS.
fn host_cookie(r: &Response, name: &str) -> String {
    let all = set_cookies(r);
    let header = all
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {all:?}"));
    let attrs: Vec<&str> = header.split(';').map(str::trim).collect();
    for want in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(&want), "{name} lacks {want}: {header}");
    }
    assert!(
        !attrs.iter().any(|a| a.to_ascii_lowercase().starts_with("domain")),
        "a __Host- cookie has no Domain: {header}"
    );
    attrs[0].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_cookies_are_host_prefixed_and_secure_and_every_answer_has_hsts() {
    let t = TestApp::spawn_https().await;
    let clinic = t.clinic("Alpha").await;
    let owner = clinic.owner();
    let http = &t.http;

    // Sign in through the pages, carrying the cookies by hand.
    let r = http.get(t.url("/login")).send().await.unwrap();
    assert_eq!(r.headers()["strict-transport-security"], HSTS);
    let csrf_cookie = host_cookie(&r, "__Host-velum_csrf");
    let csrf = csrf_in(&r.text().await.unwrap());
    let r = http
        .post(t.url("/login"))
        .header("cookie", &csrf_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", &owner.email),
            ("password", &owner.password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let pending = host_cookie(&r, "__Host-velum_pending");
    let code = t.fresh_code(owner);
    let r = http
        .post(t.url("/login/code"))
        .header("cookie", format!("{csrf_cookie}; {pending}"))
        .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    let session = host_cookie(&r, "__Host-velum_session");
    assert!(
        set_cookies(&r).iter().all(|c| c.starts_with("__Host-")),
        "no bare-named cookie over HTTPS: {:?}",
        set_cookies(&r)
    );

    let r = http
        .get(t.url("/clients"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the __Host- session cookie signs in");
    assert_eq!(r.headers()["strict-transport-security"], HSTS);

    // The same token under the bare name (as a sibling subdomain could set
    // it) is not a session here.
    let bare = session.replacen("__Host-", "", 1);
    let r = http
        .get(t.url("/clients"))
        .header("cookie", &bare)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");

    // Signing out deletes the cookie with the attributes it was set with.
    let r = http
        .get(t.url("/clients"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let page_csrf = csrf_in(&r.text().await.unwrap());
    let r = http
        .post(t.url("/logout"))
        .header("cookie", &session)
        .form(&[("csrf", page_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(host_cookie(&r, "__Host-velum_session"), "__Host-velum_session=");
    assert!(
        set_cookies(&r).iter().any(|c| c.contains("Max-Age=0")),
        "{:?}",
        set_cookies(&r)
    );

    // HSTS on everything else too: API answers, errors, health, stylesheet.
    let api = t.login(owner).await;
    let responses = vec![
        api.get("/api/v1/clients").await,
        http.get(t.url("/api/v1/clients")).send().await.unwrap(),
        http.get(t.url("/healthz")).send().await.unwrap(),
        http.get(t.url("/static/velum.css")).send().await.unwrap(),
        http.get(t.url("/no-such-page")).send().await.unwrap(),
    ];
    for r in responses {
        assert_eq!(r.headers()["strict-transport-security"], HSTS, "{}", r.url());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_plain_http_cookies_keep_bare_names_and_there_is_no_hsts() {
    let t = TestApp::spawn().await;
    let r = t.http.get(t.url("/login")).send().await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
    let cookies = set_cookies(&r);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("velum_csrf=") && !c.contains("Secure")),
        "{cookies:?}"
    );
    for path in ["/healthz", "/api/v1/clients", "/static/velum.css"] {
        let r = t.http.get(t.url(path)).send().await.unwrap();
        assert!(r.headers().get("strict-transport-security").is_none(), "{path}");
    }
}
