//! Signing in is connecting as the operator's own PostgreSQL role: through
//! `requests::execute` against a real database, the server checks the password and says who
//! may not sign in; a temporary password must be changed first; a disabled operator's running
//! session ends.

mod support;

use meterdesk::app::requests::execute;
use meterdesk::app::state::{Failure, Reply, Request, lost_connection_words};
use meterdesk::db::overview::{Overview, Takings};
use meterdesk::db::pool_from_conn_str;
use meterdesk::db::{LostConnection, operators};
use meterdesk::screens::login::{Login, LoginRefusal, SignInAnswer};
use meterdesk::screens::overview::LoadOverview;
use meterdesk::screens::password::{ChangePassword, PasswordAnswer};
use support::pg::{TEST_PASSWORD, TestDb, fresh_db};
use support::services;

/// The overview of today at a desk in UTC.
fn utc() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(0).unwrap()
}

fn login(name: &str, password: &str) -> Request {
    Request(Box::new(Login {
        login: name.into(),
        password: password.into(),
    }))
}

/// The desk's services before anyone signed in: the server only.
fn desk(db: &TestDb) -> meterdesk::app::requests::Services {
    support::desk_services(&db.conn_str)
}

async fn answer(services: &meterdesk::app::requests::Services, request: Request) -> SignInAnswer {
    let Ok(Reply(reply)) = execute(services, request).await else {
        panic!("a sign-in is answered")
    };
    reply
        .of::<SignInAnswer>()
        .expect("a sign-in answer")
        .clone()
}

#[tokio::test]
async fn the_right_password_signs_in_as_the_operators_own_role() {
    let db = fresh_db().await;
    db.create_operator("li.ming", &["clerk", "supervisor"])
        .await;
    let desk = desk(&db);

    assert_eq!(
        answer(&desk, login("li.ming", "river-18")).await,
        SignInAnswer::Refused(LoginRefusal::WrongCredentials)
    );
    assert!(
        desk.pool.get().await.is_err(),
        "no connection after a refusal"
    );

    let SignInAnswer::LoggedIn(session) = answer(&desk, login("LI.MING", TEST_PASSWORD)).await
    else {
        panic!("the right password signs in, whatever the case of the name")
    };
    assert_eq!(session.login, "li.ming");
    assert_eq!(session.roles, vec!["clerk", "supervisor"]);
    assert!(session.permissions.iter().any(|p| p == "card.refund"));
    assert!(!session.permissions.iter().any(|p| p == "operator.maintain"));
    assert!(!session.must_change_password);

    // Every later request runs as that role, and the audit log says so.
    let client = desk.pool.get().await.unwrap();
    let who: String = client
        .query_one("SELECT session_user::text AS who", &[])
        .await
        .unwrap()
        .get("who");
    assert_eq!(who, format!("li.ming@{}", db.name));
    let audited: String = db
        .pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT db_user::text AS who FROM audit_log WHERE action = 'login.succeeded'",
            &[],
        )
        .await
        .unwrap()
        .get("who");
    assert_eq!(audited, who);
}

#[tokio::test]
async fn unknown_names_and_wrong_passwords_get_the_same_answer() {
    let db = fresh_db().await;
    db.create_operator("li.ming", &["clerk"]).await;
    let desk = desk(&db);
    assert_eq!(
        answer(&desk, login("nobody", TEST_PASSWORD)).await,
        answer(&desk, login("li.ming", "wrong")).await
    );
}

#[tokio::test]
async fn a_disabled_operator_cannot_sign_in_and_their_running_session_ends() {
    let db = fresh_db().await;
    let id = db.create_operator("gone", &["clerk"]).await;
    let desk = desk(&db);
    assert!(matches!(
        answer(&desk, login("gone", TEST_PASSWORD)).await,
        SignInAnswer::LoggedIn(_)
    ));
    let running = desk.pool.get().await.unwrap();

    let admin = db.operator("boss", &["administrator"]).await;
    operators::set_enabled(&**admin.get().await.unwrap(), id, false)
        .await
        .unwrap();

    // The session's next request fails: its connection was ended by the server, and a new
    // one is refused, which signs the desk out.
    let next = running.query_one("SELECT 1 AS one", &[]).await;
    assert!(
        next.is_err(),
        "the disabled operator's connection still works"
    );
    drop(running);
    let mut outcome = execute(&desk, Request(Box::new(LoadOverview::today(utc())))).await;
    for _ in 0..10 {
        if !matches!(outcome, Err(Failure::Unreachable(_))) {
            break;
        }
        outcome = execute(&desk, Request(Box::new(LoadOverview::today(utc())))).await;
    }
    assert!(matches!(outcome, Err(Failure::SignedOut(_))), "{outcome:?}");
    assert_eq!(
        answer(&desk, login("gone", TEST_PASSWORD)).await,
        SignInAnswer::Refused(LoginRefusal::Disabled)
    );
    assert_eq!(
        answer(&desk, login("gone", "wrong")).await,
        SignInAnswer::Refused(LoginRefusal::WrongCredentials),
        "disabled is told only to whoever knows the password"
    );
}

