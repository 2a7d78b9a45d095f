//! Decoding an embeddings response (wire §7.3). The usual body is typed, without a `Value` per
//! number (a 256 x 384 body holds 98k of them), and a large one has its vectors parsed on
//! several threads; anything unusual goes through `Value`s, which also words the errors.

use std::fmt::Write as _;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The vectors in input order, and the body without them (the result's `raw`).
pub(crate) type Parts = (Result<Vec<Vec<f64>>>, Value);

/// Bodies from this size on have their vectors parsed on several threads: below it, starting
/// a thread costs about what it saves.
const SPLIT_FROM: usize = 256 * 1024;
/// The most threads one body's vectors are parsed on.
const MAX_PARSERS: usize = 4;

/// The usual body, or `None` for anything else (then [`lenient`] decides).
pub(crate) fn typed(body: &[u8]) -> Option<Parts> {
    let text = std::str::from_utf8(body).ok()?;
    let parsed = if body.len() >= SPLIT_FROM {
        split(text).or_else(|| serde_json::from_str(text).ok())
    } else {
        serde_json::from_str(text).ok()
    };
    parsed.map(EmbeddingsBody::into_parts)
}

/// Any JSON body: the vectors if it has them, else the error that says why not.
pub(crate) fn lenient(mut raw: Value) -> Parts {
    let vectors = embeddings_of(&raw);
    if let Some(items) = raw.get_mut("data").and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            item.remove("embedding");
        }
    }
    (vectors, raw)
}

#[derive(Deserialize)]
struct EmbeddingsBody {
    data: Vec<EmbeddingItem>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    embedding: Vec<f64>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl EmbeddingsBody {
    /// The vectors in `index` order (body order unless every item has one) and the body
    /// without them, as [`lenient`] computes them.
    fn into_parts(self) -> Parts {
        let mut items = self.data;
        let vectors = index_order(items.iter().map(|item| item.rest.get("index")))
            .into_iter()
            .map(|at| std::mem::take(&mut items[at].embedding))
            .collect();
        let mut raw = self.rest;
        let data = items.into_iter().map(|item| Value::Object(item.rest));
        raw.insert("data".to_owned(), Value::Array(data.collect()));
        (Ok(vectors), Value::Object(raw))
    }
}

/// Decodes a large body with its vectors parsed on several threads, or `None` when the body
/// is not of the shape this relies on (the caller then parses it in one pass).
///
/// The vectors are found in the text: with no escape anywhere outside them, every key
/// `embedding` is spelled `"embedding"` (inside a string a `"` is escaped), and an array of
/// numbers holds no `]` before its own. Each such array is replaced by `[k]`, its ordinal,
/// in a skeleton that serde_json parses whole (so the body is checked as a whole, and each
/// array is checked as it is parsed); the skeleton's `data` items must then name every
/// array exactly once. An `embedding` elsewhere in the body breaks that count, and a body
/// whose vectors are not plain arrays of numbers fails to parse: both give `None`.
fn split(text: &str) -> Option<EmbeddingsBody> {
    const KEY: &[u8] = b"\"embedding\"";
    let bytes = text.as_bytes();
    let (mut skeleton, mut arrays, mut copied) = (String::new(), Vec::new(), 0);
    for at in memchr::memmem::find_iter(bytes, KEY) {
        let colon = skip_space(bytes, at + KEY.len());
        if at < copied || bytes.get(colon) != Some(&b':') {
            continue;
        }
        let open = skip_space(bytes, colon + 1);
        if bytes.get(open) != Some(&b'[') {
            continue;
        }
        let end = open + memchr::memchr(b']', &bytes[open..])? + 1;
        skeleton.push_str(&text[copied..open]);
        let _ = write!(skeleton, "[{}]", arrays.len());
        arrays.push(&text[open..end]);
        copied = end;
    }
    skeleton.push_str(&text[copied..]);
    if arrays.is_empty() || skeleton.contains('\\') {
        return None;
    }
    let mut body: EmbeddingsBody = serde_json::from_str(&skeleton).ok()?;
    if body.data.len() != arrays.len() {
        return None;
    }
    let mut vectors: Vec<Option<Vec<f64>>> = parse_on_threads(&arrays)?;
    for item in &mut body.data {
        let [ordinal] = item.embedding[..] else {
            return None;
        };
        item.embedding = vectors.get_mut(ordinal as usize)?.take()?;
    }
    Some(body)
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(|b| b" \t\r\n".contains(b)) {
        at += 1;
    }
    at
}

/// Parses each array as a vector, in order, on up to [`MAX_PARSERS`] threads (this one
/// among them); `None` if one is not an array of numbers.
fn parse_on_threads(arrays: &[&str]) -> Option<Vec<Option<Vec<f64>>>> {
    let parse = |part: &[&str]| -> Option<Vec<Option<Vec<f64>>>> {
        part.iter()
            .map(|array| parse_vector(array).map(Some))
            .collect()
    };
    let chunk = arrays.len().div_ceil(parsers()).max(1);
    let mut parts = arrays.chunks(chunk);
    let mine = parts.next()?;
    std::thread::scope(|scope| {
        let others: Vec<_> = parts
            .map(|part| {
                std::thread::Builder::new()
                    .name("inferencekey-decode".into())
                    .spawn_scoped(scope, move || parse(part))
                    .map_err(|_| part)
            })
            .collect();
        let mut vectors = parse(mine)?;
        for other in others {
            // A thread that could not start: its part is parsed here.
            let part = match other {
                Ok(thread) => thread.join().ok()?,
                Err(part) => parse(part),
            };
            vectors.extend(part?);
        }
        Some(vectors)
    })
}

/// An array of numbers, into a vector sized by its commas first (no regrowth).
fn parse_vector(array: &str) -> Option<Vec<f64>> {
    use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};

