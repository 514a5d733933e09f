// The officer's desk: the stock Temporal Web UI (v2.54.1) driven through Debian's Chromium, one
// method per thing an officer does there. Everything goes through what the page shows: list
// filters, tabs, the update dialog. Nothing here calls the Temporal API directly.
//
// The workflow page keeps a long-poll open (history?waitNewEvent=true), so nothing waits for
// network idle: pages are waited for by their 'load' event and then by what they show.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// Screenshots are the viewport at this size: small enough for the officers' guide.
export const VIEWPORT = { width: 1280, height: 800 };

// required reads an environment variable the test cannot run without.
export function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests with .ci/browser.sh`);
  return v;
}

export async function launch({ executablePath }) {
  // Playwright gives every launch a fresh, empty user-data dir of its own.
  const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  return { browser, context: await openContext(browser) };
}

// openContext opens a browser context of its own (cookies, and so a sign-in, of its own) at the
// desk's size, time zone and timeouts.
export async function openContext(browser) {
  const context = await browser.newContext({ viewport: VIEWPORT, timezoneId: 'UTC', locale: 'en-US' });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(30_000);
  return context;
}

// waitFor polls check until it holds, for up to timeout ms; a check that throws (the starter may
// fail while the clearance changes) is tried again.
export async function waitFor(check, what, { timeout = 30_000 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // try again
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

export class Desk {
  constructor(page, { ui, namespace = 'default', artifacts }) {
    this.page = page;
    this.ui = ui.replace(/\/+$/, '');
    this.namespace = namespace;
    this.artifacts = artifacts;
    mkdirSync(artifacts, { recursive: true });
  }

  // shot saves the viewport as artifacts/browser/NAME.png.
  async shot(name) {
    const path = join(this.artifacts, `${name}.png`);
    await this.page.mouse.move(VIEWPORT.width - 1, VIEWPORT.height - 1); // no hover tooltips
    await this.page.screenshot({ path });
    return path;
  }

  // ---- signing in (devserver --auth) ----

  // signIn signs in through the UI's OpenID Connect flow: the UI's "Continue to SSO", then the
  // identity provider's page, where the person is chosen by the button showing `who`. It
  // returns once the browser is back at the UI, with a screenshot of the provider's page as
  // `shot` when given.
  async signIn(who, { shot } = {}) {
    await this.page.goto(`${this.ui}/namespaces/${encodeURIComponent(this.namespace)}/workflows`, { waitUntil: 'load' });
    await this.page.getByRole('button', { name: 'Continue to SSO' }).click();
    await this.page.waitForURL((u) => u.pathname === '/login' && u.searchParams.has('authRequestID'));
    const person = this.page.getByRole('button', { name: who });
    await person.waitFor();
    if (shot) await this.shot(shot);
    await person.click();
    await this.page.waitForURL((u) => u.href.startsWith(this.ui));
  }

  // ---- the workflow list ----

  async openWorkflows() {
    await this.page.goto(`${this.ui}/namespaces/${encodeURIComponent(this.namespace)}/workflows`, {
      waitUntil: 'load',
    });
    await this.page.getByTestId('toggle-manual-query').waitFor();
  }

  // filter types a query into the raw query editor (the </> button) and searches.
  async filter(query) {
    const input = this.page.getByTestId('workflow-manual-search-input');
    if (!(await input.isVisible())) {
      await this.page.getByTestId('toggle-manual-query').click();
    }
    await input.fill(query);
    await this.page.getByRole('button', { name: 'Search', exact: true }).click();
    await this.page.waitForURL((u) => u.searchParams.get('query') === query);
  }

  // listed is the workflow IDs in the list as shown now, sorted: clearances, or in an agency's
  // namespace its permit reviews.
  async listed() {
    const links = this.page.locator('table').getByRole('link', { name: /^(clearance|permit-review)-/ });
    return (await links.allInnerTexts()).map((s) => s.trim()).sort();
  }

  // waitForListed presses Refresh until the list shows exactly the expected workflow IDs:
  // visibility lags the clearances by a moment.
  async waitForListed(expected, { timeout = 30_000 } = {}) {
    const want = [...expected].sort();
    const deadline = Date.now() + timeout;
    let seen = [];
    for (;;) {
      seen = await this.listed();
      if (JSON.stringify(seen) === JSON.stringify(want)) {
        return seen;
      }
      if (Date.now() > deadline) {
        throw new Error(`the list shows [${seen.join(', ')}], expected [${want.join(', ')}]`);
      }
      await sleep(1000);
      await this.page.getByRole('button', { name: 'Refresh', exact: true }).first().click();
      await sleep(300);
    }
  }

  // count is the number in the list's title ("3 Workflows").
  async count() {
    const title = await this.page.locator('h1').filter({ hasText: /Workflows?/ }).first().innerText();
    return Number(/(\d[\d,]*)\s+Workflows?/.exec(title)?.[1].replace(/,/g, '') ?? NaN);
  }

  // row is the list's row for a workflow ID, as its cells' texts.
  async row(workflowId) {
    const row = this.page.locator('table tr').filter({ has: this.page.getByRole('link', { name: workflowId, exact: true }) });
    return (await row.locator('td').allInnerTexts()).map((s) => s.trim());
  }

  // headers is the list's column titles.
  async headers() {
    return (await this.page.locator('table thead th').allInnerTexts()).map((s) => s.trim()).filter(Boolean);
  }

  // configureColumns sets the list's columns (the table's "Configure Columns" drawer); the UI
  // keeps them in the browser's local storage.
  async configureColumns({ remove = [], add = [] }) {
    await this.page.getByRole('button', { name: 'Configure Columns' }).click();
    for (const c of remove) {
      await this.page.getByRole('button', { name: `Remove ${c} column`, exact: true }).click();
    }
    for (const c of add) {
      await this.page.getByRole('button', { name: `Add ${c} column`, exact: true }).click();
    }
    await this.page.getByRole('button', { name: 'Close Workflows Table configuration' }).click();
    await this.page.getByRole('heading', { name: 'Configure Workflows Table' }).waitFor({ state: 'hidden' });
  }

  // saveView saves the current filter as a named view (kept in the browser's local storage).
  async saveView(name) {
    await this.page.getByRole('button', { name: 'Save as New' }).click();
    await this.page.getByTestId('workflow-save-view-modal-input').fill(name);
    await this.page.getByRole('dialog').getByRole('button', { name: 'Save', exact: true }).click();
    await this.page.getByTestId('saved-views-button').filter({ hasText: name }).waitFor();
  }

  // ---- one clearance ----

  async openFromList(workflowId) {
    await this.page.locator('table').getByRole('link', { name: workflowId, exact: true }).click();
    await this.page.getByRole('heading', { name: workflowId }).waitFor();
  }

  async openClearance(workflowId) {
    await this.page.goto(
      `${this.ui}/namespaces/${encodeURIComponent(this.namespace)}/workflows/${encodeURIComponent(workflowId)}`,
      { waitUntil: 'load' },
    );
    await this.page.getByRole('heading', { name: workflowId }).waitFor();
  }

  // executionStatus is the badge before the title: RUNNING, COMPLETED...
  async executionStatus() {
    const header = this.page.locator('header').filter({ has: this.page.getByRole('heading', { level: 1 }) });
    const text = await header.first().innerText();
    return /\b(RUNNING|COMPLETED|FAILED|TERMINATED|CANCELED|TIMED OUT|CONTINUED AS NEW)\b/.exec(text)?.[1] ?? '';
  }

  // waitForExecutionStatus waits for the badge to show status, reloading the page now and then.
  async waitForExecutionStatus(status, { timeout = 20_000 } = {}) {
    const deadline = Date.now() + timeout;
    for (let tries = 1; ; tries++) {
      const shown = await this.executionStatus();
      if (shown === status) return;
      if (Date.now() > deadline) throw new Error(`the clearance shows ${shown}, expected ${status}`);
      await sleep(1000);
      if (tries % 5 === 0) await this.page.reload({ waitUntil: 'load' });
    }
  }

  async tab(name) {
    await this.page.getByRole('tab', { name: new RegExp(`^${name}`) }).click();
  }

  // userMetadata reads the User Metadata tab: the static summary and details and the current
  // details, each rendered by the UI in a frame of its own. Current details are read again until
  // accept(text) holds.
  async userMetadata({ accept = () => true, timeout = 20_000 } = {}) {
    await this.tab('User Metadata');
    const read = async (id) => {
      const body = this.page.frameLocator(`#${id}`).locator('body');
      await body.waitFor();
      return (await body.innerText()).replace(/\s+/g, ' ').trim();
    };
    const deadline = Date.now() + timeout;
    let tries = 0;
    for (;;) {
      const current = await read('user-metadata-current-details').catch(() => '');
      if (current && accept(current)) {
        return {
          summary: await read('user-metadata-summary'),
          details: await read('user-metadata-details'),
          current,
        };
      }
      if (Date.now() > deadline) {
        throw new Error(`current details did not become as expected; last shown: ${JSON.stringify(current)}`);
      }
      await sleep(1000);
      // The tab's own refresh is the "R" key (its button shows only on narrow screens); every
      // third try reloads the page instead.
      if (++tries % 3 === 0) {
        await this.page.reload({ waitUntil: 'load' });
      } else {
        await this.page.locator('body').press('r');
      }
      await sleep(500);
    }
  }

  // statusQuery runs the "status" query in the Queries tab and returns its result, parsed. It
  // runs it again until accept(result) holds. The result viewer only draws the lines on
  // screen, so the window is made tall while it is read.
  async statusQuery({ accept = () => true, timeout = 20_000, reveal } = {}) {
    await this.tab('Queries');
    const page = this.page;
    await page.getByText('Query Type').first().waitFor();
    const viewer = page.locator('main .cm-content[contenteditable="false"]').last();
    const deadline = Date.now() + timeout;
    for (;;) {
      await page.getByRole('button', { name: /^(Run|Refresh) Query$/ }).click();
      await viewer.getByText('"declarationId"').waitFor();
      await page.setViewportSize({ width: VIEWPORT.width, height: 6000 });
      let text;
      let offset = 0;
      try {
        await sleep(200);
        text = await viewer.innerText();
        if (reveal) {
          // How far down the viewer the revealed key is, to scroll there afterwards.
          offset = await viewer.getByText(`"${reveal}"`).first().evaluate(
            (el, top) => el.getBoundingClientRect().top - top,
            await viewer.evaluate((v) => v.getBoundingClientRect().top),
          );
        }
      } finally {
        await page.setViewportSize(VIEWPORT);
      }
      const result = JSON.parse(text);
      if (accept(result)) {
        // Leave the page showing the title and the result's first lines, or the revealed key.
        await this.scrollTo(0);
        if (reveal) {
          const top = await viewer.evaluate((v) => v.getBoundingClientRect().top);
          await this.scrollTo(top + offset - 200);
          await viewer.getByText(`"${reveal}"`).first().waitFor();
        }
        return result;
      }
      if (Date.now() > deadline) {
        throw new Error(`the status query did not become as expected; last result: ${text.slice(0, 400)}`);
      }
      await sleep(1000);
    }
  }

  // scrollTo scrolls the page's content to y pixels from its top.
  async scrollTo(y) {
    await this.page.evaluate((y) => {
      const main = document.querySelector('main');
      for (let el = main; el; el = el.parentElement) {
        if (el.scrollHeight > el.clientHeight && getComputedStyle(el).overflowY !== 'visible') {
          el.scrollTo(0, y);
          return;
        }
      }
      window.scrollTo(0, y);
    }, Math.max(0, y));
    await sleep(150);
  }

  // reveal scrolls the first element showing text to the middle of the window.
  async reveal(text) {
    await this.page.getByText(text).first().evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await sleep(150);
  }

  // toast waits for the notice the UI shows after an action ("Update successful").
  async toast(text) {
    await this.page.getByText(text, { exact: true }).filter({ visible: true }).first().waitFor();
  }

  // history is the Event History tab's text, newest events first, once it has loaded down to
  // the first event and accept(text) holds (the tab follows new events by itself).
  async history({ accept = () => true, timeout = 20_000 } = {}) {
    await this.tab('Event History');
    const table = this.page.locator('main table').first();
    const deadline = Date.now() + timeout;
    for (;;) {
      await table.getByText('Workflow Execution Started').first().waitFor();
      const text = (await table.innerText()).replace(/[\t ]+/g, ' ');
      if (accept(text)) return text;
      if (Date.now() > deadline) throw new Error('the event history did not show what was expected');
      await sleep(1000);
    }
  }

  // searchAttributes reads the Search Attributes tab. The viewer draws only the lines in view, and
  // the server's own attributes (the worker deployment's among them) make the JSON longer than a
  // screen: it is read with the page made tall, as the status query is.
  async searchAttributes() {
    await this.tab('Search Attributes');
    const page = this.page;
    const viewer = page.locator('main .cm-content[contenteditable="false"]').last();
    await viewer.getByText('"ClearanceStage"').waitFor();
    await page.setViewportSize({ width: VIEWPORT.width, height: 6000 });
    try {
      await sleep(200);
      return JSON.parse(await viewer.innerText());
    } finally {
      await page.setViewportSize(VIEWPORT);
    }
  }

  // ---- decisions ----

  async moreActions(item) {
    await this.page.getByRole('button', { name: 'More Actions' }).click();
    await this.page.getByRole('menuitem', { name: item, exact: true }).click();
    const dialog = this.page.getByRole('dialog').filter({ has: this.page.getByRole('heading', { name: item }) });
    await dialog.waitFor();
    return dialog;
  }

  // typeData types JSON into a dialog's Data editor and leaves it: on leaving, the UI
  // reformats the JSON and the dialog grows, so Submit is clicked only after that.
  async typeData(dialog, data) {
    const editor = dialog.getByRole('textbox', { name: 'Data' });
    await editor.fill(JSON.stringify(data));
    await editor.blur();
    await editor.locator('.cm-line').nth(2).waitFor();
    await sleep(200);
  }

  // openUpdate fills the "Send an Update" dialog and leaves it open, not yet submitted.
  async openUpdate(name, data) {
    const dialog = await this.moreActions('Send an Update');
    await dialog.getByTestId('update-select-button').click();
    await dialog.getByRole('option', { name: new RegExp(`^${name}(?![\\w-])`) }).click();
    await this.typeData(dialog, data);
    return dialog;
  }

  // submit presses the dialog's Submit and returns null once it closes (accepted), or the
  // error it shows (refused).
  // A click that lands while the Data editor still reformats is swallowed (nothing is sent and
  // the dialog stays as it was), so Submit is pressed again when, seconds later, the dialog is
  // still open with no error and the button still enabled.
  async submit(dialog, { timeout = 20_000 } = {}) {
    const button = dialog.getByTestId('confirm-modal-button');
    await button.click();
    const error = dialog.getByRole('alert').filter({ hasText: /\S/ }).first();
    const deadline = Date.now() + timeout;
    let retryAt = Date.now() + 4000;
    for (;;) {
      if (!(await dialog.isVisible())) return null;
      if (await error.isVisible()) return (await error.innerText()).trim();
      if (Date.now() > deadline) throw new Error('the dialog neither closed nor showed an error');
      if (Date.now() > retryAt && (await button.isEnabled().catch(() => false))) {
        await button.click().catch(() => {});
        retryAt = Date.now() + 4000;
      }
      await sleep(200);
    }
  }

  // actions opens More Actions on a clearance's page and returns its items by test ID
  // ("update-button", "terminate-button"...), each with its name and whether it is enabled, with
  // a screenshot of the open menu as `shot` when given, then closes it. UI 2.54.1 shows an item
  // its settings turn off greyed out with "... is not enabled, please contact your
  // administrator", aria-disabled, and hidden from the accessibility tree, so the items are read
  // from the page rather than by their role.
  async actions({ shot } = {}) {
    await this.page.getByRole('button', { name: 'More Actions' }).click();
    // The page holds the menu twice (for wide and narrow windows); the open one is visible.
    const menu = this.page.locator('ul[role="menu"]#workflow-actions').filter({ visible: true });
    await menu.getByRole('menuitem').first().waitFor();
    const items = {};
    for (const li of await menu.locator('li[data-testid]').all()) {
      items[await li.getAttribute('data-testid')] = {
        name: (await li.locator('div > div').first().innerText()).trim(),
        enabled: (await li.getAttribute('aria-disabled')) !== 'true',
      };
    }
    if (shot) await this.shot(shot);
    await this.page.keyboard.press('Escape');
    await menu.waitFor({ state: 'hidden' });
    return items;
  }
}
