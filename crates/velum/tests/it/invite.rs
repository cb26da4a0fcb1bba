//! Invitations reveal nothing about other clinics (issue 16, item 15;
//! DOMAIN F38): inviting an email that already has an account in another
//! clinic answers exactly as an invitation to a new address, makes nothing
//! that can sign in, and leaves that account as it was.

use velum_core::Role;
use velum_testkit::TestApp;

const EMAIL: &str = "nia.evans@elsewhere.example";

/// The staff page after inviting `EMAIL` as "Nia Evans", with what varies
/// between two runs (ids, tokens, the clinic part of fixture emails)
/// replaced by placeholders.
async fn invite_page(t: &TestApp, alpha: &velum_testkit::Clinic) -> (u16, String) {
    let web = t.web_login(alpha.owner()).await;
    let r = web
        .submit(
            "/staff",
            "/staff/invite",
            &[
                ("display_name", "Nia Evans"),
                ("email", EMAIL),
                ("role", "practitioner"),
            ],
        )
        .await;
    let status = r.status().as_u16();
    let html = r.text().await.unwrap();
    (status, normalise(&html, &alpha.id.to_string()[..8]))
}

fn normalise(html: &str, clinic_prefix: &str) -> String {
    // CSRF tokens.
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find("name=\"csrf\" value=\"") {
        let start = i + "name=\"csrf\" value=\"".len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('"').unwrap();
        out.push_str("<csrf>");
        rest = &rest[end..];
    }
    out.push_str(rest);
    // Ids (UUIDs).
    let chars: Vec<char> = out.chars().collect();
    let mut res = String::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 36 <= chars.len() && is_uuid(&chars[i..i + 36]) {
            res.push_str("<id>");
            i += 36;
        } else {
            res.push(chars[i]);
            i += 1;
        }
    }
    // Fixture emails name their clinic (after ids: ids are time-ordered, and
    // may start like the clinic's).
    res.replace(clinic_prefix, "<clinic>")
}

fn is_uuid(c: &[char]) -> bool {
    c.iter().enumerate().all(|(i, ch)| {
        if [8, 13, 18, 23].contains(&i) {
            *ch == '-'
        } else {
            ch.is_ascii_hexdigit()
        }
    })
}

/// Item 15 (F38): the answer to inviting another clinic's member of staff
/// is byte for byte the answer to inviting a new address (once ids and
/// tokens are set aside); the other account is unchanged and still signs
/// in; no set-up link is made; the address is told by email instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inviting_another_clinics_email_answers_as_for_a_new_one() {
    // A new address.
    let fresh = TestApp::spawn().await;
    let alpha = fresh.clinic("Alpha").await;
    let (fresh_status, fresh_page) = invite_page(&fresh, &alpha).await;
    assert_eq!(fresh_status, 200);
    assert!(fresh_page.contains("Invitation sent to Nia Evans"));
    fresh.deliver_mail().await;
    assert!(
        fresh
            .smtp
            .messages()
            .iter()
            .any(|m| m.contains(EMAIL) && m.contains("/setup/")),
        "a new address gets its set-up link"
    );

    // The same, when the address has an account in another clinic.
    let t = TestApp::spawn().await;
    let alpha = t.clinic("Alpha").await;
    let beta = t.clinic("Beta").await;
    let (nia_id, nia_secret) = t
        .app
        .fixture_staff(
            beta.id,
            EMAIL,
            "Nia at Beta",
            Role::Manager,
            "quiet-harbour-lantern-beta-9",
        )
        .await
        .unwrap();
    let nia = velum_testkit::Staff {
        id: nia_id,
        clinic: beta.id,
        role: Role::Manager,
        email: EMAIL.to_owned(),
        password: "quiet-harbour-lantern-beta-9".to_owned(),
        totp_secret: nia_secret,
    };
    let before = t.app.list_staff(&beta.owner().actor()).await.unwrap();
    let (status, page) = invite_page(&t, &alpha).await;
    assert_eq!(status, fresh_status);
    assert_eq!(page, fresh_page, "the same answer, row for row");

    // The other clinic's account is unchanged and still signs in.
    let after = t.app.list_staff(&beta.owner().actor()).await.unwrap();
    let view = |v: &[velum_app::staff::StaffView]| -> Vec<String> { v.iter().map(|s| format!("{s:?}")).collect() };
    assert_eq!(view(&before), view(&after));
    let _ = t.login(&nia).await;
    // Nothing in Alpha can sign in as that email; no set-up link was made.
    t.deliver_mail().await;
    let mails: Vec<String> = t.smtp.messages().into_iter().filter(|m| m.contains(EMAIL)).collect();
    assert_eq!(mails.len(), 1);
    assert!(!mails[0].contains("/setup/"), "no set-up link");
    assert!(mails[0].contains("You already have a Velum account with this address"));
    assert!(
        !mails[0].contains("Beta") && !mails[0].contains("Alpha"),
        "names no clinic"
    );
    // The inviting clinic's trail reads as for any invitation.
    let trail = t.app.audit_trail(&alpha.owner().actor(), None).await.unwrap();
    assert!(trail.items.iter().any(|e| e.action.as_str() == "staff_invited"));
}
