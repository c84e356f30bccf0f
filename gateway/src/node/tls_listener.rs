//! The client API's TLS listener: TCP connections accepted and put through the TLS handshake
//! (the node's certificate, the key clients pin) off the accept loop, so a client that stalls
//! its handshake holds up nobody else. What one client can hold is bounded ([`Limits`]): a
//! handshake has a time limit and only so many run at once; an open connection holds one of a
//! fixed number of slots until it closes, and one that moves no byte for the idle time is
//! closed (hyper's own header timeout needs a timer `axum::serve` does not give it). The
//! connections that completed a handshake reach the HTTP server through a bounded queue.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::debug;

/// What one client, or many, can hold of the listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client has to complete its TLS handshake.
    pub handshake_timeout: Duration,
    /// Most handshakes in progress at once; further connections wait to be accepted.
    pub max_handshakes: usize,
    /// Most connections open at once (handshaking or served); further ones wait.
    pub max_connections: usize,
    /// A connection that moves no byte in either direction this long is closed. Longer than
    /// any query may take (the node's query timeout is a minute by default).
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake_timeout: Duration::from_secs(10),
            max_handshakes: 256,
            max_connections: 1024,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Connections that completed their handshake, waiting for the HTTP server.
const READY_DEPTH: usize = 64;

/// A TCP listener whose connections come out TLS-wrapped and bounded (see the module doc).
pub struct TlsListener {
    ready: mpsc::Receiver<(ClientConnection, SocketAddr)>,
    local: SocketAddr,
    accepting: JoinHandle<()>,
}

impl TlsListener {
    /// Serves TLS with `config` on the connections `tcp` accepts, within the default limits.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> io::Result<TlsListener> {
        TlsListener::with_limits(tcp, config, Limits::default())
    }

    /// [`TlsListener::new`] within `limits`.
    pub fn with_limits(
        tcp: TcpListener,
        config: Arc<ServerConfig>,
        limits: Limits,
    ) -> io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_DEPTH);
        let accepting = tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx, limits));
        Ok(TlsListener {
            ready,
            local,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(ClientConnection, SocketAddr)>,
    limits: Limits,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let handshakes = Arc::new(Semaphore::new(limits.max_handshakes));
    loop {
        let Ok(connection_slot) = connections.clone().acquire_owned().await else {
            return;
        };
        let Ok(handshake_slot) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                debug!(error = %e, "accepting a client connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, ready) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            let handshake =
                tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await;
            drop(handshake_slot);
            match handshake {
                Ok(Ok(tls)) => {
                    let connection = ClientConnection {
                        tls,
                        idle_timeout: limits.idle_timeout,
                        idle: Box::pin(tokio::time::sleep(limits.idle_timeout)),
                        _slot: connection_slot,
                    };
                    let _ = ready.send((connection, peer)).await;
                }
                Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake refused"),
                Err(_) => debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// A client's TLS connection holding one of the listener's connection slots (released when it
/// is dropped) and closed with `TimedOut` once it has moved no byte for the idle time.
pub struct ClientConnection {
    tls: TlsStream<TcpStream>,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    _slot: OwnedSemaphorePermit,
}

impl ClientConnection {
    fn moved(&mut self) {
        let deadline = Instant::now() + self.idle_timeout;
        self.idle.as_mut().reset(deadline);
    }

    /// What a pending read or write turns into: still pending, or the idle time is up.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.idle.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client connection was idle too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for ClientConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.tls).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.pending(cx),
        }
    }
}

impl AsyncWrite for ClientConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tls).poll_write(cx, data) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.moved();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.pending(cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tls).poll_flush(cx) {
            Poll::Pending => this.pending(cx),
            done => done,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.tls).poll_shutdown(cx) {
            Poll::Pending => this.pending(cx),
            done => done,
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = ClientConnection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop ended (it never does while the listener lives): no more clients.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::identity::TlsIdentity;
    use crate::net::pinning::{api_client_config, api_server_config};
    use axum::serve::Listener;
    use ed25519_dalek::SigningKey;
    use rustls::pki_types::ServerName;
    use tokio::io::AsyncReadExt;
    use tokio_rustls::TlsConnector;

    const LIMITS: Limits = Limits {
        handshake_timeout: Duration::from_secs(5),
        max_handshakes: 4,
        max_connections: 1,
        idle_timeout: Duration::from_millis(300),
    };

    async fn setup() -> (TlsListener, TlsConnector) {
        let identity = TlsIdentity::from_signing_key(&SigningKey::from_bytes(&[3; 32])).unwrap();
        let server = api_server_config(vec![identity.certificate()], identity.private_key());
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listener = TlsListener::with_limits(tcp, Arc::new(server.unwrap()), LIMITS).unwrap();
        let client = api_client_config(&[identity.public_key()]).unwrap();
        (listener, TlsConnector::from(Arc::new(client)))
    }

    async fn connect(
        connector: &TlsConnector,
        at: SocketAddr,
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(at).await?;
        let name = ServerName::try_from("hdg-node").unwrap();
        connector.connect(name, tcp).await
    }

    /// A client that says nothing after its handshake loses the connection after the idle
    /// time, and while it holds the only connection slot nobody else gets through the door.
    #[tokio::test]
    async fn an_idle_connection_is_closed_and_releases_its_slot() {
        let (mut listener, connector) = setup().await;
        let at = listener.local_addr().unwrap();
        let _first = connect(&connector, at).await.unwrap();
        let (mut held, _) = listener.accept().await;

        // The slot is taken: a second client's handshake does not even start.
        let waiting = tokio::spawn({
            let connector = connector.clone();
            async move { connect(&connector, at).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !waiting.is_finished(),
            "a second connection got past a full listener"
        );

        let started = Instant::now();
        let mut buf = [0u8; 16];
        let e = tokio::time::timeout(Duration::from_secs(5), held.read(&mut buf))
            .await
            .expect("the idle connection was closed")
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(held);

        // Its slot released, the waiting client gets through.
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the second client was let in")
            .unwrap()
            .unwrap();
        let _second = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("the second connection reached the server");
    }
}
