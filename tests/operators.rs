//! The administrator's operators screen against a real PostgreSQL, through the keys: keys go
//! through `update`, every request is executed by `requests::execute` on the test database as
//! the operator signed in, as the runner would. An administrator adds a clerk (the temporary
//! password shown once), the clerk signs in with it and must change it, the administrator
//! disables, resets and enables; a clerk is refused the screen; the database refuses what the
//! client refuses (an administrator disabling themselves), whoever calls it.

mod support;

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use meterdesk::app::requests::Services;
use meterdesk::app::state::{MessageKind, Msg, Request};
use meterdesk::app::{App, KeyMap, requests, update};
use meterdesk::db::operators;
use meterdesk::i18n::Lang;
use meterdesk::screens::operators::list::OperatorsView;
use meterdesk::screens::operators::requests::OperatorRequest;
use meterdesk::screens::operators::shown_once::PasswordShown;
use meterdesk::screens::password::PasswordChange;
use meterdesk::screens::reference::requests::RefCall;
use meterdesk::screens::table::CustomerTable;
use meterdesk::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::pg::{TEST_PASSWORD, TestDb, fresh_db};

/// A desk: the app and the server it signs in to.
struct Desk {
    app: App,
    services: Services,
    /// Every temporary password the desk sent, in order (read off its requests).
    passwords_sent: Vec<String>,
}

impl Desk {
    fn new(db: &TestDb, lang: Lang) -> Desk {
        Desk {
            app: meterdesk::screens::app(KeyMap::default(), lang, Default::default()),
            services: support::desk_services(&db.conn_str),
            passwords_sent: Vec::new(),
        }
    }

    async fn sign_in(db: &TestDb, login: &str, password: &str) -> Desk {
        Desk::sign_in_speaking(db, login, password, Lang::En).await
    }

    async fn sign_in_speaking(db: &TestDb, login: &str, password: &str, lang: Lang) -> Desk {
        let mut desk = Desk::new(db, lang);
        desk.text(login).await;
        desk.key(KeyCode::Enter).await;
        desk.text(password).await;
        desk.key(KeyCode::Enter).await;
        desk
    }

    /// One key, and every request it leads to executed and answered, in order.
    async fn key(&mut self, code: KeyCode) {
        let key = KeyEvent::new(code, KeyModifiers::NONE);
        let mut queue: VecDeque<_> = update(&mut self.app, Msg::Key(key)).requests.into();
        while let Some((id, request)) = queue.pop_front() {
            self.note_password(&request);
            let outcome = requests::execute(&self.services, request).await;
            queue.extend(update(&mut self.app, Msg::Reply { id, outcome }).requests);
        }
    }

    fn note_password(&mut self, request: &Request) {
        if let Some(call) = request.of::<RefCall<OperatorRequest>>()
            && let OperatorRequest::Create { password, .. }
            | OperatorRequest::ResetPassword { password, .. } = &call.work
        {
            self.passwords_sent.push(password.as_str().to_owned());
        }
    }

    async fn text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c)).await;
        }
    }

    async fn command(&mut self, name: &str) {
        self.key(KeyCode::Char(':')).await;
        self.text(name).await;
        self.key(KeyCode::Enter).await;
    }

    fn screen(&self) -> String {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|frame| ui::draw(frame, &self.app)).unwrap();
        terminal.backend().to_string()
    }

    fn message(&self) -> (MessageKind, String) {
        let message = self.app.message.as_ref().expect("a message");
        (message.kind.clone(), message.text.clone())
    }

    fn operators(&self) -> &OperatorsView {
        self.app
            .screen
            .module::<OperatorsView>()
            .unwrap_or_else(|| panic!("the operators list on top:\n{}", self.screen()))
    }

    /// Selects the operator `login` on the list.
    async fn select(&mut self, login: &str) {
        let list = self.operators();
        let at = list
            .rows
            .iter()
            .position(|row| row.login == login)
            .unwrap_or_else(|| panic!("{login} is not listed"));
        let (step, count) = if at < list.selected {
            (KeyCode::Up, list.selected - at)
        } else {
            (KeyCode::Down, at - list.selected)
        };
        for _ in 0..count {
            self.key(step).await;
        }
        assert_eq!(self.operators().selected, at);
    }
}

