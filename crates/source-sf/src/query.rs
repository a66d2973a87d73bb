//! Request URLs for the `PerPerson` entity set.

use jiff::civil::Date;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::filter::{Filter, date_param};

/// Characters escaped in a query parameter value. OData's own punctuation
/// (`$ ' ( ) / , :`) stays readable, as in SuccessFactors' audit log; anything
/// that would end or split a parameter (`& = + #`), `%`, spaces, quotes and
/// non-ASCII bytes are percent-encoded.
const VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Percent-encode one query parameter value.
pub fn encode_value(v: &str) -> String {
    utf8_percent_encode(v, VALUE).to_string()
}

/// A query on `PerPerson`.
#[derive(Debug, Clone, Default)]
pub struct PersonQuery {
    pub filter: Option<Filter>,
    /// Navigation paths to expand (see `hrsync_mapping`'s expand derivation).
    pub expand: Vec<String>,
    pub select: Vec<String>,
    /// What of each record to keep while parsing (`$select`-style paths
    /// applied on our side; `None`: everything). Not sent.
    pub keep: Option<std::sync::Arc<crate::wire::Projection>>,
    /// Effective date for every effective-dated level (pre-hires: their start date).
    pub as_of: Option<Date>,
    /// Server page size (`customPageSize`, at most 1000 on SuccessFactors).
    pub page_size: u32,
    /// `paging=snapshot`: the server keeps the query's keys, so pages neither
    /// repeat nor skip workers while HR edits happen during the read.
    pub snapshot: bool,
}

impl PersonQuery {
    /// The path and query string, relative to the OData root (`.../odata/v2/`).
    pub fn relative_url(&self) -> String {
        self.build("PerPerson", true)
    }

    /// The `$count` request for the same filter (a bare integer comes back).
    pub fn count_url(&self) -> String {
        self.build("PerPerson/$count", false)
    }

    fn build(&self, path: &str, collection: bool) -> String {
        let mut params: Vec<(&str, String)> = vec![("$format", "json".into())];
        if collection {
            params.push(("customPageSize", self.page_size.clamp(1, 1000).to_string()));
            if self.snapshot {
                params.push(("paging", "snapshot".into()));
            }
        }
        if let Some(f) = &self.filter {
            params.push(("$filter", f.to_string()));
        }
        if let Some(d) = self.as_of {
            params.push(("asOfDate", date_param(d)));
        }
        if collection && !self.expand.is_empty() {
            params.push(("$expand", self.expand.join(",")));
        }
        if collection && !self.select.is_empty() {
            params.push(("$select", self.select.join(",")));
        }
        let mut url = String::from(path);
        for (i, (k, v)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(&encode_value(v));
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{CmpOp, Filter};

    #[test]
    fn url_keeps_odata_punctuation_and_escapes_the_rest() {
        let q = PersonQuery {
            filter: Some(Filter::cmp("lastName", CmpOp::Eq, "Smith & Sons=1+1 #x 李")),
            expand: vec!["employmentNav/userNav".into(), "emailNav".into()],
            page_size: 5000,
            snapshot: true,
            ..Default::default()
        };
        assert_eq!(
            q.relative_url(),
            "PerPerson?$format=json&customPageSize=1000&paging=snapshot\
             &$filter=lastName%20eq%20'Smith%20%26%20Sons%3D1%2B1%20%23x%20%E6%9D%8E'\
             &$expand=employmentNav/userNav,emailNav"
        );
        assert_eq!(
            q.count_url(),
            "PerPerson/$count?$format=json&$filter=lastName%20eq%20'Smith%20%26%20Sons%3D1%2B1%20%23x%20%E6%9D%8E'"
        );
    }

    #[test]
    fn as_of_date_param() {
        let q = PersonQuery {
            as_of: Some(jiff::civil::date(2023, 6, 1)),
            page_size: 100,
            ..Default::default()
        };
        assert_eq!(
            q.relative_url(),
            "PerPerson?$format=json&customPageSize=100&asOfDate=2023-06-01"
        );
    }
}
