// An officer's day in the stock Temporal Web UI, in a real browser: the queues as list
// filters, reading a clearance, deciding through the update dialog, a refused decision, an
// overdue clearance, the desk's controls (updates only: no Terminate, Reset, Cancel, Signal or
// Start Workflow), claiming a clearance and consenting to the exporter's amendment; an
// auditor reading a released clearance in the archive; and an officer of SAMR, a partner agency
// on the single window, refusing a permit in SAMR's namespace, which ends customs' clearance.
//
// .ci/browser.sh starts the devserver with an archive and testdata/policy.json (expedited document check
// allowance of 15s; SAMR's permit for masks and respirators), submits the declarations below with the starter and runs this file with:
//   CUSTOMS_UI_URL        the Web UI, e.g. http://127.0.0.1:18233
//   CUSTOMS_GRPC_ADDRESS  the Temporal frontend, e.g. 127.0.0.1:17233
//   CUSTOMS_SUBMITTED     the starter's submit output (declaration ID, "submitted", workflow ID, link)
//   CUSTOMS_STARTER       the starter binary, for cross-checks from the exporter's side
//   CUSTOMS_ARTIFACTS     where screenshots go (default ../../artifacts/browser)
//   CHROMIUM              the browser (default /usr/bin/chromium)
// The tests run in order and share one browser: each continues the officer's day.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Desk, launch, required, waitFor } from './desk.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const UI = required('CUSTOMS_UI_URL');
const GRPC = required('CUSTOMS_GRPC_ADDRESS');
const SUBMITTED = required('CUSTOMS_SUBMITTED');
const STARTER = required('CUSTOMS_STARTER');
const ARTIFACTS = process.env.CUSTOMS_ARTIFACTS || resolve(here, '../../artifacts/browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// The declarations .ci/browser.sh submits, and where each stands before any officer acts
// (examples/README.md has the lanes).
const ANTIBODY_KITS = 'LB-2020-DE-0415'; // yellow, biological class D: document check, biological review, release
const N95 = 'JH-2020-US-0512'; // yellow (exporter history): document check, then released
const PCR_KITS = 'RX-2020-FR-0409'; // red, biological class B
const VENTILATORS = 'WK-2020-BE-0402'; // red, expedited: its 15s document check allowance runs out
const CANNULAS = 'NBKR-2020-000331'; // green: released without an officer
const SCENARIO = [ANTIBODY_KITS, N95, PCR_KITS, VENTILATORS, CANNULAS];
// The exporter's customs code of each: a clearance's workflow ID names its exporter.
const EXPORTER = {
  [ANTIBODY_KITS]: '3301960412',
  [N95]: '3205960330',
  [PCR_KITS]: '3122960087',
  [VENTILATORS]: '4403960219',
  [CANNULAS]: '3302960178',
};

const QUEUE = {
  document: "ClearanceStatus = 'awaiting-officer' AND ClearanceStage = 'document-check'",
  biological: "ClearanceStatus = 'awaiting-officer' AND ClearanceStage = 'biological-review'",
  supervisor: "SlaBreached = true AND ExecutionStatus = 'Running'",
};

const wf = (id) => `clearance-${EXPORTER[id]}-${id}`;

// submitted reads the starter's output: one line per declaration it started.
function submitted() {
  const ids = new Map();
  for (const line of readFileSync(SUBMITTED, 'utf8').split('\n')) {
    const [decl, what, workflowId] = line.split('\t');
    if (what === 'submitted') ids.set(decl, workflowId);
  }
  return ids;
}

// exporterView is the starter's status of a clearance as its exporter asks for it: the engine's
// own answer, to compare with what the UI shows.
function exporterView(id) {
  const out = execFileSync(STARTER, ['--address', GRPC, '--exporter', EXPORTER[id], 'status', id, '--json'], {
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

let browser;
let desk;

before(async () => {
  const launched = await launch({ executablePath: CHROMIUM });
  browser = launched.browser;
  const page = await launched.context.newPage();
  desk = new Desk(page, { ui: UI, artifacts: ARTIFACTS });
});

after(async () => {
  await browser?.close();
});

// step runs one test's body and keeps a screenshot of the page when it fails.
async function step(name, body) {
  try {
    await body();
  } catch (err) {
    await desk?.shot(`FAILED-${name}`).catch(() => {});
    throw err;
  }
}

test('1. the document officer opens the queue: exactly the clearances awaiting a document check', { timeout: 90_000 }, () =>
  step('01-document-check-queue', async () => {
    const ids = submitted();
    assert.deepEqual([...ids.keys()].sort(), [...SCENARIO].sort(), 'the script submitted the scenario');
    for (const id of SCENARIO) assert.equal(ids.get(id), wf(id));

    await desk.openWorkflows();
    await desk.configureColumns({
      remove: ['Run ID', 'Type', 'Start', 'End'],
      add: ['ClearanceLane', 'ClearanceStage', 'SlaBreached', 'ExporterCode'],
    });
    await desk.filter(QUEUE.document);
    await desk.waitForListed([ANTIBODY_KITS, N95, PCR_KITS, VENTILATORS].map(wf), { timeout: 60_000 });
    assert.equal(await desk.count(), 4);
    // The desk's list selects nothing (no batch terminate, cancel or reset) and starts nothing.
    assert.deepEqual(await desk.headers(), [
      'Status', 'Workflow ID', 'ClearanceLane', 'ClearanceStage', 'SlaBreached', 'ExporterCode',
    ]);
    assert.equal(await desk.page.getByRole('checkbox').count(), 0, 'no selection for batch actions');
    assert.equal(await desk.page.getByRole('link', { name: 'Start Workflow', exact: true }).count(), 0, 'no Start Workflow');
    const row = await desk.row(wf(ANTIBODY_KITS));
    for (const cell of ['RUNNING', 'yellow', 'document-check', '3301960412']) assert.ok(row.includes(cell), `row ${row}`);
    assert.ok((await desk.row(wf(PCR_KITS))).includes('red'));
    await desk.saveView('Document check queue');
    await desk.shot('01-document-check-queue');
  }));

test('2. the officer opens a clearance: summary, details, current details and the status query', { timeout: 60_000 }, () =>
  step('02-read-clearance', async () => {
    await desk.openFromList(wf(ANTIBODY_KITS));
    const meta = await desk.userMetadata({ accept: (t) => t.includes('Awaiting a decision on document-check') });
    assert.equal(meta.summary, 'LB-2020-DE-0415: test-kit to DE by air, exporter 3301960412');
    assert.match(meta.details, /Exporter Hangzhou Lianbo Biotech Co\., Ltd\. \(3301960412\)/);
    assert.match(meta.details, /SARS-CoV-2 IgM\/IgG antibody rapid test kit .* class D/);
    assert.match(
      meta.current,
      /^Awaiting a decision on document-check from a document-officer \(doc-li, doc-chen, sup-huang\)\. Allowance ends \d{4}-\d\d-\d\d \d\d:\d\d UTC: (2d 0h|1d 23h) left\. Registration ED-\d{4}-\d{8}\. The automated checks found nothing to weigh\. Decide with the update decide: \{"stage":"document-check","officer":"doc-li","outcome":"approve"\}\. /,
    );
    await desk.shot('02-clearance-user-metadata');

    const status = await desk.statusQuery();
    assert.equal(status.declarationId, ANTIBODY_KITS);
    assert.equal(status.stage, 'document-check');
    assert.equal(status.state, 'awaiting-officer');
    assert.equal(status.lane, 'yellow');
    assert.equal(status.waiting.role, 'document-officer');
    assert.deepEqual(status.waiting.officers, ['doc-li', 'doc-chen', 'sup-huang']);
    assert.deepEqual(status.decisions, []);
    await desk.shot('03-status-query');
  }));

test('3. the officer approves through the update dialog and the clearance moves to the biological review', { timeout: 90_000 }, () =>
  step('03-approve', async () => {
    const dialog = await desk.openUpdate('decide', { stage: 'document-check', officer: 'doc-li', outcome: 'approve' });
    await desk.shot('04-update-dialog');
    assert.equal(await desk.submit(dialog), null, 'the dialog closes: the update was accepted');
    await desk.toast('Update successful');

    const meta = await desk.userMetadata({ accept: (t) => t.includes('biological-review') });
    assert.match(
      meta.current,
      /^Awaiting a decision on biological-review from a health-quarantine-officer \(hq-wang, hq-zhao, rel-wu, sup-huang\)\./,
    );
    await desk.shot('05-next-stage');

    const status = await desk.statusQuery({ accept: (s) => s.stage === 'biological-review' });
    assert.equal(status.state, 'awaiting-officer');
    assert.equal(status.decisions.length, 1);
    assert.deepEqual(
      (({ stage, officer, outcome, via }) => ({ stage, officer, outcome, via }))(status.decisions[0]),
      { stage: 'document-check', officer: 'doc-li', outcome: 'approve', via: 'update' },
    );

    const history = await desk.history({ accept: (h) => h.includes('Update Completed') });
    assert.match(history, /Workflow Execution Update Accepted\s+Name\s+decide/);
    assert.match(history, /Workflow Execution Update Completed\s+Outcome Success/);
    assert.match(history, /Upsert Workflow Search Attributes/);
    await desk.reveal('Workflow Execution Update Accepted');
    await desk.shot('06-event-history');

    const engine = exporterView(ANTIBODY_KITS);
    assert.equal(engine.stage, 'biological-review', 'the engine agrees with the UI');

    // The health-quarantine officer's queue now holds it; the document officer's no longer does.
    await desk.openWorkflows();
    await desk.filter(QUEUE.biological);
    await desk.waitForListed([wf(ANTIBODY_KITS)]);
    await desk.saveView('Biological review queue');
    await desk.shot('07-biological-review-queue');
    await desk.filter(QUEUE.document);
    await desk.waitForListed([N95, PCR_KITS, VENTILATORS].map(wf));
  }));

test('4. a decision the validator refuses shows its reason in the dialog and changes nothing', { timeout: 60_000 }, () =>
  step('04-refused', async () => {
    await desk.openFromList(wf(N95));
    const dialog = await desk.openUpdate('decide', { stage: 'document-check', officer: 'hq-wang', outcome: 'approve' });
    const refusal = await desk.submit(dialog);
    assert.equal(refusal, 'officer: "hq-wang" does not hold the role document-officer that decides document-check');
    await desk.shot('08-refused-update');
    await dialog.getByTestId('cancel-modal-button').click();
    await dialog.waitFor({ state: 'hidden' });

    const status = await desk.statusQuery();
    assert.equal(status.stage, 'document-check');
    assert.equal(status.state, 'awaiting-officer');
    assert.deepEqual(status.decisions, []);
    // The one update the history keeps is the exporter's lodgement, sent with the start.
    const history = await desk.history();
    assert.equal((history.match(/Update Accepted/g) || []).length, 1, 'a refused update leaves no event');
  }));

test('5. the supervisor filters SlaBreached = true and finds the overdue clearance', { timeout: 90_000 }, () =>
  step('05-overdue', async () => {
    await desk.openWorkflows();
    await desk.filter(QUEUE.supervisor);
    // The expedited document check allowance is 15s: wait for it to run out if it has not yet.
    await desk.waitForListed([wf(VENTILATORS)], { timeout: 60_000 });
    assert.ok((await desk.row(wf(VENTILATORS))).includes('TRUE'));
    await desk.saveView('Overdue clearances');
    await desk.shot('09-overdue-queue');

    await desk.openFromList(wf(VENTILATORS));
    const meta = await desk.userMetadata({ accept: (t) => t.includes('Overdue') });
    assert.match(meta.summary, /^WK-2020-BE-0402: ventilator to BE by air, exporter 4403960219 \[expedited\]$/);
    assert.match(
      meta.current,
      /Awaiting a decision on document-check from a document-officer \(doc-li, doc-chen, sup-huang\)\..* Overdue: document-check overran its 15s allowance; escalated to supervisor sup-huang\. .*Decide with the update decide: /,
    );
    await desk.shot('10-overdue-clearance');

    const status = await desk.statusQuery();
    assert.equal(status.slaBreached, true);
    assert.equal(status.expedited, true);
    assert.equal(status.escalations.length, 1);
    assert.equal(status.escalations[0].stage, 'document-check');
    assert.equal(status.escalations[0].supervisor, 'sup-huang');
    const attrs = await desk.searchAttributes();
    assert.equal(attrs.SlaBreached, true);
    assert.equal(attrs.Expedited, true);
    assert.equal(attrs.ClearanceStatus, 'awaiting-officer');
    await desk.shot('11-search-attributes');
  }));

test('6. the desk decides through updates only: no Terminate, Reset, Cancel, Signal or Start Workflow', { timeout: 90_000 }, () =>
  step('06-desk', async () => {
    await desk.openClearance(wf(N95));
    // With the full UI (devserver --admin-ui) every item of More Actions is enabled, and
    // Request Cancellation too. UI 2.54.1 keeps the desk's turned-off controls on the page,
    // greyed out and inert, where a later UI may drop them: each is absent or disabled.
    const items = await desk.actions({ shot: '12-desk-actions' });
    assert.deepEqual(items['update-button'], { name: 'Send an Update', enabled: true }, 'the update is offered');
    for (const [id, name] of [['terminate-button', 'Terminate'], ['reset-button', 'Reset'], ['signal-button', 'Send a Signal'],
      ['start-workflow-button', 'Start Workflow Like This One']]) {
      assert.ok(!items[id] || (items[id].name === name && !items[id].enabled), `${name} is absent or disabled: ${JSON.stringify(items[id])}`);
    }
    assert.deepEqual(Object.entries(items).filter(([, v]) => v.enabled).map(([id]) => id), ['update-button'], 'the update alone is enabled');
    const cancel = desk.page.getByRole('button', { name: 'Request Cancellation' });
    assert.ok((await cancel.count()) === 0 || (await cancel.isDisabled()), 'Request Cancellation is absent or disabled');

    // The update is the officers' control: doc-chen approves, which releases the clearance.
    const dialog = await desk.openUpdate('decide', { stage: 'document-check', officer: 'doc-chen', outcome: 'approve' });
    await desk.shot('13-release-decision');
    // This decision ends the clearance at once; the UI 2.54.1 dialog then sometimes keeps its
    // spinner after the update completed, so what is checked is the clearance, not the dialog.
    await dialog.getByTestId('confirm-modal-button').click();
    await waitFor(() => exporterView(N95).state === 'released', 'the clearance released by the update');
    if (await dialog.isVisible()) await desk.page.keyboard.press('Escape');
    const meta = await desk.userMetadata({ accept: (t) => t.startsWith('Released') });
    assert.match(meta.current, /^Released under notice RN-\d{4}-\d{8}\. Registration ED-\d{4}-\d{8}\.$/);
    await desk.waitForExecutionStatus('COMPLETED');
    await desk.shot('14-released');
    const history = await desk.history({ accept: (h) => h.includes('Workflow Execution Completed') });
    assert.match(history, /Workflow Execution Update Completed/);
    assert.doesNotMatch(history, /Workflow Execution Signaled/);
    const engine = exporterView(N95);
    assert.equal(engine.state, 'released', 'the engine agrees with the UI');
    // The later stages' automatic approvals follow the officer's one.
    assert.deepEqual(
      engine.decisions.filter((d) => d.via !== 'automatic').map(({ stage, officer, outcome, via }) => ({ stage, officer, outcome, via })),
      [{ stage: 'document-check', officer: 'doc-chen', outcome: 'approve', via: 'update' }],
    );
  }));

test('7. an officer claims a clearance and consents to the exporter\'s amendment through the update dialog', { timeout: 90_000 }, () =>
  step('07-claim-amend', async () => {
    await desk.openClearance(wf(PCR_KITS));
    let dialog = await desk.openUpdate('claim', { officer: 'doc-li' });
    assert.equal(await desk.submit(dialog), null, 'the claim is accepted');
    await desk.toast('Update successful');
    let meta = await desk.userMetadata({ accept: (t) => t.includes('Held by doc-li') });
    assert.match(meta.current, /Held by doc-li since \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\./);
    // The page's search attributes are those it loaded: open it again until the claim shows.
    await waitFor(async () => {
      await desk.openClearance(wf(PCR_KITS));
      return (await desk.searchAttributes()).ClaimedBy === 'doc-li';
    }, 'ClaimedBy = doc-li in the search attributes');
    await desk.shot('15-claimed');

    // Another document officer's decision is refused while doc-li holds the stage.
    dialog = await desk.openUpdate('decide', { stage: 'document-check', officer: 'doc-chen', outcome: 'approve' });
    assert.match(await desk.submit(dialog), /^officer: the document-check stage is held by doc-li since /);
    await dialog.getByTestId('cancel-modal-button').click();
    await dialog.waitFor({ state: 'hidden' });

    // The exporter amends with the starter; an officer has started, so it awaits consent.
    const out = execFileSync(STARTER, ['--address', GRPC, '--exporter', EXPORTER[PCR_KITS], 'amend', PCR_KITS,
      resolve(here, 'testdata', 'amend-pcr-kits.json')], { encoding: 'utf8' });
    assert.match(out, /amendment 1 at document-check awaits an officer's consent: 1 change\(s\)/);
    meta = await desk.userMetadata({ accept: (t) => t.includes('Amendment 1') });
    assert.match(meta.current, /Amendment 1 from the exporter awaits an officer.s consent \(decide-amendment\): the packing list reissued/);
    await desk.shot('16-amendment-awaiting-consent');

    dialog = await desk.openUpdate('decide-amendment', { officer: 'doc-li', amendment: 1, outcome: 'consent' });
    assert.equal(await desk.submit(dialog), null, 'the consent is accepted');
    await desk.toast('Update successful');
    const status = await desk.statusQuery({ accept: (s) => (s.amendments ?? [])[0]?.status === 'applied' && s.phase === 'awaiting-officer' });
    assert.equal(status.amendments[0].officer, 'doc-li');
    assert.deepEqual(status.amendments[0].changes, [
      { path: 'documents[1].issued', from: '"2020-04-09T00:00:00Z"', to: '"2020-04-10T00:00:00Z"' },
    ]);
    assert.equal(exporterView(PCR_KITS).amendments[0].status, 'applied', 'the engine agrees with the UI');
    await desk.shot('17-amendment-applied');
  }));

test('8. an auditor finds the released green clearance in the namespace\'s archive and reads its history there', { timeout: 60_000 }, () =>
  step('08-archive', async () => {
    // .ci/browser.sh starts the devserver with --archive: a closed clearance's history and its
    // visibility record are archived within a second, and kept past the namespace's retention.
    const page = desk.page;
    const link = page.locator('table').getByRole('link', { name: wf(CANNULAS), exact: true });
    const deadline = Date.now() + 30_000;
    for (;;) {
      await page.goto(`${UI}/namespaces/default/archival`, { waitUntil: 'load' });
      try {
        await link.waitFor({ timeout: 5_000 });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`the archive does not list ${wf(CANNULAS)}: ${err.message}`);
      }
    }
    await desk.shot('18-archive');
    await link.click();
    await page.waitForURL((u) => u.pathname.startsWith(`/namespaces/default/archival/${wf(CANNULAS)}/`) && u.pathname.endsWith('/history'));
    await page.getByText('Workflow Execution Completed').first().waitFor({ timeout: 20_000 });
    await desk.shot('19-archived-history');
  }));

test('9. an officer of SAMR refuses a permit in SAMR\'s namespace, and customs\' clearance ends refused, naming SAMR', { timeout: 90_000 }, () =>
  step('09-agency', async () => {
    // Face masks from a producer SAMR does not list: SAMR's review waits for one of its officers.
    const MASKS = 'YJ-2020-IT-0503';
    EXPORTER[MASKS] = '3302960543';
    const review = `permit-review-${wf(MASKS)}~SAMR~1`;
    execFileSync(STARTER, ['--address', GRPC, 'submit', resolve(here, '../../examples/it-face-masks-unlisted-producer.json')], { encoding: 'utf8' });
    const samr = new Desk(desk.page, { ui: UI, namespace: 'agency-samr', artifacts: ARTIFACTS });
    await samr.openWorkflows();
    await samr.filter("PermitStatus = 'awaiting-officer'");
    await samr.waitForListed([review], { timeout: 60_000 });
    await samr.shot('26-agency-queue');
    await samr.openFromList(review);
    const status = await samr.statusQuery({ accept: (s) => s.phase === 'awaiting-officer' });
    assert.ok(status.findings.some((f) => f.code === 'producer-not-listed'),
      `SAMR's checks found the producer unlisted: ${JSON.stringify(status.findings)}`);
    const dialog = await samr.openUpdate('decide-permit', {
      officer: 'samr-lin', outcome: 'refuse', reason: 'the producer is not on the list of qualified producers of non-medical masks',
    });
    assert.equal(await samr.submit(dialog), null, 'the dialog closes: the decision was accepted');
    await samr.toast('Update successful');
    await samr.shot('27-agency-decided');
    await waitFor(() => exporterView(MASKS).state === 'refused', 'customs\' clearance to take SAMR\'s refusal');
    const engine = exporterView(MASKS);
    const last = engine.decisions.at(-1);
    assert.deepEqual({ agency: last.agency, officer: last.officer, via: last.via }, { agency: 'SAMR', officer: 'samr-lin', via: 'single-window' });
    assert.equal(engine.permits[0].result.disposition, 'refused');
    assert.match(engine.reason, /^SAMR refused the goods: /);
  }));