    struct Into<'a>(&'a mut Vec<f64>);
    impl<'de> DeserializeSeed<'de> for Into<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Into<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of numbers")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
            while let Some(x) = seq.next_element()? {
                self.0.push(x);
            }
            Ok(())
        }
    }

    let mut vector = Vec::with_capacity(memchr::memchr_iter(b',', array.as_bytes()).count() + 1);
    let mut de = serde_json::Deserializer::from_str(array);
    Into(&mut vector).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(vector)
}

/// The threads a body's vectors are parsed on: the processors this process may use (read
/// once: on Linux it reads the cgroup's quota), at most [`MAX_PARSERS`].
fn parsers() -> usize {
    static PARSERS: OnceLock<usize> = OnceLock::new();
    *PARSERS.get_or_init(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_PARSERS))
    })
}

/// Vectors ordered by `index` when every element has one, else by list order.
fn embeddings_of(raw: &Value) -> Result<Vec<Vec<f64>>> {
    let data = raw
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid_response("the embeddings response has no data list"))?;
    index_order(data.iter().map(|d| d.get("index")))
        .into_iter()
        .map(|at| {
            data[at]
                .get("embedding")
                .and_then(Value::as_array)
                .and_then(|v| v.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
                .ok_or_else(|| Error::invalid_response("an embedding is not a list of numbers"))
        })
        .collect()
}

