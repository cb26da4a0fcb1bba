//! A minimal SMTP listener on loopback that accepts every message and keeps
//! it, so tests can read what Velum sent (RFC 5321 commands only as far as
//! a client like lettre uses them).
//!
//! By default it offers STARTTLS (RFC 3207) with a self-signed certificate
//! made when it starts (for `127.0.0.1` and `localhost`; the test trusts
//! it through [`SmtpSink::ca_pem`]) and, as a server that requires TLS does,
//! refuses `MAIL` until the client has switched to TLS: every mail test
//! proves the mail went over TLS. [`SmtpSink::start_implicit_tls`] speaks
//! TLS from the first byte; [`SmtpSink::start_without_tls`] is a server that
//! offers no STARTTLS at all.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Clone, Debug)]
pub struct SmtpSink {
    port: u16,
    ca_pem: Option<String>,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    /// A sink that offers STARTTLS and requires it before `MAIL`.
    pub async fn start() -> SmtpSink {
        let (acceptor, pem) = self_signed();
        Self::listen(Some((acceptor, Mode::StartTls)), Some(pem)).await
    }

    /// A sink that speaks TLS from the first byte ("implicit TLS", as on
    /// port 465).
    pub async fn start_implicit_tls() -> SmtpSink {
        let (acceptor, pem) = self_signed();
        Self::listen(Some((acceptor, Mode::Implicit)), Some(pem)).await
    }

    /// A sink that does not offer STARTTLS (a relay without TLS).
    pub async fn start_without_tls() -> SmtpSink {
        Self::listen(None, None).await
    }

