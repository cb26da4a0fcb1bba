//! Building the messages the app sends.

use lettre::message::Mailbox;
use velum_store::outbox::Mail;

/// The message to send for an opened outbox `mail`.
pub(crate) fn build(from: Mailbox, to: Mailbox, mail: &Mail) -> Result<lettre::Message, ()> {
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .body(mail.body.clone())
        .map_err(|_| ())
}
