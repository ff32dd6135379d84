//! Mailers: `.eml` files under the data directory (development, tests) or SMTP.

use std::path::PathBuf;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use myqcm_domain::ports::{Mailer, OutgoingMail, PortError};

fn build(from: &Mailbox, mail: &OutgoingMail) -> Result<Message, PortError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| PortError::Invalid(format!("recipient: {e}")))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone());
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(mail.text.clone());
    let message = match &mail.html {
        Some(html) => builder.multipart(
            MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
        ),
        None => builder.singlepart(text),
    };
    message.map_err(|e| PortError::Invalid(e.to_string()))
}

fn parse_from(from: &str) -> Result<Mailbox, PortError> {
    from.parse()
        .map_err(|e| PortError::Invalid(format!("sender: {e}")))
}

/// Writes each message as an `.eml` file in a directory.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    /// Mail from `from` written into `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>, from: &str) -> Result<Self, PortError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| PortError::Unavailable(e.to_string()))?;
        Ok(Self {
            dir,
            from: parse_from(from)?,
        })
    }

    /// The directory the messages land in.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), PortError> {
        let message = build(&self.from, mail)?;
        AsyncFileTransport::<Tokio1Executor>::new(&self.dir)
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| PortError::Unavailable(e.to_string()))
    }
}

/// Sends through an SMTP relay given as a URL (`smtps://user:pass@host:465`,
/// `smtp://host:587?tls=required`).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.email.to_string())
            .finish()
    }
}

impl SmtpMailer {
    /// A mailer for the relay at `url`, sending as `from`.
    pub fn new(url: &str, from: &str) -> Result<Self, PortError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| PortError::Invalid(format!("smtp url: {e}")))?
            .build();
        Ok(Self {
            transport,
            from: parse_from(from)?,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), PortError> {
        let message = build(&self.from, mail)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| PortError::Unavailable(e.to_string()))
    }
}