    async fn listen(tls: Option<(TlsAcceptor, Mode)>, ca_pem: Option<String>) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let _ = session(stream, tls, store).await;
                });
            }
        });
        SmtpSink { port, ca_pem, messages }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The certificate the sink presents, in PEM, for the client to trust
    /// (`None` for a sink without TLS).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Every message received so far (headers and body, as sent).
    pub fn messages(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

type Store = Arc<Mutex<Vec<String>>>;

#[derive(Clone, Copy)]
enum Mode {
    StartTls,
    Implicit,
}

/// A TLS acceptor with a certificate for `127.0.0.1` and `localhost` made
/// now, and that certificate in PEM.
fn self_signed() -> (TlsAcceptor, String) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("self-signed certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .expect("server certificate");
    (TlsAcceptor::from(Arc::new(config)), cert.pem())
}

async fn session(stream: tokio::net::TcpStream, tls: Option<(TlsAcceptor, Mode)>, store: Store) -> std::io::Result<()> {
    if let Some((acceptor, Mode::Implicit)) = &tls {
        let mut s = BufReader::new(acceptor.accept(stream).await?);
        s.write_all(b"220 sink.test ESMTP\r\n").await?;
        s.flush().await?;
        dialogue(&mut s, Offer::Secured, &store).await?;
        return Ok(());
    }
    let mut s = BufReader::new(stream);
    s.write_all(b"220 sink.test ESMTP\r\n").await?;
    let Some((acceptor, _)) = tls else {
        dialogue(&mut s, Offer::Plain, &store).await?;
        return Ok(());
    };
    if dialogue(&mut s, Offer::StartTls, &store).await? {
        // The client waits for our 220 before its handshake, so nothing is
        // left in the read buffer.
        let stream = acceptor.accept(s.into_inner()).await?;
        let mut s = BufReader::new(stream);
        dialogue(&mut s, Offer::Secured, &store).await?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Offer {
    /// No TLS at all.
    Plain,
    /// STARTTLS offered, and required before `MAIL`.
    StartTls,
    /// Already inside TLS.
    Secured,
}

/// Talk SMTP until the client quits or leaves (false) or asks to start
/// TLS (true).
async fn dialogue<S: AsyncBufRead + AsyncWrite + Unpin>(
    s: &mut S,
    offer: Offer,
    store: &Store,
) -> std::io::Result<bool> {
    let mut line = String::new();
    loop {
        line.clear();
        if s.read_line(&mut line).await? == 0 {
            return Ok(false);
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd.starts_with("EHLO") {
            if offer == Offer::StartTls {
                s.write_all(b"250-sink.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
                    .await?;
            } else {
                s.write_all(b"250-sink.test\r\n250 8BITMIME\r\n").await?;
            }
        } else if cmd == "STARTTLS" && offer == Offer::StartTls {
            s.write_all(b"220 2.0.0 ready to start TLS\r\n").await?;
            s.flush().await?;
            return Ok(true);
        } else if cmd.starts_with("MAIL") && offer == Offer::StartTls {
            s.write_all(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
                .await?;
        } else if cmd.starts_with("HELO")
            || cmd.starts_with("MAIL")
            || cmd.starts_with("RCPT")
            || cmd.starts_with("RSET")
            || cmd.starts_with("NOOP")
        {
            s.write_all(b"250 OK\r\n").await?;
        } else if cmd.starts_with("DATA") {
            s.write_all(b"354 go ahead\r\n").await?;
            s.flush().await?;
            let mut data = String::new();
            loop {
                line.clear();
                if s.read_line(&mut line).await? == 0 {
                    return Ok(false);
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(&line);
            }
            store
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(readable(&data));
            s.write_all(b"250 OK queued\r\n").await?;
        } else if cmd.starts_with("QUIT") {
            s.write_all(b"221 bye\r\n").await?;
            s.flush().await?;
            return Ok(false);
        } else {
            s.write_all(b"502 not implemented\r\n").await?;
        }
        s.flush().await?;
    }
}

/// The message as a mail client shows it: headers as sent, and each body
/// (the message's, or each part's of a multipart message, such as the text
/// and HTML parts of `multipart/alternative`) decoded from quoted-printable
/// or base64 (long lines, such as links, arrive folded).
fn readable(data: &str) -> String {
    let Some((head, body)) = data.split_once("\r\n\r\n") else {
        return data.to_owned();
    };
    let Some(boundary) = boundary_of(head) else {
        return format!("{head}\r\n\r\n{}", decoded(head, body));
    };
    let delimiter = format!("--{boundary}");
    let parts: Vec<String> = body
        .split(delimiter.as_str())
        .map(|part| match part.split_once("\r\n\r\n") {
            Some((h, b)) if !part.starts_with("--") => format!("{h}\r\n\r\n{}", decoded(h, b)),
            _ => part.to_owned(),
        })
        .collect();
    format!("{head}\r\n\r\n{}", parts.join(&delimiter))
}

/// The boundary of a multipart message, from its (possibly folded) headers.
fn boundary_of(head: &str) -> Option<String> {
    let lower = head.to_ascii_lowercase();
    if !lower.contains("content-type: multipart/") {
        return None;
    }
    let at = lower.find("boundary=")? + "boundary=".len();
    let rest = &head[at..];
    let value = rest.strip_prefix('"').map_or_else(
        || rest.split([';', '\r', '\n']).next().unwrap_or_default(),
        |quoted| quoted.split('"').next().unwrap_or_default(),
    );
    Some(value.to_owned()).filter(|v| !v.is_empty())
}

/// `body` decoded as its headers `head` say.
fn decoded(head: &str, body: &str) -> String {
    let lower = head.to_ascii_lowercase();
    if lower.contains("content-transfer-encoding: quoted-printable") {
        quoted_printable::decode(body, quoted_printable::ParseMode::Robust)
            .map_or_else(|_| body.to_owned(), |b| String::from_utf8_lossy(&b).into_owned())
    } else if lower.contains("content-transfer-encoding: base64") {
        use base64::Engine;
        let compact: String = body.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_or_else(|_| body.to_owned(), |b| String::from_utf8_lossy(&b).into_owned())
    } else {
        body.to_owned()
    }
}
