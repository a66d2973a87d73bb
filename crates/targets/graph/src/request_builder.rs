//! Pure builders for the smallest Graph requests. Only a part of step 3 of
//! issue 16: the employeeId filter, the manager reference and the disable
//! body. Create/PATCH bodies and `$batch` are not written yet.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

// Everything but the unreserved characters of RFC 3986 is encoded, so a
// quote, space or `&` in an employee id cannot break out of the query.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The query string finding a user by employeeId. OData doubles a single
/// quote inside a string literal; the whole filter is then URL-encoded.
pub fn employee_id_filter(employee_id: &str) -> String {
    let literal = employee_id.replace('\'', "''");
    let filter = format!("employeeId eq '{literal}'");
    format!("$filter={}", utf8_percent_encode(&filter, QUERY))
}

/// Body of `PUT /users/{id}/manager/$ref`.
pub fn manager_ref_body(graph_url: &str, manager_id: &str) -> Value {
    json!({ "@odata.id": format!("{}/v1.0/users/{}", graph_url.trim_end_matches('/'), manager_id) })
}

/// Body of the PATCH that disables an account.
pub fn disable_body() -> Value {
    json!({ "accountEnabled": false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_escapes_quotes_and_encodes() {
        assert_eq!(
            employee_id_filter("O'Hara 1&x"),
            "$filter=employeeId%20eq%20%27O%27%27Hara%201%26x%27"
        );
    }

    #[test]
    fn manager_and_disable() {
        assert_eq!(
            manager_ref_body("https://graph.microsoft.com/", "abc")["@odata.id"],
            "https://graph.microsoft.com/v1.0/users/abc"
        );
        assert_eq!(disable_body(), json!({"accountEnabled": false}));
    }
}
