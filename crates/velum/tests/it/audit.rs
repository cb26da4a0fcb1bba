//! The audit trail: every read recorded, the chain verified, and any edit,
//! insertion or deletion detected by `velum audit verify` (DOMAIN F38).

use serde_json::Value;
use velum_app::DataLocation;
use velum_core::audit::CanonicalFields;
use velum_core::{ClinicId, Role};
use velum_testkit::{TEST_KEY, TestApp, cli, client_json, tamper, with_db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_reads_make_a_hundred_read_events_newest_first() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let desk = t.login(clinic.by_role(Role::Receptionist)).await;
    let c: Value = desk
        .post("/api/v1/clients", &client_json(1))
        .await
        .json()
        .await
        .unwrap();
    let id = c["id"].as_str().unwrap();
    for _ in 0..100 {
        assert_eq!(desk.get(&format!("/api/v1/clients/{id}")).await.status(), 200);
    }
    let owner = t.login(clinic.owner()).await;
    let mut reads = 0;
    let mut path = format!("/api/v1/clients/{id}/access-log");
    let mut pages = 0;
    loop {
        let log: Value = owner.get(&path).await.json().await.unwrap();
        let events = log["events"].as_array().unwrap();
        if pages == 0 {
            assert_eq!(
                events[0]["sections"],
                serde_json::json!(["access_history"]),
                "newest first: this read"
            );
            assert_eq!(events[0]["actor_id"], clinic.owner().id.to_string());
        }
        for e in events {
            if e["action"] == "read" && e["sections"] == serde_json::json!(["contact"]) {
                reads += 1;
                assert_eq!(e["actor_id"], clinic.by_role(Role::Receptionist).id.to_string());
                assert!(e["actor_name"].is_string() && e["at"].is_string());
            }
        }
        pages += 1;
        match log["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/clients/{id}/access-log?cursor={c}"),
            None => break,
        }
    }
    assert_eq!(reads, 100);
    assert!(pages >= 3, "paginated");
    let report = t.app.verify_audit().await.unwrap();
    assert_eq!(report.first_break, None);
    assert!(report.events >= 100);
    // The auditor may read the access history, never the medical section.
    let auditor = t.login(clinic.by_role(Role::Auditor)).await;
    assert_eq!(
        auditor.get(&format!("/api/v1/clients/{id}/access-log")).await.status(),
        200
    );
    assert_eq!(
        auditor.get(&format!("/api/v1/clients/{id}/medical")).await.status(),
        403
    );
    // Receptionists cannot read the access history.
    assert_eq!(
        desk.get(&format!("/api/v1/clients/{id}/access-log")).await.status(),
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_sign_ins_are_in_the_chain() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let desk = t.login(clinic.by_role(Role::Receptionist)).await;
    let c: Value = desk
        .post("/api/v1/clients", &client_json(1))
        .await
        .json()
        .await
        .unwrap();
    let id = c["id"].as_str().unwrap();
    assert_eq!(desk.get(&format!("/api/v1/clients/{id}/medical")).await.status(), 403);
    let owner = t.login(clinic.owner()).await;
    let log: Value = owner
        .get(&format!("/api/v1/clients/{id}/access-log"))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"denied"), "{actions:?}");
    assert!(actions.contains(&"create"), "{actions:?}");
}

