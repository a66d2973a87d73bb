"""Drives the hrsync SuccessFactors emulator with SAP's own OData v2 client
(pyodata, from PyPI) -- a client hrsync did not write.

Run by crates/sf-emulator/tests/it/odata_clients.rs (inside `cargo test`):
    python pyodata_suite.py SERVICE_ROOT USER PASSWORD FIXTURE_JSON

Every check prints one `ok:` line; the first failure raises, which exits
non-zero with the reason.
"""

import datetime
import json
import sys

import pyodata
import requests
from pyodata.v2.model import Collection

ROOT, USER, PASSWORD, FIXTURE = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])

# Microsoft Entra's documented queries (MicrosoftDocs/entra-docs,
# sap-successfactors-integration-reference.md). The full-sync example list,
# plus emplStatusNav, which Entra adds when emplStatus is mapped (as the
# reference tells every admin to do).
FULL_EXPAND = ("employmentNav/userNav,employmentNav/jobInfoNav,personalInfoNav,personEmpTerminationInfoNav,"
               "phoneNav,emailNav,employmentNav/jobInfoNav/companyNav/countryOfRegistrationNav,"
               "employmentNav/jobInfoNav/divisionNav,employmentNav/jobInfoNav/departmentNav,"
               "employmentNav/jobInfoNav/emplStatusNav")
DELTA_EXPAND = ("employmentNav/userNav,employmentNav/jobInfoNav,personalInfoNav,personEmpTerminationInfoNav,"
                "phoneNav,emailNav,employmentNav/userNav/manager/empInfo,employmentNav/jobInfoNav/companyNav,"
                "employmentNav/jobInfoNav/departmentNav,employmentNav/jobInfoNav/locationNav,"
                "employmentNav/jobInfoNav/locationNav/addressNavDEFLT,"
                "employmentNav/jobInfoNav/locationNav/addressNavDEFLT/stateNav")
# The "retrieving more attributes" test query (its list; the pre-hire
# example's list is cut off in the published text).
TEST_EXPAND = ("employmentNav/userNav,employmentNav/jobInfoNav,personalInfoNav,personEmpTerminationInfoNav,"
               "phoneNav,phoneNav/phoneTypeNav,emailNav,employmentNav/jobInfoNav/businessUnitNav,"
               "employmentNav/jobInfoNav/companyNav,employmentNav/jobInfoNav/companyNav/countryOfRegistrationNav,"
               "employmentNav/jobInfoNav/costCenterNav,employmentNav/jobInfoNav/divisionNav,"
               "employmentNav/jobInfoNav/departmentNav,employmentNav/jobInfoNav/jobCodeNav,"
               "employmentNav/jobInfoNav/locationNav,employmentNav/jobInfoNav/locationNav/addressNavDEFLT,"
               "employmentNav/jobInfoNav/payGradeNav,employmentNav/empGlobalAssignmentNav,"
               "employmentNav/empGlobalAssignmentNav/assignmentTypeNav,employmentNav/jobInfoNav/emplStatusNav,"
               "employmentNav/jobInfoNav/employmentTypeNav,employmentNav/jobInfoNav/employeeClassNav,"
               "employmentNav/jobInfoNav/eventReasonNav")


