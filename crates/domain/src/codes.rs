//! The one table of error codes shared by the JSON API (problem+json `code`) and the HTML
//! error pages. A code is stable: clients and translations key on it.

/// A stable error code with its HTTP status and a short English title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// Machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// HTTP status it maps to.
    pub status: u16,
    /// Human title (problem+json `title`).
    pub title: &'static str,
}

macro_rules! codes {
    ($($name:ident = ($code:literal, $status:literal, $title:literal);)*) => {
        $(
            #[doc = $title]
            pub const $name: ErrorCode = ErrorCode { code: $code, status: $status, title: $title };
        )*
        /// Every code, for documentation and tests.
        pub const ALL: &[ErrorCode] = &[$($name),*];
    };
}

codes! {
    BAD_REQUEST = ("bad_request", 400, "The request is malformed");
    INVALID_JSON = ("invalid_json", 400, "The request body is not valid JSON");
    VALIDATION_FAILED = ("validation_failed", 422, "Some fields are invalid");
    UNAUTHENTICATED = ("unauthenticated", 401, "Sign-in required");
    FORBIDDEN = ("forbidden", 403, "You are not allowed to do this");
    CSRF_FAILED = ("csrf_failed", 403, "The request could not be verified");
    NOT_FOUND = ("not_found", 404, "Nothing here");
    METHOD_NOT_ALLOWED = ("method_not_allowed", 405, "Method not allowed");
    CONFLICT = ("conflict", 409, "The resource changed or already exists");
    PAYLOAD_TOO_LARGE = ("payload_too_large", 413, "The request body is too large");
    UNSUPPORTED_MEDIA_TYPE = ("unsupported_media_type", 415, "Unsupported content type");
    RATE_LIMITED = ("rate_limited", 429, "Too many requests");
    OWN_ITEM = ("own_item", 403, "Reviewers cannot review their own items");
    INVALID_TRANSITION = ("invalid_transition", 409, "The item is not in a state that allows this");
    IMPORT_REJECTED = ("import_rejected", 422, "The import was rejected");
    INTERNAL = ("internal", 500, "Something went wrong on our side");
    UNAVAILABLE = ("unavailable", 503, "The service is temporarily unavailable");
    TIMEOUT = ("timeout", 504, "The request took too long");
    INVALID_CREDENTIALS = ("invalid_credentials", 401, "Email or password incorrect");
    INVALID_TOKEN = ("invalid_token", 400, "This link or code is invalid or has expired");
    WEAK_PASSWORD = ("weak_password", 422, "Choose another password");
    STEP_UP_REQUIRED = ("step_up_required", 401, "Confirm your password to continue");
    MFA_REQUIRED = ("mfa_required", 401, "Enter the code from your authenticator app");
    MFA_ENROLMENT_REQUIRED = ("mfa_enrolment_required", 403, "Set up two-step verification first");
    EMAIL_NOT_VERIFIED = ("email_not_verified", 403, "Confirm your email address first");
    OIDC_FAILED = ("oidc_failed", 400, "Google sign-in failed; try again or use your password");
    SESSION_CLOSED = ("session_closed", 409, "This training session is over");
    SESSION_PAUSED = ("session_paused", 409, "This training session is paused; resume it first");
    NOT_CURRENT = ("not_current", 409, "This question is not waiting for an answer");
    TIME_UP = ("time_up", 409, "The exam time is over");
    NO_PAUSE = ("no_pause", 409, "A full mock exam cannot be paused");
    QUOTA_EXHAUSTED = ("quota_exhausted", 403, "Your plan's allowance for this is used up");
    NOTHING_TO_SERVE = ("nothing_to_serve", 422, "No question matches these filters");
    CARD_INVALID = ("card_invalid", 422, "This card code is not valid");
    CARD_USED = ("card_used", 409, "This card has already been used");
    CARD_EXPIRED = ("card_expired", 410, "This card has expired");
    PLAN_WITHOUT_END = ("plan_without_end", 409, "Your current plan never ends; a card cannot add to it");
    SIGNATURE_INVALID = ("signature_invalid", 401, "The request signature is missing or invalid");
    PAYMENT_UNAVAILABLE = ("payment_unavailable", 503, "The payment service is not answering; try again shortly");
    INSUFFICIENT_FUNDS = ("insufficient_funds", 409, "Your balance is lower than the amount asked");
}

/// Looks a code up by its string.
pub fn by_code(code: &str) -> Option<ErrorCode> {
    ALL.iter().copied().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = std::collections::HashSet::new();
        for c in ALL {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
            assert!((400..600).contains(&c.status));
        }
        assert_eq!(by_code("not_found"), Some(NOT_FOUND));
        assert_eq!(by_code("nope"), None);
    }
}
