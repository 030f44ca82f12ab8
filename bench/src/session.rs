//! A user's live connection over whichever protocol the run speaks (IM's WebSocket,
//! XMPP, or the raw relay): what the scenarios hold, send through and close.

use crate::client::{self, Stamp, send_frame};
use crate::metrics::Inbox;
use crate::{relay, xmpp};
use std::net::SocketAddr;
use std::time::Duration;

pub struct Session {
    /// How long connecting took (WebSocket upgrade, or the whole XMPP login).
    pub handshake: Duration,
    /// The socket's local address: which source address it was bound to.
    pub local_addr: Option<SocketAddr>,
    link: Link,
}

enum Link {
    Im(client::Connection),
    Xmpp(xmpp::Connection),
    Relay(relay::Connection),
}

/// One message to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The send's number within the run; where the protocol numbers nothing itself
    /// (XMPP, the relay) it is also the message's sequence number in its conversation.
    pub k: u64,
    pub stamp: Stamp,
    /// IM's conversation id, or the bench's name for a pair.
    pub conversation: &'a str,
    /// The recipient's account id: XMPP and the relay address users, not conversations.
    pub to: &'a str,
    /// IM's client message id.
    pub client_msg_id: &'a str,
}

impl From<client::Connection> for Session {
    fn from(connection: client::Connection) -> Self {
        Self {
            handshake: connection.handshake,
            local_addr: connection.local_addr,
            link: Link::Im(connection),
        }
    }
}

impl From<xmpp::Connection> for Session {
    fn from(connection: xmpp::Connection) -> Self {
        Self {
            handshake: connection.handshake,
            local_addr: connection.local_addr,
            link: Link::Xmpp(connection),
        }
    }
}

impl From<relay::Connection> for Session {
    fn from(connection: relay::Connection) -> Self {
        Self {
            handshake: connection.handshake,
            local_addr: connection.local_addr,
            link: Link::Relay(connection),
        }
    }
}

impl Session {
    /// The index of the user this connection belongs to.
    pub fn owner(&self) -> usize {
        match &self.link {
            Link::Im(connection) => connection.owner(),
            Link::Xmpp(connection) => connection.owner(),
            Link::Relay(connection) => connection.owner(),
        }
    }

    /// Queues `message`; `false` when the connection is gone.
    pub fn send(&self, message: &Outgoing<'_>) -> bool {
        let Outgoing {
            k,
            stamp,
            conversation,
            to,
            client_msg_id,
        } = *message;
        match &self.link {
            Link::Im(connection) => {
                connection.send(send_frame(k, conversation, client_msg_id, &stamp))
            }
            Link::Xmpp(connection) => connection.send(to, conversation, k, stamp),
            Link::Relay(connection) => connection.send(to, conversation, k, stamp),
        }
    }

    /// IM's WebSocket connection underneath; `None` on the other protocols.
    pub fn into_im(self) -> Option<client::Connection> {
        match self.link {
            Link::Im(connection) => Some(connection),
            Link::Xmpp(_) | Link::Relay(_) => None,
        }
    }

    /// Closes the connection and returns what it received.
    pub async fn close(self) -> Inbox {
        match self.link {
            Link::Im(connection) => connection.close().await,
            Link::Xmpp(connection) => connection.close().await,
            Link::Relay(connection) => connection.close().await,
        }
    }
}
