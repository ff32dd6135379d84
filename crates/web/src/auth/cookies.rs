//! The sign-in cookies: `__Host-myqcm_access` (SameSite=Lax) and `__Host-myqcm_refresh`
//! (SameSite=Strict), `Secure; HttpOnly; Path=/`, no `Domain`. When the public URL is plain
//! http (development, loopback browser tests) the names lose the prefix and the `Secure` flag.

use axum::http::{HeaderMap, HeaderValue, header};

/// Name of the access cookie.
pub fn access_name(https: bool) -> String {
    format!("{}myqcm_access", if https { "__Host-" } else { "" })
}

/// Name of the refresh cookie.
pub fn refresh_name(https: bool) -> String {
    format!("{}myqcm_refresh", if https { "__Host-" } else { "" })
}

/// Name of the device cookie (a random id that lets a browser which signed in to an account
/// keep its own sign-in budget there; see `ratelimit::sign_in_attempt`).
pub fn device_name(https: bool) -> String {
    format!("{}myqcm_device", if https { "__Host-" } else { "" })
}

/// How long the device cookie lasts (seconds): a year.
pub const DEVICE_MAX_AGE: i64 = 365 * 24 * 3600;

/// `Set-Cookie` for a new device id, if any (SameSite=Lax: it is no credential on its own).
pub fn set_device(headers: &mut HeaderMap, https: bool, device: Option<&str>) {
    let Some(device) = device else {
        return;
    };
    headers.append(
        header::SET_COOKIE,
        build(&device_name(https), device, "Lax", DEVICE_MAX_AGE, https),
    );
}

/// Reads a cookie's value from the request.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn build(name: &str, value: &str, same_site: &str, max_age: i64, https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    let s = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// `Set-Cookie` values for a new pair of tokens.
pub fn set_pair(
    headers: &mut HeaderMap,
    https: bool,
    access: &str,
    access_max_age: i64,
    refresh: &str,
    refresh_max_age: i64,
) {
    headers.append(
        header::SET_COOKIE,
        build(&access_name(https), access, "Lax", access_max_age, https),
    );
    headers.append(
        header::SET_COOKIE,
        build(
            &refresh_name(https),
            refresh,
            "Strict",
            refresh_max_age,
            https,
        ),
    );
}

/// `Set-Cookie` values that delete both cookies.
pub fn clear_pair(headers: &mut HeaderMap, https: bool) {
    headers.append(
        header::SET_COOKIE,
        build(&access_name(https), "", "Lax", 0, https),
    );
    headers.append(
        header::SET_COOKIE,
        build(&refresh_name(https), "", "Strict", 0, https),
    );
}
