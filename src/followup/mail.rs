//! Notification e-mails: what they say (zh-CN / en, plain text only, the phrase first, one link
//! to the official base URL) and the sender that works through the follow-up table.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::cipher::ContactCipher;
use crate::storage::{FollowupRecord, ReportEventRecord, Store};
use crate::types::{now, rfc3339, Locale};

/// Not `Debug`: the SMTP URL may hold a password.
#[derive(Clone)]
pub struct MailSettings {
    /// `smtp://…` or `smtps://…` (lettre's URL form).
    pub smtp_url: String,
    pub from: String,
    /// The only link a notification ever carries.
    pub base_url: String,
    pub warn_secs: i64,
    pub poll: Duration,
    /// First retry delay after a failed send; doubles per attempt, capped at one hour.
    pub retry_base_secs: i64,
}

/// Why a notification is sent.
pub enum Trigger<'a> {
    /// A public timeline event: the receipt (seq 1), an update, the resolution.
    Event(&'a ReportEventRecord),
    /// The first-response deadline is near and nobody has answered yet.
    StillWorking { new_estimate: Option<i64> },
}

pub struct Email {
    pub subject: String,
    pub body: String,
    /// Stable per report and trigger, so a receiving system can drop a duplicate.
    pub message_id: String,
}

/// Writes one notification. Nothing from the scammer side (handles, links, descriptions) is
/// quoted: only our own texts, the report id and the victim's own phrase.
pub fn compose(
    locale: Locale,
    phrase: &str,
    report_id: &str,
    base_url: &str,
    trigger: &Trigger<'_>,
) -> Email {
    let zh = locale == Locale::ZhCn;
    let status_url = format!("{base_url}/r/{report_id}");
    let (subject, headline, text, tag) = match trigger {
        Trigger::Event(e) if e.seq == 1 => (
            if zh {
                format!("我们已收到您的举报 {report_id}")
            } else {
                format!("We received your report {report_id}")
            },
            if zh {
                "举报已收到"
            } else {
                "Report received"
            },
            if zh {
                e.public_zh.clone()
            } else {
                e.public_en.clone()
            },
            format!("{}", e.seq),
        ),
        Trigger::Event(e) if e.kind == "resolved" => (
            if zh {
                format!("您的举报 {report_id} 已处理完毕")
            } else {
                format!("Your report {report_id} is resolved")
            },
            if zh {
                "举报已处理完毕"
            } else {
                "Report resolved"
            },
            format!(
                "{}\n\n{}",
                if zh { &e.public_zh } else { &e.public_en },
                if zh {
                    "您可以在状态页面（使用回执）为我们的处理打分。"
                } else {
                    "You can rate how we handled it on the status page, with your receipt."
                }
            ),
            format!("{}", e.seq),
        ),
        Trigger::Event(e) => (
            if zh {
                format!("您的举报 {report_id} 有新进展")
            } else {
                format!("Update on your report {report_id}")
            },
            if zh { "新进展" } else { "New update" },
            if zh {
                e.public_zh.clone()
            } else {
                e.public_en.clone()
            },
            format!("{}", e.seq),
        ),
        Trigger::StillWorking { new_estimate } => {
            let when = new_estimate.map(rfc3339);
            (
                if zh {
                    format!("您的举报 {report_id} 仍在处理中")
                } else {
                    format!("We are still working on your report {report_id}")
                },
                if zh {
                    "仍在处理中"
                } else {
                    "Still working on it"
                },
                match (zh, when) {
                    (true, Some(w)) => {
                        format!("我们尚未完成首次回复，抱歉让您久等。新的预计时间：{w}（UTC）。")
                    }
                    (true, None) => {
                        "我们尚未完成首次回复，抱歉让您久等。我们会尽快处理。".to_owned()
                    }
                    (false, Some(w)) => format!(
                        "We have not answered yet, sorry for the wait. New estimate: {w} (UTC)."
                    ),
                    (false, None) => {
                        "We have not answered yet, sorry for the wait. We are on it.".to_owned()
                    }
                },
                "sla".to_owned(),
            )
        }
    };
    let text = defang(&text, base_url, zh);
    let body = if zh {
        format!(
            "您的防钓鱼短语：「{phrase}」\n\
             没有显示这句短语的邮件都不是我们发的，请直接删除。\n\n\
             {headline}\n\n{text}\n\n\
             查看进度：{status_url}\n\
             （请输入您保存的回执；我们绝不会发送回执。）\n\n\
             我们绝不会索要您的助记词、私钥、任何费用或远程控制权限，也不会发送 {base_url} 以外的链接。\
             没有您的短语的消息不是我们发的。\n\
             不想再收到这些邮件？在状态页面用回执选择\u{201c}删除我的联系方式\u{201d}。\n"
        )
    } else {
        format!(
            "Your anti-phishing phrase: \"{phrase}\"\n\
             A message about your report that does not show this phrase is not from us: delete it.\n\n\
             {headline}\n\n{text}\n\n\
             Follow your report: {status_url}\n\
             (enter the receipt you saved; we never send it to you.)\n\n\
             We will never ask for your seed phrase, private keys, a fee or remote access, and we \
             never send links other than {base_url}. A message without your phrase is not from us.\n\
             To stop these e-mails, open the status page with your receipt and choose \
             \"Forget my contact details\".\n"
        )
    };
    Email {
        subject,
        body,
        message_id: format!("<{report_id}.{tag}@trustdesk.invalid>"),
    }
}

