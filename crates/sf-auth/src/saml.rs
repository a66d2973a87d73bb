//! The SAML 2.0 bearer assertion for SuccessFactors' `/oauth/token`.
//!
//! No maintained Rust crate signs XML without the libxml2/xmlsec C libraries
//! (samael needs them), so the assertion is emitted *already* in Exclusive XML
//! Canonicalization form (no XML declaration, no whitespace between elements,
//! attributes sorted, each namespace declared on the element that first uses
//! it, `<a></a>` never `<a/>`, c14n escaping). Canonicalizing what we emit is
//! then the identity, and the digest and signature can be computed over the
//! bytes we write. Tests prove the result with `xmlsec1 --verify`.
//!
//! Shape (schema order): `Issuer`, `ds:Signature` (enveloped, RSA-SHA256,
//! exc-c14n, `Reference URI="#<ID>"`), `Subject` (NameID = userId, bearer
//! confirmation with `Recipient` = token URL), `Conditions` (+ `Audience`),
//! `AuthnStatement`, `AttributeStatement` (`api_key` = client id).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::AuthError;
use crate::keys::SigningKey;

const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// What goes into one assertion.
#[derive(Debug, Clone)]
pub struct AssertionParams<'a> {
    /// `Issuer` and the `api_key` attribute: the OAuth client id (API key).
    pub client_id: &'a str,
    /// `NameID`: the SuccessFactors userId of the API user.
    pub user_id: &'a str,
    pub audience: &'a str,
    /// `Recipient`: the token endpoint URL.
    pub recipient: &'a str,
    pub issued_at: jiff::Timestamp,
    pub lifetime_secs: u64,
    /// The XML `ID`; must be an NCName (start with a letter or `_`).
    pub id: &'a str,
}

/// A signed assertion as XML text (base64 it for the `assertion` form field).
/// `certificate_der`, when given, goes into `KeyInfo/X509Data`.
pub fn signed_assertion(
    p: &AssertionParams<'_>,
    key: &SigningKey,
    certificate_der: Option<&[u8]>,
) -> Result<String, AuthError> {
    for (what, value) in [
        ("client_id", p.client_id),
        ("user_id", p.user_id),
        ("audience", p.audience),
        ("token URL", p.recipient),
    ] {
        if value.is_empty() || value.chars().any(|c| !is_xml_char(c)) {
            return Err(AuthError::Config(format!(
                "{what} `{}` cannot be written into a SAML assertion",
                value.escape_debug()
            )));
        }
    }
    if !p.id.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
        || !p.id.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return Err(AuthError::Config(format!("assertion ID `{}` is not an NCName", p.id)));
    }
    let lifetime = i64::try_from(p.lifetime_secs).unwrap_or(i64::MAX);
    let now = instant(p.issued_at);
    let until = instant(
        p.issued_at
            .saturating_add(jiff::SignedDuration::from_secs(lifetime))
            .unwrap_or(p.issued_at),
    );

    let mut head = Xml::default();
    head.open(
        "saml2:Assertion",
        Some(("saml2", SAML_NS)),
        &[("ID", p.id), ("IssueInstant", &now), ("Version", "2.0")],
    );
    head.text_element("saml2:Issuer", &[], p.client_id);

    let mut tail = Xml::default();
    tail.open("saml2:Subject", None, &[]);
    tail.text_element(
        "saml2:NameID",
        &[("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")],
        p.user_id,
    );
    tail.open(
        "saml2:SubjectConfirmation",
        None,
        &[("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")],
    );
    tail.text_element(
        "saml2:SubjectConfirmationData",
        &[("NotOnOrAfter", &until), ("Recipient", p.recipient)],
        "",
    );
    tail.close("saml2:SubjectConfirmation");
    tail.close("saml2:Subject");
    tail.open("saml2:Conditions", None, &[("NotBefore", &now), ("NotOnOrAfter", &until)]);
    tail.open("saml2:AudienceRestriction", None, &[]);
    tail.text_element("saml2:Audience", &[], p.audience);
    tail.close("saml2:AudienceRestriction");
    tail.close("saml2:Conditions");
    tail.open("saml2:AuthnStatement", None, &[("AuthnInstant", &now), ("SessionIndex", p.id)]);
    tail.open("saml2:AuthnContext", None, &[]);
    tail.text_element(
        "saml2:AuthnContextClassRef",
        &[],
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
    );
    tail.close("saml2:AuthnContext");
    tail.close("saml2:AuthnStatement");
    tail.open("saml2:AttributeStatement", None, &[]);
    tail.open("saml2:Attribute", None, &[("Name", "api_key")]);
    tail.text_element("saml2:AttributeValue", &[], p.client_id);
    tail.close("saml2:Attribute");
    tail.close("saml2:AttributeStatement");
    tail.close("saml2:Assertion");

    // Enveloped-signature transform: the digest covers the assertion without
    // its Signature, i.e. exactly head + tail.
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        [head.0.as_bytes(), tail.0.as_bytes()].concat().as_slice(),
    );
    let reference = format!("#{}", p.id);
    let signed_info = |ns: Option<(&str, &str)>| {
        let mut x = Xml::default();
        x.open("ds:SignedInfo", ns, &[]);
        x.text_element("ds:CanonicalizationMethod", &[("Algorithm", EXC_C14N)], "");
        x.text_element("ds:SignatureMethod", &[("Algorithm", RSA_SHA256)], "");
        x.open("ds:Reference", None, &[("URI", &reference)]);
        x.open("ds:Transforms", None, &[]);
        x.text_element("ds:Transform", &[("Algorithm", ENVELOPED)], "");
        x.text_element("ds:Transform", &[("Algorithm", EXC_C14N)], "");
        x.close("ds:Transforms");
        x.text_element("ds:DigestMethod", &[("Algorithm", SHA256)], "");
        x.text_element("ds:DigestValue", &[], &STANDARD.encode(digest.as_ref()));
        x.close("ds:Reference");
        x.close("ds:SignedInfo");
        x.0
    };
    // Canonicalized on its own, SignedInfo carries the `ds` declaration it
    // inherits in the document (exc-c14n renders visibly used namespaces).
    let signature_value = key.sign(signed_info(Some(("ds", DS_NS))).as_bytes())?;

    let mut sig = Xml::default();
    sig.open("ds:Signature", Some(("ds", DS_NS)), &[]);
    sig.0.push_str(&signed_info(None));
    sig.text_element("ds:SignatureValue", &[], &STANDARD.encode(signature_value));
    if let Some(der) = certificate_der {
        sig.open("ds:KeyInfo", None, &[]);
        sig.open("ds:X509Data", None, &[]);
        sig.text_element("ds:X509Certificate", &[], &STANDARD.encode(der));
        sig.close("ds:X509Data");
        sig.close("ds:KeyInfo");
    }
    sig.close("ds:Signature");
    Ok([head.0, sig.0, tail.0].concat())
}