async fn operator_state(db: &TestDb, login: &str) -> (bool, bool, Vec<String>) {
    let row = db
        .pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT enabled, must_change_password,
                    ARRAY(SELECT role_code FROM operator_role r WHERE r.operator_id = o.id
                          ORDER BY 1) AS roles
             FROM operator o WHERE login = $1",
            &[&login],
        )
        .await
        .unwrap();
    (
        row.get("enabled"),
        row.get("must_change_password"),
        row.get("roles"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_administrator_adds_a_clerk_who_must_change_the_password_shown_once() {
    let db = fresh_db().await;
    db.create_operator("boss", &["administrator"]).await;
    let mut admin = Desk::sign_in(&db, "boss", TEST_PASSWORD).await;
    assert!(admin.app.screen.is::<CustomerTable>(), "{}", admin.screen());

    admin.command("operators").await;
    assert!(admin.screen().contains("boss"), "{}", admin.screen());

    // Add: login, name, department (picked from the list), roles (clerk is ticked already).
    admin.key(KeyCode::Char('a')).await;
    admin.text("new.clerk").await;
    admin.key(KeyCode::Tab).await;
    admin.text("王小红").await;
    admin.key(KeyCode::Tab).await;
    admin.text("Coun").await;
    admin.key(KeyCode::Enter).await;
    admin.key(KeyCode::Tab).await;
    admin.key(KeyCode::F(2)).await;

    // The password the database was given is shown once, on top of the list.
    let [password] = admin.passwords_sent.as_slice() else {
        panic!("one temporary password sent: {}", admin.screen())
    };
    let password = password.clone();
    assert!(admin.app.screen.is::<PasswordShown>(), "{}", admin.screen());
    assert!(admin.screen().contains(&password), "{}", admin.screen());
    assert!(
        !format!("{:?}", admin.app).contains(&password),
        "the password shows in the app's Debug output"
    );
    assert_eq!(
        operator_state(&db, "new.clerk").await,
        (true, true, vec!["clerk".to_owned()])
    );
    admin.key(KeyCode::F(2)).await;
    assert!(!admin.screen().contains(&password), "{}", admin.screen());
    assert!(admin.screen().contains("new.clerk"), "{}", admin.screen());

    // The clerk signs in with it and must choose their own first.
    let mut clerk = Desk::sign_in(&db, "new.clerk", &password).await;
    assert!(
        clerk.app.screen.is::<PasswordChange>(),
        "{}",
        clerk.screen()
    );
    clerk.text("clerk-own-1").await;
    clerk.key(KeyCode::Enter).await;
    clerk.text("clerk-own-1").await;
    clerk.key(KeyCode::Enter).await;
    assert!(clerk.app.screen.is::<CustomerTable>(), "{}", clerk.screen());
    assert!(
        !operator_state(&db, "new.clerk").await.1,
        "the password is the clerk's own now"
    );

    // A clerk is refused the screen, and stays where they were.
    clerk.command("operators").await;
    assert!(clerk.app.screen.is::<CustomerTable>(), "{}", clerk.screen());
    let (kind, text) = clerk.message();
    assert_eq!(kind, MessageKind::Error);
    assert_eq!(text, "Your roles do not allow you to maintain operators.");

    // Disabled (asked once): the clerk's running session ends and they cannot sign in.
    let running = clerk.services.pool.get().await.unwrap();
    admin.select("new.clerk").await;
    admin.key(KeyCode::Char('s')).await;
    assert!(admin.message().1.contains("Disable new.clerk?"));
    admin.key(KeyCode::F(2)).await;
    assert!(!operator_state(&db, "new.clerk").await.0, "disabled");
    assert!(running.query_one("SELECT 1 AS one", &[]).await.is_err());
    assert!(admin.screen().contains("DISABLED"), "{}", admin.screen());

    // An administrator cannot disable themselves: refused before anything is sent.
    admin.select("boss").await;
    admin.key(KeyCode::Char('s')).await;
    assert_eq!(admin.message().0, MessageKind::Error);
    assert!(operator_state(&db, "boss").await.0);

    // Reset (asked once), then enabled again: a new temporary password, shown once.
    admin.select("new.clerk").await;
    admin.key(KeyCode::Char('k')).await;
    admin.key(KeyCode::F(2)).await;
    let reset = admin.passwords_sent[1].clone();
    assert_ne!(reset, password);
    assert!(admin.screen().contains(&reset), "{}", admin.screen());
    admin.key(KeyCode::Enter).await;
    admin.key(KeyCode::Char('s')).await;
    admin.key(KeyCode::F(2)).await;
    assert!(operator_state(&db, "new.clerk").await.0, "enabled");
    let again = Desk::sign_in(&db, "new.clerk", &reset).await;
    assert!(
        again.app.screen.is::<PasswordChange>(),
        "{}",
        again.screen()
    );
    let refused = Desk::sign_in(&db, "new.clerk", "clerk-own-1").await;
    assert!(!refused.app.screen.is::<CustomerTable>());

    // Roles: the supervisor's ticked in the list (F4, Enter), F2 closes it, F2 saves.
    admin.select("new.clerk").await;
    admin.key(KeyCode::Char('m')).await;
    admin.key(KeyCode::F(4)).await;
    admin.text("Super").await;
    admin.key(KeyCode::Enter).await;
    admin.key(KeyCode::F(2)).await;
    admin.key(KeyCode::F(2)).await;
    assert_eq!(
        operator_state(&db, "new.clerk").await.2,
        vec!["clerk".to_owned(), "supervisor".to_owned()]
    );
    assert!(
        admin.screen().contains("Clerk, Supervisor"),
        "{}",
        admin.screen()
    );
}

/// An administrator setting up a new office adds its department and moves a clerk into it
/// with `m` (s35-f's walk: nothing could move an operator once created). The database keeps
/// the move and its audit entry, before and after; the form saved again for the roles alone
/// writes no second move. A clerk may not move anyone.
#[tokio::test(flavor = "multi_thread")]
async fn an_administrator_moves_a_clerk_to_a_new_department() {
    let db = fresh_db().await;
    db.create_operator("boss", &["administrator"]).await;
    let clerk = db.create_operator("clerk", &["clerk"]).await;
    let mut admin = Desk::sign_in_speaking(&db, "boss", TEST_PASSWORD, Lang::Zh).await;
    admin.command("departments").await;
    admin.key(KeyCode::Char('a')).await;
    admin.text("营业二厅 Counter Hall 2").await;
    admin.key(KeyCode::F(2)).await;
    admin.key(KeyCode::F(3)).await;

    admin.command("operators").await;
    admin.select("clerk").await;
    admin.key(KeyCode::Char('m')).await;
    admin.key(KeyCode::Tab).await;
    admin.text("营业二").await;
    admin.key(KeyCode::Tab).await;
    admin.key(KeyCode::F(2)).await;
    let client = db.pool.get().await.unwrap();
    let moved = client
        .query_one(
            "SELECT d.name FROM operator o JOIN department d ON d.id = o.department_id
             WHERE o.id = $1",
            &[&clerk],
        )
        .await
        .unwrap();
    assert_eq!(
        moved.get::<_, String>("name"),
        "营业二厅 Counter Hall 2",
        "{}",
        admin.screen()
    );
    assert!(
        admin.screen().contains("营业二厅"),
        "the list shows the move: {}",
        admin.screen()
    );
    let rows = client
        .query(
            "SELECT (a.detail -> 'before' ->> 'department_id')::bigint AS before,
                    (a.detail -> 'after' ->> 'department_id')::bigint AS after,
                    o.department_id AS now
             FROM audit_log a JOIN operator o ON o.id = a.entity_id
             WHERE a.action = 'operator.set_department'",
            &[],
        )
        .await
        .unwrap();
    let [entry] = rows.as_slice() else {
        panic!("one move audited: {} entries", rows.len())
    };
    assert_ne!(entry.get::<_, i64>("before"), entry.get::<_, i64>("after"));
    assert_eq!(entry.get::<_, i64>("after"), entry.get::<_, i64>("now"));

    // The move alone wrote no "roles changed" beside it; saved again unchanged, nothing.
    let entries = |action: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(
                    "SELECT count(*) AS n FROM audit_log WHERE action = $1",
                    &[&action],
                )
                .await
                .unwrap()
                .get::<_, i64>("n")
        }
    };
    assert_eq!(entries("operator.set_roles").await, 0);
    admin.key(KeyCode::Char('m')).await;
    admin.key(KeyCode::F(2)).await;
    assert_eq!(entries("operator.set_department").await, 1);
    assert_eq!(entries("operator.set_roles").await, 0);
    // A change of roles is still one, and written.
    admin.key(KeyCode::Char('m')).await;
    admin.key(KeyCode::F(4)).await;
    admin.text("主管").await;
    admin.key(KeyCode::Enter).await;
    admin.key(KeyCode::F(2)).await;
    admin.key(KeyCode::F(2)).await;
    assert_eq!(
        operator_state(&db, "clerk").await.2,
        vec!["clerk".to_owned(), "supervisor".to_owned()],
        "{}",
        admin.screen()
    );
    assert_eq!(entries("operator.set_roles").await, 1);

    let clerk_pool = db.pool_of("clerk");
    let as_clerk = clerk_pool.get().await.unwrap();
    assert!(
        operators::set_department(&**as_clerk, clerk, entry.get("before"))
            .await
            .is_err(),
        "a clerk moved themselves"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_taken_is_said_on_its_field_and_departments_are_added_and_renamed() {
    let db = fresh_db().await;
    db.create_operator("boss", &["administrator"]).await;
    let mut admin = Desk::sign_in(&db, "boss", TEST_PASSWORD).await;

    admin.command("departments").await;
    admin.key(KeyCode::Char('a')).await;
    admin.text("Billing").await;
    admin.key(KeyCode::F(2)).await;
    assert!(admin.screen().contains("Billing"), "{}", admin.screen());
    // Named, as it may be told on another screen when the save waited for the database.
    assert_eq!(admin.message().1, "Department Billing is saved.");
    // By name: Billing comes before Counter, on the first row.
    admin.key(KeyCode::Char('m')).await;
    admin.key(KeyCode::End).await;
    admin.text(" Office").await;
    admin.key(KeyCode::F(2)).await;
    assert!(
        admin.screen().contains("Billing Office"),
        "{}",
        admin.screen()
    );
    assert_eq!(admin.message().1, "Department Billing Office is saved.");
    admin.key(KeyCode::F(3)).await;

    admin.command("operators").await;
    admin.key(KeyCode::Char('a')).await;
    admin.text("BOSS").await;
    admin.key(KeyCode::Tab).await;
    admin.text("Someone").await;
    admin.key(KeyCode::Tab).await;
    admin.text("Billing").await;
    admin.key(KeyCode::Enter).await;
    admin.key(KeyCode::F(2)).await;
    let (kind, text) = admin.message();
    assert_eq!(kind, MessageKind::Error);
    assert!(text.contains("taken"), "{text}");
    assert!(
        !admin.app.screen.is::<PasswordShown>(),
        "nothing to show: nothing was created"
    );
}

/// A department named as another in another case is refused in the words an exact duplicate
/// gets (s33-c's walk added "营业一厅 counter hall 1" beside "营业一厅 Counter Hall 1").
#[tokio::test(flavor = "multi_thread")]
async fn a_department_named_as_another_in_another_case_is_refused_as_taken() {
    let db = fresh_db().await;
    db.create_operator("boss", &["administrator"]).await;
    let mut admin = Desk::sign_in_speaking(&db, "boss", TEST_PASSWORD, Lang::Zh).await;
    admin.command("departments").await;
    admin.key(KeyCode::Char('a')).await;
    admin.text("营业一厅 Counter Hall 1").await;
    admin.key(KeyCode::F(2)).await;
    admin.key(KeyCode::Char('a')).await;
    admin.text("营业一厅 counter hall 1").await;
    admin.key(KeyCode::F(2)).await;
    assert!(
        admin.screen().contains("名称已被使用"),
        "{}",
        admin.screen()
    );
    assert_eq!(
        db.count("SELECT count(*) FROM department WHERE lower(name) = '营业一厅 counter hall 1'")
            .await,
        1
    );
}

async fn permissions_of(db: &TestDb, role: &str) -> Vec<String> {
    db.pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT ARRAY(SELECT permission_code FROM role_permission WHERE role_code = $1
                          ORDER BY 1) AS permissions",
            &[&role],
        )
        .await
        .unwrap()
        .get("permissions")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_roles_permissions_are_changed_but_administration_is_never_left_to_nobody() {
    let db = fresh_db().await;
    db.create_operator("boss", &["administrator"]).await;
    let mut admin = Desk::sign_in(&db, "boss", TEST_PASSWORD).await;
    admin.command("roles").await;
    assert!(
        admin
            .screen()
            .contains(&Lang::En.permission_name("operator.maintain")),
        "{}",
        admin.screen()
    );

    // By code: administrator, clerk, supervisor. The clerk no longer reprints receipts: the
    // permission is found in the list by its name.
    admin.key(KeyCode::Down).await;
    admin.key(KeyCode::Char('m')).await;
    admin.key(KeyCode::F(4)).await;
    admin
        .text(&Lang::En.permission_name("receipt.reprint"))
        .await;
    admin.key(KeyCode::Enter).await;
    admin.key(KeyCode::F(2)).await;
    admin.key(KeyCode::F(2)).await;
    let clerk = permissions_of(&db, "clerk").await;
    assert!(!clerk.iter().any(|p| p == "receipt.reprint"), "{clerk:?}");
    assert!(clerk.iter().any(|p| p == "card.recharge"), "{clerk:?}");
    let audited: i64 = db
        .pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'role.set_permissions'",
            &[],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(audited, 1);

    // Taking operator.maintain from the only administrators' role is refused.
    let before = permissions_of(&db, "administrator").await;
    admin.key(KeyCode::Up).await;
    admin.key(KeyCode::Char('m')).await;
    admin.key(KeyCode::F(4)).await;
    admin
        .text(&Lang::En.permission_name("operator.maintain"))
        .await;
    admin.key(KeyCode::Enter).await;
    admin.key(KeyCode::F(2)).await;
    admin.key(KeyCode::F(2)).await;
    let (kind, text) = admin.message();
    assert_eq!(kind, MessageKind::Error);
    assert!(text.contains("no enabled operator"), "{text}");
    assert_eq!(permissions_of(&db, "administrator").await, before);
}

#[tokio::test]
async fn the_database_refuses_what_an_administrator_may_not_do_even_to_themselves() {
    let db = fresh_db().await;
    let boss = db.create_operator("boss", &["administrator"]).await;
    let clerk = db.create_operator("clerk", &["clerk"]).await;
    let admin = db.pool_of("boss");
    let admin = admin.get().await.unwrap();

    let refused = operators::set_enabled(&**admin, boss, false).await;
    assert!(refused.is_err(), "an administrator disabled themselves");
    let refused = operators::set_roles(&**admin, boss, &["clerk"]).await;
    assert!(
        refused.is_err(),
        "an administrator took away their own operator.maintain"
    );
    // Nor give themselves a role: their login would gain powers no other administrator
    // granted (a supervisor's refunds, every customer's data); dropping one stays theirs.
    let refused = operators::set_roles(&**admin, boss, &["administrator", "supervisor"]).await;
    assert!(refused.is_err(), "an administrator gave themselves a role");
    let roles: Vec<String> = (db.pool.get().await.unwrap())
        .query_one(
            "SELECT ARRAY(SELECT role_code FROM operator_role WHERE operator_id = $1) AS roles",
            &[&boss],
        )
        .await
        .unwrap()
        .get("roles");
    assert_eq!(roles, ["administrator"]);
    // Nor tick a permission into a role they hold (sql/V265); a role they do not hold, yes.
    let mut more = permissions_of(&db, "administrator").await;
    more.push("card.refund".to_owned());
    let refused = meterdesk::db::roles::set_permissions(
        &mut db.pool_of("boss").get().await.unwrap(),
        "administrator",
        &more,
    )
    .await;
    assert!(
        matches!(&refused, Err(error) if error.sql_state().map(|state| state.code()) == Some("MD443")),
        "the administrators' role gained a permission by an administrator's hand: {refused:?}"
    );
    assert!(
        !permissions_of(&db, "administrator")
            .await
            .contains(&"card.refund".to_owned())
    );
    // Taking one away from a role of their own stays theirs (the kept ones are written again).
    let mut fewer = permissions_of(&db, "administrator").await;
    fewer.retain(|p| p != "audit.view");
    meterdesk::db::roles::set_permissions(
        &mut db.pool_of("boss").get().await.unwrap(),
        "administrator",
        &fewer,
    )
    .await
    .expect("an administrator takes a permission from a role they hold");
    assert_eq!(permissions_of(&db, "administrator").await, fewer);
    let before = permissions_of(&db, "supervisor").await;
    let mut more = before.clone();
    more.push("operator.maintain".to_owned());
    for permissions in [more, before] {
        meterdesk::db::roles::set_permissions(
            &mut db.pool_of("boss").get().await.unwrap(),
            "supervisor",
            &permissions,
        )
        .await
        .expect("an administrator gives a role they do not hold a permission, and takes it");
    }
    operators::set_roles(&**admin, clerk, &["clerk", "supervisor"])
        .await
        .expect("an administrator changes another's roles");

    // A clerk may do none of it.
    let clerk_pool = db.pool_of("clerk");
    let as_clerk = clerk_pool.get().await.unwrap();
    assert!(
        operators::set_enabled(&**as_clerk, boss, false)
            .await
            .is_err()
    );
    assert!(
        operators::set_roles(&**as_clerk, clerk, &["administrator"])
            .await
            .is_err()
    );
    assert!(
        operators::save_department(&**as_clerk, None, "Mine")
            .await
            .is_err()
    );
    assert!(
        meterdesk::db::roles::set_permissions(
            &mut db.pool_of("clerk").get().await.unwrap(),
            "clerk",
            &["operator.maintain".to_owned()]
        )
        .await
        .is_err()
    );
}

/// A create sent again after a lost connection (the first attempt committed) is answered as
/// done, its password the one the database has; the same login with another password is
/// someone else's.
#[tokio::test]
async fn a_create_sent_again_is_done_once_and_another_with_its_login_is_refused() {
    use meterdesk::app::state::Reply;
    use meterdesk::domain::password::Secret;
    use meterdesk::screens::operators::requests::OperatorReply;
    use meterdesk::screens::reference::requests::RefAnswer;

    let db = fresh_db().await;
    let boss = db.create_operator("boss", &["administrator"]).await;
    // Signed in as the desk does: a password can be checked on the same server.
    let services = support::desk_services(&db.conn_str);
    assert_eq!(
        services.pool.sign_in("boss", TEST_PASSWORD).await.unwrap(),
        Ok(())
    );
    let department_id: i64 = db
        .pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT id FROM department WHERE name = 'Counter'", &[])
        .await
        .unwrap()
        .get("id");
    let create = |key: &str, password: Secret| {
        Request(Box::new(RefCall {
            operator_id: boss,
            work: OperatorRequest::Create {
                idempotency_key: key.into(),
                login: "twice".into(),
                full_name: "Twice".into(),
                department_id,
                roles: vec!["clerk".into()],
                password,
            },
        }))
    };
    let done = Ok(Reply::screen(RefAnswer::Done(OperatorReply::Done)));
    let password = Secret::generate();
    let first = create("k1", password.clone());
    let again = create("k1", password);
    assert_eq!(requests::execute(&services, first).await, done);
    assert_eq!(requests::execute(&services, again).await, done);
    let other = create("k2", Secret::generate());
    assert_eq!(
        requests::execute(&services, other).await,
        Ok(Reply::screen(RefAnswer::Done(OperatorReply::LoginTaken)))
    );
    let count: i64 = db
        .pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) AS n FROM operator WHERE login = 'twice'",
            &[],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(count, 1);
}

/// The administrator's changes, each with its reply lost right after its commit (the link cut
/// at the COMMIT: the server restarted by IT, the network dropped), then sent again as the desk
/// re-sends a parked write, with its key: each is done, and done once (one audit row), and the
/// department just added is not said "taken". Before sql/V101 the re-send of a reset, a
/// disabling, new roles or a role's permissions wrote a second audit row, and the department's
/// answered `NameTaken` ("Name already used") for the administrator's own department.
#[tokio::test]
async fn an_administrators_change_whose_reply_is_lost_after_its_commit_is_done_once() {
    use meterdesk::app::state::{Failure, Reply};
    use meterdesk::db::pool_from_conn_str;
    use meterdesk::domain::password::Secret;
    use meterdesk::screens::operators::departments::{DepartmentReply, DepartmentRequest};
    use meterdesk::screens::operators::requests::OperatorReply;
    use meterdesk::screens::operators::roles::{RoleReply, RoleRequest};
    use meterdesk::screens::reference::requests::{RefAnswer, RefWork};
    use support::commit_cutter::CommitCutter;

    let db = fresh_db().await;
    let boss = db.create_operator("boss", &["administrator"]).await;
    let clerk = db.create_operator("clerk1", &["clerk"]).await;
    let cutter = CommitCutter::start(&db);
    let pool = pool_from_conn_str(&db.as_operator(&cutter.conn_str, "boss"), 1).unwrap();
    let services = support::services(&pool);
    let audited = async |action: &str| {
        db.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = '{action}'"
        ))
        .await
    };
    async fn lost_then_again<W: RefWork>(
        services: &Services,
        cutter: &CommitCutter,
        boss: i64,
        work: W,
    ) -> Result<Reply, Failure> {
        let call = |work: W| {
            Request(Box::new(RefCall {
                operator_id: boss,
                work,
            }))
        };
        cutter.arm();
        let lost = requests::execute(services, call(work.clone())).await;
        assert!(
            matches!(lost, Err(Failure::Unreachable(_))),
            "the reply was to be lost: {lost:?}"
        );
        requests::execute(services, call(work)).await
    }
    let actions = [
        "department.add",
        "department.rename",
        "operator.reset_password",
        "operator.set_roles",
        "operator.set_department",
        "operator.disable",
        "role.set_permissions",
    ];
    let mut before = Vec::new();
    for action in actions {
        before.push(audited(action).await);
    }
    let key = |n: u32| format!("s35-e-admin-{n}");
    let done = Ok(Reply::screen(RefAnswer::Done(OperatorReply::Done)));

    let department = DepartmentRequest::Save {
        idempotency_key: key(1),
        renaming: None,
        name: "Hall 9".into(),
    };
    assert_eq!(
        lost_then_again(&services, &cutter, boss, department).await,
        Ok(Reply::screen(RefAnswer::Done(DepartmentReply::Saved))),
        "the administrator's own department, not \"taken\""
    );
    let hall: i64 = db
        .pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT id FROM department WHERE name = 'Hall 9'", &[])
        .await
        .unwrap()
        .get("id");
    let rename = DepartmentRequest::Save {
        idempotency_key: key(2),
        renaming: Some((hall, "Hall 9".into())),
        name: "Hall 10".into(),
    };
    assert_eq!(
        lost_then_again(&services, &cutter, boss, rename).await,
        Ok(Reply::screen(RefAnswer::Done(DepartmentReply::Saved)))
    );

    let created = audited("operator.create").await;
    let create = OperatorRequest::Create {
        idempotency_key: key(3),
        login: "newbie".into(),
        full_name: "New Clerk".into(),
        department_id: hall,
        roles: vec!["clerk".into()],
        password: Secret::generate(),
    };
    assert_eq!(
        lost_then_again(&services, &cutter, boss, create).await,
        done
    );
    assert_eq!(audited("operator.create").await, created + 1);

    let reset = OperatorRequest::ResetPassword {
        idempotency_key: key(4),
        id: clerk,
        login: "clerk1".into(),
        password: Secret::generate(),
    };
    assert_eq!(lost_then_again(&services, &cutter, boss, reset).await, done);
    let listed = operators::list(&**db.pool.get().await.unwrap())
        .await
        .unwrap();
    let read = listed.iter().find(|row| row.id == clerk).unwrap().placed();
    let roles = OperatorRequest::SetRoles {
        idempotency_key: key(5),
        id: clerk,
        login: "clerk1".into(),
        read,
        roles: vec!["clerk".into(), "supervisor".into()],
        department_id: hall,
    };
    assert_eq!(lost_then_again(&services, &cutter, boss, roles).await, done);
    let disable = OperatorRequest::SetEnabled {
        idempotency_key: key(6),
        id: clerk,
        login: "clerk1".into(),
        enabled: false,
    };
    assert_eq!(
        lost_then_again(&services, &cutter, boss, disable).await,
        done
    );
    let read = permissions_of(&db, "clerk").await;
    let mut kept = read.clone();
    kept.pop();
    let permissions = RoleRequest::SetPermissions {
        idempotency_key: key(7),
        code: "clerk".into(),
        read,
        permissions: kept.clone(),
    };
    assert_eq!(
        lost_then_again(&services, &cutter, boss, permissions).await,
        Ok(Reply::screen(RefAnswer::Done(RoleReply::Saved)))
    );
    assert_eq!(permissions_of(&db, "clerk").await, kept);

    for (action, before) in actions.into_iter().zip(before) {
        assert_eq!(audited(action).await, before + 1, "{action}: written once");
    }
    assert_eq!(
        db.count("SELECT count(*) FROM department WHERE name LIKE 'Hall%'")
            .await,
        1
    );
    assert!(!operator_state(&db, "clerk1").await.0, "disabled");
}

