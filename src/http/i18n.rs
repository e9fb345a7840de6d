//! zh-CN / en texts for everything a user reads: verdicts and channel checks. Kept in one table
//! so that a translation reviewer reads one file.

use crate::channels::ChannelKind;
use crate::types::Locale;

/// Headline and explanation for a verdict.
pub struct VerdictText {
    pub title: &'static str,
    pub message: &'static str,
}

pub fn verdict(kind: &str, l: Locale) -> VerdictText {
    let (title, message) = match (kind, l) {
        ("genuine", Locale::En) => ("Genuine official session", "This session was issued by an official agent and is valid right now."),
        ("genuine", Locale::ZhCn) => ("真实的官方会话", "此会话由官方客服签发，目前有效。"),
        ("forged", Locale::En) => ("FORGED — this is not official support", "This was not issued by us: the signature or key is not ours, or no such session exists. Whoever sent this is impersonating support. Stop talking to them and never share codes, seed phrases or money."),
        ("forged", Locale::ZhCn) => ("伪造 — 这不是官方客服", "这不是我们签发的：签名或密钥不属于我们，或该会话不存在。发送者正在冒充客服。请立即停止联系，切勿提供验证码、助记词或转账。"),
        ("expired", Locale::En) => ("EXPIRED — do not trust this contact", "This session has expired. A real agent can start a new session; anyone still using this one may not be who they claim."),
        ("expired", Locale::ZhCn) => ("已过期 — 请勿信任此联系人", "此会话已过期。真正的客服可以重新发起会话；仍在使用此会话的人可能并非其声称的身份。"),
        ("not_yet_valid", Locale::En) => ("NOT YET VALID — do not trust this contact", "This session is not valid yet. Check your device clock, then ask the agent for a new session."),
        ("not_yet_valid", Locale::ZhCn) => ("尚未生效 — 请勿信任此联系人", "此会话尚未生效。请检查设备时间，然后请客服重新发起会话。"),
        ("revoked", Locale::En) => ("REVOKED — do not trust this contact", "This session was revoked by our security team or the agent. Stop the conversation."),
        ("revoked", Locale::ZhCn) => ("已撤销 — 请勿信任此联系人", "此会话已被安全团队或客服撤销。请停止对话。"),
        (_, Locale::En) => ("NOT VERIFIABLE — do not trust this contact", "We could not find a valid session token, identity link or session code in what you entered."),
        (_, Locale::ZhCn) => ("无法验证 — 请勿信任此联系人", "在您输入的内容中没有找到有效的会话令牌、身份链接或会话码。"),
    };
    VerdictText { title, message }
}

/// "Only continue if this message came from …" for a genuine session.
pub fn instruction(kind: ChannelKind, handle: &str, l: Locale) -> String {
    // Written into one buffer: every genuine verdict carries this sentence.
    let (before, after) = match l {
        Locale::En => (
            "Only continue if this message came from ",
            ". If it came from anywhere else, it is a scam.",
        ),
        Locale::ZhCn => (
            "仅当此消息来自 ",
            " 时才可继续。如果来自其他任何地方，那就是诈骗。",
        ),
    };
    let name = kind_name(kind, l);
    let mut out = String::with_capacity(before.len() + name.len() + handle.len() + after.len() + 2);
    out.push_str(before);
    out.push_str(name);
    out.push(' ');
    if at_style(kind) {
        out.push('@');
    }
    out.push_str(handle);
    out.push_str(after);
    out
}

pub fn kind_name(kind: ChannelKind, l: Locale) -> &'static str {
    kind.display_name(l)
}

/// Handles of @-style networks are shown with their `@`.
pub fn display_handle(kind: ChannelKind, handle: &str) -> String {
    if at_style(kind) {
        format!("@{handle}")
    } else {
        handle.to_owned()
    }
}

fn at_style(kind: ChannelKind) -> bool {
    matches!(kind, ChannelKind::Telegram | ChannelKind::X)
}

pub fn check_message(result: &str, l: Locale, of: Option<&str>) -> String {
    match (result, l) {
        ("official", Locale::En) => "This is a registered official channel.".into(),
        ("official", Locale::ZhCn) => "这是已登记的官方渠道。".into(),
        ("lookalike", Locale::En) => format!(
            "WARNING: this imitates the official channel {}. It is not official: it is very likely a scam.",
            of.unwrap_or("")
        ),
        ("lookalike", Locale::ZhCn) => format!(
            "警告：此渠道在模仿官方渠道 {}。它不是官方渠道，极有可能是诈骗。",
            of.unwrap_or("")
        ),
        (_, Locale::En) => "This is not a registered official channel. Do not trust anyone contacting you from it as official support.".into(),
        (_, Locale::ZhCn) => "这不是已登记的官方渠道。不要相信任何通过它自称官方客服的人。".into(),
    }
}

