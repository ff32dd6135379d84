//! The `myqcm` binary as an operator uses it: fresh directory, embedded defaults.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn myqcm() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_myqcm"));
    // Only what each test sets: no MYQCM_* from the environment running the tests.
    for (k, _) in std::env::vars() {
        if k.starts_with("MYQCM_") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_with_embedded_defaults_creates_the_sqlite_file_under_data_and_becomes_ready() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = myqcm()
        .arg("serve")
        .current_dir(dir.path())
        .env("MYQCM_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut status = None;
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut buf = String::new();
            std::io::Read::read_to_string(&mut s, &mut buf).unwrap();
            status = buf.split_whitespace().nth(1).map(str::to_owned);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status.as_deref(), Some("200"));
    assert!(
        dir.path().join("data/myqcm.sqlite").is_file(),
        "SQLite file under ./data/"
    );
    assert!(
        dir.path().join("data/mail").is_dir(),
        "mail folder under ./data/"
    );
}

#[test]
fn production_with_a_development_secret_exits_2_naming_the_variable() {
    let out = myqcm()
        .arg("migrate")
        .env("MYQCM_ENV", "production")
        .env("MYQCM_PUBLIC_BASE_URL", "https://myqcm.example")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MYQCM_SECRET_KEY"));
}

#[test]
fn every_command_has_help_and_the_binary_has_a_version() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["worker", "--help"],
        vec!["migrate", "--help"],
        vec!["seed", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "create", "--help"],
    ] {
        let out = myqcm().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    let out = myqcm().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("myqcm "));
}

#[test]
fn admin_create_reads_the_password_from_stdin_and_enforces_the_staff_policy() {
    let dir = tempfile::tempdir().unwrap();
    let run = |password: &str| {
        let mut child = myqcm()
            .args([
                "admin",
                "create",
                "--email",
                "Chef@Example.org",
                "--role",
                "admin",
            ])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let short = run("short-pass");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12"));
    let ok = run("a-long-enough-passphrase");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.contains("chef@example.org") && stdout.contains("admin"));
    assert!(!stdout.contains("a-long-enough-passphrase"));
    let again = run("a-long-enough-passphrase");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn seed_demo_is_refused_in_production_and_creates_one_account_per_role_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let out = myqcm()
        .args(["seed", "--demo"])
        .current_dir(dir.path())
        .env("MYQCM_ENV", "production")
        .env("MYQCM_PUBLIC_BASE_URL", "https://myqcm.example")
        .env(
            "MYQCM_SECRET_KEY",
            "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU2Nzg5MDEyMzQ1Njc4OTAx",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
    let out = myqcm()
        .args(["seed", "--demo"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for role in ["student", "author", "reviewer", "admin"] {
        assert!(
            stdout.contains(&format!("{role}@demo.myqcm.local")),
            "{stdout}"
        );
    }
    assert_eq!(
        stdout.matches("TOTP secret: ").count(),
        2,
        "reviewer and admin: {stdout}"
    );
    assert!(stdout.contains("Demo bank: 174 items"), "{stdout}");
}
