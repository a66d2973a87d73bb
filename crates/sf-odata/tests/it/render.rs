//! Rendering: golden strings for the SuccessFactors JSON shapes.

use crate::common;

use common::*;
use sf_odata::edm::{EntityType, schema};
use sf_odata::entity::NavView;
use sf_odata::query::QueryOptions;
use sf_odata::render::{
    RenderContext, key_predicate, write_collection_page, write_entity, write_single,
};
use sf_odata::value::ODataValue;

const ROOT: &str = "https://api4.successfactors.com:443/odata/v2";

fn entity(name: &str) -> &'static EntityType {
    schema().entity(name).expect("entity")
}

fn ctx(as_of: Option<&str>, today: &str) -> RenderContext<'static> {
    RenderContext { service_root: ROOT, as_of_date: as_of.map(day), today: day(today) }
}

fn render(node: &Toy, query: &str, c: &RenderContext<'_>) -> String {
    let q = QueryOptions::parse(query, node.ty).unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    write_single(&mut out, node, c, q.select.as_ref(), &q.expand);
    // Every rendering is valid JSON.
    serde_json::from_str::<serde_json::Value>(&out)
        .unwrap_or_else(|e| panic!("invalid JSON {e}: {out}"));
    out
}

#[test]
fn key_predicates() {
    let cases: Vec<(Toy, &str)> = vec![
        (Toy::new("PerPerson").s("personIdExternal", "103208"), "('103208')"),
        (Toy::new("PerPerson").s("personIdExternal", "O'Neil"), "('O''Neil')"),
        (Toy::new("PerPerson").s("personIdExternal", "a b/c&d#é"), "('a%20b%2Fc%26d%23%C3%A9')"),
        (Toy::new("PerPerson").s("personIdExternal", "'é' ''x"), "('''%C3%A9''%20''''x')"),
        (
            job("103208", 1, "2024-01-01", "9999-12-31", "2024-01-01T00:00:00Z", "x"),
            "(seqNumber=1L,startDate=datetime'2024-01-01T00:00:00',userId='103208')",
        ),
        (
            Toy::new("PerPersonal").s("personIdExternal", "x").p("startDate", date("2023-01-01")),
            "(personIdExternal='x',startDate=datetime'2023-01-01T00:00:00')",
        ),
        (
            Toy::new("PerEmail").s("emailType", "8448").s("personIdExternal", "x"),
            "(emailType='8448',personIdExternal='x')",
        ),
        (Toy::new("PicklistOption").p("id", ODataValue::Int64(4595)), "(4595L)"),
    ];
    for (node, want) in cases {
        assert_eq!(key_predicate(&node), want);
    }
}

#[test]
fn deferred_navigations_and_property_order() {
    let p = Toy::new("PerPerson")
        .s("personIdExternal", "1")
        .p("personId", ODataValue::Int64(5))
        .p("dateOfBirth", date("1969-12-31"));
    let got = render(
        &p,
        "$select=personId,personIdExternal,dateOfBirth,emailNav",
        &ctx(None, "2024-05-01"),
    );
    assert_eq!(
        got,
        concat!(
            r#"{"d":{"__metadata":{"uri":"https://api4.successfactors.com:443/odata/v2/PerPerson('1')","type":"SFOData.PerPerson"},"#,
            r#""personIdExternal":"1","personId":"5","dateOfBirth":"/Date(-86400000)/","#,
            r#""emailNav":{"__deferred":{"uri":"https://api4.successfactors.com:443/odata/v2/PerPerson('1')/emailNav"}}}}"#
        )
    );
    // Without $select every property (null when unset) and every navigation appears.
    let all = render(&p, "", &ctx(None, "2024-05-01"));
    let v: serde_json::Value = serde_json::from_str(&all).expect("json");
    let d = v["d"].as_object().expect("object");
    let ty = entity("PerPerson");
    let want: Vec<&str> = std::iter::once("__metadata")
        .chain(ty.properties.iter().map(|p| p.name))
        .chain(ty.navs.iter().map(|n| n.name))
        .collect();
    assert_eq!(d.len(), want.len(), "every property and navigation, nothing else");
    // Order as SuccessFactors writes it, read off the text (serde_json's map
    // does not keep it): each top-level key appears once, in schema order.
    let positions: Vec<usize> = want
        .iter()
        .map(|k| all.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("{k} missing")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "schema order: {want:?} at {positions:?}");
    assert_eq!(d["perPersonUuid"], serde_json::Value::Null);
    assert_eq!(
        d["employmentNav"]["__deferred"]["uri"],
        format!("{ROOT}/PerPerson('1')/employmentNav")
    );
}

