//! The one Markdown renderer of MyQCM, used for learner pages, the JSON API's `*_html` fields and
//! the reviewer preview alike: CommonMark (pulldown-cmark) with raw HTML turned into text, then
//! an allowlist sanitizer (ammonia). Images are kept only when they point at our own media path,
//! so no page can make a reviewer's or learner's browser call a third-party host.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{Event, Options, Parser};

pub use myqcm_domain::catalogue::media::MEDIA_PREFIX;

/// The tags a rendered text may keep; everything else is removed (its text kept).
const ALLOWED_TAGS: &[&str] = &[
    "p",
    "em",
    "strong",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "sub",
    "sup",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "br",
    "blockquote",
    "del",
    "img",
    "h3",
    "h4",
    "hr",
];

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let tags: HashSet<&str> = ALLOWED_TAGS.iter().copied().collect();
    let mut b = ammonia::Builder::empty();
    b.tags(tags)
        .generic_attributes(HashSet::new())
        .add_tag_attributes("a", ["href"])
        .add_tag_attributes("img", ["src", "alt"])
        .add_tag_attributes("ol", ["start"])
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .strip_comments(true)
        .attribute_filter(|element, attribute, value| {
            if element == "img" && attribute == "src" && !value.starts_with(MEDIA_PREFIX) {
                return None;
            }
            Some(value.into())
        });
    b
});

/// Sanitizes HTML with the allowlist. The result is a fixed point (`sanitize(sanitize(x)) ==
/// sanitize(x)`): some malformed nestings (e.g. an `<a>` inside an `<a>` after a `<select>`)
/// serialise into markup that parses differently, so cleaning repeats until nothing changes,
/// and falls back to plain escaped text if it does not settle.
pub fn sanitize(html: &str) -> String {
    let mut out = CLEANER.clean(html).to_string();
    for _ in 0..4 {
        let next = CLEANER.clean(&out).to_string();
        if next == out {
            return out;
        }
        out = next;
    }
    ammonia::clean_text(html)
}

/// Renders Markdown to safe HTML. Raw HTML in the source is shown as text, never interpreted.
pub fn render(markdown: &str) -> String {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, parser);
    sanitize(&html)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Payloads X1–X6 of spec/security.md §5.3.
    const PAYLOADS: &[&str] = &[
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<body onload=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](jav&#x09;ascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
        "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
        "<object data=x></object><embed src=x>",
        "<base href=\"https://evil/\"><form action=\"https://evil\"><input></form>",
        "<meta http-equiv=\"refresh\" content=\"0;url=https://evil\">",
        "<p style=\"background:url(//evil)\">x</p>",
        "![pixel](https://evil/pixel)",
        "<img src=\"https://evil/pixel\">",
    ];

    /// Every real tag (text `<` is escaped, so a literal `<` starts a tag) is on the allowlist
    /// and carries no handler, style, script URL or foreign image.
    fn inert(html: &str) {
        for tag in html
            .split('<')
            .skip(1)
            .map(|t| t.split('>').next().unwrap_or("").to_lowercase())
        {
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                ALLOWED_TAGS.contains(&name.as_str()),
                "tag {name} survived in {html}"
            );
            for bad in [
                " on",
                "style=",
                "javascript",
                "data:",
                "src=\"https://evil",
                "src=\"x",
                "srcdoc",
            ] {
                assert!(!tag.contains(bad), "{bad} survived in <{tag}> of {html}");
            }
        }
    }

    #[test]
    fn xss_payloads_x1_to_x6_come_out_inert_from_markdown_and_from_html() {
        for p in PAYLOADS {
            inert(&render(p));
            inert(&sanitize(p));
            inert(&render(&format!("Intro **gras**\n\n{p}\n\n- liste")));
        }
    }

    #[test]
    fn sanitizing_is_idempotent() {
        for p in PAYLOADS {
            let once = sanitize(p);
            assert_eq!(sanitize(&once), once, "{p}");
            let r = render(p);
            assert_eq!(sanitize(&r), r, "{p}");
        }
    }

    #[test]
    fn ordinary_markdown_keeps_its_formatting_and_safe_links() {
        let html = render(
            "**HTA** : PAS ≥ 140 mmHg, H<sub>2</sub>O\n\n[ESC](https://www.escardio.org)\n\n![ecg](/api/v1/media/abc)",
        );
        assert!(html.contains("<strong>HTA</strong>"));
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""));
        assert!(html.contains("src=\"/api/v1/media/abc\""));
        assert!(
            html.contains("&lt;sub&gt;"),
            "raw HTML in markdown is shown as text: {html}"
        );
    }

    proptest::proptest! {
        /// X4: sanitizing is idempotent and the result stays inert, for fragments mixing the
        /// payload building blocks in any order.
        #[test]
        fn sanitizing_is_idempotent_for_any_mix_of_fragments(parts in proptest::collection::vec(proptest::sample::select(vec![
            "<math>", "<mtext>", "<table>", "<mglyph>", "<style>", "</style>", "<img src=x onerror=alert(1)>",
            "<noscript>", "</noscript>", "<p title=\"", "\">", "<svg onload=alert(1)>", "<a href=\"javascript:alert(1)\">",
            "</a>", "<iframe srcdoc=x>", "<!--", "-->", "<![CDATA[", "]]>", "**gras**", "[l](javascript:x)", "`code`",
            "<template>", "</template>", "<select>", "<option>", "&lt;", "&#x09;", "text ", "\n\n", "<b>", "</b>",
        ]), 0..16)) {
            let input: String = parts.concat();
            let once = sanitize(&input);
            proptest::prop_assert_eq!(sanitize(&once), once.clone());
            inert(&once);
            let r = render(&input);
            proptest::prop_assert_eq!(sanitize(&r), r.clone());
            inert(&r);
        }
    }
}