/// `example.com`, `acme-refund.io/claim`: something a mail client would turn into a link.
pub fn looks_like_domain(word: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"(?i)[a-z0-9-]+\.[a-z][a-z0-9-]*[a-z]").expect("static regex")
    })
    .find_iter(word)
    .any(|m| {
        // A TLD-like tail of 2+ letters after the last dot.
        let tail = m.as_str().rsplit('.').next().unwrap_or("");
        tail.len() >= 2 && tail.chars().all(|c| c.is_ascii_alphabetic())
    })
}

/// Staff notes end up in timeline texts; a notification must still carry no link but ours, so
/// anything a mail client could make clickable (URLs, `www.`, bare domains) is replaced, unless it
/// is exactly our base URL or a path under it.
fn defang(text: &str, base_url: &str, zh: bool) -> String {
    let ours = |w: &str| w == base_url || w.starts_with(&format!("{base_url}/"));
    text.split_inclusive(char::is_whitespace)
        .map(|w| {
            let bare = w.trim().trim_end_matches(['.', ',', ';', ')', '。', '，']);
            let lower = bare.to_ascii_lowercase();
            let linky =
                lower.contains("://") || lower.contains("www.") || looks_like_domain(&lower);
            if linky && !ours(bare) {
                let gap = &w[w.trim_end().len()..];
                format!(
                    "{}{gap}",
                    if zh {
                        "[链接已删除]"
                    } else {
                        "[link removed]"
                    }
                )
            } else {
                w.to_owned()
            }
        })
        .collect()
}

/// What is kept of a failure: the SMTP reply code, never its text (which often quotes the
/// recipient's address).
fn failure_class(e: &lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) => format!("SMTP {code}"),
        None if e.is_timeout() => "SMTP timeout".into(),
        None => "SMTP connection or protocol error".into(),
    }
}

/// The one message sent before the address is confirmed. It does **not** quote the phrase: whoever
/// filed the report chose it, and until the mailbox owner proves they also hold the receipt, that
/// may be someone else. It asks only that the code be typed on our own status page.
pub fn compose_confirmation(locale: Locale, code: &str, report_id: &str, base_url: &str) -> Email {
    let status_url = format!("{base_url}/r/{report_id}");
    let (subject, body) = if locale == Locale::ZhCn {
        (
            format!("请确认您的邮箱：举报 {report_id}"),
            format!(
                "有人（希望是您本人）提交了举报 {report_id}，并希望通过这个邮箱接收进度通知。\n\n\
                 如果是您本人：请打开 {status_url} ，输入您保存的回执，然后输入确认码：{code}\n\
                 确认之后，我们的每一封邮件都会引用您设置的防钓鱼短语。\n\n\
                 如果不是您：请忽略此邮件，我们不会再给您写信。\n\n\
                 我们绝不会索要您的助记词、私钥、任何费用或远程控制权限，也不会发送 {base_url} 以外的链接。\n"
            ),
        )
    } else {
        (
            format!("Confirm your address for report {report_id}"),
            format!(
                "Someone, hopefully you, filed report {report_id} and asked for progress e-mails at this address.\n\n\
                 If it was you: open {status_url}, enter the receipt you saved, then this code: {code}\n\
                 From then on every e-mail from us quotes the anti-phishing phrase you chose.\n\n\
                 If it was not you: ignore this e-mail. We will not write to you again.\n\n\
                 We will never ask for your seed phrase, private keys, a fee or remote access, and we \
                 never send links other than {base_url}.\n"
            ),
        )
    };
    Email {
        subject,
        body,
        message_id: format!("<{report_id}.confirm@trustdesk.invalid>"),
    }
}

