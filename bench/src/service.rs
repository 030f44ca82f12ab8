//! The server a run loads, as the scenarios need it: how its users come to be, how
//! they connect, and what its protocol promises. IM's users are made through its REST
//! API; the XMPP accounts exist beforehand (bench/ejabberd/start.sh makes them); the
//! relay has no accounts at all. Every client socket comes from the run's [`Dialer`].

use crate::cli::{Protocol, ServerArgs};
use crate::client::{Api, Connection, Live};
use crate::clock::Clock;
use crate::dial::Dialer;
use crate::metrics::Rules;
use crate::population::{self, Account, Conversation};
use crate::server::Target;
use crate::session::Session;
use crate::{relay, xmpp};
use std::sync::Arc;
use std::time::Duration;

pub struct Service {
    kind: Kind,
    dialer: Arc<Dialer>,
}

enum Kind {
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
    pub fn new(target: &Target, args: &ServerArgs, dialer: Arc<Dialer>) -> Self {
        let kind = match target.protocol {
            Protocol::Im => Kind::Im,
            Protocol::Xmpp => Kind::Xmpp {
                endpoint: xmpp::Endpoint {
                    addr: target.base.clone(),
                    domain: args.xmpp.xmpp_domain.clone(),
                    dialer: dialer.clone(),
                },
                user_prefix: args.xmpp.xmpp_user_prefix.clone(),
                password: args.xmpp.xmpp_password.clone(),
            },
            Protocol::Relay => Kind::Relay {
                base: target.base.clone(),
            },
        };
        Self { kind, dialer }
    }

    /// Where the client sockets come from.
    pub fn dialer(&self) -> &Arc<Dialer> {
        &self.dialer
    }

    pub fn rules(&self) -> Rules {
        match self.kind {
            Kind::Im => Rules::IM,
            Kind::Xmpp { .. } => Rules {
                echo_to_sender: false,
                server_acks: true,
            },
            Kind::Relay { .. } => Rules {
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
            refresh_token: String::new(),
        };
        Ok(match &self.kind {
            Kind::Im => population::accounts(api, tag, count, concurrency).await?,
            Kind::Xmpp {
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
            Kind::Relay { .. } => (0..count)
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
        match self.kind {
            Kind::Im => population::pairs(api, accounts, concurrency).await,
            Kind::Xmpp { .. } | Kind::Relay { .. } => Ok(accounts
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
        let dialer = &self.dialer;
        Ok(match &self.kind {
            Kind::Im => {
                let url = api.ws_url(&account.token);
                Connection::open(url, dialer, owner, clock, live, heartbeat)
                    .await?
                    .into()
            }
            Kind::Xmpp { endpoint, .. } => xmpp::Connection::open(
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
            Kind::Relay { base } => {
                relay::Connection::open(base, dialer, &account.id, owner, clock, live, heartbeat)
                    .await?
                    .into()
            }
        })
    }
}