#[tokio::test]
async fn a_temporary_password_changes_nothing_until_it_is_changed() {
    let db = fresh_db().await;
    let admin = db.operator("boss", &["administrator"]).await;
    let id = db.create_operator("new.clerk", &["clerk"]).await;
    operators::reset_password(&**admin.get().await.unwrap(), id, "temp-pass-1")
        .await
        .unwrap();
    let desk = desk(&db);
    let SignInAnswer::LoggedIn(session) = answer(&desk, login("new.clerk", "temp-pass-1")).await
    else {
        panic!("a temporary password signs in")
    };
    assert!(session.must_change_password);
    // The database refuses its writes meanwhile, whatever the client does.
    let client = desk.pool.get().await.unwrap();
    assert!(
        !operators::has_permission(&**client, "customer.open")
            .await
            .unwrap()
    );
    drop(client);

    let change = |current: Option<&str>, new: &str| {
        Request(Box::new(ChangePassword::new("new.clerk", current, new)))
    };
    let changed = execute(&desk, change(None, "my-own-pass")).await;
    assert_eq!(changed, Ok(Reply::screen(PasswordAnswer::Changed)));
    let client = desk.pool.get().await.unwrap();
    assert!(
        operators::has_permission(&**client, "customer.open")
            .await
            .unwrap()
    );
    drop(client);

    // `:password` asks for the current one, checked by the server.
    assert_eq!(
        execute(&desk, change(Some("temp-pass-1"), "another-1")).await,
        Ok(Reply::screen(PasswordAnswer::WrongCurrent))
    );
    assert!(matches!(
        answer(&desk, login("new.clerk", "my-own-pass")).await,
        SignInAnswer::LoggedIn(_)
    ));
}

#[tokio::test]
async fn the_home_figures_of_an_empty_database_are_zero() {
    let db = fresh_db().await;
    assert_eq!(
        execute(
            &services(&db.pool),
            Request(Box::new(LoadOverview::today(utc())))
        )
        .await,
        Ok(Reply::screen(Overview {
            today: Some(Takings::default()),
            ..Overview::default()
        }))
    );
}

#[tokio::test]
async fn an_unreachable_server_is_reported_as_such() {
    let pool = pool_from_conn_str("host=/nonexistent/socket/dir user=x dbname=x", 1).unwrap();
    assert!(matches!(
        execute(
            &services(&pool),
            Request(Box::new(LoadOverview::today(utc())))
        )
        .await,
        Err(Failure::Unreachable(_))
    ));
}

/// What the message line quotes of an unreachable server is its cause alone: the advice is the
/// catalogue's, in the desk's language (session 33, by hand on a Chinese desk with the server
/// stopped: "无法连接数据库（database unreachable: error connecting to server: No such file or
/// directory (os error 2). Check that the database server is running; meterdesk…" cut at the
/// line's end, the catalogue's "正在重连；已输入的内容不会丢失" out of sight), and the cause too
/// is in the desk's words (session 34: "error connecting to server: No such file…" was quoted).
#[tokio::test]
async fn an_unreachable_server_is_quoted_by_its_cause_alone() {
    let pool = pool_from_conn_str("host=/nonexistent/socket/dir user=x dbname=x", 1).unwrap();
    let outcome = execute(
        &services(&pool),
        Request(Box::new(LoadOverview::today(utc()))),
    )
    .await;
    let Err(Failure::Unreachable(cause)) = outcome else {
        panic!("unreachable: {outcome:?}")
    };
    assert_eq!(cause, LostConnection::NotListening);
    let lang = meterdesk::i18n::Lang::Zh;
    let words = lost_connection_words(lang, &cause);
    let told = lang.tf("db.unreachable", &[("detail", &words)]);
    assert!(
        told.starts_with("无法连接数据库（该地址上没有运行数据库服务器）"),
        "{told}"
    );
}