fn backoff(base_secs: i64, attempts_so_far: i64) -> i64 {
    (base_secs.max(1) * 2i64.pow(attempts_so_far.clamp(0, 12) as u32)).min(3600)
}

/// Runs forever: leases subscriptions with something owed, sends one message each, records it.
pub async fn run(settings: MailSettings, store: Arc<dyn Store>, cipher: Arc<ContactCipher>) {
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url) {
        Ok(b) => b.timeout(Some(Duration::from_secs(20))).build(),
        Err(e) => {
            tracing::error!(error = %e, "SMTP URL not usable; notifications are not sent");
            return;
        }
    };
    let from = match settings.from.parse::<lettre::message::Mailbox>() {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "TRUSTDESK_MAIL_FROM is not a mailbox; notifications are not sent");
            return;
        }
    };
    loop {
        let mut busy = false;
        // One row per lease, and a lease (120 s) outlives one SMTP exchange, so no other
        // instance can take the row over mid-send.
        match store
            .lease_followups(now(), 120, settings.warn_secs, 1)
            .await
        {
            Ok(batch) => {
                for f in batch {
                    busy = true;
                    send_next(&settings, &transport, &from, store.as_ref(), &cipher, &f).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "Follow-up table unavailable"),
        }
        if !busy {
            tokio::time::sleep(settings.poll).await;
        }
    }
}

/// Sends the oldest thing owed to one subscriber and records it (or schedules a retry).
async fn send_next(
    settings: &MailSettings,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &lettre::message::Mailbox,
    store: &dyn Store,
    cipher: &ContactCipher,
    f: &FollowupRecord,
) {
    let Some(lease) = f.locked_until else { return };
    let fail = |why: String| async move {
        let next = now() + backoff(settings.retry_base_secs, f.attempts);
        // Log the report, never the address.
        tracing::warn!(report.id = %f.report_id, error = %why, "Notification not sent; will retry");
        let _ = store
            .followup_progress(
                &f.report_id,
                lease,
                f.notified_seq,
                None,
                Some((next, &why)),
            )
            .await;
    };
    let (Some(email), Some(phrase)) = (
        f.email_enc.as_deref().and_then(|e| cipher.open(e)),
        f.phrase_enc.as_deref().and_then(|p| cipher.open(p)),
    ) else {
        return fail("contact cannot be decrypted with keys/contact.key".into()).await;
    };
    let locale = Locale::parse_tag(&f.locale).unwrap_or_default();
    if f.confirmed_at.is_none() {
        let Some(code) = f.confirm_enc.as_deref().and_then(|c| cipher.open(c)) else {
            return fail("confirmation code cannot be decrypted".into()).await;
        };
        let mail = compose_confirmation(locale, &code, &f.report_id, &settings.base_url);
        match deliver(transport, from, store, f, lease, &email, mail).await {
            Ok(true) => {
                let _ = store
                    .followup_confirmation_sent(&f.report_id, lease, now())
                    .await;
            }
            Ok(false) => {}
            Err(why) => fail(why).await,
        }
        return;
    }
    let events = match store.report_events(&f.report_id).await {
        Ok(e) => e,
        Err(e) => return fail(e.to_string()).await,
    };
    let owed = events
        .iter()
        .find(|e| e.seq > f.notified_seq && !e.public_en.is_empty());
    let (email_msg, seq, warned) = match owed {
        Some(e) => (
            compose(
                locale,
                &phrase,
                &f.report_id,
                &settings.base_url,
                &Trigger::Event(e),
            ),
            e.seq,
            None,
        ),
        None => {
            // Nothing on the timeline: the lease was for the first-response deadline.
            let samples = super::recent_samples(store).await.unwrap_or_default();
            let report = match store.report_by_id(&f.report_id).await {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => return fail(e.to_string()).await,
            };
            // Re-checked here: someone may have answered since the row was selected.
            if report.status != "received" || f.sla_warned_at.is_some() {
                let seq = events
                    .last()
                    .map_or(f.notified_seq, |e| e.seq.max(f.notified_seq));
                let _ = store
                    .followup_progress(&f.report_id, lease, seq, Some(now()), None)
                    .await;
                return;
            }
            let estimate = super::estimate_next_step(
                &samples,
                &report.priority,
                "received",
                report.created_at,
                None,
            )
            .filter(|t| *t > now());
            let seq = events
                .last()
                .map_or(f.notified_seq, |e| e.seq.max(f.notified_seq));
            (
                compose(
                    locale,
                    &phrase,
                    &f.report_id,
                    &settings.base_url,
                    &Trigger::StillWorking {
                        new_estimate: estimate,
                    },
                ),
                seq,
                Some(now()),
            )
        }
    };
    match deliver(transport, from, store, f, lease, &email, email_msg).await {
        Ok(true) => match store
            .followup_progress(&f.report_id, lease, seq, warned, None)
            .await
        {
            Ok(true) => {}
            // Accepted by SMTP but not recorded: at most this one message may go twice.
            Ok(false) | Err(_) => tracing::warn!(
                report.id = %f.report_id,
                "Notification sent but its lease was lost before it was recorded"
            ),
        },
        Ok(false) => {}
        Err(why) => fail(why).await,
    }
}

