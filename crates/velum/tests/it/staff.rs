//! Staff administration through the pages: invite (with an emailed set-up
//! link), change a role, disable; and who may do it.

use velum_core::Role;
use velum_testkit::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_invites_a_practitioner_who_sets_up_their_account() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let web = t.web_login(clinic.owner()).await;
    // Bad input names the field and creates nobody.
    let r = web
        .submit(
            "/staff",
            "/staff/invite",
            &[
                ("display_name", "Nia Evans"),
                ("email", "not-an-email"),
                ("role", "practitioner"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("There is a problem") && html.contains("Nia Evans"),
        "errors shown, input kept"
    );
    let r = web
        .submit(
            "/staff",
            "/staff/invite",
            &[
                ("display_name", "Nia Evans"),
                ("email", "nia@alpha.example"),
                ("role", "practitioner"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(t.deliver_mail().await, 1);
    let mail = t.smtp.messages().pop().unwrap();
    let link = mail
        .split_whitespace()
        .find(|w| w.contains("/setup/"))
        .unwrap()
        .to_owned();
    let path = link.trim_start_matches(&t.base_url).to_owned();
    let anon = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let page = anon.get(t.url(&path)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("nia@alpha.example"));
    let csrf = velum_testkit::csrf_in(&page);
    let r = anon
        .post(t.url(&path))
        .form(&[
            ("csrf", csrf.as_str()),
            ("display_name", "Nia Evans"),
            ("password", "saffron-glacier-otter-map"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let staff = t.app.list_staff(&clinic.owner().actor()).await.unwrap();
    let nia = staff.iter().find(|s| s.email == "nia@alpha.example").unwrap();
    assert!(nia.activated && !nia.totp_enrolled && nia.role == Role::Practitioner);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_owners_and_managers_administer_staff() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    for role in [Role::Practitioner, Role::Receptionist, Role::Marketing, Role::Auditor] {
        let web = t.web_login(clinic.by_role(role)).await;
        assert_eq!(web.get("/staff").await.status(), 403, "{role}");
    }
    // A manager cannot make themselves or anyone an owner.
    let manager = clinic.by_role(Role::Manager).actor();
    let target = clinic.by_role(Role::Receptionist).id;
    assert!(t.app.change_role(&manager, target, Role::Owner).await.is_err());
    assert!(
        t.app
            .change_role(&manager, manager.account().unwrap().staff_id, Role::Owner)
            .await
            .is_err()
    );
    assert!(
        t.app
            .set_staff_disabled(&manager, clinic.owner().id, true)
            .await
            .is_err()
    );
    assert!(t.app.change_role(&manager, target, Role::Practitioner).await.is_ok());
}

/// F38: on the staff page, "Reset two-step" and "Disable" first ask for a
/// confirmation that names the person, act only once it is given, and say
/// what was done; resetting one's own two-step sign-in is refused with a
/// plain message on the page (not the generic role page), and audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_actions_are_confirmed_by_name_and_reported() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let manager = clinic.by_role(Role::Manager);
    let target = clinic.by_role(Role::Receptionist);
    let name = t
        .app
        .list_staff(&clinic.owner().actor())
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.id == target.id)
        .unwrap()
        .display_name;
    let web = t.web_login(manager).await;
    let reset = format!("/staff/{}/totp-reset", target.id);

    // The button asks first, naming the person, and changes nothing.
    let r = web.submit("/staff", &reset, &[]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("Reset two-step sign-in for {name}?")), "{html}");
    assert!(html.contains(r#"name="confirm" value="yes""#), "{html}");
    let target_api = t.login(target).await;
    assert_eq!(target_api.get("/api/v1/clients").await.status(), 200, "not reset yet");
    // Confirmed: done and said.
    let r = web.submit("/staff", &reset, &[("confirm", "yes")]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("Two-step sign-in reset for {name}.")), "{html}");
    assert_eq!(target_api.get("/api/v1/clients").await.status(), 401, "signed out");

    // Disable asks too, then says it was done.
    let status = format!("/staff/{}/status", target.id);
    let r = web.submit("/staff", &status, &[("disabled", "true")]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("Disable {name}?")), "{html}");
    let r = web
        .submit("/staff", &status, &[("disabled", "true"), ("confirm", "yes")])
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains(&format!("{name} is disabled and has been signed out."))
    );

    // One's own: a plain refusal on the page, audited.
    let own = format!("/staff/{}/totp-reset", manager.id);
    let r = web.submit("/staff", &own, &[("confirm", "yes")]).await;
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("You cannot reset your own two-step sign-in; ask another owner or manager"),
        "{html}"
    );
    assert!(!html.contains("Not available to your role"), "{html}");
    let trail = t.app.audit_trail(&clinic.owner().actor(), None).await.unwrap();
    assert!(
        trail
            .items
            .iter()
            .any(|e| e.action.as_str() == "denied" && e.detail.as_deref().is_some_and(|d| d.contains("reset_totp"))),
        "the refusal is audited"
    );
}

/// F37: sign-in lockout is per account and source (the throttle), so the
/// staff list no longer shows a per-account "Locked" status from the old
/// `staff.locked_until` column, which nothing keeps up to date: even a
/// value left in it shows the person as Active, and they can sign in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staff_list_shows_no_stale_per_account_lock() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    velum_testkit::tamper(
        &t.location,
        "UPDATE staff SET failed_attempts = 10, locked_until = 9000000000000000",
    )
    .await;
    let web = t.web_login(clinic.owner()).await;
    let html = web.get("/staff").await.text().await.unwrap();
    assert!(!html.contains("Locked"), "{html}");
    assert!(html.contains("Active"), "{html}");
    let _ = t.login(clinic.by_role(Role::Receptionist)).await;
}
