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
    assert!(t.app.change_role(&manager, target, "owner").await.is_err());
    assert!(t.app.change_role(&manager, manager.staff_id, "owner").await.is_err());
    assert!(
        t.app
            .set_staff_disabled(&manager, clinic.owner().id, true)
            .await
            .is_err()
    );
    assert!(t.app.change_role(&manager, target, "practitioner").await.is_ok());
}
