//! Decoding a list (and one) workload from any JSON body: a result or a typed error, never a
//! panic; every decoded workload has a slug. The fast path of `ensure()` (`find_in_list`)
//! finds what the full decoder finds whenever it answers, and declines what it refuses.
#![no_main]

use inferencekey_core::workload::{decode_list, decode_one, find_by_slug, find_in_list};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        assert!(find_in_list(data, "a").is_none());
        return;
    };
    let list = decode_list(&body);
    if let Ok(list) = &list {
        assert!(list.iter().all(|w| !w.slug.is_empty()));
    }
    // Look for a listed slug when there is one, so that matches are exercised too.
    let slug = match &list {
        Ok(list) if !list.is_empty() => list[list.len() / 2].slug.clone(),
        _ => "a".to_owned(),
    };
    if let Some(found) = find_in_list(data, &slug) {
        let list = list
            .as_ref()
            .expect("the fast path answered a list the decoder refuses");
        assert_eq!(found.as_ref(), find_by_slug(list, &slug));
    }
    let _ = decode_one(&body);
});