pub fn report_label(l: Locale) -> &'static str {
    match l {
        Locale::En => "Report this contact",
        Locale::ZhCn => "举报此联系人",
    }
}

/// The "save this" prompt after a report is filed.
pub fn report_saved(l: Locale, id: &str) -> String {
    match l {
        Locale::En => format!("Report {id} received. Save the id and the receipt now: the receipt is shown only once, and with it you can follow your report at any time. We will never ask you for a fee, your seed phrase or remote access."),
        Locale::ZhCn => format!("举报 {id} 已收到。请立即保存编号和回执：回执只显示一次，凭它您可以随时查看举报进度。我们绝不会向您索要任何费用、助记词或远程控制权限。"),
    }
}

pub fn status_label(s: crate::reports::Status, l: Locale) -> &'static str {
    use crate::reports::Status::*;
    match (s, l) {
        (Received, Locale::En) => "Received — waiting for a security analyst",
        (Received, Locale::ZhCn) => "已收到 — 等待安全分析师处理",
        (Triaged, Locale::En) => "Triaged — queued for investigation",
        (Triaged, Locale::ZhCn) => "已分类 — 等待调查",
        (Investigating, Locale::En) => "Under investigation",
        (Investigating, Locale::ZhCn) => "调查中",
        (ConfirmedFraud, Locale::En) => "Confirmed fraud — action under way",
        (ConfirmedFraud, Locale::ZhCn) => "已确认为诈骗 — 正在处理",
        (Dismissed, Locale::En) => "Closed — no fraud found",
        (Dismissed, Locale::ZhCn) => "已关闭 — 未发现诈骗",
        (Duplicate, Locale::En) => "Merged with an earlier report",
        (Duplicate, Locale::ZhCn) => "已与之前的举报合并",
        (Resolved, Locale::En) => "Resolved",
        (Resolved, Locale::ZhCn) => "已解决",
    }
}

pub fn known_scam_message(l: Locale, reports: i64, imitates: Option<&str>) -> String {
    match l {
        Locale::En => format!(
            "DANGER: this is a known scammer. Our security team confirmed it in {reports} fraud report(s){}. Do not send anything, do not click links, stop the conversation.",
            imitates.map(|o| format!(", imitating {o}")).unwrap_or_default()
        ),
        Locale::ZhCn => format!(
            "危险：这是已知的诈骗者。我们的安全团队已在 {reports} 起诈骗举报中确认{}。请勿转账、勿点击链接，立即停止对话。",
            imitates.map(|o| format!("（冒充 {o}）")).unwrap_or_default()
        ),
    }
}

/// Report categories as the report form lists them.
pub fn category_label(c: crate::reports::Category, l: Locale) -> &'static str {
    use crate::reports::Category::*;
    match (c, l) {
        (Impersonation, Locale::En) => "Someone posed as official support",
        (Impersonation, Locale::ZhCn) => "有人冒充官方客服",
        (PhishingLink, Locale::En) => "A phishing link or fake website",
        (PhishingLink, Locale::ZhCn) => "钓鱼链接或假冒网站",
        (FakeApp, Locale::En) => "A fake app or wallet",
        (FakeApp, Locale::ZhCn) => "假冒应用或钱包",
        (InvestmentScam, Locale::En) => "An investment or \"recovery\" scam",
        (InvestmentScam, Locale::ZhCn) => "投资或\u{201c}追回资金\u{201d}骗局",
        (AccountTakeover, Locale::En) => "Someone took over my account",
        (AccountTakeover, Locale::ZhCn) => "我的账户被盗",
        (Other, Locale::En) => "Something else",
        (Other, Locale::ZhCn) => "其他",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sentence is assembled by hand for speed; it must read exactly as the template did.
    #[test]
    fn the_instruction_names_the_channel_as_users_know_it() {
        assert_eq!(
            instruction(ChannelKind::Telegram, "acme_support", Locale::En),
            "Only continue if this message came from Telegram @acme_support. If it came from \
             anywhere else, it is a scam."
        );
        assert_eq!(
            instruction(ChannelKind::Email, "help@acme.example", Locale::En),
            format!(
                "Only continue if this message came from {} help@acme.example. If it came from \
                 anywhere else, it is a scam.",
                ChannelKind::Email.display_name(Locale::En)
            )
        );
        assert_eq!(
            instruction(ChannelKind::X, "acme", Locale::ZhCn),
            format!(
                "仅当此消息来自 {} @acme 时才可继续。如果来自其他任何地方，那就是诈骗。",
                ChannelKind::X.display_name(Locale::ZhCn)
            )
        );
        assert_eq!(display_handle(ChannelKind::X, "acme"), "@acme");
        assert_eq!(display_handle(ChannelKind::Phone, "+15550100"), "+15550100");
    }
}
