//! Identity rules free of I/O: which post-sign-in redirect targets are acceptable.

/// The path to send a user to after sign-in (or Google sign-in): `next` when it is a
/// same-origin relative path (`^/[^/\\]`, no backslash, no control or space characters, also
/// after one round of percent-decoding), otherwise `/`. Open redirects are impossible by
/// construction: no scheme, no host, no protocol-relative form survives.
pub fn safe_redirect(next: Option<&str>) -> String {
    match next {
        Some(n) if acceptable(n) && percent_decode(n).is_some_and(|d| acceptable(&d)) => {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn acceptable(p: &str) -> bool {
    let b = p.as_bytes();
    p.len() <= 2048
        && b.first() == Some(&b'/')
        && !matches!(b.get(1), Some(b'/' | b'\\'))
        && !p
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r1_open_redirect_payloads_all_go_home() {
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/%2F%2Fevil.example",
            "/%2f%2fevil.example",
            "/%09/evil.example",
            "/%5Cevil.example",
            "javascript:alert(1)",
            "https:evil.example",
            "",
            "evil.example",
            "/\tevil",
            "/%zz",
        ] {
            assert_eq!(safe_redirect(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_redirect(None), "/");
        for good in ["/", "/training", "/courses/12?tab=items#q3", "/a%2Db"] {
            assert_eq!(safe_redirect(Some(good)), good);
        }
    }
}