#[test]
fn expanded_tree_with_nested_select() {
    let w = worker("103208");
    let got = render(
        &w,
        "$select=personIdExternal,employmentNav/userNav/username,employmentNav/jobInfoNav/jobTitle,personEmpTerminationInfoNav,emailNav/emailAddress&$expand=employmentNav/userNav,employmentNav/jobInfoNav,personEmpTerminationInfoNav,emailNav",
        &ctx(None, "2024-05-01"),
    );
    let want = concat!(
        r#"{"d":{"__metadata":{"uri":"https://api4.successfactors.com:443/odata/v2/PerPerson('103208')","type":"SFOData.PerPerson"},"personIdExternal":"103208","#,
        r#""emailNav":{"results":[{"__metadata":{"uri":"https://api4.successfactors.com:443/odata/v2/PerEmail(emailType='8448',personIdExternal='103208')","type":"SFOData.PerEmail"},"emailAddress":"ana.mueller@example.com"}]},"#,
        r#""employmentNav":{"results":[{"__metadata":{"uri":"https://api4.successfactors.com:443/odata/v2/EmpEmployment(personIdExternal='103208',userId='103208')","type":"SFOData.EmpEmployment"},"#,
        r#""userNav":{"__metadata":{"uri":"https://api4.successfactors.com:443/odata/v2/User('103208')","type":"SFOData.User"},"username":"amueller"},"#,
        r#""jobInfoNav":{"results":[{"__metadata":{"uri":"https://api4.successfactors.com:443/odata/v2/EmpJob(seqNumber=1L,startDate=datetime'2023-01-01T00:00:00',userId='103208')","type":"SFOData.EmpJob"},"jobTitle":"Engineer"}]}}]},"#,
        r#""personEmpTerminationInfoNav":{"__metadata":{"uri":"https://api4.successfactors.com:443/odata/v2/PersonEmpTerminationInfo('103208')","type":"SFOData.PersonEmpTerminationInfo"},"personIdExternal":"103208","activeEmploymentsCount":1,"latestTerminationDate":null}}}"#
    );
    assert_eq!(got, want);
}