def ok(what):
    print(f"ok: {what}", flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


session = requests.Session()
session.auth = (USER, PASSWORD)
client = pyodata.Client(ROOT, session)

# --- $metadata --------------------------------------------------------------
sets = {s.name for s in client.schema.entity_sets}
check({"PerPerson", "EmpJob", "PerEmail", "EmpEmploymentTermination", "UpsertResult"} <= sets, sets)
upsert = client.schema.function_import("upsert")
check(upsert.http_method == "POST", upsert.http_method)
check(isinstance(upsert.return_type, Collection) and upsert.return_type.item_type.name == "UpsertResult",
      upsert.return_type)
person_type = client.schema.entity_type("PerPerson")
pid_prop = person_type.proprty("personIdExternal")
check(pid_prop.max_length == 100, pid_prop.max_length)
check(pid_prop.label == "Person Id External", pid_prop.label)
check(not person_type.proprty("lastModifiedDateTime").creatable, "audit stamps are not creatable")
check(person_type.proprty("dateOfBirth").filterable, "filterable")
ok(f"$metadata parses: {len(sets)} entity sets, upsert returns Collection(UpsertResult), sap: annotations")

# --- Entra full sync: filter, expand, customPageSize, __next paging ---------
now = FIXTURE["now"]
full = (f"(personEmpTerminationInfoNav/activeEmploymentsCount ne null) and "
        f"(lastModifiedDateTime le datetimeoffset'{now}')")
count = client.entity_sets.PerPerson.get_entities().filter(full).count().execute()
check(count == FIXTURE["full_count"], (count, FIXTURE["full_count"]))
people = []
res = (client.entity_sets.PerPerson.get_entities().filter(full).expand(FULL_EXPAND)
       .custom("customPageSize", "100").execute())
pages = 1
people.extend(res)
while res.next_url:
    res = client.entity_sets.PerPerson.get_entities().next_url(res.next_url).execute()
    people.extend(res)
    pages += 1
ids = [p.personIdExternal for p in people]
check(len(ids) == count and len(set(ids)) == count, (len(ids), len(set(ids)), count))
check(pages == (count + 99) // 100, pages)
statuses = set()
for p in people:
    for e in p.employmentNav:
        for j in e.jobInfoNav:
            statuses.add(j.emplStatusNav.externalCode if j.emplStatusNav else None)
            check(isinstance(j.seqNumber, int), type(j.seqNumber))
            check(isinstance(j.startDate, datetime.datetime), type(j.startDate))
    check(isinstance(p.lastModifiedDateTime, datetime.datetime), p.lastModifiedDateTime)
    info = p.personEmpTerminationInfoNav
    check(info is not None and isinstance(info.activeEmploymentsCount, int), p.personIdExternal)
check({"A", "T"} <= statuses, statuses)
ok(f"Entra full sync: {count} workers in {pages} pages of 100 via __next, $count agrees, expansions typed")

# --- Entra delta: $count probe, the documented template (one `or` missing) --
last, prev0, prev1 = FIXTURE["last"], FIXTURE["prev_day_start"], FIXTURE["prev_day_end"]
delta = FIXTURE["delta_filter"]
probe = client.entity_sets.PerPerson.get_entities().filter(delta).count().execute()
changed = (client.entity_sets.PerPerson.get_entities().filter(delta).expand(DELTA_EXPAND)
           .custom("customPageSize", "100").execute())
changed_ids = sorted(p.personIdExternal for p in changed)
check(probe == len(changed_ids), (probe, changed_ids))
check(sorted(FIXTURE["delta_ids"]) == changed_ids, (FIXTURE["delta_ids"], changed_ids))
states = set()
for p in changed:
    for e in p.employmentNav:
        for j in e.jobInfoNav:
            address = j.locationNav.addressNavDEFLT
            states.add((address.state, address.stateNav.externalCode))
            check(address.stateNav.externalCode == address.state, (address.state, address.stateNav))
check(states, "stateNav expanded")
ok(f"Entra delta: $count probe {probe} = changed workers {changed_ids}, .../addressNavDEFLT/stateNav expanded")

# --- Entra pre-hire re-query with asOfDate ------------------------------------
for pre in FIXTURE["prehires"]:
    flt = f"(personIdExternal in '{pre['id']}' and employmentNav/userNav/status in 't','f','e')"
    got = (client.entity_sets.PerPerson.get_entities().filter(flt).expand(TEST_EXPAND)
           .custom("asOfDate", pre["start"]).execute())
    check(len(got) == 1, (pre, len(got)))
    p = got[0]
    check(p.personalInfoNav, f"{pre}: personal slice as of the start date")
    job = p.employmentNav[0].jobInfoNav
    check(job and job[0].startDate.strftime("%Y-%m-%d") == pre["start"], (pre, job))
    check(p.employmentNav[0].userNav.status == pre["status"], (pre, p.employmentNav[0].userNav.status))
ok(f"Entra pre-hire queries with asOfDate: {[p['id'] for p in FIXTURE['prehires']]}")

# --- paging, $top/$skip, $inlinecount ----------------------------------------
total = client.entity_sets.PerPerson.get_entities().count().execute()
seen = []
res = client.entity_sets.PerPerson.get_entities().select("personIdExternal").custom("customPageSize", "700").execute()
seen.extend(p.personIdExternal for p in res)
while res.next_url:
    res = client.entity_sets.PerPerson.get_entities().next_url(res.next_url).execute()
    seen.extend(p.personIdExternal for p in res)
check(len(seen) == total == len(set(seen)), (len(seen), total))
one = client.entity_sets.PerPerson.get_entities().top(1).skip(5).count(inline=True).execute()
check(len(one) == 1 and one.total_count == total, (len(one), one.total_count, total))
snap = client.entity_sets.PerPerson.get_entities().custom("paging", "snapshot").custom("customPageSize", "400").execute()
snap_ids = [p.personIdExternal for p in snap]
while snap.next_url:
    snap = client.entity_sets.PerPerson.get_entities().next_url(snap.next_url).execute()
    snap_ids.extend(p.personIdExternal for p in snap)
check(sorted(snap_ids) == sorted(seen), "snapshot paging returns the same workers")
ok(f"paging: {total} workers in pages of 700 and snapshot pages of 400; $top/$skip with inline count {total}")

# --- filters built by pyodata --------------------------------------------------
a, b = FIXTURE["active"][0], FIXTURE["active"][1]
got = client.entity_sets.PerPerson.get_entities().filter(personIdExternal__in=[a, b]).execute()
check(sorted(p.personIdExternal for p in got) == sorted([a, b]), [p.personIdExternal for p in got])
cut = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
old = client.entity_sets.PerPerson.get_entities().filter(dateOfBirth__lt=datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)).count().execute()
newer = client.entity_sets.PerPerson.get_entities().filter(lastModifiedDateTime__gt=cut).count().execute()
check(newer == total, (newer, total))
check(0 < old < total, old)
starts = client.entity_sets.PerPerson.get_entities().filter(personIdExternal__startswith="1000").count().execute()
check(starts == sum(1 for i in seen if i.startswith("1000")), starts)
ok(f"pyodata filters: __in, __lt on Edm.DateTime ({old}), __gt on Edm.DateTimeOffset, __startswith ({starts})")

# --- by key, composite keys ---------------------------------------------------
job = FIXTURE["job"]
start = datetime.datetime.strptime(job["startDate"], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
got = client.entity_sets.EmpJob.get_entity(seqNumber=job["seqNumber"], startDate=start, userId=job["userId"]).execute()
check(got.userId == job["userId"] and got.seqNumber == job["seqNumber"], got)
email = FIXTURE["email"]
got = client.entity_sets.PerEmail.get_entity(emailType=email["emailType"], personIdExternal=email["personIdExternal"]).execute()
check(got.emailAddress == email["emailAddress"], got.emailAddress)
person = client.entity_sets.PerPerson.get_entity(a).execute()
check(person.personIdExternal == a, person)
for predicate in [
    f"seqNumber={job['seqNumber']},userId='{job['userId']}',startDate=datetime'{job['startDate']}.000'",
    f"userId='{job['userId']}',startDate=datetime'{job['startDate']}',seqNumber={job['seqNumber']}L",
]:
    r = session.get(f"{ROOT}EmpJob({predicate})", params={"$format": "json"})
    check(r.status_code == 200, (predicate, r.status_code, r.text[:300]))
ok("by-key reads: EmpJob(seqNumber,startDate,userId) built by pyodata, PerEmail, PerPerson; keys in any order")

# --- navigation by path ---------------------------------------------------------
emails = client.entity_sets.PerPerson.get_entity(a).nav("emailNav").get_entities().execute()
check(emails and all(e.personIdExternal == a for e in emails), emails)
jobs = client.entity_sets.PerPerson.get_entity(a).nav("employmentNav").get_entities().execute()
check(jobs and jobs[0].personIdExternal == a, jobs)
info = client.entity_sets.PerPerson.get_entity(a).nav("personEmpTerminationInfoNav").execute()
check(info.personIdExternal == a and info.activeEmploymentsCount >= 1, info)
# From a fetched entity too (pyodata follows the entity's own URI).
loaded = client.entity_sets.PerPerson.get_entity(a).execute()
info = loaded.nav("personEmpTerminationInfoNav").execute()
check(info.activeEmploymentsCount >= 1, info)
phones = loaded.nav("phoneNav").get_entities().execute()
check(all(p.personIdExternal == a for p in phones), phones)
ok(f"navigation by path: PerPerson('{a}')/emailNav ({len(emails)}), /employmentNav, /personEmpTerminationInfoNav, /phoneNav")

# --- upsert through the metadata's function import ------------------------------
target = FIXTURE["active"][2]
records = [
    {"__metadata": {"uri": f"PerEmail(emailType='8449',personIdExternal='{target}')", "type": "SFOData.PerEmail"},
     "emailAddress": "pyodata.writes@home.example", "isPrimary": False},
    {"__metadata": {"uri": "PerEmail(emailType='8449',personIdExternal='nobody')"},
     "emailAddress": "x@y.example", "isPrimary": False},
]
call = client.functions.upsert
call.add_headers({"Content-Type": "application/json"})
call.get_body = lambda: json.dumps(records)
# SuccessFactors answers `{"d":[...]}` (R5, KBA-3145174), which pyodata 1.12.1's
# Collection handler does not read (it expects `{"d":{"results":[...]}}`): the
# call is built and sent by pyodata from the function import, the answer read here.
call._handler = lambda response: response
response = call.execute()
check(response.status_code == 200, (response.status_code, response.text[:300]))
body = response.json()["d"]
check([r["status"] for r in body] == ["OK", "ERROR"], body)
check(body[0]["editStatus"] == "UPSERTED" and body[1]["httpCode"] == 500, body)
check(body[1]["message"].endswith("with the index 1"), body[1]["message"])
emails = client.entity_sets.PerPerson.get_entity(target).nav("emailNav").get_entities().execute()
check(any(e.emailAddress == "pyodata.writes@home.example" for e in emails), [e.emailAddress for e in emails])
ok("upsert through the function import: POST /upsert from $metadata, per-record results, data written")

print("pyodata suite passed", flush=True)
