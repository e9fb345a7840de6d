//! Command line: `serve` (default), `keys`, `staff`, `verify`, `migrate`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::tokens::{self, keyring, OfflineKeys, PublishedKeySet};
use crate::types::{now, rfc3339, Role};

#[derive(Parser, Debug)]
#[command(
    name = "trustdesk",
    version,
    about = "Stops support-impersonation fraud"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage staff accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Verify a token or identity link offline against published keys.
    Verify {
        /// Token, identity link or message containing one.
        input: String,
        /// Published key set: a file path or an http(s) URL (e.g. {base}/.well-known/trustdesk-keys).
        #[arg(long)]
        keys: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// List keys: kid, state, created, retire-after.
    List,
    /// Make a new active key; the old one verifies until its tokens have expired.
    Rotate,
    /// Retire a rotated-out key now (suspected compromise): tokens it signed become forged.
    Retire { kid: String },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Walk the hash chain and report the first broken link (exit 1 if any).
    Verify,
}

#[derive(Subcommand, Debug)]
pub enum StaffCommand {
    /// Create a staff account and print its API key (shown once).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["agent", "security", "admin"])]
        role: String,
    },
    /// List staff accounts.
    List,
    /// Disable a staff account: its API key stops working immediately.
    Disable {
        #[arg(long)]
        name: String,
    },
}

/// Runs a non-serve command; returns the process exit code.
pub async fn run(config: Config, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => unreachable!("serve is handled by main"),
        Command::Migrate => {
            let store = crate::storage::open(&config.database_url.0).await?;
            println!("migrations applied ({})", store.engine());
            store.close().await;
        }
        Command::Keys(k) => {
            let audit = match &k {
                KeysCommand::Rotate => Some("key.rotate"),
                KeysCommand::Retire { .. } => Some("key.retire"),
                KeysCommand::List => None,
            };
            let subject = match &k {
                KeysCommand::Retire { kid } => kid.clone(),
                _ => String::new(),
            };
            keys(&config, k)?;
            if let Some(action) = audit {
                let store = crate::storage::open(&config.database_url.0).await?;
                crate::audit::record(
                    store.as_ref(),
                    None,
                    action,
                    &subject,
                    serde_json::json!({"via": "cli"}),
                )
                .await?;
                store.close().await;
            }
        }
        Command::Audit(AuditCommand::Verify) => {
            let store = crate::storage::open(&config.database_url.0).await?;
            let c = crate::audit::verify(store.as_ref()).await?;
            store.close().await;
            println!("entries: {}", c.entries);
            println!("head:    seq {} hash {}", c.head_seq, c.head_hash);
            if let Some((seq, why)) = c.first_break {
                println!("BROKEN at entry {seq}: {why}");
                return Ok(ExitCode::FAILURE);
            }
            println!("chain intact");
        }
        Command::Staff(StaffCommand::Add { name, role }) => {
            let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("unknown role"))?;
            let store = crate::storage::open(&config.database_url.0).await?;
            let (staff, key) = crate::staff::create(store.as_ref(), &name, role).await?;
            store.close().await;
            eprintln!(
                "Created {} '{}' (id {}). Its API key is shown once; store it now:",
                staff.role, staff.name, staff.id
            );
            println!("{}", key.as_str());
        }
        Command::Staff(StaffCommand::List) => {
            let store = crate::storage::open(&config.database_url.0).await?;
            for s in crate::staff::list(store.as_ref()).await? {
                println!("{}\t{}\t{}", s.id, s.role, s.name);
            }
            store.close().await;
        }
        Command::Staff(StaffCommand::Disable { name }) => {
            let store = crate::storage::open(&config.database_url.0).await?;
            let done = crate::staff::disable(store.as_ref(), &name).await?;
            store.close().await;
            if !done {
                anyhow::bail!("no enabled staff account named {name:?}");
            }
            println!("disabled {name}");
        }
        Command::Verify { input, keys } => return verify_offline(&input, &keys).await,
    }
    Ok(ExitCode::SUCCESS)
}

fn keys(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let dir = &config.keys_dir;
    match cmd {
        KeysCommand::List => {}
        KeysCommand::Rotate => {
            let kid = keyring::rotate(dir, config.max_token_ttl_secs + config.clock_skew_secs)?;
            println!(
                "new active key {kid}; running servers pick it up within {} s",
                config.key_reload_secs
            );
        }
        KeysCommand::Retire { kid } => {
            keyring::retire_now(dir, &kid)?;
            println!("retired {kid}");
        }
    }
    let (set, _) = keyring::load(dir)?;
    let t = now();
    println!(
        "{:<56} {:<12} {:<21} retire-after",
        "kid", "state", "created"
    );
    for m in set.metas() {
        let state = match set.state_of(m, t) {
            tokens::KeyState::Active => "active",
            tokens::KeyState::VerifyOnly => "verify-only",
            tokens::KeyState::Retired => "retired",
        };
        println!(
            "{:<56} {:<12} {:<21} {}",
            m.kid,
            state,
            rfc3339(m.created_at),
            m.retire_after.map(rfc3339).unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}

/// Exit code 0 only for a genuine token; 2 for any other verdict; 1 for errors.
async fn verify_offline(input: &str, keys: &str) -> anyhow::Result<ExitCode> {
    let body = if keys.starts_with("https://") || keys.starts_with("http://") {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?
            .get(keys)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?
            .to_vec()
    } else {
        std::fs::read(keys)?
    };
    let set: PublishedKeySet = serde_json::from_slice(&body)?;
    let offline = OfflineKeys::from_published(&set).map_err(|e| anyhow::anyhow!(e))?;
    let verdict = match tokens::input::extract(input) {
        tokens::input::Presented::Token(t) => {
            tokens::check_token(&offline, &offline.issuer, 60, t, now())
        }
        tokens::input::Presented::Code(_) => {
            anyhow::bail!("session codes can only be checked online, on the official site")
        }
        _ => tokens::Verdict::Malformed("no token or identity link found in the input"),
    };
    println!("verdict: {}", verdict.kind());
    if let Some(s) = verdict.session() {
        println!("agent:   {}", s.agent_name);
        println!("channel: {} {}", s.channel_kind, s.channel_handle);
        println!("expires: {}", rfc3339(s.expires_at));
    }
    if let tokens::Verdict::Genuine(_) = verdict {
        println!("note:    offline verification cannot see revocations; check online when you can");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(2))
    }
}