#[test]
fn effective_dating_view() {
    let w = worker("1");
    let q = "$select=employmentNav/jobInfoNav/jobTitle&$expand=employmentNav/jobInfoNav";
    let titles = |c: &RenderContext<'_>| {
        let v: serde_json::Value = serde_json::from_str(&render(&w, q, c)).expect("json");
        v["d"]["employmentNav"]["results"][0]["jobInfoNav"]["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|j| j["jobTitle"].as_str().unwrap_or("?").to_owned())
            .collect::<Vec<_>>()
    };
    // Today decides without asOfDate; asOfDate overrides today.
    assert_eq!(titles(&ctx(None, "2024-05-01")), ["Engineer"]);
    assert_eq!(titles(&ctx(None, "2024-07-01")), ["Senior Engineer"]);
    assert_eq!(titles(&ctx(Some("2024-07-01"), "2024-05-01")), ["Senior Engineer"]);
    // A pre-hire: nothing valid today → empty results, not a missing key.
    assert_eq!(titles(&ctx(None, "2022-01-01")), Vec::<String>::new());

    // Children of an effective-dated entity use its own start date.
    let j = job("1", 1, "2024-07-01", "9999-12-31", "2024-01-01T00:00:00Z", "x").one(
        "companyNav",
        Toy::new("FOCompany").s("externalCode", "OLD").p("startDate", date("2020-01-01")),
    );
    let mut j = j;
    j.navs[0]
        .1
        .push(Toy::new("FOCompany").s("externalCode", "NEW").p("startDate", date("2024-07-01")));
    let c = ctx(None, "2024-05-01");
    let mut out = String::new();
    let expand = QueryOptions::parse("$expand=companyNav&$select=companyNav/externalCode", j.ty)
        .expect("query");
    write_entity(&mut out, &j, &c, expand.select.as_ref(), &expand.expand, c.view_for(&j));
    assert!(out.contains(r#""externalCode":"NEW""#), "{out}");
    // The caller's view is used for the top node's navigations.
    out.clear();
    write_entity(
        &mut out,
        &j,
        &c,
        expand.select.as_ref(),
        &expand.expand,
        NavView::AsOf(day("2021-01-01")),
    );
    assert!(out.contains(r#""externalCode":"OLD""#), "{out}");
}

#[test]
fn expanded_to_one_null_and_empty_to_many() {
    let p = Toy::new("PerPerson").s("personIdExternal", "9");
    let got = render(
        &p,
        "$select=personEmpTerminationInfoNav,emailNav&$expand=personEmpTerminationInfoNav,emailNav",
        &ctx(None, "2024-01-01"),
    );
    assert_eq!(
        got,
        r#"{"d":{"__metadata":{"uri":"https://api4.successfactors.com:443/odata/v2/PerPerson('9')","type":"SFOData.PerPerson"},"emailNav":{"results":[]},"personEmpTerminationInfoNav":null}}"#
    );
}

#[test]
fn expanded_record_count_follows_the_rendered_view() {
    let q = QueryOptions::parse(
        "$expand=employmentNav/jobInfoNav,employmentNav/userNav,emailNav",
        entity("PerPerson"),
    )
    .expect("query");
    let w = worker("1");
    let c = ctx(None, "2024-05-01");
    // employment + its user + one current job slice + one email.
    assert_eq!(sf_odata::render::expanded_record_count(&w, &c, &q.expand, c.view_for(&w)), 4);
    assert_eq!(sf_odata::render::expanded_record_count(&w, &c, &q.expand, NavView::AllSlices), 4);
    let none = QueryOptions::parse("", entity("PerPerson")).expect("query");
    assert_eq!(sf_odata::render::expanded_record_count(&w, &c, &none.expand, c.view_for(&w)), 0);
}

#[test]
fn collection_pages() {
    let people = [
        Toy::new("PerPerson").s("personIdExternal", "a\"b"),
        Toy::new("PerPerson").s("personIdExternal", "c"),
    ];
    let q = QueryOptions::parse("$select=personIdExternal", entity("PerPerson")).expect("query");
    let c = ctx(None, "2024-01-01");
    let mut out = String::new();
    write_collection_page(
        &mut out,
        people.iter(),
        &c,
        q.select.as_ref(),
        &q.expand,
        Some("https://h/next?$skiptoken=x"),
        None,
    );
    assert_eq!(
        out,
        concat!(
            r#"{"d":{"results":[{"__metadata":{"uri":"https://api4.successfactors.com:443/odata/v2/PerPerson('a%22b')","type":"SFOData.PerPerson"},"personIdExternal":"a\"b"},"#,
            r#"{"__metadata":{"uri":"https://api4.successfactors.com:443/odata/v2/PerPerson('c')","type":"SFOData.PerPerson"},"personIdExternal":"c"}],"#,
            r#""__next":"https://h/next?$skiptoken=x"}}"#
        )
    );
    // Last page: no __next key at all; inline count first, as a string.
    out.clear();
    write_collection_page(&mut out, people.iter().take(0), &c, None, &q.expand, None, Some(1155));
    assert_eq!(out, r#"{"d":{"__count":"1155","results":[]}}"#);
}

#[test]
fn full_entra_tree_renders_valid_json() {
    let q = "$expand=employmentNav/userNav,employmentNav/jobInfoNav,personalInfoNav,personEmpTerminationInfoNav,phoneNav,emailNav,employmentNav/userNav/manager/empInfo,employmentNav/jobInfoNav/companyNav/countryOfRegistrationNav";
    let got = render(&worker("1"), q, &ctx(None, "2024-05-01"));
    let v: serde_json::Value = serde_json::from_str(&got).expect("json");
    let d = &v["d"];
    assert_eq!(d["personalInfoNav"]["results"][0]["lastName"], "Müller");
    assert_eq!(d["personId"], "467");
    assert_eq!(d["lastModifiedDateTime"], "/Date(1714638600000+0000)/");
    assert_eq!(d["employmentNav"]["results"][0]["userNav"]["manager"], serde_json::Value::Null);
    assert_eq!(
        d["employmentNav"]["results"][0]["jobInfoNav"]["results"][0]["companyNav"],
        serde_json::Value::Null
    );
    assert_eq!(
        d["employmentNav"]["results"][0]["jobInfoNav"]["results"][0]["departmentNav"]["__deferred"]
            ["uri"],
        format!(
            "{ROOT}/EmpJob(seqNumber=1L,startDate=datetime'2023-01-01T00:00:00',userId='1')/departmentNav"
        )
    );
}

/// A node that counts its property reads and may offer a fragment key.
struct Keyed<'a> {
    toy: &'a Toy,
    key: Option<usize>,
    reads: std::cell::Cell<usize>,
}

impl sf_odata::entity::EntityNode for Keyed<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.toy.ty
    }
    fn property(&self, name: &str) -> ODataValue {
        self.reads.set(self.reads.get() + 1);
        self.toy.property(name)
    }
    fn navigate(
        &self,
        nav: &str,
        view: NavView,
        visit: &mut dyn FnMut(&dyn sf_odata::entity::EntityNode),
    ) {
        self.toy.navigate(nav, view, visit)
    }
    fn fragment_key(&self) -> Option<usize> {
        self.key
    }
}

#[test]
fn a_keyed_entity_is_rendered_once_per_page_and_reused_byte_for_byte() {
    let company = |code: &str| {
        Toy::new("FOCompany")
            .s("externalCode", code)
            .s("name", "ACE \"Corp\"")
            .p("startDate", date("1900-01-01"))
    };
    let (a, b) = (company("ACE_US"), company("ACE_DE"));
    let q = QueryOptions::parse("$select=externalCode,name,countryOfRegistrationNav", a.ty)
        .unwrap_or_else(|e| panic!("{e}"));
    let c = ctx(None, "2024-05-01");
    let page = |key_a: Option<usize>, key_b: Option<usize>| {
        let nodes = [
            Keyed { toy: &a, key: key_a, reads: Default::default() },
            Keyed { toy: &b, key: key_b, reads: Default::default() },
            Keyed { toy: &a, key: key_a, reads: Default::default() },
        ];
        let mut out = String::new();
        write_collection_page(&mut out, nodes.iter(), &c, q.select.as_ref(), &q.expand, None, None);
        (out, nodes.map(|n| n.reads.get()))
    };
    let (plain, plain_reads) = page(None, None);
    let (keyed, keyed_reads) = page(Some(1), Some(2));
    assert_eq!(keyed, plain, "reuse changes no byte");
    assert!(plain_reads.iter().all(|&r| r > 0));
    // The third row reads only its start date (its view), then copies the first row's bytes.
    assert_eq!(
        keyed_reads,
        [plain_reads[0], plain_reads[1], 1],
        "the third row reuses the first one's bytes"
    );
    // Same type and key means same data: a wrong key would show B's bytes for A.
    let (wrong, _) = page(Some(1), Some(1));
    assert_ne!(wrong, plain);
}

/// Atom XML (what SuccessFactors answers without `$format=json`): the same
/// selection, expansion and values as the JSON rendering, as an entry with
/// typed `<d:…>` properties, `<m:inline>` expansions and deferred links.
#[test]
fn atom_entry_and_feed() {
    use sf_odata::atom;
    let w = worker("103208");
    let c = ctx(None, "2024-05-01");
    let q = QueryOptions::parse(
        "$select=personIdExternal,personId,lastModifiedDateTime,emailNav/emailAddress,emailNav/isPrimary,personEmpTerminationInfoNav&$expand=emailNav,personEmpTerminationInfoNav",
        w.ty,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    atom::write_entry_document(&mut out, &w, &c, q.select.as_ref(), &q.expand, 1_714_638_600_000);
    let want = concat!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n",
        r#"<entry xml:base="https://api4.successfactors.com:443/odata/v2/" xmlns="http://www.w3.org/2005/Atom" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices">"#,
        r#"<id>https://api4.successfactors.com:443/odata/v2/PerPerson('103208')</id><title type="text"></title><updated>2024-05-02T08:30:00Z</updated><author><name></name></author>"#,
        r#"<link rel="edit" title="PerPerson" href="PerPerson('103208')"/>"#,
        r#"<link rel="http://schemas.microsoft.com/ado/2007/08/dataservices/related/emailNav" type="application/atom+xml;type=feed" title="emailNav" href="PerPerson('103208')/emailNav"><m:inline><feed><title type="text">emailNav</title><id>https://api4.successfactors.com:443/odata/v2/PerPerson('103208')/emailNav</id><updated>2024-05-02T08:30:00Z</updated>"#,
        r#"<entry><id>https://api4.successfactors.com:443/odata/v2/PerEmail(emailType='8448',personIdExternal='103208')</id><title type="text"></title><updated>2024-05-02T08:30:00Z</updated><author><name></name></author><link rel="edit" title="PerEmail" href="PerEmail(emailType='8448',personIdExternal='103208')"/><category term="SFOData.PerEmail" scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"/><content type="application/xml"><m:properties><d:emailAddress>ana.mueller@example.com</d:emailAddress><d:isPrimary m:type="Edm.Boolean">true</d:isPrimary></m:properties></content></entry>"#,
        r#"</feed></m:inline></link>"#,
        r#"<link rel="http://schemas.microsoft.com/ado/2007/08/dataservices/related/personEmpTerminationInfoNav" type="application/atom+xml;type=entry" title="personEmpTerminationInfoNav" href="PerPerson('103208')/personEmpTerminationInfoNav"><m:inline><entry><id>https://api4.successfactors.com:443/odata/v2/PersonEmpTerminationInfo('103208')</id><title type="text"></title><updated>2024-05-02T08:30:00Z</updated><author><name></name></author><link rel="edit" title="PersonEmpTerminationInfo" href="PersonEmpTerminationInfo('103208')"/><category term="SFOData.PersonEmpTerminationInfo" scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"/><content type="application/xml"><m:properties><d:personIdExternal>103208</d:personIdExternal><d:activeEmploymentsCount m:type="Edm.Int32">1</d:activeEmploymentsCount><d:latestTerminationDate m:null="true"/></m:properties></content></entry></m:inline></link>"#,
        r#"<category term="SFOData.PerPerson" scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"/><content type="application/xml"><m:properties><d:personIdExternal>103208</d:personIdExternal><d:personId m:type="Edm.Int64">467</d:personId><d:lastModifiedDateTime m:type="Edm.DateTimeOffset">2024-05-02T08:30:00Z</d:lastModifiedDateTime></m:properties></content></entry>"#,
    );
    assert_eq!(out, want);

    // A feed: the count of all matches, entries, the next link; unexpanded
    // navigations are plain links.
    let mut feed = String::new();
    let q = QueryOptions::parse("$select=personIdExternal,emailNav", w.ty)
        .unwrap_or_else(|e| panic!("{e}"));
    atom::write_feed(
        &mut feed,
        "PerPerson",
        [&w],
        &c,
        q.select.as_ref(),
        &q.expand,
        Some("https://h/odata/v2/PerPerson?$skiptoken=x&a=b"),
        Some(91),
        0,
    );
    assert!(feed.contains("<m:count>91</m:count><entry>"), "{feed}");
    assert!(feed.contains(r#"title="emailNav" href="PerPerson('103208')/emailNav"/>"#), "{feed}");
    assert!(
        feed.ends_with(
            r#"<link rel="next" href="https://h/odata/v2/PerPerson?$skiptoken=x&amp;a=b"/></feed>"#
        ),
        "{feed}"
    );
    assert!(feed.contains("<updated>1970-01-01T00:00:00Z</updated>"));
}

#[test]
fn atom_escapes_text_and_drops_what_xml_cannot_carry() {
    let mut out = String::new();
    sf_odata::atom::push_property(
        &mut out,
        "lastName",
        &ODataValue::String("O'Neil <b>&\u{1} \"x\"".into()),
    );
    assert_eq!(out, "<d:lastName>O'Neil &lt;b&gt;&amp;\u{FFFD} &quot;x&quot;</d:lastName>");
    let mut out = String::new();
    sf_odata::atom::push_property(
        &mut out,
        "d",
        &ODataValue::DateTimeOffset { ms: 0, offset_minutes: -90 },
    );
    assert_eq!(out, "<d:d m:type=\"Edm.DateTimeOffset\">1969-12-31T22:30:00-01:30</d:d>");
}
