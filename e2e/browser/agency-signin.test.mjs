// A partner agency's officer on the single window of a cluster, in a real browser: SAMR's officer
// signs in to the stock Temporal Web UI at the identity provider, finds the review waiting in
// SAMR's namespace, and decides it through the update dialog as themself (naming another of
// SAMR's officers is refused there); customs' clearance, which waited on SAMR through Nexus, takes
// the permit and moves on. A customs officer signed in the same way reads nothing of SAMR's review.
//
// .ci/postgres.sh runs it against its cluster (the Temporal server verifying callers, Temporal's
// UI server signing people in at the issuer, NMPA's and SAMR's workers), once it has lodged
// examples/it-face-masks-unlisted-producer.json under a declaration ID of its own, with:
//   CUSTOMS_UI_URL          the Web UI, e.g. http://127.0.0.1:28233
//   CUSTOMS_GRPC_ADDRESS    the Temporal frontend
//   CUSTOMS_NAMESPACE       customs' namespace
//   CUSTOMS_STARTER         the starter binary, for the exporter's view
//   CUSTOMS_EXPORTER_TOKEN  the exporter's token, for the starter
//   CUSTOMS_DECLARATION     the lodged declaration's ID
//   CUSTOMS_ARTIFACTS       where screenshots go
//   CHROMIUM                the browser

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Desk, launch, openContext, required, waitFor } from './desk.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const UI = required('CUSTOMS_UI_URL');
const GRPC = required('CUSTOMS_GRPC_ADDRESS');
const NAMESPACE = required('CUSTOMS_NAMESPACE');
const STARTER = required('CUSTOMS_STARTER');
const EXPORTER_TOKEN = required('CUSTOMS_EXPORTER_TOKEN');
const DECLARATION = required('CUSTOMS_DECLARATION');
const ARTIFACTS = process.env.CUSTOMS_ARTIFACTS || resolve(here, '../../artifacts/browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const EXPORTER = '3302960543'; // the masks' exporter, whom the clearance's workflow ID names
const CLEARANCE = `clearance-${EXPORTER}-${DECLARATION}`;
const REVIEW = `permit-review-${CLEARANCE}~SAMR~1`;
const SAMR = 'agency-samr';

function exporterView() {
  const out = execFileSync(STARTER, ['--address', GRPC, '--namespace', NAMESPACE, '--tls=false', '--api-key', EXPORTER_TOKEN,
    'status', DECLARATION, '--json'], { encoding: 'utf8' });
  return JSON.parse(out);
}

const samrPermit = (view) => (view.permits ?? []).filter((p) => p.agency === 'SAMR').at(-1);

let launched;

before(async () => {
  launched = await launch({ executablePath: CHROMIUM });
});

after(async () => {
  await launched?.browser.close();
});

// signedIn runs body with a desk in a browser context of its own, signed in as who, in namespace.
async function signedIn(who, namespace, name, body) {
  const context = await openContext(launched.browser);
  const desk = new Desk(await context.newPage(), { ui: UI, namespace, artifacts: ARTIFACTS });
  try {
    await desk.signIn(who);
    await body(desk);
  } catch (err) {
    await desk.shot(`FAILED-${name}`).catch(() => {});
    throw err;
  } finally {
    await context.close();
  }
}

test('1. the clearance waits on SAMR through the single window', { timeout: 90_000 }, async () => {
  await waitFor(() => {
    const permit = samrPermit(exporterView());
    return permit !== undefined && permit.result === undefined;
  }, `${CLEARANCE} to ask SAMR's permit`, { timeout: 60_000 });
});

test('2. a customs officer signed in reads nothing of SAMR\'s review: the UI returns to the sign-in page', { timeout: 90_000 }, () =>
  signedIn(/^Li Na doc-li/, NAMESPACE, 'agency-signin-02', async (desk) => {
    // The UI's server passes every call on; the server's authorizer refuses customs' officer in
    // SAMR's namespace, and the UI takes the refusal for a sign-in to make.
    await desk.page.goto(`${UI}/namespaces/${SAMR}/workflows/${encodeURIComponent(REVIEW)}`, { waitUntil: 'load' });
    await desk.page.waitForURL((u) => u.pathname === '/login');
    await desk.page.getByRole('button', { name: 'Continue to SSO' }).waitFor();
    assert.equal(await desk.page.getByText(REVIEW).count(), 0, 'nothing of SAMR\'s review is shown');
    assert.equal(samrPermit(exporterView()).result, undefined, 'nothing changed');
  }));

test('3. SAMR\'s officer signs in, finds the review, and decides it as themself; customs\' clearance takes the permit', { timeout: 120_000 }, () =>
  signedIn(/^He Tao, SAMR samr-he/, SAMR, 'agency-signin-03', async (desk) => {
    await desk.openWorkflows();
    await desk.filter(`PermitStatus = 'awaiting-officer' AND DeclarationId = '${DECLARATION}'`);
    await desk.waitForListed([REVIEW], { timeout: 60_000 });
    await desk.shot('28-agency-signed-in-queue');
    await desk.openFromList(REVIEW);
    const status = await desk.statusQuery({ accept: (s) => s.phase === 'awaiting-officer' });
    assert.ok(status.findings.some((f) => f.code === 'producer-not-listed'),
      `SAMR's checks found the producer unlisted: ${JSON.stringify(status.findings)}`);

    let dialog = await desk.openUpdate('decide-permit', {
      officer: 'samr-lin', outcome: 'grant', reason: 'the producer is listed since this morning',
    });
    assert.equal(
      await desk.submit(dialog),
      'officer: "samr-lin" is not the caller: you are signed in as "samr-he", and an officer decides only as themself',
    );
    await dialog.getByTestId('cancel-modal-button').click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(samrPermit(exporterView()).result, undefined, 'the refused decision changed nothing');

    dialog = await desk.openUpdate('decide-permit', { outcome: 'grant', reason: 'the producer is listed since this morning' });
    assert.equal(await desk.submit(dialog), null, 'the dialog closes: the decision was accepted');
    await desk.toast('Update successful');
    const decided = await desk.statusQuery({ accept: (s) => s.decision !== undefined && s.decision !== null });
    assert.deepEqual({ officer: decided.decision.officer, verified: decided.decision.verified },
      { officer: 'samr-he', verified: true });
    await desk.shot('29-agency-signed-in-decided');

    await waitFor(() => samrPermit(exporterView())?.result?.disposition === 'granted', 'customs\' clearance to take SAMR\'s permit', { timeout: 60_000 });
    const view = exporterView();
    const permit = samrPermit(view).result;
    assert.equal(permit.officer, 'samr-he');
    assert.match(permit.permit, /\S/, 'the permit has its number');
    assert.notEqual(view.state, 'refused');
    assert.ok(!['awaiting-agency', 'awaiting-agency-information'].includes(view.phase),
      `the clearance moved on from SAMR: it is ${view.phase}`);
  }));

test('4. the customs officer reads the clearance that waited on SAMR, with SAMR\'s permit on it', { timeout: 90_000 }, () =>
  signedIn(/^Li Na doc-li/, NAMESPACE, 'agency-signin-04', async (desk) => {
    await desk.openClearance(CLEARANCE);
    const status = await desk.statusQuery({ accept: (s) => (s.permits ?? []).some((p) => p.agency === 'SAMR' && p.result) });
    const permit = status.permits.filter((p) => p.agency === 'SAMR').at(-1);
    assert.deepEqual({ disposition: permit.result.disposition, officer: permit.result.officer },
      { disposition: 'granted', officer: 'samr-he' });
    assert.equal(permit.result.permit, samrPermit(exporterView()).result.permit, 'the engine agrees with the UI');
    await desk.shot('30-customs-reads-the-agency-permit');
  }));
