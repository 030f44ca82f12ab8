//! The server a run loads, as the scenarios need it: how its users come to be, how
//! they connect, and what its protocol promises. IM's users are made through its REST
//! API; the XMPP accounts exist beforehand (bench/ejabberd/start.sh makes them); the
//! relay has no accounts at all.

use crate::cli::{Protocol, ServerArgs};
use crate::client::{Api, Connection, Live};
use crate::clock::Clock;
use crate::metrics::Rules;
use crate::population::{self, Account, Conversation};
use crate::server::Target;
use crate::session::Session;
use crate::{relay, xmpp};
use std::sync::Arc;
use std::time::Duration;

pub enum Service {
    Im,
    Xmpp {
        endpoint: xmpp::Endpoint,
        user_prefix: String,
        password: String,
    },
    Relay {
        base: String,
    },
}

impl Service {
    pub fn new(target: &Target, args: &ServerArgs) -> Self {
        match target.protocol {
            Protocol::Im => Self::Im,
            Protocol::Xmpp => Self::Xmpp {
                endpoint: xmpp::Endpoint {
                    addr: target.base.clone(),
                    domain: args.xmpp.xmpp_domain.clone(),
                },
                user_prefix: args.xmpp.xmpp_user_prefix.clone(),
                password: args.xmpp.xmpp_password.clone(),
            },
            Protocol::Relay => Self::Relay {
                base: target.base.clone(),
            },
        }
    }

    pub fn rules(&self) -> Rules {
        match self {
            Self::Im => Rules::IM,
            Self::Xmpp { .. } => Rules {
                echo_to_sender: false,
                server_acks: true,
            },
            Self::Relay { .. } => Rules {
                echo_to_sender: false,
                server_acks: false,
            },
        }
    }

    /// `count` users: registered and logged in on IM, named after the prepared
    /// accounts on XMPP (the token is their password), just numbered on the relay.
    pub async fn accounts(
        &self,
        api: &Api,
        tag: &str,
        count: usize,
        concurrency: usize,
    ) -> anyhow::Result<Vec<Account>> {
        let named = |username: String, id: String, token: String, index: usize| Account {
            index,
            username,
            id,
            token,
        };
        Ok(match self {
            Self::Im => population::accounts(api, tag, count, concurrency).await?,
            Self::Xmpp {
                endpoint,
                user_prefix,
                password,
            } => (0..count)
                .map(|index| {
                    let username = format!("{user_prefix}{index}");
                    let jid = format!("{username}@{}", endpoint.domain);
                    named(username, jid, password.clone(), index)
                })
                .collect(),
            Self::Relay { .. } => (0..count)
                .map(|index| {
                    named(
                        format!("u{index}"),
                        format!("u{index}"),
                        String::new(),
                        index,
                    )
                })
                .collect(),
        })
    }

    /// Pairs the accounts (0–1, 2–3, …): direct conversations of friends on IM, plain
    /// named pairs elsewhere (one-to-one chat needs nothing set up).
    pub async fn pairs(
        &self,
        api: &Api,
        accounts: &[Account],
        concurrency: usize,
    ) -> anyhow::Result<Vec<Conversation>> {
        match self {
            Self::Im => population::pairs(api, accounts, concurrency).await,
            Self::Xmpp { .. } | Self::Relay { .. } => Ok(accounts
                .chunks_exact(2)
                .enumerate()
                .map(|(n, pair)| Conversation {
                    id: format!("d{n}"),
                    members: vec![pair[0].index, pair[1].index],
                })
                .collect()),
        }
    }

    /// Connects `account`.
    pub async fn open(
        &self,
        api: &Api,
        account: &Account,
        clock: Clock,
        live: Arc<Live>,
        heartbeat: Option<Duration>,
    ) -> anyhow::Result<Session> {
        let owner = account.index;
        Ok(match self {
            Self::Im => {
                let url = api.ws_url(&account.token);
                Connection::open(url, owner, clock, live, heartbeat)
                    .await?
                    .into()
            }
            Self::Xmpp { endpoint, .. } => xmpp::Connection::open(
                endpoint,
                &account.username,
                &account.token,
                owner,
                clock,
                live,
                heartbeat,
            )
            .await?
            .into(),
            Self::Relay { base } => {
                relay::Connection::open(base, &account.id, owner, clock, live, heartbeat)
                    .await?
                    .into()
            }
        })
    }
}
