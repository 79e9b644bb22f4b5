//! A job's doc comment as HTML: paragraphs re-flowed (doc comments are wrapped at the source's
//! line width), `code` spans kept, Markdown links reduced to their text. A tiny reader for
//! the little Markdown doc comments use; everything stays escaped.

use maud::{Markup, html};

/// The paragraphs of a doc comment, each re-flowed into one line.
pub(crate) fn paragraphs(doc: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in doc.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join(" "));
    }
    paragraphs
}

/// One paragraph: text and `code` spans; `[text](target)` shows as `text`.
pub(crate) fn inline(paragraph: &str) -> Markup {
    let text = strip_links(paragraph);
    html! {
        @for (i, part) in text.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

/// `[text](target)` becomes `text`; anything else is kept as it is.
fn strip_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let target = &after[close + 2..];
            target.find(')').map(|end| (close, close + 2 + end + 1))
        });
        match link {
            Some((close, consumed)) => {
                out.push_str(&rest[..open]);
                out.push_str(&after[..close]);
                rest = &after[consumed..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_are_reflowed_and_links_reduced_to_their_text() {
        let doc = "Migrates explorations.\n\nOlder than [`V`](crate::V) are\nupgraded [step](x) by step.\n";
        assert_eq!(
            paragraphs(doc),
            ["Migrates explorations.", "Older than [`V`](crate::V) are upgraded [step](x) by step."]
        );
        assert_eq!(strip_links("a [`V`](crate::V) b [c](d) [e] f"), "a `V` b c [e] f");
        assert_eq!(inline("x `<b>` y").into_string(), "x <code>&lt;b&gt;</code> y");
    }
}