/// Run `velum audit verify` on a data dir; returns (exit code, stdout).
fn verify(dir: &std::path::Path) -> (i32, String) {
    let out = cli::command(env!("CARGO_BIN_EXE_velum"), &["audit", "verify", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_detects_edits_insertions_and_deletions() {
    let mut t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let owner = t.login(clinic.owner()).await;
    let c: Value = owner
        .post("/api/v1/clients", &client_json(1))
        .await
        .json()
        .await
        .unwrap();
    for _ in 0..5 {
        owner
            .get(&format!("/api/v1/clients/{}", c["id"].as_str().unwrap()))
            .await;
    }
    t.stop().await;
    let dir = t.data_dir.path().to_owned();
    std::fs::write(dir.join("master.key"), [7u8; 32]).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("master.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let db = dir.join("velum.db");
    let (code, out) = verify(&dir);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact"), "{out}");

    let backup = std::fs::read(&db).unwrap();
    let restore = || {
        for ext in ["velum.db-wal", "velum.db-shm"] {
            let _ = std::fs::remove_file(dir.join(ext));
        }
        std::fs::write(&db, &backup).unwrap();
    };
    let clinic_hex = format!("x'{}'", clinic.id.as_uuid().simple());
    let cases = [
        // An edit: a read becomes an update.
        format!("UPDATE audit_events SET action = 'update' WHERE clinic_id = {clinic_hex} AND seq = 5"),
        // An edit of who did it.
        format!("UPDATE audit_events SET actor_id = NULL WHERE clinic_id = {clinic_hex} AND seq = 4"),
        // An edit of which kind of actor did it (staff made a system job)...
        format!("UPDATE audit_events SET actor_kind = 'system:mail' WHERE clinic_id = {clinic_hex} AND seq = 4"),
        // ...or the kind erased, as if the event predated it (v1 encoding).
        format!("UPDATE audit_events SET actor_kind = NULL WHERE clinic_id = {clinic_hex} AND seq = 4"),
        // A deletion in the middle.
        format!("DELETE FROM audit_events WHERE clinic_id = {clinic_hex} AND seq = 3"),
        // A deletion at the end (the head remembers).
        format!(
            "DELETE FROM audit_events WHERE clinic_id = {clinic_hex} AND seq = (SELECT MAX(seq) FROM audit_events WHERE clinic_id = {clinic_hex})"
        ),
        // An insertion: shift the tail up and slip an event in.
        format!(
            "UPDATE audit_events SET seq = seq + 1000 WHERE clinic_id = {clinic_hex} AND seq >= 4; \
             UPDATE audit_events SET seq = seq - 999 WHERE clinic_id = {clinic_hex} AND seq >= 1004; \
             INSERT INTO audit_events (clinic_id, seq, id, at, actor_id, client_id, sections, action, purpose, source, detail, prev_hash, hash) \
               SELECT clinic_id, 4, randomblob(16), at, actor_id, client_id, sections, 'read', purpose, source, detail, prev_hash, hash \
               FROM audit_events WHERE clinic_id = {clinic_hex} AND seq = 3"
        ),
        // The whole chain, head and all: the clinic itself says a chain is due.
        format!(
            "DELETE FROM audit_events WHERE clinic_id = {clinic_hex}; \
             DELETE FROM audit_heads WHERE clinic_id = {clinic_hex}"
        ),
    ];
    for sql in cases {
        restore();
        tamper(&DataLocation::SqliteFile(db.clone()), &sql).await;
        let (code, out) = verify(&dir);
        assert_ne!(code, 0, "tampering not detected: {sql}\n{out}");
        assert!(out.contains("BROKEN") && out.contains(&clinic.id.to_string()), "{out}");
    }
    restore();
    assert_eq!(verify(&dir).0, 0);
}

/// Issue rule: if the audit write fails, the action fails and changes
/// nothing (the event is written in the action's own transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_audit_write_fails_the_action_fails_and_changes_nothing() {
    if velum_testkit::Backend::from_env() != velum_testkit::Backend::Sqlite {
        return;
    }
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let owner = t.login(clinic.owner()).await;
    let c: Value = owner
        .post("/api/v1/clients", &client_json(1))
        .await
        .json()
        .await
        .unwrap();
    let id = c["id"].as_str().unwrap();
    let db = t.data_dir.path().join("velum.db");
    tamper(&DataLocation::SqliteFile(db.clone()), "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END;").await;

    let r = owner.get(&format!("/api/v1/clients/{id}")).await;
    assert_eq!(r.status(), 500, "no read without its audit event");
    let body = r.text().await.unwrap();
    assert!(!body.contains("Amelia"), "nothing of the record is returned");
    let r = owner
        .patch(
            &format!("/api/v1/clients/{id}"),
            &serde_json::json!({"given_name": "Changed"}),
        )
        .await;
    assert_eq!(r.status(), 500);
    let r = owner.post("/api/v1/clients", &client_json(2)).await;
    assert_eq!(r.status(), 500);

    tamper(&DataLocation::SqliteFile(db.clone()), "DROP TRIGGER refuse_audit;").await;
    let after: Value = owner.get(&format!("/api/v1/clients/{id}")).await.json().await.unwrap();
    assert_eq!(after["given_name"], "Amelia", "the failed change was rolled back");
    assert_eq!(
        t.app.count_clients(&clinic.owner().actor()).await.unwrap(),
        1,
        "the failed create left nothing"
    );
    assert_eq!(t.app.verify_audit().await.unwrap().first_break, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auditor_reads_the_clinic_trail_without_clinical_values() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let prac = t.login(clinic.by_role(Role::Practitioner)).await;
    let desk = t.login(clinic.by_role(Role::Receptionist)).await;
    let c: Value = prac
        .post("/api/v1/clients", &client_json(1))
        .await
        .json()
        .await
        .unwrap();
    let id = c["id"].as_str().unwrap();
    prac.put(
        &format!("/api/v1/clients/{id}/medical"),
        &serde_json::json!({"allergies": ["Lidocaine"], "notes": "Keloid history"}),
    )
    .await;
    desk.get(&format!("/api/v1/clients/{id}/medical")).await;
    t.app
        .change_role(
            &clinic.owner().actor(),
            clinic.by_role(Role::Marketing).id,
            Role::Receptionist,
        )
        .await
        .unwrap();

    let auditor = t.login(clinic.by_role(Role::Auditor)).await;
    let r = auditor.get("/api/v1/audit").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let trail: Value = serde_json::from_str(&text).unwrap();
    let actions: Vec<&str> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in ["sign_in", "create", "update", "denied", "staff_role_changed", "read"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(
        !text.contains("Lidocaine") && !text.contains("Keloid"),
        "no clinical values in the trail"
    );
    // The chain's sequence numbers run down without gaps on a page.
    let seqs: Vec<i64> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] == w[1] + 1));
    assert_eq!(desk.get("/api/v1/audit").await.status(), 403);
    assert_eq!(prac.get("/api/v1/audit").await.status(), 403);
    let web = t.web_login(clinic.by_role(Role::Auditor)).await;
    let page = web.get("/audit").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Refused access"));
}

/// The columns of one stored event that its link covers.
type EventCols = (
    i64,
    sqlx::types::Uuid,
    i64,
    Option<sqlx::types::Uuid>,
    Option<sqlx::types::Uuid>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// What a database administrator without the master key can do: change
/// event `edit_seq`'s detail (if given), mark the events in `range` as link
/// version `version`, and recompute their links exactly as version 1 did
/// (plain SHA-256 over the documented encoding, starting from the stored
/// link before the range), then point the next event, or the head, at the
/// new last link.
async fn dba_rewrite(
    t: &TestApp,
    clinic: ClinicId,
    range: std::ops::RangeInclusive<i64>,
    edit_seq: Option<i64>,
    version: i64,
) {
    let from_seq = *range.start();
    const SELECT: &str = "SELECT seq, id, at, actor_id, client_id, sections, action, purpose, source, detail, actor_kind \
                          FROM audit_events WHERE clinic_id = $1 ORDER BY seq";
    const PREV: &str = "SELECT hash FROM audit_events WHERE clinic_id = $1 AND seq = $2";
    const UPDATE: &str = "UPDATE audit_events SET detail = $3, prev_hash = $4, hash = $5, link_version = $6 \
                          WHERE clinic_id = $1 AND seq = $2";
    const HEAD: &str = "UPDATE audit_heads SET hash = $3 WHERE clinic_id = $1 AND seq = $2";
    const NEXT: &str = "UPDATE audit_events SET prev_hash = $3 WHERE clinic_id = $1 AND seq = $2";
    let id = clinic.as_uuid();
    with_db!(t, |c| {
        let rows: Vec<EventCols> = sqlx::query_as(SELECT).bind(id).fetch_all(&mut c).await.unwrap();
        let mut prev: [u8; 32] = if from_seq == 1 {
            velum_crypto::chain::GENESIS
        } else {
            let h: Vec<u8> = sqlx::query_scalar(PREV)
                .bind(id)
                .bind(from_seq - 1)
                .fetch_one(&mut c)
                .await
                .unwrap();
            h.try_into().unwrap()
        };
        for (seq, eid, at, actor, client, sections, action, purpose, source, detail, actor_kind) in rows {
            if !range.contains(&seq) {
                continue;
            }
            let detail = if Some(seq) == edit_seq {
                Some("edited".to_owned())
            } else {
                detail
            };
            let bytes = CanonicalFields {
                id: eid,
                seq,
                at_micros: at,
                clinic: id,
                actor,
                client,
                sections: &sections,
                action: &action,
                purpose: &purpose,
                source: source.as_deref(),
                detail: detail.as_deref(),
                actor_kind: actor_kind.as_deref(),
            }
            .encode();
            let hash = velum_crypto::chain::link(&prev, &bytes);
            sqlx::query(UPDATE)
                .bind(id)
                .bind(seq)
                .bind(detail)
                .bind(prev.as_slice())
                .bind(hash.as_slice())
                .bind(version)
                .execute(&mut c)
                .await
                .unwrap();
            for sql in [HEAD, NEXT] {
                let next = if sql == NEXT { seq + 1 } else { seq };
                sqlx::query(sql)
                    .bind(id)
                    .bind(next)
                    .bind(hash.as_slice())
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
            prev = hash;
        }
    });
}

/// `velum audit verify` (or another `audit` subcommand) on the test app's
/// database, either backend; returns (exit code, stdout).
fn audit_cli(t: &TestApp, args: &[&str]) -> (i32, String) {
    let key_dir = cli::data_dir_with_key(TEST_KEY);
    let key = key_dir.path().join("master.key");
    let mut cmd = cli::command(env!("CARGO_BIN_EXE_velum"), &["audit"]);
    cmd.args(args).env("VELUM_MASTER_KEY_FILE", &key);
    match &t.location {
        velum_app::DataLocation::SqliteFile(path) => cmd.arg("--data-dir").arg(path.parent().unwrap()),
        velum_app::DataLocation::Postgres(url) => cmd.args(["--database-url", url]),
    };
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), cli::text(&out))
}

async fn clinic_with_history(t: &TestApp) -> velum_testkit::Clinic {
    let clinic = t.clinic("Alpha").await;
    let owner = t.login(clinic.owner()).await;
    let c: Value = owner
        .post("/api/v1/clients", &client_json(1))
        .await
        .json()
        .await
        .unwrap();
    for _ in 0..4 {
        owner
            .get(&format!("/api/v1/clients/{}", c["id"].as_str().unwrap()))
            .await;
    }
    clinic
}

/// Issue 16 item 4 (F38): the chain is keyed. A database administrator who
/// edits an event and recomputes every later link and the head with plain
/// SHA-256, as version 1 computed them, cannot make it verify: not with the
/// links marked keyed (v2), and not by marking the whole chain unkeyed (v1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dba_who_recomputes_plain_sha256_links_is_caught() {
    let t = TestApp::spawn().await;
    let clinic = clinic_with_history(&t).await;
    assert_eq!(t.app.verify_audit().await.unwrap().first_break, None);
    let (code, out) = audit_cli(&t, &["verify"]);
    assert_eq!(code, 0, "{out}");

    // Edit event 3 and recompute its link and every later one, and the head.
    dba_rewrite(&t, clinic.id, 3..=i64::MAX, Some(3), 2).await;
    let b = t
        .app
        .verify_audit()
        .await
        .unwrap()
        .first_break
        .expect("tampering found");
    assert_eq!((b.clinic_id, b.seq), (clinic.id, 3));
    assert_eq!(b.reason, "contents do not match its hash");
    let (code, out) = audit_cli(&t, &["verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("BROKEN") && out.contains(&clinic.id.to_string()) && out.contains("#3"),
        "{out}"
    );

    // The whole chain rewritten as an unkeyed (v1) chain: every link
    // recomputes, but a chain may not end in an unkeyed link.
    dba_rewrite(&t, clinic.id, 1..=i64::MAX, Some(3), 1).await;
    let b = t
        .app
        .verify_audit()
        .await
        .unwrap()
        .first_break
        .expect("downgrade found");
    assert_eq!(b.clinic_id, clinic.id);
    assert!(b.reason.contains("unkeyed (v1)"), "{}", b.reason);
    let (code, out) = audit_cli(&t, &["verify"]);
    assert_eq!(code, 1, "{out}");
    // Only an operator holding the key can re-link it (`velum audit
    // upgrade`, after looking into why the chain ends unkeyed).
    let (code, out) = audit_cli(&t, &["upgrade"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("Re-linked chain {}", clinic.id)), "{out}");
    assert_eq!(audit_cli(&t, &["verify"]).0, 0);
}

/// Issue 16 item 4: a chain written before the keyed chain (all v1, as
/// migration 0009 finds it) is re-linked under the key on the first start
/// after the migration, recorded in the chain itself; from then on an edit
/// of one of its old v1 events, with the v1 links recomputed, is caught.
/// Later starts do not upgrade on their own; `velum audit upgrade` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_unkeyed_chains_are_re_linked_under_the_key_and_stay_protected() {
    let t = TestApp::spawn().await;
    let clinic = clinic_with_history(&t).await;
    // Make the clinic's chain what an older Velum wrote: every link v1.
    dba_rewrite(&t, clinic.id, 1..=i64::MAX, None, 1).await;
    let old_head: i64 = with_db!(t, |c| sqlx::query_scalar::<_, i64>(
        "SELECT seq FROM audit_heads WHERE clinic_id = $1"
    )
    .bind(clinic.id.as_uuid())
    .fetch_one(&mut c)
    .await
    .unwrap());
    let b = t.app.verify_audit().await.unwrap().first_break.expect("unkeyed head");
    assert!(b.reason.contains("velum audit upgrade"), "{}", b.reason);

    // A later start does not upgrade by itself (no marker)...
    let again = velum_testkit::open_app(&t.location, t.clock.clone(), None).await;
    assert!(again.verify_audit().await.unwrap().first_break.is_some());
    again.close().await;
    // ...the first start after migration 0009 does (its marker).
    with_db!(t, |c| sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('audit_chain_upgrade', 'pending')"
    )
    .execute(&mut c)
    .await
    .unwrap()
    .rows_affected());
    let first_start = velum_testkit::open_app(&t.location, t.clock.clone(), None).await;
    assert_eq!(first_start.verify_audit().await.unwrap().first_break, None);
    first_start.close().await;
    let (code, out) = audit_cli(&t, &["verify"]);
    assert_eq!(code, 0, "{out}");
    let (version, action): (i64, String) = with_db!(t, |c| sqlx::query_as(
        "SELECT link_version, action FROM audit_events WHERE clinic_id = $1 AND seq = $2"
    )
    .bind(clinic.id.as_uuid())
    .bind(old_head + 1)
    .fetch_one(&mut c)
    .await
    .unwrap());
    assert_eq!((version, action.as_str()), (2, "audit_chain_upgraded"));
    let owner = t.login(clinic.owner()).await;
    let trail: Value = owner.get("/api/v1/audit").await.json().await.unwrap();
    assert!(
        trail["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "audit_chain_upgraded"),
        "the upgrade is in the clinic's own trail"
    );

    // An old v1 event edited, v1 links recomputed up to the old head, and
    // the keyed event after them pointed at the new v1 head: its keyed link
    // no longer holds, and nobody without the key can recompute it.
    dba_rewrite(&t, clinic.id, 2..=old_head, Some(2), 1).await;
    let b = t
        .app
        .verify_audit()
        .await
        .unwrap()
        .first_break
        .expect("tampering found");
    assert_eq!((b.clinic_id, b.seq), (clinic.id, old_head + 1));
    assert_eq!(b.reason, "contents do not match its hash");
    let (code, out) = audit_cli(&t, &["verify"]);
    assert_eq!(code, 1, "{out}");
    // And `velum audit upgrade` will not seal it.
    let (code, out) = audit_cli(&t, &["upgrade"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("NOT upgraded: chain {}", clinic.id)), "{out}");
}

/// Flip one byte of `text` at the first occurrence of `marker` plus
/// `offset`, to another hex digit.
fn alter(text: &str, marker: &str, offset: usize) -> String {
    let at = text.find(marker).unwrap() + marker.len() + offset;
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).unwrap()
}

