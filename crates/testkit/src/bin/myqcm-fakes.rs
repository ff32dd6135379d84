//! `myqcm-fakes`: runs the fakes as processes for browser tests.
//!
//! `myqcm-fakes idp [--listen 127.0.0.1:9100] [--sub S] [--email E] [--unverified]` starts the
//! fake OpenID provider (issuer = `http://<listen>`, client id `myqcm-test-client`, secret
//! `fake-idp-client-secret`) and prints its issuer URL on stdout. Point the app at it with
//! `MYQCM_GOOGLE_ISSUER`, `MYQCM_GOOGLE_CLIENT_ID`, `MYQCM_GOOGLE_CLIENT_SECRET`. Runs until
//! interrupted.
//!
//! `myqcm-fakes chargily [--listen 127.0.0.1:9200] [--key test_sk_fake_myqcm]` starts the fake
//! Chargily Pay v2 server and prints its API base (`http://<listen>/test/api/v2`) on stdout.
//! Point the app at it with `MYQCM_CHARGILY_MODE=test`, `MYQCM_CHARGILY_SECRET_KEY=<key>`,
//! `MYQCM_CHARGILY_API_BASE=<printed base>`. Runs until interrupted.
//!
//! `myqcm-fakes llm [--listen 127.0.0.1:9300] [--key fake-llm-key]` starts the fake
//! OpenAI-compatible chat-completions server and prints its API base (`http://<listen>/v1`).
//! Point the app at it with `MYQCM_LLM_BASE_URL=<printed base>`, `MYQCM_LLM_API_KEY=<key>`,
//! `MYQCM_LLM_MODEL=fake-model`. Faults: `POST <listen>/_control/knobs`. Runs until
//! interrupted.

use std::io::Write;
use std::sync::Arc;

use myqcm_domain::SystemClock;
use myqcm_testkit::fake_chargily::FakeChargily;
use myqcm_testkit::fake_idp::{FakeIdp, FakeUser};
use myqcm_testkit::fake_llm::FakeLlm;

fn usage() -> ! {
    let _ = writeln!(
        std::io::stderr(),
        "usage: myqcm-fakes idp [--listen ADDR] [--sub SUB] [--email EMAIL] [--unverified]\n       myqcm-fakes chargily [--listen ADDR] [--key KEY]\n       myqcm-fakes llm [--listen ADDR] [--key KEY]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("idp") => {}
        Some("chargily") => return chargily(args).await,
        Some("llm") => return llm(args).await,
        _ => usage(),
    }
    let (mut listen, mut sub, mut email, mut verified) = (
        "127.0.0.1:9100".to_owned(),
        "fake-google-user-1".to_owned(),
        "student@example.com".to_owned(),
        true,
    );
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().unwrap_or_else(|| usage()),
            "--sub" => sub = args.next().unwrap_or_else(|| usage()),
            "--email" => email = args.next().unwrap_or_else(|| usage()),
            "--unverified" => verified = false,
            _ => usage(),
        }
    }
    let idp = FakeIdp::start_on(
        &listen,
        FakeUser {
            sub,
            email,
            email_verified: verified,
        },
        Arc::new(SystemClock),
    )
    .await?;
    writeln!(std::io::stdout(), "{}", idp.base)?;
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn chargily(mut args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let (mut listen, mut key) = ("127.0.0.1:9200".to_owned(), "test_sk_fake_myqcm".to_owned());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().unwrap_or_else(|| usage()),
            "--key" => key = args.next().unwrap_or_else(|| usage()),
            _ => usage(),
        }
    }
    let fake = FakeChargily::start_on(&listen, &key).await?;
    writeln!(std::io::stdout(), "{}", fake.api_base)?;
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn llm(mut args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let (mut listen, mut key) = ("127.0.0.1:9300".to_owned(), "fake-llm-key".to_owned());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().unwrap_or_else(|| usage()),
            "--key" => key = args.next().unwrap_or_else(|| usage()),
            _ => usage(),
        }
    }
    let fake = FakeLlm::start_on(&listen, &key).await?;
    writeln!(std::io::stdout(), "{}", fake.api_base)?;
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    Ok(())
}
