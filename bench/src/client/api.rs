//! REST calls of the public API (shared/API.md) that the scenarios need.

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

/// What a login or a refresh gives.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    fn of(answer: &Value) -> anyhow::Result<Self> {
        Ok(Self {
            access: string_field(answer, "access_token")?,
            refresh: string_field(answer, "refresh_token")?,
        })
    }
}

/// The answer to a REST send.
#[derive(Debug)]
pub enum SendOutcome {
    /// 200/201: the stored message.
    Stored(Value),
    /// Any other status: the error code the server gave.
    Refused(String),
}

impl Api {
    /// A client of the gateway at `base` (`http://127.0.0.1:port`).
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy() // loopback traffic only, whatever the environment says
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1024)
            .build()
            .context("build the HTTP client")?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// The WebSocket URL of a user holding `token`.
    pub fn ws_url(&self, token: &str) -> String {
        format!(
            "{}/api/v1/ws?access_token={token}",
            self.base.replacen("http", "ws", 1)
        )
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("{method} {path}: read the answer"))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// POST expecting a 2xx JSON answer.
    async fn post_ok(&self, path: &str, token: Option<&str>, body: Value) -> anyhow::Result<Value> {
        let (status, answer) = self
            .call(reqwest::Method::POST, path, token, Some(&body))
            .await?;
        if !(200..300).contains(&status) {
            bail!("POST {path} answered {status}: {answer}");
        }
        Ok(answer)
    }

    /// Registers a user; returns its id.
    pub async fn register(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let user = self
            .post_ok(
                "/api/v1/auth/register",
                None,
                json!({"username": username, "password": password}),
            )
            .await?;
        string_field(&user, "id")
    }

    /// Logs in; returns the session's tokens.
    pub async fn login(&self, username: &str, password: &str) -> anyhow::Result<Tokens> {
        let login = self
            .post_ok(
                "/api/v1/auth/login",
                None,
                json!({"username": username, "password": password, "device_id": "im-bench"}),
            )
            .await?;
        Tokens::of(&login)
    }

    /// Trades a refresh token for a new pair (the old refresh token is spent).
    pub async fn refresh(&self, refresh_token: &str) -> anyhow::Result<Tokens> {
        let renewed = self
            .post_ok(
                "/api/v1/auth/refresh",
                None,
                json!({"refresh_token": refresh_token}),
            )
            .await?;
        Tokens::of(&renewed)
    }

    /// `from` asks `to` to be friends, `to` accepts.
    pub async fn befriend(&self, from: &str, to_token: &str, to_id: &str) -> anyhow::Result<()> {
        let request = self
            .post_ok(
                "/api/v1/friend-requests",
                Some(from),
                json!({"to_user_id": to_id}),
            )
            .await?;
        let id = string_field(&request, "id")?;
        self.post_ok(
            &format!("/api/v1/friend-requests/{id}/accept"),
            Some(to_token),
            json!({}),
        )
        .await?;
        Ok(())
    }

    /// The direct conversation of the caller and `user_id`; returns its id.
    pub async fn direct(&self, token: &str, user_id: &str) -> anyhow::Result<String> {
        let conversation = self
            .post_ok(
                "/api/v1/conversations/direct",
                Some(token),
                json!({"user_id": user_id}),
            )
            .await?;
        string_field(&conversation, "id")
    }

    /// A group owned by the caller with `member_ids`; returns its id.
    pub async fn group(
        &self,
        token: &str,
        name: &str,
        member_ids: &[&str],
    ) -> anyhow::Result<String> {
        let group = self
            .post_ok(
                "/api/v1/groups",
                Some(token),
                json!({"name": name, "member_ids": member_ids}),
            )
            .await?;
        string_field(&group, "id")
    }

    /// `POST /api/v1/conversations/{id}/messages` with a text body.
    pub async fn send_text(
        &self,
        token: &str,
        conversation: &str,
        client_msg_id: &str,
        text: &str,
    ) -> anyhow::Result<SendOutcome> {
        let path = format!("/api/v1/conversations/{conversation}/messages");
        let body = json!({"client_msg_id": client_msg_id, "type": "text", "body": {"text": text}});
        let (status, answer) = self
            .call(reqwest::Method::POST, &path, Some(token), Some(&body))
            .await?;
        Ok(if (200..300).contains(&status) {
            SendOutcome::Stored(answer)
        } else {
            let code = answer["error"]["code"].as_str().unwrap_or("unknown");
            SendOutcome::Refused(format!("{status} {code}"))
        })
    }

    /// One history page after `after_seq`, seq ascending: the messages and whether more
    /// follow.
    /// One page of history, seq ascending: the newest 200 messages before `before_seq`
    /// (0: the newest of all), and whether older ones remain.
    pub async fn history(
        &self,
        token: &str,
        conversation: &str,
        before_seq: u64,
    ) -> anyhow::Result<(Vec<Value>, bool)> {
        let bound = if before_seq > 0 {
            format!("before_seq={before_seq}&")
        } else {
            String::new()
        };
        let path = format!("/api/v1/conversations/{conversation}/messages?{bound}limit=200");
        let (status, page) = self
            .call(reqwest::Method::GET, &path, Some(token), None)
            .await?;
        if status != 200 {
            bail!("GET {path} answered {status}: {page}");
        }
        let items = page["items"].as_array().cloned().unwrap_or_default();
        Ok((items, page["has_more"].as_bool().unwrap_or(false)))
    }
}

fn string_field(value: &Value, field: &str) -> anyhow::Result<String> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no {field:?} in {value}"))
}
