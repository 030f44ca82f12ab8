//! The people of a run, made through the public API: users (registered and logged in),
//! friends in direct conversations, or one big group.

use crate::client::Api;
use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _, stream};
use std::collections::HashMap;

/// Every bench user's password.
pub const PASSWORD: &str = "im-bench-password";

/// A logged-in user; `index` is its place in the run.
#[derive(Debug, Clone)]
pub struct Account {
    pub index: usize,
    pub username: String,
    pub id: String,
    /// The access token (on XMPP, the password).
    pub token: String,
    /// IM's refresh token; empty elsewhere.
    pub refresh_token: String,
}

/// A conversation of the run and its members (account indexes).
#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: String,
    pub members: Vec<usize>,
}

/// A fresh tag for this run's usernames, so runs against one server never collide.
pub fn run_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// Registers and logs in `count` users, `concurrency` at a time.
pub async fn accounts(
    api: &Api,
    tag: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Account>> {
    stream::iter(0..count)
        .map(|index| async move {
            let username = format!("b{tag}_{index}");
            let id = api.register(&username, PASSWORD).await?;
            let tokens = api.login(&username, PASSWORD).await?;
            anyhow::Ok(Account {
                index,
                username,
                id,
                token: tokens.access,
                refresh_token: tokens.refresh,
            })
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
        .context("create the users")
}

/// Pairs the accounts (0–1, 2–3, …) as friends in a direct conversation each; an odd
/// last account stays alone.
pub async fn pairs(
    api: &Api,
    accounts: &[Account],
    concurrency: usize,
) -> anyhow::Result<Vec<Conversation>> {
    stream::iter(accounts.chunks_exact(2))
        .map(|pair| async move {
            let (a, b) = (&pair[0], &pair[1]);
            api.befriend(&a.token, &b.token, &b.id).await?;
            let id = api.direct(&a.token, &b.id).await?;
            anyhow::Ok(Conversation {
                id,
                members: vec![a.index, b.index],
            })
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
        .context("pair the users in direct conversations")
}

/// One group of every account, owned by the first.
pub async fn group(api: &Api, accounts: &[Account], name: &str) -> anyhow::Result<Conversation> {
    let (owner, others) = accounts.split_first().context("a group needs a member")?;
    let ids: Vec<&str> = others.iter().map(|a| a.id.as_str()).collect();
    let id = api
        .group(&owner.token, name, &ids)
        .await
        .context("create the group")?;
    Ok(Conversation {
        id,
        members: accounts.iter().map(|a| a.index).collect(),
    })
}

/// Conversation id → members, as [`crate::metrics::tally`] wants it.
pub fn members(conversations: &[Conversation]) -> HashMap<String, Vec<usize>> {
    conversations
        .iter()
        .map(|c| (c.id.clone(), c.members.clone()))
        .collect()
}
