//! The raw relay: the ceiling of the comparison. A tokio-tungstenite WebSocket server
//! with no authentication and no storage: a client connects to `/u/<user>`, and each
//! text frame it sends goes, unchanged, to the connection of the user its first word
//! names (nowhere if that user is not connected). What IM and ejabberd do on top of
//! this (auth, sequencing, storage, acks) is what the comparison charges them for.
//!
//! `im-bench relay --listen 127.0.0.1:PORT` serves it; `--protocol relay` drives it.

pub mod client;
pub mod frame;

pub use client::Connection;

use futures::{SinkExt as _, StreamExt as _};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::Utf8Bytes;

/// Serves the relay on `listener` until `shutdown` completes.
pub async fn run(listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let routes = Arc::new(Routes::default());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    tokio::spawn(serve(socket, routes.clone()));
                }
                // e.g. out of file descriptors: let connections close, then go on
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}

/// Who is connected: each user's outgoing queue, tagged with its registration so a
/// replaced connection cannot unregister its successor.
#[derive(Debug, Default)]
pub struct Routes {
    users: Mutex<HashMap<String, (u64, mpsc::UnboundedSender<Message>)>>,
    registrations: AtomicU64,
}

impl Routes {
    /// Makes `user` reachable (replacing an earlier connection of theirs); returns the
    /// registration and the queue of frames for them.
    pub fn register(&self, user: &str) -> (u64, mpsc::UnboundedReceiver<Message>) {
        let registration = self.registrations.fetch_add(1, Ordering::Relaxed);
        let (sender, queue) = mpsc::unbounded_channel();
        self.lock().insert(user.to_owned(), (registration, sender));
        (registration, queue)
    }

    /// Forgets `user`, if `registration` is still theirs.
    pub fn unregister(&self, user: &str, registration: u64) {
        let mut users = self.lock();
        if users
            .get(user)
            .is_some_and(|(current, _)| *current == registration)
        {
            users.remove(user);
        }
    }

    /// Queues `frame` for the user it names; whether that user is connected.
    pub fn forward(&self, frame: Utf8Bytes) -> bool {
        let Some(to) = frame::recipient(&frame) else {
            return false;
        };
        let sender = self.lock().get(to).map(|(_, sender)| sender.clone());
        sender.is_some_and(|sender| sender.send(Message::Text(frame)).is_ok())
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (u64, mpsc::UnboundedSender<Message>)>> {
        // a panic while holding the lock leaves the map consistent: keep serving
        self.users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The user of a connection path `/u/<user>`.
fn user_of(path: &str) -> Option<String> {
    let user = path.strip_prefix("/u/")?;
    let valid = !user.is_empty() && !user.contains(['/', ' ']);
    valid.then(|| user.to_owned())
}

async fn serve(socket: TcpStream, routes: Arc<Routes>) {
    let _ = socket.set_nodelay(true);
    let mut user = None;
    #[allow(clippy::result_large_err)] // the shape tungstenite's handshake callback takes
    let check = |request: &Request, response: Response| match user_of(request.uri().path()) {
        Some(named) => {
            user = Some(named);
            Ok(response)
        }
        None => {
            let mut refusal = ErrorResponse::new(Some("connect to /u/<user>".to_owned()));
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            Err(refusal)
        }
    };
    let Ok(socket) = tokio_tungstenite::accept_hdr_async(socket, check).await else {
        return;
    };
    let Some(user) = user else { return };
    let (registration, mut queue) = routes.register(&user);
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        while let Some(first) = queue.recv().await {
            if sink.feed(first).await.is_err() {
                return;
            }
            while let Ok(more) = queue.try_recv() {
                if sink.feed(more).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    // Reading on past the client's Close lets tungstenite send the reply.
    while let Some(Ok(message)) = stream.next().await {
        if let Message::Text(frame) = message {
            routes.forward(frame);
        }
    }
    routes.unregister(&user, registration);
    writer.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::Message;

    fn text(message: Option<Message>) -> String {
        match message {
            Some(Message::Text(text)) => text.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_frame_reaches_only_the_user_it_names() {
        let routes = Routes::default();
        let (_, mut alice) = routes.register("alice");
        let (_, mut bob) = routes.register("bob");
        assert!(routes.forward("bob m d0 hello".into()));
        assert!(!routes.forward("carol hi".into()), "carol is not connected");
        assert!(!routes.forward("".into()));
        assert_eq!(text(bob.recv().await), "bob m d0 hello");
        assert!(bob.try_recv().is_err() && alice.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_new_connection_replaces_the_old_one_and_survives_its_goodbye() {
        let routes = Routes::default();
        let (old, mut first) = routes.register("bob");
        let (_, mut second) = routes.register("bob");
        routes.unregister("bob", old); // the old connection closes late
        assert!(routes.forward("bob x".into()));
        assert_eq!(text(second.recv().await), "bob x");
        assert!(first.try_recv().is_err());
    }

    #[test]
    fn users_come_from_the_path() {
        assert_eq!(user_of("/u/u17").as_deref(), Some("u17"));
        assert_eq!(user_of("/u/"), None);
        assert_eq!(user_of("/u/a/b"), None);
        assert_eq!(user_of("/x/u17"), None);
    }

    #[tokio::test]
    async fn relays_between_real_websockets() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(run(listener, async {
            let _ = stopped.await;
        }));
        let connect =
            |user: &str| tokio_tungstenite::connect_async(format!("ws://{addr}/u/{user}"));
        let (mut alice, _) = connect("alice").await.unwrap();
        let (mut bob, _) = connect("bob").await.unwrap();
        // a round trip to herself shows alice is registered; same for bob
        for (socket, me) in [(&mut alice, "alice"), (&mut bob, "bob")] {
            socket
                .send(Message::text(format!("{me} ready")))
                .await
                .unwrap();
            assert_eq!(
                text(socket.next().await.map(Result::unwrap)),
                format!("{me} ready")
            );
        }
        alice.send(Message::text("bob m d0 one")).await.unwrap();
        alice.send(Message::text("bob m d0 two")).await.unwrap();
        assert_eq!(text(bob.next().await.map(Result::unwrap)), "bob m d0 one");
        assert_eq!(text(bob.next().await.map(Result::unwrap)), "bob m d0 two");
        assert!(
            tokio_tungstenite::connect_async(format!("ws://{addr}/nobody"))
                .await
                .is_err()
        );
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
    }
}