/// s45-a (s44-g's found, not fixed): a department's name and a role's permissions were saved
/// by id, so the later of two desks' saves silently undid the other's. Desk A's save stands;
/// desk B's, its form read before it (or before a psql change), is refused and writes nothing;
/// read again, B's saves.
#[tokio::test(flavor = "multi_thread")]
async fn a_department_or_a_roles_permissions_saved_from_a_form_read_before_another_save_is_refused()
{
    use meterdesk::app::state::Reply;
    use meterdesk::db::pool_from_conn_str;
    use meterdesk::screens::operators::departments::{DepartmentReply, DepartmentRequest};
    use meterdesk::screens::operators::roles::{RoleReply, RoleRequest};
    use meterdesk::screens::reference::requests::{RefAnswer, RefWork};

    let db = fresh_db().await;
    let boss = db.create_operator("boss", &["administrator"]).await;
    let pool = pool_from_conn_str(&db.as_operator(&db.conn_str, "boss"), 1).unwrap();
    let services = support::services(&pool);
    let mut next = 0;
    async fn send<W: RefWork>(services: &Services, boss: i64, work: W) -> W::Reply {
        let call = Request(Box::new(RefCall {
            operator_id: boss,
            work,
        }));
        match requests::execute(services, call).await {
            Ok(Reply(reply)) => match reply.of::<RefAnswer<W::Reply>>() {
                Some(RefAnswer::Done(reply)) => reply.clone(),
                other => panic!("{other:?}"),
            },
            Err(failure) => panic!("{failure:?}"),
        }
    }
    let mut key = || {
        next += 1;
        format!("s45-a-{next}")
    };
    let audited = async || db.count("SELECT count(*) FROM audit_log").await;

    let add = DepartmentRequest::Save {
        idempotency_key: key(),
        renaming: None,
        name: "Hall 7".into(),
    };
    assert_eq!(send(&services, boss, add).await, DepartmentReply::Saved);
    let hall: i64 = db
        .pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT id FROM department WHERE name = 'Hall 7'", &[])
        .await
        .unwrap()
        .get("id");
    let mut rename = |read: &str, name: &str| DepartmentRequest::Save {
        idempotency_key: key(),
        renaming: Some((hall, read.into())),
        name: name.into(),
    };
    let (a, b, b_again) = (
        rename("Hall 7", "Hall 7 A"),
        rename("Hall 7", "Hall 7 B"),
        rename("Hall 7 A", "Hall 7 B"),
    );
    assert_eq!(send(&services, boss, a).await, DepartmentReply::Saved);
    let before = audited().await;
    assert_eq!(send(&services, boss, b).await, DepartmentReply::Changed);
    assert_eq!(audited().await, before, "nothing written");
    let named = "SELECT count(*) FROM department WHERE name = 'Hall 7 A'";
    assert_eq!(db.count(named).await, 1, "A's name stands");
    assert_eq!(send(&services, boss, b_again).await, DepartmentReply::Saved);

    // A takes a permission from the clerk; B, its form read before, gives the clerk another
    // and would have given A's back.
    let read = permissions_of(&db, "clerk").await;
    let taken = read[0].clone();
    let mut set = |read: &[String], permissions: Vec<String>| RoleRequest::SetPermissions {
        idempotency_key: key(),
        code: "clerk".into(),
        read: read.to_vec(),
        permissions,
    };
    let a_sets = read[1..].to_vec();
    let mut b_sets = read.clone();
    b_sets.push("price.maintain".into());
    b_sets.sort();
    let (a, b) = (set(&read, a_sets.clone()), set(&read, b_sets.clone()));
    assert_eq!(send(&services, boss, a).await, RoleReply::Saved);
    let before = audited().await;
    assert_eq!(send(&services, boss, b).await, RoleReply::Changed);
    assert_eq!(audited().await, before, "nothing written");
    assert_eq!(
        permissions_of(&db, "clerk").await,
        a_sets,
        "A's permissions stand"
    );
    // A psql change is another desk's too.
    db.pool
        .get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO role_permission (role_code, permission_code) VALUES ('clerk', $1)",
            &[&taken],
        )
        .await
        .unwrap();
    assert_eq!(
        send(&services, boss, set(&a_sets, b_sets.clone())).await,
        RoleReply::Changed
    );
    let now = permissions_of(&db, "clerk").await;
    assert_eq!(
        send(&services, boss, set(&now, b_sets.clone())).await,
        RoleReply::Saved
    );
    let mut now = permissions_of(&db, "clerk").await;
    now.sort();
    assert_eq!(now, b_sets);
}