/// A connection the server's administrator ended (`pg_terminate_backend`, SQLSTATE 57P01) is
/// said in the desk's words, as what happened: the server ended it (session 35: its words were
/// "the server is shutting down", which it was not).
#[tokio::test]
async fn a_connection_the_server_ended_is_said_in_the_desks_words() {
    let db = fresh_db().await;
    let pool = pool_from_conn_str(&db.conn_str, 1).unwrap();
    let client = pool.get().await.unwrap();
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    db.execute_as_superuser(&format!("SELECT pg_terminate_backend({pid})"))
        .await;
    let gone = format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}");
    while db.count(&gone).await > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let error = client.query_one("SELECT 1", &[]).await.unwrap_err();
    let Failure::Unreachable(cause) = Failure::from(meterdesk::db::DbError::from(error)) else {
        panic!("the connection ended")
    };
    let zh = lost_connection_words(meterdesk::i18n::Lang::Zh, &cause);
    eprintln!("the connection ended: {cause:?}, {zh}");
    assert!(
        !matches!(cause, LostConnection::Other(_)),
        "a cause the desk knows: {cause:?}"
    );
    assert!(
        !zh.chars().any(|c| c.is_ascii_alphabetic()),
        "{cause:?}: {zh}"
    );
    if cause == LostConnection::ServerShuttingDown {
        assert_eq!(zh, "数据库服务器结束了连接（正在关闭或由管理员结束）");
    }
}

/// A sign-in with the server down is answered as such, not failed as unreachable: a failed
/// request is parked until the health watcher finds the database back, and nobody signed in
/// has no watcher.
#[tokio::test]
async fn a_sign_in_with_the_server_down_is_answered_as_unreachable() {
    let desk = support::desk_services("host=/nonexistent/socket/dir user=x dbname=x");
    let refused = answer(&desk, login("li.ming", TEST_PASSWORD)).await;
    assert!(
        matches!(
            &refused,
            SignInAnswer::Refused(LoginRefusal::Unreachable(cause))
                if *cause == LostConnection::NotListening
        ),
        "{refused:?}"
    );
}

/// While demo data is loaded table by table, a bulk load's marker exists: the tables are
/// half-filled and without their keys, and no one signs in until it is gone.
#[tokio::test]
async fn no_one_signs_in_while_a_bulk_load_is_under_way() {
    let db = fresh_db().await;
    db.create_operator("li.ming", &["clerk"]).await;
    let owner = db.pool.get().await.unwrap();
    owner
        .batch_execute(&format!(
            "CREATE TABLE {} (position int)",
            meterdesk::db::bulk_load::MARKER
        ))
        .await
        .unwrap();
    let desk = desk(&db);
    assert_eq!(
        answer(&desk, login("li.ming", TEST_PASSWORD)).await,
        SignInAnswer::Refused(LoginRefusal::LoadInProgress)
    );
    assert!(desk.pool.get().await.is_err(), "signed out again");

    owner
        .batch_execute(&format!("DROP TABLE {}", meterdesk::db::bulk_load::MARKER))
        .await
        .unwrap();
    assert!(matches!(
        answer(&desk, login("li.ming", TEST_PASSWORD)).await,
        SignInAnswer::LoggedIn(_)
    ));
}

#[tokio::test]
async fn an_operator_at_their_connection_limit_is_told_so_at_the_sign_in() {
    let db = fresh_db().await;
    db.create_operator("busy", &["clerk"]).await;
    // Sixteen connections of theirs elsewhere (sql/V99: one operator holds at most 16).
    let mut held = Vec::new();
    for _ in 0..16 {
        let (client, connection) =
            tokio_postgres::connect(&db.operator_conn_str("busy"), tokio_postgres::NoTls)
                .await
                .expect("one of the sixteen");
        held.push((client, tokio::spawn(connection)));
    }
    let desk = desk(&db);
    assert_eq!(
        answer(&desk, login("busy", TEST_PASSWORD)).await,
        SignInAnswer::Refused(LoginRefusal::TooManyConnections)
    );
    assert!(
        desk.pool.get().await.is_err(),
        "no connection after a refusal"
    );
    // A wrong password is still only that.
    assert_eq!(
        answer(&desk, login("busy", "wrong")).await,
        SignInAnswer::Refused(LoginRefusal::WrongCredentials)
    );
    // One of them given back, the desk signs in.
    let (client, connection) = held.pop().unwrap();
    drop(client);
    let _ = connection.await;
    let mut signed_in = answer(&desk, login("busy", TEST_PASSWORD)).await;
    for _ in 0..20 {
        if signed_in != SignInAnswer::Refused(LoginRefusal::TooManyConnections) {
            break;
        }
        // The server process of the connection dropped may still be ending.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        signed_in = answer(&desk, login("busy", TEST_PASSWORD)).await;
    }
    assert!(
        matches!(signed_in, SignInAnswer::LoggedIn(_)),
        "{signed_in:?}"
    );
}