/// Issue 16 item 5 (F38): `velum audit head --clinic ID` prints a signed
/// head; `velum audit verify --against FILE` proves the chain still holds
/// it. It catches what the keyed chain alone cannot (the newest events cut
/// off and the head moved back), a rewrite of the signed event, and any
/// altered byte of the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_heads_prove_the_chain_still_holds_them() {
    let t = TestApp::spawn().await;
    let clinic = clinic_with_history(&t).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("head.txt");
    let against = file.to_str().unwrap().to_owned();

    let (code, doc) = audit_cli(&t, &["head", "--clinic", &clinic.id.to_string()]);
    assert_eq!(code, 0, "{doc}");
    assert!(
        doc.starts_with("Velum signed audit chain head\nformat: velum.audit-head/v1\n"),
        "{doc}"
    );
    assert!(doc.contains(&format!("clinic: {}\n", clinic.id)) && doc.contains("link-version: 2\n"));
    assert!(doc.contains("public-key: ed25519:") && doc.contains("signature: ed25519:"));
    let seq: i64 = doc
        .lines()
        .find_map(|l| l.strip_prefix("seq: "))
        .unwrap()
        .parse()
        .unwrap();
    std::fs::write(&file, &doc).unwrap();
    let (code, out) = audit_cli(&t, &["verify", "--against", &against]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Signed head holds"), "{out}");

    // Any altered byte: in the signed lines, or in the signature.
    for (marker, offset) in [("link: ", 5), ("clinic: ", 0), ("signature: ed25519:", 7)] {
        std::fs::write(&file, alter(&doc, marker, offset)).unwrap();
        let (code, out) = audit_cli(&t, &["verify", "--against", &against]);
        assert_eq!(code, 1, "{marker}: {out}");
        assert!(out.contains("signature does not verify"), "{marker}: {out}");
    }
    std::fs::write(&file, "not a head\n").unwrap();
    let (code, out) = audit_cli(&t, &["verify", "--against", &against]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a Velum signed audit head"), "{out}");

    // Cut back: the signed event deleted and the head moved to the one
    // before. Every remaining keyed link holds, so the chain alone
    // verifies; the signed head does not.
    std::fs::write(&file, &doc).unwrap();
    with_db!(t, |c| {
        let id = clinic.id.as_uuid();
        let prev: Vec<u8> = sqlx::query_scalar("SELECT hash FROM audit_events WHERE clinic_id = $1 AND seq = $2")
            .bind(id)
            .bind(seq - 1)
            .fetch_one(&mut c)
            .await
            .unwrap();
        sqlx::query("DELETE FROM audit_events WHERE clinic_id = $1 AND seq = $2")
            .bind(id)
            .bind(seq)
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("UPDATE audit_heads SET seq = $2, hash = $3 WHERE clinic_id = $1")
            .bind(id)
            .bind(seq - 1)
            .bind(prev)
            .execute(&mut c)
            .await
            .unwrap()
            .rows_affected()
    });
    assert_eq!(audit_cli(&t, &["verify"]).0, 0, "the keyed chain alone cannot tell");
    let (code, out) = audit_cli(&t, &["verify", "--against", &against]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Signed head does NOT hold") && out.contains(&format!("no longer holds event #{seq}")),
        "{out}"
    );

    // A head taken now, then its event rewritten by the database
    // administrator (links recomputed as v1 did): both checks fail.
    let (_, doc) = audit_cli(&t, &["head", "--clinic", &clinic.id.to_string()]);
    assert!(doc.contains(&format!("seq: {}\n", seq - 1)), "{doc}");
    std::fs::write(&file, &doc).unwrap();
    assert_eq!(audit_cli(&t, &["verify", "--against", &against]).0, 0);
    dba_rewrite(&t, clinic.id, (seq - 1)..=i64::MAX, Some(seq - 1), 2).await;
    let (code, out) = audit_cli(&t, &["verify", "--against", &against]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("BROKEN") && out.contains("Signed head does NOT hold"),
        "{out}"
    );
    assert!(matches!(
        t.app.check_signed_head(&doc).await.unwrap(),
        Err(velum_app::audit::HeadError::NotInChain { .. })
    ));

    // A head signed by another installation is refused as such.
    let other = velum_crypto::MasterKey::from_bytes(&[8; 32]).unwrap();
    let theirs = other.audit_head_signing_key().public_key();
    let ours_hex = doc
        .lines()
        .find_map(|l| l.strip_prefix("public-key: ed25519:"))
        .unwrap()
        .to_owned();
    let theirs_hex = hex::encode(theirs);
    let foreign = doc.replace(&ours_hex, &theirs_hex);
    assert!(matches!(
        t.app.check_signed_head(&foreign).await.unwrap(),
        Err(velum_app::audit::HeadError::OtherInstallation { .. })
    ));
    let (code, out) = audit_cli(&t, &["head", "--clinic", &ClinicId::new().to_string()]);
    assert_ne!(code, 0);
    assert!(out.contains("--clinic") && out.contains("no audit chain"), "{out}");
}

/// Issue 16 item 5: owners, managers and auditors can take the signed head
/// from the API and the audit page; reading it is recorded; other roles are
/// refused (F38).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signed_head_is_offered_in_the_api_and_on_the_audit_page() {
    let t = TestApp::spawn().await;
    let clinic = clinic_with_history(&t).await;
    let owner = t.login(clinic.owner()).await;
    let r = owner.get("/api/v1/audit/head").await;
    assert_eq!(r.status(), 200);
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["clinic_id"], clinic.id.to_string());
    assert_eq!(h["link_version"], 2);
    let doc = h["document"].as_str().unwrap();
    assert!(doc.contains(&format!("link: {}\n", h["link"].as_str().unwrap())));
    let checked = t.app.check_signed_head(doc).await.unwrap().unwrap();
    assert_eq!(checked.seq, h["seq"].as_i64().unwrap());
    let trail: Value = owner.get("/api/v1/audit").await.json().await.unwrap();
    assert!(
        trail["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["seq"] == h["seq"] && e["detail"] == "audit_head"),
        "the head handed out is its own read event"
    );
    let desk = t.login(clinic.by_role(Role::Receptionist)).await;
    assert_eq!(desk.get("/api/v1/audit/head").await.status(), 403);

    let web = t.web_login(clinic.by_role(Role::Auditor)).await;
    let page = web.get("/audit").await.text().await.unwrap();
    assert!(page.contains("href=\"/audit/head\"") && page.contains("Download signed head"));
    let r = web.get("/audit/head").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let text = r.text().await.unwrap();
    assert!(t.app.check_signed_head(&text).await.unwrap().is_ok(), "{text}");
}