/// s46-c (s45-a's way, for operators): an operator's roles and department were saved by id, so
/// a save from a form read before another desk's (or psql's) change landed over it unseen.
/// Desk B's form, opened before desk A moved the clerk, is refused and writes nothing, said on
/// the message line, the form kept as typed and the list under it read again; a psql change of
/// the clerk's roles is another desk's too; opened again from the list read, B's save lands.
#[tokio::test(flavor = "multi_thread")]
async fn an_operators_roles_saved_from_a_list_read_before_another_change_are_refused() {
    let db = fresh_db().await;
    db.create_operator("boss", &["administrator"]).await;
    db.create_operator("boss2", &["administrator"]).await;
    db.create_operator("clerk", &["clerk"]).await;
    let mut a = Desk::sign_in(&db, "boss", TEST_PASSWORD).await;
    a.command("departments").await;
    a.key(KeyCode::Char('a')).await;
    a.text("Back Office").await;
    a.key(KeyCode::F(2)).await;
    a.key(KeyCode::F(3)).await;
    let mut b = Desk::sign_in(&db, "boss2", TEST_PASSWORD).await;
    for desk in [&mut a, &mut b] {
        desk.command("operators").await;
        desk.select("clerk").await;
    }
    // B opens the clerk's roles and ticks the supervisor's.
    b.key(KeyCode::Char('m')).await;
    b.key(KeyCode::F(4)).await;
    b.text("Supervisor").await;
    b.key(KeyCode::Enter).await;
    // A moves the clerk meanwhile.
    a.key(KeyCode::Char('m')).await;
    a.key(KeyCode::Tab).await;
    a.text("Back").await;
    a.key(KeyCode::Tab).await;
    a.key(KeyCode::F(2)).await;
    let department = async || {
        db.pool
            .get()
            .await
            .unwrap()
            .query_one(
                "SELECT d.name FROM operator o JOIN department d ON d.id = o.department_id
                 WHERE o.login = 'clerk'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, String>("name")
    };
    assert_eq!(department().await, "Back Office", "{}", a.screen());
    let audited = async || db.count("SELECT count(*) FROM audit_log").await;
    let before = audited().await;
    b.key(KeyCode::F(2)).await;
    let (kind, text) = b.message();
    assert_eq!(kind, MessageKind::Error, "{text}");
    assert!(
        text.starts_with("Not saved: another desk saved this operator meanwhile."),
        "{text}"
    );
    assert_eq!(audited().await, before, "nothing written");
    assert_eq!(
        operator_state(&db, "clerk").await.2,
        vec!["clerk".to_owned()]
    );
    assert_eq!(department().await, "Back Office", "A's move stands");
    assert!(
        b.screen().contains("Supervisor"),
        "the form kept as typed:\n{}",
        b.screen()
    );
    // The list under the form was read again: left (its changes discarded), it shows A's move.
    b.key(KeyCode::F(3)).await;
    b.key(KeyCode::F(3)).await;
    assert!(
        b.screen().contains("Back Offi"),
        "the list read again:\n{}",
        b.screen()
    );

    // A psql change of the clerk's roles is another desk's too.
    b.key(KeyCode::Char('m')).await;
    db.pool
        .get()
        .await
        .unwrap()
        .execute(
            "SELECT operator_set_roles(id, ARRAY['clerk', 'supervisor']) FROM operator
             WHERE login = 'clerk'",
            &[],
        )
        .await
        .unwrap();
    b.key(KeyCode::F(4)).await;
    b.text("Administrator").await;
    b.key(KeyCode::Enter).await;
    b.key(KeyCode::F(2)).await;
    assert!(b.message().1.starts_with("Not saved"), "{:?}", b.message());
    let read_again = vec!["clerk".to_owned(), "supervisor".to_owned()];
    assert_eq!(operator_state(&db, "clerk").await.2, read_again);
    b.key(KeyCode::F(3)).await;
    b.key(KeyCode::F(3)).await;
    b.key(KeyCode::Char('m')).await;
    b.key(KeyCode::F(4)).await;
    b.text("Administrator").await;
    b.key(KeyCode::Enter).await;
    b.key(KeyCode::F(2)).await;
    let mut saved = read_again;
    saved.insert(0, "administrator".into());
    assert_eq!(
        operator_state(&db, "clerk").await.2,
        saved,
        "{:?}\n{}",
        b.message(),
        b.screen()
    );
}
