//! `myqcm-fakes`: runs the fakes as processes for browser tests.
//!
//! `myqcm-fakes idp [--listen 127.0.0.1:9100] [--sub S] [--email E] [--unverified]` starts the
//! fake OpenID provider (issuer = `http://<listen>`, client id `myqcm-test-client`, secret
//! `fake-idp-client-secret`) and prints its issuer URL on stdout. Point the app at it with
//! `MYQCM_GOOGLE_ISSUER`, `MYQCM_GOOGLE_CLIENT_ID`, `MYQCM_GOOGLE_CLIENT_SECRET`. Runs until
//! interrupted.

use std::io::Write;
use std::sync::Arc;

use myqcm_domain::SystemClock;
use myqcm_testkit::fake_idp::{FakeIdp, FakeUser};

fn usage() -> ! {
    let _ = writeln!(
        std::io::stderr(),
        "usage: myqcm-fakes idp [--listen ADDR] [--sub SUB] [--email EMAIL] [--unverified]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some("idp") {
        usage();
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
