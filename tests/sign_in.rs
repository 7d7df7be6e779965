//! Sign-in and the home figures through `requests::execute` against a real database.

mod support;

use std::time::Duration;

use meterdesk::app::requests::execute;
use meterdesk::app::state::{Failure, Reply, Request};
use meterdesk::db::operators::{self, NewOperator};
use meterdesk::db::overview::Overview;
use meterdesk::db::pool_from_conn_str;
use meterdesk::domain::password::hash_password;
use meterdesk::screens::login::{Login, LoginRefusal, SignInAnswer};
use meterdesk::screens::overview::LoadOverview;
use support::pg::{TestDb, fresh_db};
use support::services;

async fn add_operator(db: &TestDb, login: &str, password: &str, enabled: bool) {
    let client = db.pool.get().await.unwrap();
    let department: i64 = client
        .query_one(
            "INSERT INTO department (name) VALUES ($1) RETURNING id",
            &[&format!("Office of {login}")],
        )
        .await
        .unwrap()
        .get("id");
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .unwrap();
    let id = operators::create(
        &**client,
        &NewOperator {
            login,
            full_name: "Li Ming",
            department_id: department,
            role_codes: &["clerk", "supervisor"],
            password_hash: &hash,
        },
        None,
    )
    .await
    .unwrap();
    client
        .execute(
            "UPDATE operator SET enabled = $2 WHERE id = $1",
            &[&id, &enabled],
        )
        .await
        .unwrap();
}

fn login(name: &str, password: &str) -> Request {
    Request(Box::new(Login {
        login: name.into(),
        password: password.into(),
    }))
}

#[tokio::test]
async fn the_right_password_signs_in_and_resets_the_failure_count() {
    let db = fresh_db().await;
    add_operator(&db, "li.ming", "river-17", true).await;

    let wrong = execute(&services(&db.pool), login("li.ming", "river-18")).await;
    assert_eq!(
        wrong,
        Ok(Reply::screen(SignInAnswer::Refused(
            LoginRefusal::WrongCredentials
        )))
    );

    let Ok(Reply(reply)) = execute(&services(&db.pool), login("LI.MING", "river-17")).await else {
        panic!("the right password signs in, whatever the case of the name")
    };
    let Some(SignInAnswer::LoggedIn(session)) = reply.of::<SignInAnswer>() else {
        panic!("the right password signs in, whatever the case of the name")
    };
    assert_eq!(session.login, "li.ming");
    assert_eq!(session.full_name, "Li Ming");
    assert_eq!(session.department, "Office of li.ming");
    assert_eq!(session.roles, vec!["clerk", "supervisor"]);

    let client = db.pool.get().await.unwrap();
    let failures: i32 = client
        .query_one(
            "SELECT failed_logins FROM operator WHERE login = 'li.ming'",
            &[],
        )
        .await
        .unwrap()
        .get("failed_logins");
    assert_eq!(failures, 0);
    let audited: i64 = client
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action IN ('login.failed', 'login.succeeded')",
            &[],
        )
        .await
        .unwrap()
        .get("count");
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn unknown_names_and_wrong_passwords_get_the_same_answer() {
    let db = fresh_db().await;
    add_operator(&db, "li.ming", "river-17", true).await;
    assert_eq!(
        execute(&services(&db.pool), login("nobody", "river-17")).await,
        execute(&services(&db.pool), login("li.ming", "wrong")).await
    );
}

#[tokio::test]
async fn repeated_failures_slow_down_and_the_wait_runs_out() {
    let db = fresh_db().await;
    add_operator(&db, "li.ming", "river-17", true).await;
    for _ in 0..3 {
        assert_eq!(
            execute(&services(&db.pool), login("li.ming", "guess")).await,
            Ok(Reply::screen(SignInAnswer::Refused(
                LoginRefusal::WrongCredentials
            )))
        );
    }
    // Even the right password must wait now.
    let Ok(Reply(reply)) = execute(&services(&db.pool), login("li.ming", "river-17")).await else {
        panic!("the fourth attempt has to wait")
    };
    let Some(SignInAnswer::Refused(LoginRefusal::Wait(wait))) = reply.of::<SignInAnswer>() else {
        panic!("the fourth attempt has to wait")
    };
    assert!(
        *wait > Duration::ZERO && *wait <= Duration::from_secs(2),
        "{wait:?}"
    );

    // Time passes (the last failure moves into the past).
    let client = db.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE operator SET last_failed_login_at = now() - interval '1 minute'",
            &[],
        )
        .await
        .unwrap();
    let Ok(Reply(reply)) = execute(&services(&db.pool), login("li.ming", "river-17")).await else {
        panic!("the wait ran out")
    };
    assert!(matches!(
        reply.of::<SignInAnswer>(),
        Some(SignInAnswer::LoggedIn(_))
    ));
}

#[tokio::test]
async fn a_disabled_operator_is_told_only_after_the_right_password() {
    let db = fresh_db().await;
    add_operator(&db, "gone", "river-17", false).await;
    assert_eq!(
        execute(&services(&db.pool), login("gone", "wrong")).await,
        Ok(Reply::screen(SignInAnswer::Refused(
            LoginRefusal::WrongCredentials
        )))
    );
    assert_eq!(
        execute(&services(&db.pool), login("gone", "river-17")).await,
        Ok(Reply::screen(SignInAnswer::Refused(LoginRefusal::Disabled)))
    );
}

#[tokio::test]
async fn the_home_figures_of_an_empty_database_are_zero() {
    let db = fresh_db().await;
    assert_eq!(
        execute(&services(&db.pool), Request(Box::new(LoadOverview))).await,
        Ok(Reply::screen(Overview::default()))
    );
}

#[tokio::test]
async fn an_unreachable_server_is_reported_as_such() {
    let pool = pool_from_conn_str("host=/nonexistent/socket/dir user=x dbname=x", 1).unwrap();
    assert!(matches!(
        execute(&services(&pool), Request(Box::new(LoadOverview))).await,
        Err(Failure::Unreachable(_))
    ));
}