/// `xs:dateTime` in UTC with second precision, as SAML expects.
fn instant(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// XML 1.0 `Char`, minus the whitespace controls c14n would have to escape in
/// values we never need them in.
fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// A writer that emits canonical XML for the small vocabulary above.
#[derive(Default)]
struct Xml(String);

impl Xml {
    /// Start tag: the namespace declaration first, then attributes sorted by
    /// name (all are unqualified, so c14n orders them by local name).
    fn open(&mut self, name: &str, ns: Option<(&str, &str)>, attrs: &[(&str, &str)]) {
        self.0.push('<');
        self.0.push_str(name);
        if let Some((prefix, uri)) = ns {
            self.0.push_str(" xmlns:");
            self.0.push_str(prefix);
            self.0.push_str("=\"");
            escape_attr(&mut self.0, uri);
            self.0.push('"');
        }
        let mut sorted: Vec<&(&str, &str)> = attrs.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in sorted {
            self.0.push(' ');
            self.0.push_str(k);
            self.0.push_str("=\"");
            escape_attr(&mut self.0, v);
            self.0.push('"');
        }
        self.0.push('>');
    }

    fn close(&mut self, name: &str) {
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push('>');
    }

    fn text_element(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.open(name, None, attrs);
        escape_text(&mut self.0, text);
        self.close(name);
    }
}

/// c14n text escaping: `&`, `<`, `>` and CR.
fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// c14n attribute escaping: `&`, `<`, `"`, TAB, LF, CR.
fn escape_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_way_c14n_does_and_rejects_control_characters() {
        let mut s = String::new();
        escape_text(&mut s, "a&b<c>d\"e");
        assert_eq!(s, "a&amp;b&lt;c&gt;d\"e");
        let mut s = String::new();
        escape_attr(&mut s, "a&b<c>d\"e");
        assert_eq!(s, "a&amp;b&lt;c>d&quot;e");
        let key = SigningKey::generate().unwrap();
        let p = AssertionParams {
            client_id: "K",
            user_id: "bad\u{1}user",
            audience: "www.successfactors.com",
            recipient: "https://x/oauth/token",
            issued_at: jiff::Timestamp::UNIX_EPOCH,
            lifetime_secs: 60,
            id: "_a",
        };
        assert!(matches!(signed_assertion(&p, &key, None), Err(AuthError::Config(_))));
        let ok = signed_assertion(&AssertionParams { user_id: "O'Neil & Co <x>", ..p }, &key, None)
            .unwrap();
        assert!(ok.contains("<saml2:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">O'Neil &amp; Co &lt;x&gt;</saml2:NameID>"));
        assert!(ok.starts_with("<saml2:Assertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_a\" IssueInstant=\"1970-01-01T00:00:00Z\" Version=\"2.0\"><saml2:Issuer>K</saml2:Issuer><ds:Signature xmlns:ds="));
    }
}
