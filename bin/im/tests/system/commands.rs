//! The smaller commands: help, configuration printing, migrations, bad input.

use crate::process::{IM, im};
use std::process::Command;

#[test]
fn help_documents_every_command() {
    let output = Command::new(IM).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for command in ["serve", "migrate", "config"] {
        assert!(help.contains(command), "{command} missing from\n{help}");
    }
    let output = Command::new(IM).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--services",
        "--http-addr",
        "--admin-addr",
        "--data-dir",
        "--config",
    ] {
        assert!(help.contains(flag), "{flag} missing from\n{help}");
    }
}

#[test]
fn config_print_shows_effective_values_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let output = im(dir.path())
        .env(
            "IM__DATABASE__URL",
            "mysql://im:hunter2@db:3306/im_{service}",
        )
        .env("IM__HTTP__ADDR", "127.0.0.1:8181")
        .args(["config", "print"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.contains("127.0.0.1:8181"), "{printed}");
    assert!(
        printed.contains("mysql://im:[redacted]@db:3306/im_{service}"),
        "{printed}"
    );
    assert!(!printed.contains("hunter2"), "{printed}");
    let parsed: toml::Value = toml::from_str(&printed).unwrap();
    assert!(parsed.get("data_dir").is_some());
}

#[test]
fn migrate_creates_every_embedded_database() {
    let dir = tempfile::tempdir().unwrap();
    let output = im(dir.path()).arg("migrate").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for db in ["identity", "conversation", "message", "file"] {
        assert!(dir.path().join(format!("{db}.db")).exists(), "{db}.db");
    }
}

#[test]
fn bad_input_is_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["serve", "--services", "gateway,billing"],
            "unknown service",
        ),
        (&["serve", "--http-addr", "not-an-address"], "invalid value"),
        (
            &["--config", "/nonexistent/im.toml", "config", "print"],
            "does not exist",
        ),
    ];
    for (args, expected) in cases {
        let output = im(dir.path()).args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let typo = im(dir.path())
        .env("IM__HTTP__ADRR", "x")
        .args(["config", "print"])
        .output()
        .unwrap();
    assert!(
        !typo.status.success(),
        "an unknown configuration key is an error"
    );
}