/// Issue 16 item 5: the background worker's weekly mailing sends each
/// clinic's owner its signed head through the outbox once a week, records
/// it so a restart does not send it again, and sends nothing without SMTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_are_mailed_the_signed_head_weekly_and_only_weekly() {
    let t = TestApp::spawn().await;
    let clinic = clinic_with_history(&t).await;
    let head_mails = |t: &TestApp| -> Vec<String> {
        t.smtp
            .messages()
            .into_iter()
            .filter(|m| m.contains("BEGIN VELUM AUDIT HEAD"))
            .collect()
    };
    let no_smtp = velum_testkit::open_app(&t.location, t.clock.clone(), None).await;
    assert_eq!(no_smtp.mail_signed_heads().await.unwrap(), 0, "no SMTP, no mail");
    no_smtp.close().await;

    assert_eq!(t.app.mail_signed_heads().await.unwrap(), 1);
    t.deliver_mail().await;
    let mails = head_mails(&t);
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains(&clinic.owner().email), "to the owner");
    let doc = mails[0]
        .split("-----BEGIN VELUM AUDIT HEAD-----")
        .nth(1)
        .and_then(|rest| rest.split("-----END VELUM AUDIT HEAD-----").next())
        .unwrap();
    let head = t
        .app
        .check_signed_head(doc)
        .await
        .unwrap()
        .expect("the mailed head holds");
    assert_eq!(head.clinic_id, clinic.id);

    // Again at once, and after a restart: nothing new.
    assert_eq!(t.app.mail_signed_heads().await.unwrap(), 0);
    let restarted = velum_testkit::open_app(&t.location, t.clock.clone(), Some(&t.smtp)).await;
    assert_eq!(
        restarted.mail_signed_heads().await.unwrap(),
        0,
        "a restart does not resend"
    );
    t.clock.advance(jiff::SignedDuration::from_hours(6 * 24));
    assert_eq!(restarted.mail_signed_heads().await.unwrap(), 0, "not before a week");
    restarted.close().await;

    // A week later: the next one.
    t.clock.advance(jiff::SignedDuration::from_hours(24));
    assert_eq!(t.app.mail_signed_heads().await.unwrap(), 1);
    t.deliver_mail().await;
    assert_eq!(head_mails(&t).len(), 2);
    assert_eq!(t.app.mail_signed_heads().await.unwrap(), 0);
}

