//! A small client of the public API, used the way a new user's program would use it.

use crate::process::{IM, ImProcess};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub const PASSWORD: &str = "correct horse battery";

pub struct Api {
    base: String,
    http: reqwest::Client,
}

/// What came back: status, headers and the JSON body (`Null` when empty or not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

impl Api {
    pub fn new(im: &ImProcess) -> Self {
        Self {
            base: im.http_url(""),
            // Bounded, so a scenario with a dead server fails instead of hanging.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = match request.send().await {
            Ok(response) => response,
            // No HTTP answer at all (refused, reset): status 0, as a browser reports it.
            Err(_) => {
                return Reply {
                    status: 0,
                    headers: reqwest::header::HeaderMap::new(),
                    body: Value::Null,
                };
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body), &[]).await
    }

    pub async fn register(&self, username: &str) -> Value {
        let reply = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(reply.status, 201, "register {username}: {}", reply.body);
        reply.body
    }

    /// Logs in and returns the whole token response.
    pub async fn login_as(&self, username: &str, password: &str, device: &str) -> Reply {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"username": username, "password": password, "device_id": device}),
        )
        .await
    }

    pub async fn login(&self, username: &str, device: &str) -> Value {
        let reply = self.login_as(username, PASSWORD, device).await;
        assert_eq!(reply.status, 200, "login {username}: {}", reply.body);
        reply.body
    }

    /// Polls `path` with `token` until it answers `status`, for at most `limit`.
    pub async fn eventually_status(
        &self,
        path: &str,
        token: &str,
        status: u16,
        limit: Duration,
    ) -> Reply {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let reply = self.get(path, token).await;
            if reply.status == status || std::time::Instant::now() >= deadline {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn token(login: &Value) -> &str {
    login["access_token"].as_str().unwrap()
}

/// `im admin create-user --admin`, run against the same data directory and environment.
pub fn create_admin(data_dir: &Path, envs: &[(&str, &str)], username: &str) {
    let mut child = Command::new(IM)
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "admin",
            "create-user",
            "--username",
            username,
            "--password-stdin",
            "--admin",
        ])
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
