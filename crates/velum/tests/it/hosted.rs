//! Hosted mode: a platform operator runs clinics and never reads their
//! data; support access to a clinic needs its owner's grant, ends on time,
//! and everything done under it is in the clinic's own audit trail.

use jiff::SignedDuration;
use serde_json::Value;
use velum_core::Role;
use velum_testkit::{Staff, TestApp};

async fn family_name(t: &TestApp, owner: &Staff, id: velum_core::ClientId) -> String {
    let api = t.login(owner).await;
    let card: Value = api.get(&format!("/api/v1/clients/{id}")).await.json().await.unwrap();
    card["family_name"].as_str().unwrap().to_owned()
}

fn redirect(r: &reqwest::Response) -> &str {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sees_clinic_usage_but_no_client_data() {
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha Aesthetics").await;
    let ids = t.clients(alpha.owner(), 3, 7).await;
    let surname = family_name(&t, alpha.owner(), ids[0]).await;
    let op = t.operator().await;

    // The API: signed in, but every client route is refused.
    let api = t.login(&op).await;
    assert_eq!(api.get("/api/v1/clients").await.status(), 403);
    let r = api.get(&format!("/api/v1/clients/{}", ids[0])).await;
    assert_eq!(r.status(), 403);
    assert!(!r.text().await.unwrap().contains(&surname));
    assert_eq!(
        api.get(&format!("/api/v1/clients/{}/medical", ids[0])).await.status(),
        403
    );

    // The pages: the clinic list with counts, and nothing from inside.
    let web = t.web_login(&op).await;
    let r = web.get("/").await;
    assert_eq!(redirect(&r), "/platform");
    let html = web.get("/platform").await.text().await.unwrap();
    assert!(html.contains("Alpha Aesthetics"));
    assert!(
        html.contains(r#"<td data-label="Clients">3</td>"#),
        "client count shown"
    );
    assert!(!html.contains(&surname));
    let r = web.get("/clients").await;
    assert_eq!(r.status(), 403, "{:?}", r.headers().get("location"));
    assert_eq!(web.get(&format!("/clients/{}", ids[0])).await.status(), 403);

    // Clinic staff cannot reach the platform pages.
    let owner_web = t.web_login(alpha.owner()).await;
    assert_eq!(owner_web.get("/platform").await.status(), 403);

    // A new clinic from the platform page: bad input names the field and
    // creates nothing; good input emails the owner's set-up link to the
    // owner, and the page shows no link (an operator never becomes an owner).
    let before = t.app.clinics().await.unwrap().len();
    let r = web
        .submit(
            "/platform",
            "/platform/clinics",
            &[("name", "Beta Skin"), ("owner_email", "not-an-email")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Owner&#x27;s email") || html.contains("Email"), "{html}");
    assert!(html.contains("Beta Skin"), "input kept");
    assert_eq!(t.app.clinics().await.unwrap().len(), before);
    let r = web
        .submit(
            "/platform",
            "/platform/clinics",
            &[("name", "Beta Skin"), ("owner_email", "owner@beta.example")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(!html.contains("/setup/"), "no set-up link on the operator's page");
    assert!(html.contains("emailed to owner@beta.example"), "{html}");
    assert!(!web.get("/platform").await.text().await.unwrap().contains("/setup/"));
    assert_eq!(t.app.clinics().await.unwrap().len(), before + 1);
    assert_eq!(t.deliver_mail().await, 1);
    let mail = t.smtp.messages().pop().expect("the owner's set-up email");
    assert!(mail.contains("owner@beta.example"), "sent to the owner: {mail}");
    assert!(mail.contains("/setup/"), "{mail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspending_a_clinic_ends_its_sessions_until_it_is_reactivated() {
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha").await;
    let owner_api = t.login(alpha.owner()).await;
    let op = t.operator().await;
    let web = t.web_login(&op).await;
    let path = format!("/platform/clinics/{}/status", alpha.id);

    // A reason is required, and emailed to the owner with the notice.
    let r = web.submit("/platform", &path, &[("suspended", "true")]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Reason for suspending"));
    assert_eq!(owner_api.get("/api/v1/clients").await.status(), 200, "not suspended");
    let r = web
        .submit(
            "/platform",
            &path,
            &[("suspended", "true"), ("reason", "Invoices unpaid since March")],
        )
        .await;
    assert_eq!(r.status(), 303);
    t.deliver_mail().await;
    let notice = t.smtp.messages().pop().expect("the owner is told");
    assert!(
        notice.contains(&alpha.owner().email) && notice.contains("Invoices unpaid since March"),
        "{notice}"
    );
    assert_eq!(owner_api.get("/api/v1/clients").await.status(), 401, "session ended");
    let owner = alpha.owner();
    let code = t.fresh_code(owner);
    let r = t
        .post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"email": owner.email, "password": owner.password, "totp": code}),
        )
        .await;
    assert_eq!(r.status(), 403, "no sign-in to a suspended clinic");

    let r = web.submit("/platform", &path, &[("suspended", "false")]).await;
    assert_eq!(r.status(), 303);
    let api = t.login(owner).await;
    let trail: Value = api.get("/api/v1/audit").await.json().await.unwrap();
    let actions: Vec<&str> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"clinic_suspended") && actions.contains(&"clinic_resumed"));
    assert!(t.app.verify_audit().await.unwrap().first_break.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_access_needs_the_owners_grant_ends_on_time_and_is_audited() {
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha").await;
    let beta = t.clinic("Beta").await;
    let ids = t.clients(alpha.owner(), 2, 11).await;
    let surname = family_name(&t, alpha.owner(), ids[0]).await;
    let op = t.operator().await;
    let web = t.web_login(&op).await;
    let ask = format!("/platform/clinics/{}/support", alpha.id);

    // A request needs a reason and a sensible length; bad input changes nothing.
    let r = web.submit(&ask, &ask, &[("reason", "help"), ("minutes", "600")]).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Reason") && html.contains("Minutes"), "both fields named");
    assert!(t.app.my_support_grants(&op.actor()).await.unwrap().is_empty());
    let r = web
        .submit(
            &ask,
            &ask,
            &[("reason", "Booking page shows an error for one card"), ("minutes", "5")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let grant = t.app.my_support_grants(&op.actor()).await.unwrap()[0].id;
    let enter = format!("/platform/clinics/{}/support/{grant}/enter", alpha.id);

    // Not before the owner grants it.
    assert_eq!(web.submit("/platform", &enter, &[]).await.status(), 403);
    // Only this clinic's owner decides: another clinic's owner gets 404,
    // a manager is refused.
    let beta_owner = t.web_login(beta.owner()).await;
    let decide = format!("/support/{grant}");
    assert_eq!(
        beta_owner
            .submit("/support", &decide, &[("decision", "grant")])
            .await
            .status(),
        404
    );
    let manager = t.web_login(alpha.by_role(Role::Manager)).await;
    assert_eq!(manager.get("/support").await.status(), 403);
    let owner = t.web_login(alpha.owner()).await;
    let html = owner.get("/support").await.text().await.unwrap();
    assert!(html.contains("Booking page shows an error"));
    let r = owner.submit("/support", &decide, &[("decision", "grant")]).await;
    assert_eq!(r.status(), 303);

    // The visit: contact details yes, clinical sections no, a banner always.
    let r = web.submit("/platform", &enter, &[]).await;
    assert_eq!(redirect(&r), "/clients");
    let r = web.get(&format!("/clients/{}", ids[0])).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&surname));
    assert!(html.contains("Support visit to"));
    assert_eq!(web.get(&format!("/clients/{}/medical", ids[0])).await.status(), 403);
    assert_eq!(web.get("/staff").await.status(), 403);

    // The clinic sees it: in its audit trail, under the operator, for support.
    let api = t.login(alpha.owner()).await;
    let trail: Value = api.get("/api/v1/audit").await.json().await.unwrap();
    let op_id = op.id.to_string();
    let by_op: Vec<&Value> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_id"].as_str() == Some(op_id.as_str()))
        .collect();
    assert!(by_op.iter().any(|e| e["action"] == "read" && e["purpose"] == "support"));
    assert!(by_op.iter().any(|e| e["action"] == "denied"));
    assert!(by_op.iter().any(|e| e["action"] == "support_entered"));
    // And in the card's own access history.
    let log: Value = api
        .get(&format!("/api/v1/clients/{}/access-log", ids[0]))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        log["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor_id"].as_str() == Some(op_id.as_str()))
    );
    // The edit form is not offered on a read-only visit: the card instead.
    let r = web.get(&format!("/clients/{}/edit", ids[0])).await;
    assert_eq!(r.status(), 303);
    // The owner sees who it was, by name, on the card's access history page.
    let page = owner
        .get(&format!("/clients/{}/access", ids[0]))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("(platform support)"), "{page}");

    // Five minutes later the grant has ended: the session is the
    // operator's own again, with no way in.
    t.clock.advance(SignedDuration::from_mins(6));
    assert_eq!(web.get(&format!("/clients/{}", ids[0])).await.status(), 403);
    assert_eq!(web.submit("/platform", &enter, &[]).await.status(), 403);
    let html = owner.get("/support").await.text().await.unwrap();
    assert!(html.contains("expired"));

    // A second grant, ended early by the owner: access stops at once.
    let r = web
        .submit(
            &ask,
            &ask,
            &[("reason", "Check the fix for the booking page"), ("minutes", "60")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let second = t.app.my_support_grants(&op.actor()).await.unwrap()[0].id;
    assert_ne!(second, grant);
    let decide = format!("/support/{second}");
    assert_eq!(
        owner
            .submit("/support", &decide, &[("decision", "grant")])
            .await
            .status(),
        303
    );
    let enter = format!("/platform/clinics/{}/support/{second}/enter", alpha.id);
    assert_eq!(web.submit("/platform", &enter, &[]).await.status(), 303);
    assert_eq!(web.get(&format!("/clients/{}", ids[0])).await.status(), 200);
    t.clock.advance(SignedDuration::from_mins(2));
    assert_eq!(
        owner
            .submit("/support", &decide, &[("decision", "revoke")])
            .await
            .status(),
        303
    );
    assert_eq!(web.get(&format!("/clients/{}", ids[0])).await.status(), 403);
    // Ending it keeps its record: the window it was open and what was done in it.
    let ended = t
        .app
        .clinic_support_grants(&alpha.owner().actor())
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.id == second)
        .unwrap();
    assert_eq!(ended.state, velum_core::support::GrantState::Revoked);
    let (from, until) = (ended.decided_at.unwrap(), ended.expires_at.unwrap());
    assert_eq!(until.duration_since(from), SignedDuration::from_mins(2));
    assert!(ended.actions.unwrap() >= 1, "{ended:?}");
    // Deciding again is a conflict and changes nothing.
    assert_eq!(
        owner
            .submit("/support", &decide, &[("decision", "grant")])
            .await
            .status(),
        409
    );

    assert!(t.app.verify_audit().await.unwrap().first_break.is_none());
}

/// `action detail` of every event in `clinic`'s chain (the platform's too),
/// newest first, as that chain's auditor reads it.
async fn chain_of(t: &TestApp, clinic: velum_core::ClinicId) -> Vec<String> {
    let auditor = velum_testkit::staff_actor(clinic, velum_core::StaffId::new(), Role::Auditor);
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = t.app.audit_trail(&auditor, cursor.as_deref()).await.unwrap();
        out.extend(
            page.items
                .iter()
                .map(|e| format!("{} {}", e.action.as_str(), e.detail.clone().unwrap_or_default())),
        );
        match page.next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// DOMAIN F38: a refusal is recorded in the refused actor's chain, on every
/// route: a support visit without a live grant (the platform's chain),
/// deciding a grant that is not the clinic's, and staff changes aimed at
/// another clinic's ids (the clinic's chain). And the operator's name on a
/// grant comes from the platform's own accounts only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_audited_in_the_refused_actors_chain() {
    use velum_app::platform::{Decision, platform_id};
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha").await;
    let beta = t.clinic("Beta").await;
    let op = t.operator().await;
    let web = t.web_login(&op).await;
    let denied = |chain: &[String], what: &str| chain.iter().any(|e| e.starts_with("denied ") && e.contains(what));

    // A visit with a grant that does not exist, then with one not yet granted.
    let unknown = uuid::Uuid::now_v7();
    let enter = |grant: uuid::Uuid| format!("/platform/clinics/{}/support/{grant}/enter", alpha.id);
    assert_eq!(web.submit("/platform", &enter(unknown), &[]).await.status(), 404);
    let grant = t
        .app
        .request_support(&op.actor(), alpha.id, "Checking the booking page error", "30")
        .await
        .unwrap();
    assert_eq!(web.submit("/platform", &enter(grant), &[]).await.status(), 403);
    let platform = chain_of(&t, platform_id()).await;
    assert!(
        denied(
            &platform,
            &format!("support_visit no_grant clinic:{} grant:{unknown}", alpha.id)
        ),
        "{platform:?}"
    );
    assert!(
        denied(
            &platform,
            &format!("support_visit grant_not_live clinic:{} grant:{grant}", alpha.id)
        ),
        "{platform:?}"
    );

    // Deciding an unknown grant, and another clinic's grant.
    let beta_owner = beta.owner().actor();
    for g in [unknown, grant] {
        assert!(matches!(
            t.app.decide_support(&beta_owner, g, Decision::Grant).await,
            Err(velum_app::AppError::NotFound)
        ));
    }
    let beta_chain = chain_of(&t, beta.id).await;
    assert!(
        denied(&beta_chain, &format!("support_decision unknown_grant:{unknown}")),
        "{beta_chain:?}"
    );
    assert!(
        denied(&beta_chain, &format!("support_decision unknown_grant:{grant}")),
        "{beta_chain:?}"
    );

    // Staff changes aimed at another clinic's ids: not found, and recorded.
    let alpha_owner = alpha.owner().actor();
    let theirs = beta.by_role(Role::Manager).id;
    assert!(matches!(
        t.app.change_role(&alpha_owner, theirs, Role::Receptionist).await,
        Err(velum_app::AppError::NotFound)
    ));
    assert!(matches!(
        t.app.set_staff_disabled(&alpha_owner, theirs, true).await,
        Err(velum_app::AppError::NotFound)
    ));
    assert!(matches!(
        t.app.reset_staff_totp(&alpha_owner, theirs).await,
        Err(velum_app::AppError::NotFound)
    ));
    let alpha_chain = chain_of(&t, alpha.id).await;
    assert!(
        denied(&alpha_chain, &format!("reset_totp unknown_staff:{theirs}")),
        "{alpha_chain:?}"
    );
    assert!(
        denied(&alpha_chain, &format!("change_role unknown_staff:{theirs}")),
        "{alpha_chain:?}"
    );
    assert!(
        denied(&alpha_chain, &format!("disable_staff unknown_staff:{theirs}")),
        "{alpha_chain:?}"
    );
    let manager = t.login(beta.by_role(Role::Manager)).await;
    assert_eq!(manager.get("/api/v1/clients").await.status(), 200, "untouched");

    // A staff row of another clinic claiming the operator's id and role
    // lends the grant neither its name nor a second line.
    let op_name = t.app.my_support_grants(&op.actor()).await.unwrap()[0]
        .operator_name
        .clone();
    assert!(op_name.starts_with("Operator"), "{op_name}");
    t.app
        .fixture_bare_staff(beta.id, op.id, "impostor@beta.example", "Impostor", Role::Operator)
        .await
        .unwrap();
    let grants = t.app.clinic_support_grants(&alpha_owner).await.unwrap();
    assert_eq!(grants.len(), 1, "one line per grant");
    assert_eq!(grants[0].operator_name, op_name);
    let mine = t.app.my_support_grants(&op.actor()).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].operator_name, op_name);
}
