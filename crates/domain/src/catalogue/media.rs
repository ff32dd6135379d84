//! Item images are addressed as `/api/v1/media/{id}` in Markdown (the sanitizer keeps no other
//! image source). An image is readable by whoever may read an item or clinical case that names
//! it; this module finds the names.

use uuid::Uuid;

/// The path under which item images are served.
pub const MEDIA_PREFIX: &str = "/api/v1/media/";

/// The image ids `text` refers to (`/api/v1/media/<uuid>`), in order of first mention, each once.
pub fn media_ids(text: &str) -> Vec<Uuid> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(MEDIA_PREFIX) {
        let start = i + MEDIA_PREFIX.len();
        let Some(candidate) = text.get(start..start + 36) else {
            continue;
        };
        if let Ok(id) = Uuid::try_parse(candidate)
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn finds_each_named_image_once_and_ignores_malformed_ones() {
        let a = "0192a000-0000-7000-8000-000000000001";
        let b = "0192a000-0000-7000-8000-000000000002";
        let text = format!(
            "![x](/api/v1/media/{a}) and ![y](/api/v1/media/{b}) again ![x](/api/v1/media/{a}) \
             ![z](/api/v1/media/not-a-uuid) /api/v1/media/{}",
            &a[..10]
        );
        assert_eq!(
            media_ids(&text),
            vec![Uuid::parse_str(a).unwrap(), Uuid::parse_str(b).unwrap()]
        );
        assert!(media_ids("no images").is_empty());
    }
}