/// F38: a clinic marked offboarded in the database, its chain and head
/// deleted, without the offboarding the platform's chain would record, is
/// a break: marking a clinic offboarded is not a way to delete its chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_deleted_under_a_false_offboarded_status_is_caught() {
    let t = TestApp::spawn().await;
    let clinic = clinic_with_history(&t).await;
    assert_eq!(t.app.verify_audit().await.unwrap().first_break, None);
    let id = clinic.id.as_uuid();
    with_db!(t, |c| {
        sqlx::query("UPDATE clinics SET status = 'offboarded' WHERE id = $1")
            .bind(id)
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("DELETE FROM audit_heads WHERE clinic_id = $1")
            .bind(id)
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("DELETE FROM audit_events WHERE clinic_id = $1")
            .bind(id)
            .execute(&mut c)
            .await
            .unwrap();
    });
    let b = t
        .app
        .verify_audit()
        .await
        .unwrap()
        .first_break
        .expect("the deleted chain is found");
    assert_eq!(b.clinic_id, clinic.id);
    assert!(b.reason.contains("records no offboarding"), "{}", b.reason);
    let (code, out) = audit_cli(&t, &["verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&clinic.id.to_string()), "{out}");
}

/// DOMAIN F38: a client or a public visitor reaching a staff use case is
/// refused (the staff policy fails closed for them), the refusal is in the
/// clinic's chain with its actor kind, and the trail names each kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_other_than_staff_are_refused_and_every_event_records_its_kind() {
    use velum_core::actor::{ClientActor, PublicActor};
    use velum_core::{Actor, ActorKind};

    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let owner = clinic.owner().actor();
    let client = Actor::Client(ClientActor {
        client_id: velum_core::ClientId::new(),
        clinic_id: clinic.id,
        source: None,
    });
    let visitor = Actor::Public(PublicActor::of(clinic.id));
    for actor in [&client, &visitor] {
        let err = t.app.count_clients(actor).await.unwrap_err();
        assert!(matches!(err, velum_app::AppError::Forbidden), "{err:?}");
        let err = t.app.audit_trail(actor, None).await.unwrap_err();
        assert!(matches!(err, velum_app::AppError::Forbidden), "{err:?}");
    }
    let trail = t.app.audit_trail(&owner, None).await.unwrap().items;
    let denied: Vec<_> = trail
        .iter()
        .filter(|e| e.action == velum_core::audit::AuditAction::Denied)
        .map(|e| (e.actor_kind.clone(), e.actor_id, e.detail.as_deref()))
        .collect();
    assert_eq!(
        denied,
        [
            (Some(ActorKind::Public), None, Some("not_staff")),
            (Some(ActorKind::Public), None, Some("not_staff")),
            (Some(ActorKind::Client), None, Some("not_staff")),
            (Some(ActorKind::Client), None, Some("not_staff")),
        ]
    );
    // The owner's own reading of the trail is staff; the clinic's creation
    // is the set-up job's.
    assert_eq!(trail[0].actor_kind, Some(ActorKind::Staff));
    let created = trail
        .iter()
        .find(|e| e.action == velum_core::audit::AuditAction::ClinicCreated)
        .unwrap();
    assert_eq!(created.actor_kind, Some(ActorKind::System("clinic_setup".into())));
    // The chain holds with the kinds in it.
    let report = t.app.verify_audit().await.unwrap();
    assert_eq!(report.first_break, None);
}

/// Issue 17 item 1: a change-history row whose section Velum does not know
/// (written behind the app's back) is shown to nobody, not to everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_row_of_an_unknown_section_is_shown_to_nobody() {
    let t = TestApp::spawn().await;
    let clinic = t.clinic("Alpha").await;
    let owner = t.login(clinic.owner()).await;
    let c: Value = owner
        .post("/api/v1/clients", &client_json(1))
        .await
        .json()
        .await
        .unwrap();
    let id: velum_core::ClientId = c["id"].as_str().unwrap().parse().unwrap();
    let readers = [
        Role::Owner,
        Role::Manager,
        Role::Practitioner,
        Role::Receptionist,
        Role::Auditor,
    ];
    for role in readers {
        let (_, changes) = t.app.client_changes(&clinic.by_role(role).actor(), id).await.unwrap();
        assert_eq!(changes.len(), 1, "{role} sees the card being created");
    }
    tamper(&t.location, "UPDATE client_history SET section = 'mystery';").await;
    for role in readers {
        let (_, changes) = t.app.client_changes(&clinic.by_role(role).actor(), id).await.unwrap();
        assert!(changes.is_empty(), "{role} was shown a row of an unknown section");
    }
}