/// Builds and sends one message; `Ok(false)` when the subscription changed under us (forgotten,
/// lease lost) and nothing was sent.
async fn deliver(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &lettre::message::Mailbox,
    store: &dyn Store,
    f: &FollowupRecord,
    lease: i64,
    email: &str,
    mail: Email,
) -> Result<bool, String> {
    let to: lettre::message::Mailbox = email
        .parse()
        .map_err(|_| "stored address is not a mailbox".to_owned())?;
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject)
        .message_id(Some(mail.message_id))
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body)
        .map_err(|_| "message could not be built".to_owned())?;
    // "Forget me" may have happened since the lease: look once more right before sending.
    match store.followup_for_report(&f.report_id).await {
        Ok(Some(row)) if row.email_enc.is_some() && row.locked_until == Some(lease) => {}
        _ => return Ok(false),
    }
    match transport.send(message).await {
        Ok(_) => {
            metrics::counter!("trustdesk_notifications_sent_total").increment(1);
            Ok(true)
        }
        Err(e) => {
            metrics::counter!("trustdesk_notification_failures_total").increment(1);
            Err(failure_class(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, kind: &str) -> ReportEventRecord {
        ReportEventRecord {
            report_id: "TD-AAAA-BBBB".into(),
            seq,
            at: 0,
            kind: kind.into(),
            public_en: "We confirmed this as fraud. See https://evil.example, https://trust.acme.example.evil.io/x and acme-refund.io/claim".into(),
            public_zh: "我们已确认这是诈骗。见 www.evil.example".into(),
            internal_note: Some("internal: do not show".into()),
            actor_id: None,
        }
    }

    #[test]
    fn every_message_quotes_the_phrase_says_what_we_never_do_and_links_only_home() {
        let base = "https://trust.acme.example";
        for locale in [Locale::En, Locale::ZhCn] {
            for trigger in [
                Trigger::Event(&event(1, "received")),
                Trigger::Event(&event(3, "confirmed_fraud")),
                Trigger::Event(&event(4, "resolved")),
                Trigger::StillWorking {
                    new_estimate: Some(1_800_000_000),
                },
            ] {
                let m = compose(locale, "blue heron 42", "TD-AAAA-BBBB", base, &trigger);
                let c = compose_confirmation(locale, "K7QM-2XPD", "TD-AAAA-BBBB", base);
                assert!(c.body.contains("K7QM-2XPD") && !c.body.contains("heron"));
                assert_eq!(c.body.matches("://").count(), c.body.matches(base).count());
                assert!(m.body.contains("blue heron 42"), "{}", m.body);
                assert!(m.body.contains(&format!("{base}/r/TD-AAAA-BBBB")));
                assert!(!m.body.contains("internal: do not show"));
                assert!(
                    !m.body.contains("evil.example"),
                    "foreign links removed: {}",
                    m.body
                );
                let links = m.body.matches("://").count();
                assert_eq!(
                    links,
                    m.body.matches(base).count(),
                    "every link is ours: {}",
                    m.body
                );
                let never = if locale == Locale::En {
                    "never ask for your seed phrase"
                } else {
                    "绝不会索要您的助记词"
                };
                assert!(m.body.contains(never), "{}", m.body);
                assert!(m.subject.contains("TD-AAAA-BBBB"));
            }
        }
    }
}
