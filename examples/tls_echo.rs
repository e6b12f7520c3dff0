//! TLS on quartet: rustls through `futures-rustls`, over `quartet::io::Compat`.
//!
//! The program makes a self-signed certificate for `localhost` at run time (`rcgen`), serves a
//! TLS echo on a loopback port, and connects to it with a client that trusts exactly that
//! certificate and verifies the server's name. The server and the client are two children of one
//! nursery.
//!
//! Usage: `cargo run --example tls_echo`.

use futures_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use futures_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use futures_rustls::{TlsAcceptor, TlsConnector};
use futures_util::{AsyncReadExt, AsyncWriteExt};
use quartet::io::Compat;
use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, nursery};
use std::sync::Arc;

/// A certificate for `localhost` and its key, made now.
fn make_certificate() -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), BoxError> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let key = PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der());
    Ok((certified.cert.der().clone(), key.into()))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Echoes one TLS connection until the client closes it.
async fn echo_server(listener: &TcpListener, config: Arc<ServerConfig>) -> Result<u64, BoxError> {
    let (stream, _) = listener.accept().await?;
    let mut tls = TlsAcceptor::from(config).accept(Compat::new(stream)).await?;
    let mut buf = vec![0u8; 4096];
    let mut echoed = 0u64;
    loop {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        tls.write_all(&buf[..n]).await?;
        tls.flush().await?;
        echoed += n as u64;
    }
    tls.close().await?;
    Ok(echoed)
}

/// Connects, verifies the server against `cert`, sends `message`, and returns the echo.
async fn client(
    addr: std::net::SocketAddr,
    cert: CertificateDer<'static>,
    message: &[u8],
) -> Result<Vec<u8>, BoxError> {
    let mut roots = RootCertStore::empty();
    roots.add(cert)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let stream = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost")?;
    let mut tls = TlsConnector::from(Arc::new(config)).connect(name, Compat::new(stream)).await?;
    tls.write_all(message).await?;
    tls.close().await?; // close_notify, then end of stream: the server's read sees 0
    let mut echo = Vec::new();
    tls.read_to_end(&mut echo).await?;
    Ok(echo)
}

/// Runs the server and the client; returns what the client got back.
pub async fn demo(message: &[u8]) -> Result<Vec<u8>, BoxError> {
    let (cert, key) = make_certificate()?;
    let server_config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)?;
    let listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
    let addr = listener.local_addr()?;
    let echo = nursery(async |n| {
        let server = n.spawn_named("tls server", echo_server(&listener, Arc::new(server_config)))?;
        let echo = client(addr, cert, message).await?;
        assert_eq!(server.await?, message.len() as u64);
        Ok::<_, BoxError>(echo)
    })
    .await?;
    Ok(echo)
}

#[allow(dead_code)]
fn main() -> Result<(), BoxError> {
    let echo = quartet::run(demo(b"hello over TLS"))??;
    println!("tls_echo: the verified server echoed {:?}", String::from_utf8_lossy(&echo));
    Ok(())
}