/// Positions of a list's items in `index` order when every item has an integer one, else
/// in list order (wire §7.3).
fn index_order<'a>(indices: impl Iterator<Item = Option<&'a Value>>) -> Vec<usize> {
    let mut order: Vec<(Option<u64>, usize)> = indices
        .enumerate()
        .map(|(at, index)| (index.and_then(Value::as_u64), at))
        .collect();
    if order.iter().all(|(index, _)| index.is_some()) {
        order.sort_by_key(|(index, _)| *index);
    }
    order.into_iter().map(|(_, at)| at).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lenient_of(body: &str) -> Parts {
        lenient(serde_json::from_str(body).unwrap())
    }

    #[test]
    fn embeddings_follow_index_order() {
        let raw =
            json!({"data": [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}]});
        assert_eq!(embeddings_of(&raw).unwrap(), vec![vec![1.0], vec![2.0]]);
        let raw = json!({"data": [{"embedding": [2.0]}, {"index": 0, "embedding": [1.0]}]});
        assert_eq!(embeddings_of(&raw).unwrap(), vec![vec![2.0], vec![1.0]]);
    }

    #[test]
    fn typed_embeddings_agree_with_the_value_path() {
        let usual = r#"{"object":"list","data":[{"object":"embedding","index":1,"embedding":[2.5,-1]},{"object":"embedding","index":0,"embedding":[1,0.25]}],"model":"m","usage":{"prompt_tokens":2,"total_tokens":2}}"#;
        for body in [
            usual,
            r#"{"data":[{"embedding":[2.0]},{"index":0,"embedding":[1.0]}]}"#,
            r#"{"data":[{"index":"1","embedding":[2.0]},{"index":0,"embedding":[1e-7]}]}"#,
            r#"{"data":[]}"#,
        ] {
            let (vectors, stripped) = typed(body.as_bytes()).expect(body);
            let (expected, expected_raw) = lenient_of(body);
            assert_eq!(vectors.unwrap(), expected.unwrap(), "{body}");
            assert_eq!(stripped, expected_raw, "{body}");
        }
        let (_, stripped) = typed(usual.as_bytes()).unwrap();
        assert_eq!(
            stripped["data"][0],
            json!({"object": "embedding", "index": 1})
        );
        // Unusual shapes take the lenient path, which words the error.
        for body in [
            r#"{"data":[{"index":0,"embedding":"AACAPw=="}]}"#,
            r#"{"data":[{"index":0}]}"#,
            r#"{"data":{}}"#,
            r#"{"model":"m"}"#,
        ] {
            assert!(typed(body.as_bytes()).is_none(), "{body}");
            assert_eq!(lenient_of(body).0.unwrap_err().code, "invalid_response");
        }
    }

    /// A body over [`SPLIT_FROM`]: `n` vectors of `dim` numbers, in reverse `index` order,
    /// with `extra` added to the first item.
    fn large(n: usize, dim: usize, extra: &str, sep: &str) -> String {
        let items: Vec<String> = (0..n)
            .rev()
            .map(|i| {
                let v: Vec<String> = (0..dim)
                    .map(|j| format!("{:.9}", (i * dim + j) as f64 / 7.0 - 3.0))
                    .collect();
                let extra = if i == n - 1 { extra } else { "" };
                format!(
                    r#"{{"object":"embedding","index":{i},{extra}"embedding"{sep}[{}]}}"#,
                    v.join(",")
                )
            })
            .collect();
        let body = format!(
            r#"{{"object":"list","model":"m","data":[{}],"usage":{{"prompt_tokens":3}}}}"#,
            items.join(",")
        );
        assert!(body.len() >= SPLIT_FROM);
        body
    }

    #[test]
    fn a_large_body_split_across_threads_decodes_as_in_one_pass() {
        for sep in [":", " : ", ":\n "] {
            let body = large(256, 384, "", sep);
            assert!(split(&body).is_some(), "split {sep:?}");
            let (vectors, raw) = typed(body.as_bytes()).unwrap();
            let (expected, expected_raw) = lenient_of(&body);
            let vectors = vectors.unwrap();
            assert_eq!(vectors, expected.unwrap());
            assert_eq!(raw, expected_raw);
            assert_eq!((vectors.len(), vectors[0].len()), (256, 384));
            // In `index` order, which is the reverse of the body's.
            for (i, v) in vectors.iter().enumerate() {
                assert!((v[0] - ((i * 384) as f64 / 7.0 - 3.0)).abs() < 1e-8, "{i}");
            }
        }
    }

    /// Bodies a hostile or unusual server could send. The split path declines those it cannot
    /// prove it reads as one pass would, and `typed` always agrees with one pass.
    #[test]
    fn the_split_path_declines_what_it_cannot_prove() {
        let body = || large(64, 1100, "", ":");
        let declined = [
            // An `embedding` key outside the data items, numbered like one of ours.
            body().replace(
                r#""usage":{"prompt_tokens":3}"#,
                r#""usage":{"embedding":[0]}"#,
            ),
            // Escapes: a data item's key spelled so that the text search misses it.
            large(64, 1100, r#""embedd\u0069ng_note":"x","#, ":"),
            body().replacen(r#""embedding":["#, r#""embedd\u0069ng":[0],"x":["#, 1),
            // A vector that is not a plain array of numbers.
            body().replacen(r#""embedding":["#, r#""embedding":[[1],"#, 1),
            body().replacen(r#""embedding":["#, r#""embedding":["]",1,"#, 1),
            // Two vectors in one item.
            body().replacen(r#""embedding":["#, r#""embedding":[1],"embedding":["#, 1),
        ];
        let taken = [
            // The word as a value, and as a key whose value is no array.
            large(64, 1100, r#""kind":"embedding","#, ":"),
            large(64, 1100, r#""meta":{"embedding":7},"#, ":"),
        ];
        for (body, splits) in declined
            .iter()
            .map(|b| (b, false))
            .chain(taken.iter().map(|b| (b, true)))
        {
            assert_eq!(split(body).is_some(), splits, "{}", &body[..160]);
            let one_pass = serde_json::from_str::<EmbeddingsBody>(body)
                .ok()
                .map(EmbeddingsBody::into_parts);
            match (typed(body.as_bytes()), one_pass) {
                (Some((got, got_raw)), Some((want, want_raw))) => {
                    assert_eq!(got.unwrap(), want.unwrap());
                    assert_eq!(got_raw, want_raw);
                }
                (None, None) => {}
                (got, want) => panic!("typed {} vs one pass {}", got.is_some(), want.is_some()),
            }
        }
    }
}
