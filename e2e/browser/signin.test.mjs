// Signing in to the stock Temporal Web UI with devserver --auth, in a real browser: the UI sends
// the browser to the development identity provider, the officer chooses who they are, and the
// update dialog then decides as the signed-in officer. Deciding as another officer is refused in
// the dialog; an exporter who signs in is sent back to the sign-in page. The UI opened at
// localhost, as README and the starter's links name it, signs in as well as at 127.0.0.1.
//
// .ci/browser.sh starts a second devserver with --auth, lodges examples/de-antibody-test-kits.json
// as its exporter and runs this file with:
//   CUSTOMS_UI_URL         the Web UI, e.g. http://127.0.0.1:18233
//   CUSTOMS_GRPC_ADDRESS   the Temporal frontend
//   CUSTOMS_STARTER        the starter binary, for the exporter's view
//   CUSTOMS_EXPORTER_TOKEN the exporter's token, for the starter
//   CUSTOMS_ARTIFACTS      where screenshots go
//   CHROMIUM               the browser

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Desk, launch, openContext, required } from './desk.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const UI = required('CUSTOMS_UI_URL');
const GRPC = required('CUSTOMS_GRPC_ADDRESS');
const STARTER = required('CUSTOMS_STARTER');
const EXPORTER_TOKEN = required('CUSTOMS_EXPORTER_TOKEN');
const ARTIFACTS = process.env.CUSTOMS_ARTIFACTS || resolve(here, '../../artifacts/browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const ANTIBODY_KITS = 'LB-2020-DE-0415';
const ANTIBODY_KITS_EXPORTER = '3301960412'; // the exporter's customs code, which the workflow ID names
const WF = `clearance-${ANTIBODY_KITS_EXPORTER}-${ANTIBODY_KITS}`;
const QUEUE = "ClearanceStatus = 'awaiting-officer' AND ClearanceStage = 'document-check'";

function exporterView(id) {
  const out = execFileSync(STARTER, ['--address', GRPC, '--tls=false', '--api-key', EXPORTER_TOKEN, 'status', id, '--json'], {
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

let launched;
let desk;

before(async () => {
  launched = await launch({ executablePath: CHROMIUM });
  desk = new Desk(await launched.context.newPage(), { ui: UI, artifacts: ARTIFACTS });
});

after(async () => {
  await launched?.browser.close();
});

async function step(name, d, body) {
  try {
    await body();
  } catch (err) {
    await d?.shot(`FAILED-${name}`).catch(() => {});
    throw err;
  }
}

test('1. the UI asks the officer to sign in, and the identity provider signs doc-li in', { timeout: 90_000 }, () =>
  step('signin-01', desk, async () => {
    await desk.page.goto(`${UI}/namespaces/default/workflows`, { waitUntil: 'load' });
    await desk.page.getByRole('button', { name: 'Continue to SSO' }).waitFor();
    await desk.shot('20-sign-in');
    await desk.signIn(/^Li Na doc-li/, { shot: '21-identity-provider' });
    await desk.openWorkflows();
    await desk.filter(QUEUE);
    await desk.waitForListed([WF], { timeout: 60_000 });
    await desk.shot('22-signed-in-queue');
  }));

test('2. the update dialog decides as the signed-in officer; naming another officer is refused', { timeout: 90_000 }, () =>
  step('signin-02', desk, async () => {
    await desk.openFromList(WF);
    let dialog = await desk.openUpdate('decide', { stage: 'document-check', officer: 'doc-chen', outcome: 'approve' });
    assert.equal(
      await desk.submit(dialog),
      'officer: "doc-chen" is not the caller: you are signed in as "doc-li", and an officer acts only as themself',
    );
    await desk.shot('23-refused-as-another-officer');
    await dialog.getByTestId('cancel-modal-button').click();
    await dialog.waitFor({ state: 'hidden' });
    assert.deepEqual(exporterView(ANTIBODY_KITS).decisions ?? [], [], 'the refused decision changed nothing');

    dialog = await desk.openUpdate('decide', { stage: 'document-check', outcome: 'approve' });
    assert.equal(await desk.submit(dialog), null, 'the dialog closes: the update was accepted');
    await desk.toast('Update successful');
    const status = await desk.statusQuery({ accept: (s) => s.stage === 'biological-review' });
    assert.equal(status.decisions.length, 1);
    const d = status.decisions[0];
    assert.deepEqual({ officer: d.officer, verified: d.verified, via: d.via }, { officer: 'doc-li', verified: true, via: 'update' });
    await desk.shot('24-decided-as-signed-in-officer');
    const engine = exporterView(ANTIBODY_KITS);
    assert.equal(engine.stage, 'biological-review', 'the engine agrees with the UI');
    assert.equal(engine.decisions[0].officer, 'doc-li');
  }));

test('3. an exporter who signs in reads no clearance in the UI: it returns to the sign-in page', { timeout: 90_000 }, async () => {
  const context = await openContext(launched.browser);
  const exporter = new Desk(await context.newPage(), { ui: UI, artifacts: ARTIFACTS });
  try {
    await step('signin-03', exporter, async () => {
      await exporter.signIn(/^Hangzhou Lianbo Biotech/);
      await exporter.page.goto(`${UI}/namespaces/default/workflows/${WF}`, { waitUntil: 'load' });
      await exporter.page.waitForURL((u) => u.pathname === '/login');
      await exporter.page.getByRole('button', { name: 'Continue to SSO' }).waitFor();
      assert.equal(await exporter.page.getByText(WF).count(), 0, 'no clearance is shown to the exporter');
      assert.equal(exporterView(ANTIBODY_KITS).decisions.length, 1, 'nothing changed');
    });
  } finally {
    await context.close();
  }
});

test('4. the UI opened at localhost signs in: it moves to the sign-in\'s host before the sign-in starts', { timeout: 90_000 }, async () => {
  // The sign-in returns to 127.0.0.1 (the callback the devserver registers); a sign-in begun at
  // localhost kept its state cookie there and ended on "State cookie is not set in request".
  const ui = new URL(UI);
  assert.equal(ui.hostname, '127.0.0.1', '.ci/browser.sh gives the UI at 127.0.0.1');
  const atLocalhost = `http://localhost:${ui.port}`;
  const context = await openContext(launched.browser);
  const officer = new Desk(await context.newPage(), { ui: UI, artifacts: ARTIFACTS });
  try {
    await step('signin-04', officer, async () => {
      const page = officer.page;
      await page.goto(`${atLocalhost}/namespaces/default/workflows`, { waitUntil: 'load' });
      await page.waitForURL((u) => u.origin === ui.origin && u.pathname === '/login');
      await page.getByRole('button', { name: 'Continue to SSO' }).click();
      const person = page.getByRole('button', { name: /^Wang Fang hq-wang/ });
      await person.click();
      await page.waitForURL((u) => u.origin === ui.origin && u.pathname === '/namespaces/default/workflows');
      assert.equal(await page.getByText('State cookie is not set').count(), 0);
      await page.locator('table').getByRole('link', { name: WF, exact: true }).waitFor({ timeout: 30_000 });
      await officer.shot('25-signed-in-from-localhost');
    });
  } finally {
    await context.close();
  }
});
