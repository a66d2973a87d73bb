// Drives the hrsync SuccessFactors emulator with a typed client that SAP
// Cloud SDK for JavaScript's generator made from the emulator's $metadata
// (run by crates/sf-emulator/tests/it/odata_clients.rs inside `cargo test`):
//   node cloud_sdk_suite.js GENERATED_CLIENT_DIR BASE_URL USER PASSWORD FIXTURE_JSON
// Prints one `ok:` line per check; the first failure exits non-zero.
'use strict';

const [clientDir, baseUrl, username, password, fixtureText] = process.argv.slice(2);
const fixture = JSON.parse(fixtureText);
const service = require(clientDir);
// The SDK's own dependencies (BigNumber for Edm.Int64, moment for dates).
const sdkPath = require.resolve('@sap-cloud-sdk/odata-v2', { paths: [clientDir] });
const sdkRequire = (m) => require(require.resolve(m, { paths: [sdkPath, clientDir] }));
const BigNumber = sdkRequire('bignumber.js');
const moment = sdkRequire('moment');

function check(cond, what) {
  if (!cond) {
    throw new Error(`check failed: ${typeof what === 'string' ? what : JSON.stringify(what)}`);
  }
}

async function main() {
  const api = service.sfodata();
  const dest = { url: baseUrl, username, password };
  const { perPersonApi, empJobApi, perEmailApi } = api;

  // getAll with $filter, $expand, $top and count().
  const P = perPersonApi.schema;
  const people = await perPersonApi
    .requestBuilder()
    .getAll()
    .select(P.PERSON_ID_EXTERNAL, P.LAST_MODIFIED_DATE_TIME, P.EMPLOYMENT_NAV)
    .filter(P.PERSON_ID_EXTERNAL.equals(fixture.active[0]))
    .execute(dest);
  check(people.length === 1 && people[0].personIdExternal === fixture.active[0], people.length);
  const total = await perPersonApi.requestBuilder().getAll().count().execute(dest);
  check(Number(total) === fixture.total, [total, fixture.total]);
  const top = await perPersonApi.requestBuilder().getAll().top(3).execute(dest);
  check(top.length === 3, top.length);
  console.log(`ok: getAll with filter, select, top; count() = ${total}`);

  // getByKey on a composite key: the SDK writes datetime'...T00:00:00.000' and 1L.
  const J = fixture.job;
  const job = await empJobApi
    .requestBuilder()
    .getByKey(new BigNumber(J.seqNumber), moment.utc(J.startDate), J.userId)
    .execute(dest);
  check(job.seqNumber.isEqualTo(new BigNumber(J.seqNumber)), job.seqNumber);
  check(job.userId === J.userId, job.userId);
  const email = await perEmailApi
    .requestBuilder()
    .getByKey(fixture.email.emailType, fixture.email.personIdExternal)
    .execute(dest);
  check(email.emailAddress === fixture.email.emailAddress, email.emailAddress);
  console.log('ok: getByKey EmpJob(seqNumber,startDate,userId) and PerEmail');

  // upsert through the function import (POST, CSRF token fetched first).
  if (api.operations && typeof api.operations.upsert === 'function') {
    const upsert = api.operations.upsert;
    const records = [
      {
        __metadata: { uri: `PerEmail(emailType='8449',personIdExternal='${fixture.active[2]}')` },
        emailAddress: 'cloud.sdk@home.example',
        isPrimary: false,
      },
    ];
    // The generated operation takes no parameters (SuccessFactors declares
    // none); the records go in the body, set through the SDK's middleware hook.
    const withBody = (options) => (config) =>
      options.fn({
        ...config,
        data: JSON.stringify(records),
        headers: { ...config.headers, 'content-type': 'application/json', accept: 'application/json' },
      });
    const response = await upsert({}).middleware(withBody).executeRaw(dest);
    const d = response.data.d;
    check(Array.isArray(d) && d[0].status === 'OK', response.data);
    const written = await perEmailApi.requestBuilder().getByKey('8449', fixture.active[2]).execute(dest);
    check(written.emailAddress === 'cloud.sdk@home.example', written.emailAddress);
    console.log('ok: upsert through the generated function import (CSRF token fetched), data written');
  } else {
    throw new Error('the generated client has no upsert operation');
  }
  console.log('cloud sdk suite passed');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  if (e && e.cause) console.error('cause:', e.cause.message || e.cause);
  process.exit(1);
});
